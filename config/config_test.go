package config

import (
	"bytes"
	"errors"
	"go/build"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
	"golang.org/x/tools/txtar"
)

func noEnv(string) (string, bool) { return "", false }

func envMap(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// TestReferenceCoversConfig fails when a Config field has no definition in
// the option table, so the help text, the reference and the loaders cannot
// miss it.
func TestReferenceCoversConfig(t *testing.T) {
	derived := map[string]bool{"Warnings": true} // computed by Load, not set by users
	var c Config
	base := reflect.ValueOf(&c).Elem()
	owner := map[uintptr]string{}
	for _, o := range options {
		addr := reflect.ValueOf(o.field(&c)).Pointer()
		if prev, dup := owner[addr]; dup {
			t.Errorf("options %s and %s share a field", prev, o.key)
		}
		owner[addr] = o.key
	}
	for i := 0; i < base.NumField(); i++ {
		f := base.Type().Field(i)
		if !f.IsExported() || derived[f.Name] {
			continue
		}
		if _, ok := owner[base.Field(i).Addr().Pointer()]; !ok {
			t.Errorf("Config.%s has no option definition", f.Name)
		}
	}
	if got, want := len(Reference()), len(options); got != want {
		t.Errorf("len(Reference()) = %d, want %d", got, want)
	}
}

// TestGoldenCoverage checks that the golden cases set every option from
// each source it can come from.
func TestGoldenCoverage(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.txtar")
	var env strings.Builder
	flagsSet := map[string]bool{}
	keys := map[string]bool{}
	for _, file := range files {
		ar, err := txtar.ParseFile(file)
		if err != nil {
			t.Fatal(err)
		}
		words, err := splitWords(section(ar, "args"))
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		for _, w := range words {
			name, _, _ := strings.Cut(strings.TrimLeft(w, "-"), "=")
			flagsSet[name] = true
		}
		env.WriteString("\n" + section(ar, "env"))
		for _, f := range ar.Files {
			if strings.HasSuffix(f.Name, ".yaml") {
				collectKeys(f.Data, keys)
			}
		}
	}
	for _, o := range options {
		if o.flag != "" && !flagsSet[o.flag] {
			t.Errorf("no golden case sets %s", o.flagName())
		}
		if e := o.envName(); e != "" && !strings.Contains(env.String(), "\n"+e+"=") {
			t.Errorf("no golden case sets %s", e)
		}
		if o.yaml && !keys[o.key] {
			t.Errorf("no golden case sets %s in a file", o.key)
		}
	}
}

// collectKeys adds the dotted keys of a YAML file to keys.
func collectKeys(data []byte, keys map[string]bool) {
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil || len(doc.Content) == 0 {
		return
	}
	var walk func(n *yaml.Node, prefix string)
	walk = func(n *yaml.Node, prefix string) {
		if n.Kind != yaml.MappingNode {
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := prefix + n.Content[i].Value
			keys[k] = true
			walk(n.Content[i+1], k+".")
		}
	}
	walk(doc.Content[0], "")
}

// TestExampleFile loads testdata/example.yaml, which the documentation
// includes, and checks that it sets every key.
func TestExampleFile(t *testing.T) {
	const name = "testdata/example.yaml"
	c, err := Load([]string{"--config", name}, noEnv, os.ReadFile)
	if err != nil {
		t.Fatalf("Load(--config %s) error: %v", name, err)
	}
	if len(c.Warnings) > 0 {
		t.Errorf("Load(--config %s) warnings: %q", name, c.Warnings)
	}
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]bool{}
	collectKeys(data, keys)
	for _, o := range options {
		if o.yaml && !keys[o.key] {
			t.Errorf("%s does not show %s", name, o.key)
		}
		if o.yaml && o.kind != kindList && c.Source(o.key) == srcDefault {
			t.Errorf("%s: Source(%q) = default, want the file", name, o.key)
		}
	}
	// Apart from the command, the example shows the built-in defaults.
	d, err := Load([]string{"--upstream", "http://127.0.0.1:3000"}, noEnv, nil)
	if err != nil {
		t.Fatal(err)
	}
	d.Platform = "auto"
	c.Platform = "auto"
	c.Command, c.ConfigFile = nil, ""
	c.Upstream = d.Upstream
	c.sources, d.sources = nil, nil
	if !reflect.DeepEqual(c, d) {
		t.Errorf("%s differs from the defaults:\n got %+v\nwant %+v", name, c, d)
	}
}

