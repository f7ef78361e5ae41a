package proc

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// withoutPidfd makes PID take its polling path, as on kernels before 5.3.
func withoutPidfd(t *testing.T) {
	saved := pidfdOpen
	pidfdOpen = func(int, int) (int, error) { return -1, syscall.ENOSYS }
	t.Cleanup(func() { pidfdOpen = saved })
}

// TestPIDStop stops processes by PID, through a pidfd and by polling. The
// targets are our children only so that the test can see their status.
func TestPIDStop(t *testing.T) {
	r := startReaper(t)
	tests := []struct {
		name    string
		signal  syscall.Signal
		script  string
		timeout time.Duration
		killed  bool
		status  string
	}{
		{
			name:    "exits on SIGTERM",
			script:  `echo ready > "$F"; exec sleep 30`,
			timeout: waitLimit,
			status:  "killed by SIGTERM",
		},
		{
			name:    "signal SIGUSR1",
			signal:  syscall.SIGUSR1,
			script:  `echo ready > "$F"; exec sleep 30`,
			timeout: waitLimit,
			status:  "killed by SIGUSR1",
		},
		{
			name:    "ignores SIGTERM",
			script:  `trap "" TERM; echo ready > "$F"; exec sleep 30`,
			timeout: 300 * time.Millisecond,
			killed:  true,
			status:  "killed by SIGKILL",
		},
	}
	for _, pidfd := range []bool{true, false} {
		for _, tt := range tests {
			t.Run(fmt.Sprintf("%s/pidfd=%v", tt.name, pidfd), func(t *testing.T) {
				if !pidfd {
					withoutPidfd(t)
				}
				ev := newEvents(t)
				g := startScript(t, r, 0, tt.script, "F="+ev.path)
				ev.expect(t, "ready")

				p := PID{Pid: g.Pid(), Signal: tt.signal}
				start := time.Now()
				err := p.Stop(testContext(t, tt.timeout))
				elapsed := time.Since(start)

				if got := waitExited(t, g).String(); got != tt.status {
					t.Errorf("status = %q, want %q", got, tt.status)
				}
				if tt.killed {
					if !errors.Is(err, context.DeadlineExceeded) {
						t.Errorf("%+v.Stop = %v, want an error wrapping context.DeadlineExceeded", p, err)
					}
					if elapsed < tt.timeout {
						t.Errorf("%+v.Stop returned after %v, before the %v timeout", p, elapsed, tt.timeout)
					}
					return
				}
				if err != nil {
					t.Errorf("%+v.Stop = %v, want nil", p, err)
				}
				if elapsed > tt.timeout/2 {
					t.Errorf("%+v.Stop took %v, want well under the %v timeout", p, elapsed, tt.timeout)
				}
			})
		}
	}
}

func TestPIDStopGone(t *testing.T) {
	r := startReaper(t)
	g := startScript(t, r, 0, "exit 0")
	waitExited(t, g)
	for _, pidfd := range []bool{true, false} {
		t.Run(fmt.Sprintf("pidfd=%v", pidfd), func(t *testing.T) {
			if !pidfd {
				withoutPidfd(t)
			}
			p := PID{Pid: g.Pid()}
			if err := p.Stop(testContext(t, waitLimit)); err != nil {
				t.Errorf("%+v.Stop on an exited process = %v, want nil", p, err)
			}
		})
	}
}

func TestPIDStopInvalid(t *testing.T) {
	for _, pid := range []int{0, -1, -os.Getpid()} {
		p := PID{Pid: pid}
		want := fmt.Sprintf("stop pid %d: not a process id", pid)
		if err := p.Stop(context.Background()); err == nil || err.Error() != want {
			t.Errorf("%+v.Stop = %v, want %q", p, err, want)
		}
	}
}

func TestPIDFileStop(t *testing.T) {
	r := startReaper(t)
	dir := t.TempDir()
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	missing := filepath.Join(dir, "missing.pid")

	tests := []struct {
		name string
		path string
		msg  string
		is   error
	}{
		{"missing", missing, "pid file: open " + missing + ": no such file or directory", fs.ErrNotExist},
		{"garbage", write("garbage.pid", "node\n"), "pid file " + dir + "/garbage.pid: invalid pid \"node\"", nil},
		{"empty", write("empty.pid", ""), "pid file " + dir + "/empty.pid: invalid pid \"\"", nil},
		{"zero", write("zero.pid", "0\n"), "pid file " + dir + "/zero.pid: invalid pid \"0\"", nil},
		{"long", write("long.pid", "0123456789abcdefghijklmnop"), "pid file " + dir + "/long.pid: invalid pid \"0123456789abcdefghij...\"", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := PIDFile{Path: tt.path}
			err := p.Stop(context.Background())
			if err == nil || err.Error() != tt.msg {
				t.Fatalf("%+v.Stop = %v, want %q", p, err, tt.msg)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("errors.Is(%v, %v) = false, want true", err, tt.is)
			}
		})
	}

	t.Run("valid", func(t *testing.T) {
		ev := newEvents(t)
		g := startScript(t, r, 0, `echo ready > "$F"; exec sleep 30`, "F="+ev.path)
		ev.expect(t, "ready")
		p := PIDFile{Path: write("app.pid", " "+strconv.Itoa(g.Pid())+"\n"), Signal: syscall.SIGINT}
		if err := p.Stop(testContext(t, waitLimit)); err != nil {
			t.Fatalf("%+v.Stop = %v, want nil", p, err)
		}
		if got, want := waitExited(t, g).String(), "killed by SIGINT"; got != want {
			t.Errorf("status = %q, want %q", got, want)
		}
	})
}

// TestOpenProcessPidfd checks that PID waits through a pidfd in the runtime
// poller on this kernel, rather than by polling.
func TestOpenProcessPidfd(t *testing.T) {
	p, err := openProcess(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	defer p.close()
	if p.f == nil {
		t.Skip("no pidfd_open on this kernel")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if p.wait(ctx) {
		t.Error("wait on this process = true, want false")
	}
}
