package main

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBadInput: every error in flags, environment or file is one line on
// stderr naming the flag, variable or file line, exit status 2, and nothing
// is started: the app would create a file.
func TestBadInput(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	yaml := filepath.Join(dir, "lameduck.yaml")
	if err := os.WriteFile(yaml, []byte("drain:\n  timeout: 30s\n  timout: 5s\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	badType := filepath.Join(dir, "types.yaml")
	if err := os.WriteFile(badType, []byte("app:\n  port: lots\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	marker := filepath.Join(dir, "started")
	app := []string{"--", "sh", "-c", "touch " + marker}
	for _, tc := range []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"unknown flag", nil, []string{"--nope"}, "lameduck: unknown flag --nope"},
		{"bad duration", nil, []string{"--drain-timeout", "30"}, `lameduck: --drain-timeout: invalid duration "30" (did you mean 30s?)`},
		{"bad env", []string{"LAMEDUCK_DRAIN_TIMEOUT=abc"}, nil, `lameduck: LAMEDUCK_DRAIN_TIMEOUT: invalid duration "abc"`},
		{"unknown YAML key", nil, []string{"--config", yaml}, yaml + `:3: unknown key "drain.timout"`},
		{"wrong YAML type", nil, []string{"--config", badType}, badType + `:2: app.port:`},
		{"bad signal", nil, []string{"--stop-signal", "SIGFOO"}, `lameduck: --stop-signal: unknown signal "SIGFOO"`},
		{"missing config file", nil, []string{"--config", filepath.Join(dir, "none.yaml")}, "none.yaml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := startRaw(t, tc.env, append(tc.args, app...)...)
			if code := in.wait(); code != 2 {
				t.Fatalf("exit status = %d, want 2", code)
			}
			stderr := in.logs.String()
			if strings.Count(stderr, "\n") != 0 || !strings.Contains(stderr, tc.want) {
				t.Fatalf("stderr = %q, want one line containing %q", stderr, tc.want)
			}
			if _, err := os.Stat(marker); err == nil {
				t.Fatal("the app was started despite the error")
			}
		})
	}
}

// TestListenInUse: a listen address in use is not a usage error (exit 1),
// and the app is not started.
func TestListenInUse(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	marker := filepath.Join(t.TempDir(), "started")
	in := startRaw(t, nil, "--listen", ln.Addr().String(), "--admin", "", "--", "sh", "-c", "touch "+marker)
	if code := in.wait(); code != 1 {
		t.Fatalf("exit status = %d, want 1", code)
	}
	if !strings.Contains(in.logs.String(), "address already in use") {
		t.Fatalf("stderr = %q, want the listen error", in.logs)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("the app was started although lameduck could not listen")
	}
}

// TestHelpAndVersion: --help prints the flags to stdout, exit 0.
func TestHelpAndVersion(t *testing.T) {
	t.Parallel()
	in := startRaw(t, nil, "--help")
	if code := in.wait(); code != 0 {
		t.Fatalf("--help: exit status %d, want 0", code)
	}
	if out := in.out.String(); !strings.Contains(out, "--drain-timeout") {
		t.Fatalf("--help output lacks --drain-timeout:\n%s", out)
	}
	in = startRaw(t, nil, "--version")
	if code := in.wait(); code != 0 || !strings.HasPrefix(in.out.String(), "lameduck ") {
		t.Fatalf("--version = %d %q", code, in.out)
	}
}
