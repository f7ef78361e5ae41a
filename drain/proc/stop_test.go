package proc

import (
	"cmp"
	"context"
	"errors"
	"os"
	"slices"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"
)

// fakeGroup is the kernel's side of one process group, for Stop tests in
// fake time: a main process that is our child, and members that are not.
type fakeGroup struct {
	pid     int
	sigchld chan os.Signal

	mu       sync.Mutex
	main     string // "running", "zombie" or "reaped"
	status   syscall.WaitStatus
	others   int                     // members that are not our children
	mainDies map[syscall.Signal]bool // signals that end the main process
	restDies map[syscall.Signal]bool // signals that end the other members
	sent     []syscall.Signal
}

func newFakeGroup() *fakeGroup {
	return &fakeGroup{pid: 4242, sigchld: make(chan os.Signal, 1), main: "running"}
}

func (f *fakeGroup) calls() *osCalls {
	return &osCalls{
		forkExec: func(string, []string, *syscall.ProcAttr) (int, error) { return 0, syscall.ENOSYS },
		wait4:    f.wait4,
		kill:     f.kill,
	}
}

// exit ends the main process with ws, as the kernel would.
func (f *fakeGroup) exit(ws syscall.WaitStatus) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.exitLocked(ws)
}

func (f *fakeGroup) exitLocked(ws syscall.WaitStatus) {
	if f.main != "running" {
		return
	}
	f.main, f.status = "zombie", ws
	select {
	case f.sigchld <- syscall.SIGCHLD:
	default:
	}
}

// leave ends the members that are not our children: no SIGCHLD.
func (f *fakeGroup) leave() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.others = 0
}

func (f *fakeGroup) kill(pid int, sig syscall.Signal) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if pid != -f.pid || (f.main == "reaped" && f.others == 0) {
		return syscall.ESRCH
	}
	if sig == 0 {
		return nil
	}
	f.sent = append(f.sent, sig)
	if f.mainDies[sig] {
		f.exitLocked(syscall.WaitStatus(sig))
	}
	if f.restDies[sig] {
		f.others = 0
	}
	return nil
}

func (f *fakeGroup) wait4(pid int, ws *syscall.WaitStatus, options int, _ *syscall.Rusage) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if pid != -1 || options != syscall.WNOHANG {
		return 0, syscall.EINVAL
	}
	switch f.main {
	case "zombie":
		f.main, *ws = "reaped", f.status
		return f.pid, nil
	case "reaped":
		return 0, syscall.ECHILD
	}
	return 0, nil
}

func (f *fakeGroup) signals() []syscall.Signal {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.sent)
}

var (
	term = map[syscall.Signal]bool{syscall.SIGTERM: true, syscall.SIGKILL: true}
	kill = map[syscall.Signal]bool{syscall.SIGKILL: true}
)

