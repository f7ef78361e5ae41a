package proc

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

// TestStartProcessGroup checks that the app leads a process group of its
// own, apart from ours, so a terminal's Ctrl-C does not reach it.
func TestStartProcessGroup(t *testing.T) {
	r := startReaper(t)
	g := startScript(t, r, 0, "exec sleep 30")
	pgid, err := syscall.Getpgid(g.Pid())
	if err != nil {
		t.Fatal(err)
	}
	if pgid != g.Pid() {
		t.Errorf("Getpgid(%d) = %d, want %d", g.Pid(), pgid, g.Pid())
	}
	if our := syscall.Getpgrp(); pgid == our {
		t.Errorf("Getpgid(%d) = %d, our own group", g.Pid(), pgid)
	}
}

func TestStartEnv(t *testing.T) {
	r := startReaper(t)
	ev := newEvents(t)

	t.Run("given", func(t *testing.T) {
		g, err := r.Start(Command{
			Args: []string{"sh", "-c", `echo "$PORT ${HOME-unset}" > "$F"`},
			Env:  []string{"PORT=3001", "F=" + ev.path, "PATH=" + os.Getenv("PATH")},
		})
		if err != nil {
			t.Fatal(err)
		}
		ev.expect(t, "3001 unset")
		waitExited(t, g)
	})
	t.Run("nil means ours", func(t *testing.T) {
		t.Setenv("F", ev.path)
		t.Setenv("LAMEDUCK_TEST_VALUE", "inherited")
		g, err := r.Start(Command{Args: []string{"sh", "-c", `echo "$LAMEDUCK_TEST_VALUE" > "$F"`}})
		if err != nil {
			t.Fatal(err)
		}
		ev.expect(t, "inherited")
		waitExited(t, g)
	})
}

func TestStartErrors(t *testing.T) {
	var r Reaper // no child is started, so it need not run
	noexec := filepath.Join(t.TempDir(), "app.sh")
	if err := os.WriteFile(noexec, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		msg  string
		is   error // nil: none expected
	}{
		{
			name: "not found",
			args: []string{"lameduck-no-such-app"},
			msg:  `start app "lameduck-no-such-app": exec: "lameduck-no-such-app": executable file not found in $PATH`,
			is:   exec.ErrNotFound,
		},
		{
			name: "not executable",
			args: []string{noexec},
			msg:  `start app "` + noexec + `": exec: "` + noexec + `": permission denied`,
			is:   fs.ErrPermission,
		},
		{
			name: "no command",
			args: nil,
			msg:  "start app: no command",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := r.Start(Command{Args: tt.args})
			if err == nil {
				t.Fatalf("Start(%q) = %v, nil; want error %q", tt.args, g, tt.msg)
			}
			if err.Error() != tt.msg {
				t.Errorf("Start(%q) error = %q, want %q", tt.args, err, tt.msg)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("errors.Is(%v, %v) = false, want true", err, tt.is)
			}
		})
	}
}

// TestStartExitsAtOnce starts children that exit before Start returns: the
// reaper must not take them for orphans and lose their status.
func TestStartExitsAtOnce(t *testing.T) {
	r := startReaper(t)
	for i := range 50 {
		g, err := r.Start(Command{Args: []string{"sh", "-c", "exit 7"}})
		if err != nil {
			t.Fatal(err)
		}
		if got := waitExited(t, g).ExitCode(); got != 7 {
			t.Fatalf("run %d: ExitCode() = %d, want 7", i, got)
		}
	}
	if n := r.Orphans(); n != 0 {
		t.Errorf("Orphans() = %d, want 0", n)
	}
}
