package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestConfigCommand runs "lameduck config ..." as users do: nothing is
// started, the answer is on stdout, errors are one line on stderr.
func TestConfigCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(good, []byte("drain:\n  timeout: 30s\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte("drain:\n  timout: 30s\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	railway := []string{"RAILWAY_ENVIRONMENT=production", "RAILWAY_DEPLOYMENT_DRAINING_SECONDS=45", "PORT=8080"}
	for _, tc := range []struct {
		name       string
		env        []string
		args       []string
		status     int
		stdout     []string // lines the output must contain
		stderr     string   // what stderr must contain; "" means empty
		stderrLine bool     // stderr is one line
	}{
		{"print", railway, []string{"config", "print", "--stop-timeout", "6s", "--", "node", "server.js"}, 0, []string{
			`listen: ":8080"                   # env PORT`,
			`  stop_timeout: 6s                # flag`,
			`  timeout: 28s                    # platform railway`,
			`  kill_budget: 45s                # env RAILWAY_DEPLOYMENT_DRAINING_SECONDS`,
			`platform: "railway"               # env RAILWAY_ENVIRONMENT`,
			`# drain plan: platform=railway kill_budget=45s delay=5s drain=28s stop=6s`,
		}, "", false},
		{"print warns", []string{"DYNO=web.1"}, []string{"config", "print", "--", "node", "server.js"}, 0, []string{
			"# warning: heroku: Heroku sends SIGTERM to every process in the dyno at once",
		}, "", false},
		{"print with a file", nil, []string{"config", "print", "--config", good, "--upstream", "http://127.0.0.1:3000"}, 0, []string{
			`  timeout: 30s                    # file ` + good + `:2`,
			`# --config "` + good + `" (flag; not a key of the file)`,
		}, "", false},
		{"print bad flag", nil, []string{"config", "print", "--drain-timeout", "30"}, 2, nil, `lameduck: --drain-timeout: invalid duration "30" (did you mean 30s?)`, true},
		{"validate", nil, []string{"config", "validate", good, "--", "node", "server.js"}, 0, []string{
			good + ": ok (drain plan: platform=none kill_budget=none delay=0s drain=30s stop=5s)",
		}, "", false},
		{"validate warns", railway[:1], []string{"config", "validate", good, "--", "node", "server.js"}, 0, []string{good + ": ok"},
			"lameduck: warning: RAILWAY_DEPLOYMENT_DRAINING_SECONDS is unset", true},
		{"validate bad key", nil, []string{"config", "validate", bad, "--", "node", "server.js"}, 2, nil, bad + `:2: unknown key "drain.timout" (did you mean "drain.timeout"?)`, true},
		{"validate without file", nil, []string{"config", "validate", "--", "node"}, 2, nil, "want a FILE first", true},
		{"reference", nil, []string{"config", "reference"}, 0, []string{"| `--drain-timeout` | `LAMEDUCK_DRAIN_TIMEOUT` | `drain.timeout` |", "| `railway` |"}, "", false},
		{"help", nil, []string{"config", "--help"}, 0, []string{"Usage: lameduck config COMMAND [ARGS...]"}, "", false},
		{"no command", nil, []string{"config"}, 2, nil, "Usage: lameduck config COMMAND", false},
		{"unknown command", nil, []string{"config", "show"}, 2, nil, `lameduck: config: unknown command "show" (want print, validate or reference)`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := startRaw(t, tc.env, tc.args...)
			if code := in.wait(); code != tc.status {
				t.Fatalf("lameduck %s: exit status = %d, want %d", strings.Join(tc.args, " "), code, tc.status)
			}
			out := in.out.String()
			for _, want := range tc.stdout {
				if !strings.Contains(out, want) {
					t.Errorf("stdout lacks %q:\n%s", want, out)
				}
			}
			stderr := in.logs.String()
			switch {
			case tc.stderr == "" && stderr != "":
				t.Errorf("stderr = %q, want nothing", stderr)
			case !strings.Contains(stderr, tc.stderr):
				t.Errorf("stderr = %q, want %q", stderr, tc.stderr)
			case tc.stderrLine && strings.Contains(stderr, "\n"):
				t.Errorf("stderr = %q, want one line", stderr)
			}
		})
	}
}

// TestConfigPrintReadBack: what "config print" prints is a file that
// "config validate" accepts, with the same drain plan.
func TestConfigPrintReadBack(t *testing.T) {
	t.Parallel()
	env := []string{"KUBERNETES_SERVICE_HOST=10.0.0.1", "LAMEDUCK_ADMIN=:9901"}
	in := startRaw(t, env, "config", "print", "--kill-budget", "40s", "--", "node", "server.js")
	if code := in.wait(); code != 0 {
		t.Fatalf("config print: exit status %d", code)
	}
	printed := in.out.String() + "\n"
	file := filepath.Join(t.TempDir(), "effective.yaml")
	if err := os.WriteFile(file, []byte(printed), 0o644); err != nil {
		t.Fatal(err)
	}
	back := startRaw(t, nil, "config", "validate", file)
	if code := back.wait(); code != 0 {
		t.Fatalf("config validate of the printed file: exit status %d: %s", code, back.logs)
	}
	want := "kill_budget=40s delay=5s drain=25s stop=5s"
	if got := back.out.String(); !strings.Contains(got, want) || !strings.Contains(printed, want) {
		t.Fatalf("plans differ: printed\n%s\nread back: %s; want both with %q", printed, got, want)
	}
}

// TestConfigPrintRedacts: "config print" does not show the admin token,
// only where it came from; "config validate" still reads a file that holds
// one, and prints nothing of it.
func TestConfigPrintRedacts(t *testing.T) {
	t.Parallel()
	in := startRaw(t, []string{"LAMEDUCK_ADMIN_TOKEN=s3cret-env"}, "config", "print", "--", "node", "server.js")
	if code := in.wait(); code != 0 {
		t.Fatalf("config print: exit status %d: %s", code, in.logs)
	}
	out := in.out.String()
	if want := "admin_token: <redacted>           # env LAMEDUCK_ADMIN_TOKEN"; !strings.Contains(out, want) || strings.Contains(out, "s3cret") {
		t.Errorf("config print =\n%s\nwant %q and no token", out, want)
	}
	file := filepath.Join(t.TempDir(), "lameduck.yaml")
	if err := os.WriteFile(file, []byte("admin_token: s3cret-file\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	v := startRaw(t, nil, "config", "validate", file, "--", "node", "server.js")
	if code := v.wait(); code != 0 {
		t.Fatalf("config validate: exit status %d: %s", code, v.logs)
	}
	if got := v.out.String() + v.logs.String(); !strings.Contains(got, file+": ok") || strings.Contains(got, "s3cret") {
		t.Errorf("config validate = %q, want ok and no token", got)
	}
}

// TestConfigReference: "config reference" prints the tables that
// docs/configuration.md holds.
func TestConfigReference(t *testing.T) {
	t.Parallel()
	in := startRaw(t, nil, "config", "reference")
	if code := in.wait(); code != 0 {
		t.Fatalf("exit status %d", code)
	}
	var want bytes.Buffer
	if err := writeReference(&want); err != nil {
		t.Fatal(err)
	}
	if got := in.out.String() + "\n"; got != want.String() {
		t.Fatalf("config reference =\n%s\nwant\n%s", got, want.String())
	}
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "configuration.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(want.String(), "\n") {
		if strings.HasPrefix(line, "|") && !bytes.Contains(doc, []byte(line)) {
			t.Errorf("docs/configuration.md lacks the row %q", line)
		}
	}
}
