package proc

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// waitLimit bounds every wait for a process or an event in these tests.
const waitLimit = 10 * time.Second

func TestMain(m *testing.M) {
	// Orphans of the scripts the tests start re-parent to the test binary,
	// as they would to lameduck.
	if err := SetSubreaper(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	goleak.VerifyTestMain(m)
}

// startReaper runs a Reaper fed by real SIGCHLDs until the test ends. Tests
// that use it must not run in parallel: a process has one reaper.
func startReaper(t *testing.T) *Reaper {
	t.Helper()
	sigchld := make(chan os.Signal, 1)
	signal.Notify(sigchld, syscall.SIGCHLD)
	ctx, cancel := context.WithCancel(context.Background())
	r := &Reaper{Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))}
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, sigchld) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Reaper.Run = %v, want nil", err)
		}
		signal.Stop(sigchld)
	})
	return r
}

// events is a FIFO that scripts write lines to ("$F" in their
// environment) and the test reads with a deadline.
type events struct {
	path string
	f    *os.File
	r    *bufio.Reader
}

func newEvents(t *testing.T) *events {
	t.Helper()
	path := filepath.Join(t.TempDir(), "events")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	// Read-write, so that reads wait for a writer instead of seeing EOF,
	// and writers never block on open.
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return &events{path: path, f: f, r: bufio.NewReader(f)}
}

// next returns the next line written to the FIFO.
func (e *events) next(t *testing.T) string {
	t.Helper()
	if err := e.f.SetReadDeadline(time.Now().Add(waitLimit)); err != nil {
		t.Fatal(err)
	}
	line, err := e.r.ReadString('\n')
	if err != nil {
		t.Fatalf("read event from %s: %v", e.path, err)
	}
	return strings.TrimSuffix(line, "\n")
}

// send writes a line for a script that reads "$F".
func (e *events) send(t *testing.T, line string) {
	t.Helper()
	if _, err := e.f.WriteString(line + "\n"); err != nil {
		t.Fatal(err)
	}
}

// expect fails the test unless the next line is want.
func (e *events) expect(t *testing.T, want string) {
	t.Helper()
	if got := e.next(t); got != want {
		t.Fatalf("event = %q, want %q", got, want)
	}
}

// startScript starts `sh -c script` with the test's environment plus env,
// and kills what is left of its group when the test ends.
func startScript(t *testing.T, r *Reaper, stop syscall.Signal, script string, env ...string) *Group {
	t.Helper()
	g, err := r.Start(Command{
		Args:       []string{"sh", "-c", script},
		Env:        append(os.Environ(), env...),
		StopSignal: stop,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = g.Signal(syscall.SIGKILL)
		ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
		defer cancel()
		if !g.wait(ctx) {
			t.Errorf("group %d still running after SIGKILL", g.Pid())
		}
	})
	return g
}

// waitExited waits for the main process of g and returns its status.
func waitExited(t *testing.T, g *Group) Status {
	t.Helper()
	select {
	case <-g.Exited():
		return g.Status()
	case <-time.After(waitLimit):
		t.Fatalf("group %d: main process not reaped after %v", g.Pid(), waitLimit)
		return Status{}
	}
}

// groupEmpty reports whether no process is left in process group pgid.
func groupEmpty(pgid int) bool {
	return syscall.Kill(-pgid, 0) == syscall.ESRCH
}

// testContext returns a context that ends after d or with the test.
func testContext(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

// zombies lists the children of this process that have exited and wait to
// be reaped.
func zombies(t *testing.T) []int {
	t.Helper()
	dir, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, e := range dir {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		state, ppid, ok := procStat(pid)
		if ok && ppid == os.Getpid() && state == "Z" {
			pids = append(pids, pid)
		}
	}
	return pids
}

// procStat returns the state and parent of pid from /proc/pid/stat.
func procStat(pid int) (state string, ppid int, ok bool) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", 0, false
	}
	// pid (comm) state ppid ...; comm may hold spaces and parentheses.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return "", 0, false
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 2 {
		return "", 0, false
	}
	ppid, err = strconv.Atoi(f[1])
	return f[0], ppid, err == nil
}