// TestGroupStopTiming checks when Stop returns and what it sends, in fake
// time.
func TestGroupStopTiming(t *testing.T) {
	const timeout = 10 * time.Second
	tests := []struct {
		name     string
		stop     syscall.Signal
		mainDies map[syscall.Signal]bool
		restDies map[syscall.Signal]bool
		others   int
		before   func(f *fakeGroup) // runs before Stop
		during   func(f *fakeGroup) // runs in its own goroutine during Stop

		sent    []syscall.Signal
		elapsed time.Duration
		err     error // nil, or what the error must wrap
		errAny  bool  // any error
		status  string
	}{
		{
			name:     "all exit on SIGTERM",
			mainDies: term, restDies: term, others: 1,
			sent:    []syscall.Signal{syscall.SIGTERM, syscall.SIGCONT},
			elapsed: 0, // woken by the reap, no polling
			status:  "killed by SIGTERM",
		},
		{
			name:     "stop signal SIGINT",
			stop:     syscall.SIGINT,
			mainDies: map[syscall.Signal]bool{syscall.SIGINT: true},
			sent:     []syscall.Signal{syscall.SIGINT, syscall.SIGCONT},
			status:   "killed by SIGINT",
		},
		{
			name:     "stop signal SIGKILL sends no SIGCONT",
			stop:     syscall.SIGKILL,
			mainDies: kill,
			sent:     []syscall.Signal{syscall.SIGKILL},
			status:   "killed by SIGKILL",
		},
		{
			name:     "member not our child lingers",
			mainDies: term, restDies: kill, others: 1,
			during: func(f *fakeGroup) {
				time.Sleep(1450 * time.Millisecond)
				f.leave()
			},
			sent:    []syscall.Signal{syscall.SIGTERM, syscall.SIGCONT},
			elapsed: 1500 * time.Millisecond, // the next look after it left
			status:  "killed by SIGTERM",
		},
		{
			name:     "SIGCHLD lost",
			mainDies: term,
			before: func(f *fakeGroup) {
				f.sigchld = nil // the kernel's SIGCHLD never reaches the reaper
			},
			sent:    []syscall.Signal{syscall.SIGTERM, syscall.SIGCONT},
			elapsed: recheckInterval,
			status:  "killed by SIGTERM",
		},
		{
			name:     "main ignores SIGTERM",
			mainDies: kill, restDies: kill, others: 2,
			sent:    []syscall.Signal{syscall.SIGTERM, syscall.SIGCONT, syscall.SIGKILL},
			elapsed: timeout,
			err:     context.DeadlineExceeded,
			status:  "killed by SIGKILL",
		},
		{
			name:     "member ignores SIGTERM",
			mainDies: term, restDies: kill, others: 1,
			sent:    []syscall.Signal{syscall.SIGTERM, syscall.SIGCONT, syscall.SIGKILL},
			elapsed: timeout,
			err:     context.DeadlineExceeded,
			status:  "killed by SIGTERM",
		},
		{
			name:     "member survives SIGKILL",
			mainDies: term, others: 1,
			sent:    []syscall.Signal{syscall.SIGTERM, syscall.SIGCONT, syscall.SIGKILL},
			elapsed: timeout + killWait,
			errAny:  true,
			status:  "killed by SIGTERM",
		},
		{
			name:   "already gone",
			before: func(f *fakeGroup) { f.exit(3 << 8) },
			sent:   nil,
			status: "exit status 3",
		},
		{
			name:     "main exited, member left",
			restDies: term, others: 1,
			before: func(f *fakeGroup) { f.exit(0) },
			sent:   []syscall.Signal{syscall.SIGTERM}, // SIGCONT finds the group gone
			status: "exit status 0",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFakeGroup()
				f.mainDies, f.restDies, f.others = tt.mainDies, tt.restDies, tt.others
				if tt.before != nil {
					tt.before(f)
				}
				r := &Reaper{calls: f.calls()}
				r.mu.Lock()
				g := r.add(f.pid, tt.stop)
				r.mu.Unlock()

				ctx, cancel := context.WithCancel(t.Context())
				done := make(chan error, 1)
				go func() { done <- r.Run(ctx, f.sigchld) }()
				defer func() { cancel(); <-done }()
				synctest.Wait() // the first sweep has run
				if tt.during != nil {
					go tt.during(f)
				}

				sctx, scancel := context.WithTimeout(t.Context(), timeout)
				defer scancel()
				start := time.Now()
				err := g.Stop(sctx)
				if got := time.Since(start); got != tt.elapsed {
					t.Errorf("Stop returned after %v, want %v", got, tt.elapsed)
				}
				switch {
				case tt.err != nil:
					if !errors.Is(err, tt.err) {
						t.Errorf("Stop = %v, want an error wrapping %v", err, tt.err)
					}
				case tt.errAny:
					if err == nil {
						t.Error("Stop = nil, want an error")
					}
				case err != nil:
					t.Errorf("Stop = %v, want nil", err)
				}
				// When the stop signal ends the whole group, the reaper
				// may collect it before SIGCONT follows, which then finds
				// no group (ESRCH), as it would from the kernel.
				got := f.signals()
				gone := slices.DeleteFunc(slices.Clone(tt.sent), func(s syscall.Signal) bool { return s == syscall.SIGCONT })
				stop := cmp.Or(tt.stop, syscall.SIGTERM)
				all := tt.mainDies[stop] && (tt.others == 0 || tt.restDies[stop])
				if !slices.Equal(got, tt.sent) && !(all && slices.Equal(got, gone)) {
					t.Errorf("signals sent = %v, want %v", got, tt.sent)
				}
				if got := g.Status().String(); got != tt.status {
					t.Errorf("Status() = %q, want %q", got, tt.status)
				}

				// A second Stop sends nothing once the group is gone.
				if tt.errAny {
					return
				}
				sent := len(f.signals())
				start = time.Now()
				if err := g.Stop(sctx); err != nil || time.Since(start) != 0 {
					t.Errorf("second Stop = %v after %v, want nil at once", err, time.Since(start))
				}
				if got := f.signals(); len(got) != sent {
					t.Errorf("second Stop sent %v", got[sent:])
				}
			})
		})
	}
}