// TestWriteReference pins the generated Markdown reference.
func TestWriteReference(t *testing.T) {
	var b bytes.Buffer
	if err := WriteReference(&b); err != nil {
		t.Fatal(err)
	}
	b.WriteString("\n")
	if err := WriteProfiles(&b); err != nil {
		t.Fatal(err)
	}
	const name = "testdata/reference.md"
	if *update {
		if err := os.WriteFile(name, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if got := b.String(); got != string(want) {
		t.Errorf("WriteReference =\n%s\nwant (%s)\n%s", got, name, want)
	}
	for _, o := range options {
		yamlKey := ""
		if o.yaml {
			yamlKey = o.key
		}
		for _, s := range []string{o.flagName(), o.envName(), yamlKey} {
			if s != "" && !strings.Contains(b.String(), "`"+s+"`") {
				t.Errorf("WriteReference does not mention %s", s)
			}
		}
	}
}

// TestImports keeps config a leaf: the standard library and the YAML
// decoder only.
func TestImports(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range pkg.Imports {
		first, _, _ := strings.Cut(imp, "/")
		if strings.Contains(first, ".") && imp != "go.yaml.in/yaml/v3" {
			t.Errorf("config imports %s; it may import only the standard library and go.yaml.in/yaml/v3", imp)
		}
	}
}

func TestSource(t *testing.T) {
	c, err := Load([]string{"--drain-timeout=3s", "--config=f.yaml", "--", "node"},
		envMap(map[string]string{"LAMEDUCK_STOP_TIMEOUT": "4s", "DYNO": "web.1"}),
		func(string) ([]byte, error) { return []byte("\n\nadmin: \":9902\"\n"), nil })
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		key, want string
	}{
		{"drain.timeout", "flag"},
		{"drain-timeout", "flag"},
		{"--drain-timeout", "flag"},
		{"stop-timeout", "env LAMEDUCK_STOP_TIMEOUT"},
		{"admin", "file f.yaml:3"},
		{"drain.kill_budget", "platform heroku"},
		{"platform", "env DYNO"},
		{"app.command", "args"},
		{"idle-timeout", "default"},
		{"config", "flag"},
		{"drain.timout", ""},
		{"", ""},
	}
	for _, tt := range tests {
		if got := c.Source(tt.key); got != tt.want {
			t.Errorf("Source(%q) = %q, want %q", tt.key, got, tt.want)
		}
	}
	if got := new(Config).Source("listen"); got != "" {
		t.Errorf("Config{}.Source(listen) = %q, want empty", got)
	}
}

func TestLoadNilInputs(t *testing.T) {
	c, err := Load([]string{"--", "node"}, nil, nil)
	if err != nil {
		t.Fatalf("Load(nil env) error: %v", err)
	}
	if c.Listen != ":8080" {
		t.Errorf("Load(nil env).Listen = %q, want :8080", c.Listen)
	}
	_, err = Load([]string{"--config", "x.yaml", "--", "node"}, nil, nil)
	want := "--config: open x.yaml: file does not exist"
	if err == nil || err.Error() != want {
		t.Errorf("Load(nil readFile) error = %v, want %s", err, want)
	}
}

func TestErrHelp(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"-help"}, {"--help"}, {"--upstream", "http://x:1", "--help"}} {
		if _, err := Load(args, noEnv, nil); !errors.Is(err, ErrHelp) {
			t.Errorf("Load(%q) error = %v, want ErrHelp", args, err)
		}
	}
}

