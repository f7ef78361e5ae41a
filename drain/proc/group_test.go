package proc

import (
	"context"
	"errors"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestGroupSignal checks that Signal reaches the script's trap.
func TestGroupSignal(t *testing.T) {
	r := startReaper(t)
	tests := []struct {
		sig  syscall.Signal
		trap string
	}{
		{syscall.SIGHUP, "HUP"},
		{syscall.SIGUSR2, "USR2"},
	}
	for _, tt := range tests {
		t.Run(tt.trap, func(t *testing.T) {
			ev := newEvents(t)
			g := startScript(t, r, 0, `
				trap 'echo got `+tt.trap+` > "$F"; exit 0' `+tt.trap+`
				echo ready > "$F"
				while :; do sleep 30 & wait $!; done`,
				"F="+ev.path)
			ev.expect(t, "ready")
			if err := g.Signal(tt.sig); err != nil {
				t.Fatalf("Signal(%v) = %v", tt.sig, err)
			}
			ev.expect(t, "got "+tt.trap)
			if st := waitExited(t, g); st.ExitCode() != 0 {
				t.Errorf("status = %v, want exit status 0", st)
			}
		})
	}
}

func TestGroupSignalGone(t *testing.T) {
	r := startReaper(t)
	g := startScript(t, r, 0, "exit 0")
	waitExited(t, g)
	if err := g.Stop(testContext(t, waitLimit)); err != nil {
		t.Fatalf("Stop = %v", err)
	}
	if err := g.Signal(syscall.SIGHUP); !errors.Is(err, os.ErrProcessDone) {
		t.Errorf("Signal(SIGHUP) on a gone group = %v, want os.ErrProcessDone", err)
	}
}

// TestGroupStop runs Stop against real process trees and checks that it
// returns only once the whole group is gone.
func TestGroupStop(t *testing.T) {
	r := startReaper(t)
	tests := []struct {
		name    string
		stop    syscall.Signal
		script  string
		timeout time.Duration
		exited  bool   // the main process exits by itself before Stop
		killed  bool   // Stop had to send SIGKILL
		status  string // of the main process
	}{
		{
			name:    "all exit on SIGTERM",
			script:  `sleep 30 & echo ready > "$F"; wait`,
			timeout: waitLimit,
			status:  "killed by SIGTERM",
		},
		{
			name:    "grandchild ignores SIGTERM",
			script:  `(trap "" TERM; echo ready > "$F"; exec sleep 30) & wait`,
			timeout: 300 * time.Millisecond,
			killed:  true,
			status:  "killed by SIGTERM",
		},
		{
			name:    "main ignores SIGTERM",
			script:  `trap "" TERM; sleep 30 & echo ready > "$F"; wait`,
			timeout: 300 * time.Millisecond,
			killed:  true,
			status:  "killed by SIGKILL",
		},
		{
			name: "stop signal SIGUSR1",
			stop: syscall.SIGUSR1,
			// The child reports ready from a new sh, once the trap it
			// inherited in the fork is gone.
			script:  `trap 'exit 0' USR1; sh -c 'echo ready > "$F"; exec sleep 30' & wait`,
			timeout: waitLimit,
			status:  "exit status 0",
		},
		{
			name:    "main already exited, child left",
			script:  `sleep 30 & echo ready > "$F"`,
			timeout: waitLimit,
			exited:  true,
			status:  "exit status 0",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := newEvents(t)
			g := startScript(t, r, tt.stop, tt.script, "F="+ev.path)
			ev.expect(t, "ready")
			if tt.exited {
				waitExited(t, g)
				if groupEmpty(g.Pid()) {
					t.Fatalf("group %d empty before Stop", g.Pid())
				}
			}

			start := time.Now()
			err := g.Stop(testContext(t, tt.timeout))
			elapsed := time.Since(start)

			if !groupEmpty(g.Pid()) {
				t.Errorf("after Stop, group %d still has processes", g.Pid())
			}
			if z := zombies(t); len(z) > 0 {
				t.Errorf("after Stop, zombies %v", z)
			}
			select {
			case <-g.Exited():
			default:
				t.Fatal("after Stop, Exited() is not closed")
			}
			if got := g.Status().String(); got != tt.status {
				t.Errorf("Status() = %q, want %q", got, tt.status)
			}
			if tt.killed {
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("Stop = %v, want an error wrapping context.DeadlineExceeded", err)
				}
				if elapsed < tt.timeout {
					t.Errorf("Stop returned after %v, before the %v timeout", elapsed, tt.timeout)
				}
				return
			}
			if err != nil {
				t.Errorf("Stop = %v, want nil", err)
			}
			if elapsed > tt.timeout/2 {
				t.Errorf("Stop took %v, want well under the %v timeout", elapsed, tt.timeout)
			}
		})
	}
}

// TestGroupStopConcurrent calls Stop from several goroutines while the
// app exits, then again once it is gone.
func TestGroupStopConcurrent(t *testing.T) {
	r := startReaper(t)
	ev := newEvents(t)
	g := startScript(t, r, 0, `sleep 30 & echo ready > "$F"; wait`, "F="+ev.path)
	ev.expect(t, "ready")

	ctx := testContext(t, waitLimit)
	errs := make([]error, 3)
	var wg sync.WaitGroup
	for i := range errs {
		wg.Go(func() { errs[i] = g.Stop(ctx) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Stop #%d = %v, want nil", i, err)
		}
	}
	if err := g.Stop(ctx); err != nil {
		t.Errorf("Stop after the group is gone = %v, want nil", err)
	}
	if !groupEmpty(g.Pid()) {
		t.Errorf("group %d still has processes", g.Pid())
	}
}

// The stoppers have the method the drain sequence calls (drain.App).
var (
	_ interface{ Stop(context.Context) error } = (*Group)(nil)
	_ interface{ Stop(context.Context) error } = PID{}
	_ interface{ Stop(context.Context) error } = PIDFile{}
	_ interface{ Stop(context.Context) error } = URL{}
)
