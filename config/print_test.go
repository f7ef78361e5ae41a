package config

import (
	"bytes"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
	"golang.org/x/tools/txtar"
)

// TestWriteYAMLRoundTrip: for every golden case that loads, the file that
// WriteYAML writes is valid YAML, and Load, given only that file, arrives
// at the same value for every option.
func TestWriteYAMLRoundTrip(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txtar")
	if err != nil {
		t.Fatal(err)
	}
	tried := 0
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".txtar")
		ar, err := txtar.ParseFile(file)
		if err != nil {
			t.Fatal(err)
		}
		args, env, inputs := goldenInputs(t, ar)
		c, err := Load(args, func(k string) (string, bool) { v, ok := env[k]; return v, ok }, readFrom(inputs))
		if err != nil || c.Version {
			continue
		}
		tried++
		t.Run(name, func(t *testing.T) {
			var out bytes.Buffer
			if err := c.WriteYAML(&out); err != nil {
				t.Fatal(err)
			}
			var doc yaml.Node
			if err := yaml.Unmarshal(out.Bytes(), &doc); err != nil {
				t.Fatalf("WriteYAML wrote invalid YAML: %v\n%s", err, out.String())
			}
			// A secret is printed redacted; put it back as a user would.
			printed := out.String()
			for _, o := range options {
				if o.secret {
					_, name, _ := strings.Cut(o.key, ".")
					if name == "" {
						name = o.key
					}
					printed = strings.Replace(printed, name+": "+redacted, name+": "+yamlValue(o.field(c)), 1)
				}
			}
			back, err := Load([]string{"--config", "effective.yaml"}, nil, readFrom(map[string][]byte{"effective.yaml": []byte(printed)}))
			if err != nil {
				t.Fatalf("Load(WriteYAML output) = %v\n%s", err, out.String())
			}
			for _, o := range options {
				if !o.yaml {
					continue
				}
				got, want := formatField(o.field(back)), formatField(o.field(c))
				if got != want {
					t.Errorf("%s read back = %s, want %s\n%s", o.key, got, want, out.String())
				}
			}
		})
	}
	if tried < 20 {
		t.Fatalf("only %d golden cases load, want the round trip tried on many", tried)
	}
}

// TestWriteYAMLSources: each value's comment is its source, and the
// warnings and the plan follow.
func TestWriteYAMLSources(t *testing.T) {
	env := map[string]string{"PORT": "3000", "RAILWAY_SERVICE_ID": "s", "LAMEDUCK_STOP_TIMEOUT": "4s"}
	c, err := Load([]string{"--drain-timeout", "10s", "--", "node", "server.js"}, func(k string) (string, bool) { v, ok := env[k]; return v, ok }, nil)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := c.WriteYAML(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`listen: ":3000"`, "# env PORT",
		`  command: ["node", "server.js"]`, "# args",
		"  stop_timeout: 4s", "# env LAMEDUCK_STOP_TIMEOUT",
		"  shutdown_delay: 5s", "# platform railway",
		"  timeout: 0s", "# flag, shrunk to fit the kill budget",
		`platform: "railway"`, "# env RAILWAY_SERVICE_ID",
		"# warning: RAILWAY_DEPLOYMENT_DRAINING_SECONDS is unset",
		"# drain plan: platform=railway kill_budget=0s delay=5s drain=0s stop=4s",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("WriteYAML output lacks %q:\n%s", want, out.String())
		}
	}
}

// TestWriteYAMLRedacts: a secret is not printed, its source is, and the
// placeholder does not load as the secret.
func TestWriteYAMLRedacts(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"flag", []string{"--admin-token", "s3cret", "--", "node", "server.js"}, nil, "admin_token: <redacted>           # flag\n"},
		{"env", []string{"--", "node", "server.js"}, map[string]string{"LAMEDUCK_ADMIN_TOKEN": "s3cret"}, "admin_token: <redacted>           # env LAMEDUCK_ADMIN_TOKEN\n"},
		{"unset", []string{"--", "node", "server.js"}, nil, "admin_token: \"\"                   # default\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Load(tc.args, func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok }, nil)
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			if err := c.WriteYAML(&out); err != nil {
				t.Fatal(err)
			}
			if strings.Contains(out.String(), "s3cret") {
				t.Errorf("WriteYAML output shows the token:\n%s", out.String())
			}
			if !strings.Contains(out.String(), tc.want) {
				t.Errorf("WriteYAML output lacks %q:\n%s", tc.want, out.String())
			}
			_, err = Load([]string{"--config", "effective.yaml"}, nil, readFrom(map[string][]byte{"effective.yaml": out.Bytes()}))
			if tc.name == "unset" {
				if err != nil {
					t.Errorf("Load(WriteYAML output) = %v, want no error", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), `admin_token: "<redacted>" is what lameduck config print shows`) {
				t.Errorf("Load(WriteYAML output) = %v, want the placeholder refused", err)
			}
		})
	}
}

func readFrom(files map[string][]byte) func(string) ([]byte, error) {
	return func(name string) ([]byte, error) {
		if data, ok := files[name]; ok {
			return data, nil
		}
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
}