func TestValidateHandBuilt(t *testing.T) {
	tests := []struct {
		name string
		c    Config
		want string
	}{
		{"sidecar without upstream", Config{Listen: ":8080"}, "--upstream is required when no app command is given"},
		{"sidecar ok", Config{Listen: ":8080", Upstream: "http://127.0.0.1:3000"}, ""},
		{"supervisor ok", Config{Listen: ":8080", Command: []string{"node"}, AppPort: 3000}, ""},
		{"app port clash", Config{Listen: ":3000", Command: []string{"node"}, AppPort: 3000},
			`--app-port 3000 is also the port of --listen ":3000" (from default); give the app its own port, or 0 for a free one`},
		{"upstream is listen over https default port", Config{Listen: ":443", Upstream: "https://127.0.0.1"},
			`--upstream "https://127.0.0.1" is lameduck's own --listen ":443": requests would loop`},
		{"upstream on another host", Config{Listen: ":8080", Upstream: "http://10.0.0.2:8080"}, ""},
		{"listen port 0", Config{Listen: ":0", Upstream: "http://127.0.0.1:0", Admin: ":0"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.c.Validate()
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("Validate() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestPlanString(t *testing.T) {
	tests := []struct {
		name string
		c    Config
		want string
	}{
		{"known", Config{Platform: "railway", KillBudget: 45 * time.Second, ShutdownDelay: 5 * time.Second, DrainTimeout: 28 * time.Second, StopTimeout: 8 * time.Second},
			"platform=railway kill_budget=45s delay=5s drain=28s stop=8s"},
		{"unknown", Config{KillBudget: -1, DrainTimeout: 1500 * time.Millisecond},
			"platform=none kill_budget=none delay=0s drain=1.5s stop=0s"},
		{"zero budget", Config{Platform: "none"}, "platform=none kill_budget=0s delay=0s drain=0s stop=0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.c.Plan().String(); got != tt.want {
				t.Errorf("Plan().String() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestErrorString(t *testing.T) {
	tests := []struct {
		name string
		e    Error
		want string
	}{
		{"flag", Error{Source: "flag", Name: "--drain-timeout", Msg: `invalid duration "30"`}, `--drain-timeout: invalid duration "30"`},
		{"file", Error{Source: "file", File: "l.yaml", Line: 3, Name: "drain.timeout", Msg: "bad"}, "l.yaml:3: drain.timeout: bad"},
		{"file without line", Error{Source: "file", File: "l.yaml", Msg: "invalid YAML: x"}, "l.yaml: invalid YAML: x"},
		{"rule", Error{Msg: "only one of --stop-pid, --stop-pidfile, --stop-url"}, "only one of --stop-pid, --stop-pidfile, --stop-url"},
		{"newlines", Error{File: "a\nb.yaml", Line: 1, Msg: "x\r\ny"}, "a b.yaml:1: x y"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.e.Error(); got != tt.want {
				t.Errorf("Error() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSuggest(t *testing.T) {
	keys := yamlKeys()
	tests := []struct {
		in, want string
	}{
		{"drain.timout", "drain.timeout"},
		{"drian", "drain"},
		{"drain.timeuot", "drain.timeout"},
		{"admn", "admin"},
		{"frobnicate", ""},
		{"x", ""},
		{"app.cmd", ""},
	}
	for _, tt := range tests {
		if got := suggest(tt.in, keys); got != tt.want {
			t.Errorf("suggest(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestParseSignal(t *testing.T) {
	for _, in := range []string{"SIGTERM", "TERM", "sigterm", "Term", "15"} {
		if got, err := parseSignal(in); err != nil || signalName(got) != "SIGTERM" {
			t.Errorf("parseSignal(%q) = %v, %v, want SIGTERM", in, got, err)
		}
	}
	for _, in := range []string{"", "0", "65", "SIG", "SIGFOO", "-1", "1.0"} {
		if _, err := parseSignal(in); err == nil {
			t.Errorf("parseSignal(%q) succeeded, want an error", in)
		}
	}
}

func TestCloseCodes(t *testing.T) {
	var valid []int
	for n := 0; n < 6000; n++ {
		if validCloseCode(n) {
			valid = append(valid, n)
		}
	}
	for _, bad := range []int{999, 1004, 1005, 1006, 1015, 2999, 5000} {
		if slices.Contains(valid, bad) {
			t.Errorf("validCloseCode(%d) = true, want false", bad)
		}
	}
	if got, want := len(valid), 4+8+2000; got != want {
		t.Errorf("%d valid close codes, want %d", got, want)
	}
}
