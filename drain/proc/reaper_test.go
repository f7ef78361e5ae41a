package proc

import (
	"context"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

func TestSetSubreaper(t *testing.T) {
	if err := SetSubreaper(); err != nil {
		t.Fatalf("SetSubreaper() = %v", err)
	}
	var v int32
	if err := unix.Prctl(unix.PR_GET_CHILD_SUBREAPER, uintptr(unsafe.Pointer(&v)), 0, 0, 0); err != nil {
		t.Fatal(err)
	}
	if v != 1 {
		t.Errorf("PR_GET_CHILD_SUBREAPER = %d, want 1", v)
	}
	if IsPID1() {
		t.Errorf("IsPID1() = true in a test binary")
	}
}

// waitOrphans waits until r has reaped at least n orphans.
func waitOrphans(t *testing.T, r *Reaper, n uint64) {
	t.Helper()
	deadline := time.After(waitLimit)
	for {
		reaped := r.next()
		if r.Orphans() >= n {
			return
		}
		select {
		case <-reaped:
		case <-deadline:
			t.Fatalf("Orphans() = %d after %v, want %d", r.Orphans(), waitLimit, n)
		}
	}
}

// orphanPID parses an "orphan <pid>" event.
func orphanPID(t *testing.T, ev *events) int {
	t.Helper()
	line := ev.next(t)
	pid, err := strconv.Atoi(strings.TrimPrefix(line, "orphan "))
	if err != nil {
		t.Fatalf("event = %q, want orphan <pid>", line)
	}
	return pid
}

// TestReaperOrphans checks that processes orphaned by the app re-parent to
// us, are reaped, and never pass their status off as the app's.
func TestReaperOrphans(t *testing.T) {
	r := startReaper(t)

	t.Run("exits after the app", func(t *testing.T) {
		ev, release := newEvents(t), newEvents(t)
		g := startScript(t, r, 0, `
			sh -c 'echo orphan $$ > "$F"; read x < "$G"; exit 5' &
			exit 3`,
			"F="+ev.path, "G="+release.path)
		pid := orphanPID(t, ev)
		if got := waitExited(t, g).ExitCode(); got != 3 {
			t.Fatalf("app ExitCode() = %d, want 3", got)
		}
		if _, ppid, ok := procStat(pid); !ok || ppid != os.Getpid() {
			t.Fatalf("orphan %d: parent %d, want us (%d)", pid, ppid, os.Getpid())
		}
		before := r.Orphans()
		release.send(t, "go")
		waitOrphans(t, r, before+1)
		if z := zombies(t); len(z) > 0 {
			t.Errorf("zombies %v, want none", z)
		}
		if got := g.Status().ExitCode(); got != 3 {
			t.Errorf("app ExitCode() = %d after the orphan exited 5, want 3", got)
		}
	})

	t.Run("exits before the app", func(t *testing.T) {
		ev, parted, release, finish := newEvents(t), newEvents(t), newEvents(t), newEvents(t)
		// The subshell runs in the foreground and exits at once, so when
		// the app goes on, the inner sh is an orphan and the app runs.
		g := startScript(t, r, 0, `
			( sh -c 'echo orphan $$ > "$F"; read x < "$G"; exit 5' & )
			echo parted > "$P"
			read y < "$H"
			exit 3`,
			"F="+ev.path, "P="+parted.path, "G="+release.path, "H="+finish.path)
		pid := orphanPID(t, ev)
		parted.expect(t, "parted")
		if _, ppid, ok := procStat(pid); !ok || ppid != os.Getpid() {
			t.Fatalf("orphan %d: parent %d, want us (%d)", pid, ppid, os.Getpid())
		}
		before := r.Orphans()
		release.send(t, "go")
		waitOrphans(t, r, before+1)
		select {
		case <-g.Exited():
			t.Fatalf("app reported exited (%v) when an orphan exited", g.Status())
		default:
		}
		finish.send(t, "go")
		if got := waitExited(t, g).ExitCode(); got != 3 {
			t.Errorf("app ExitCode() = %d, want 3", got)
		}
		if z := zombies(t); len(z) > 0 {
			t.Errorf("zombies %v, want none", z)
		}
	})
}

func TestReaperRunClosedChannel(t *testing.T) {
	f := newFakeGroup()
	r := &Reaper{calls: f.calls()}
	ch := make(chan os.Signal)
	close(ch)
	if err := r.Run(context.Background(), ch); err == nil {
		t.Error("Run with a closed channel = nil, want an error")
	}
}

func TestReaperRunReapsAtStart(t *testing.T) {
	f := newFakeGroup()
	r := &Reaper{calls: f.calls()}
	r.mu.Lock()
	g := r.add(f.pid, 0)
	r.mu.Unlock()
	f.sigchld = nil
	f.exit(syscall.WaitStatus(3 << 8)) // exited before Run, its SIGCHLD long gone

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := r.Run(ctx, make(chan os.Signal)); err != nil {
		t.Fatalf("Run = %v, want nil", err)
	}
	select {
	case <-g.Exited():
	default:
		t.Fatal("Exited() not closed after Run started")
	}
	if got := g.Status().ExitCode(); got != 3 {
		t.Errorf("ExitCode() = %d, want 3", got)
	}
}
