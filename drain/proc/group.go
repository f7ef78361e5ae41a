package proc

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"syscall"
	"time"
)

const (
	// killWait bounds the wait for the group after SIGKILL.
	killWait = 2 * time.Second

	// recheckInterval is how often Stop looks at the group between reaps.
	// Members that are not children of this process (when it is neither
	// PID 1 nor a subreaper) send it no SIGCHLD when they exit.
	recheckInterval = 100 * time.Millisecond
)

// A Group is an app started by [Reaper.Start]: its main process and every
// process in its process group.
type Group struct {
	r    *Reaper
	pid  int
	stop syscall.Signal

	exited chan struct{} // closed by the reaper once the main process is reaped
	status Status        // set before exited is closed

	gone atomic.Bool // the main process is reaped and the group is empty
}

// Pid returns the PID of the main process, which is also the process group
// ID.
func (g *Group) Pid() int { return g.pid }

// Exited returns a channel that is closed once the main process has exited
// and been reaped. Other processes of the group may still run.
func (g *Group) Exited() <-chan struct{} { return g.exited }

// Status returns how the main process ended. It is the zero Status until
// the channel returned by Exited is closed.
func (g *Group) Status() Status {
	select {
	case <-g.exited:
		return g.status
	default:
		return Status{}
	}
}

// Signal sends sig to every process in the group. Once the group is gone it
// returns an error that matches os.ErrProcessDone.
func (g *Group) Signal(sig syscall.Signal) error {
	if err := g.kill(sig); err != nil {
		return fmt.Errorf("signal app group %d: %w", g.pid, err)
	}
	return nil
}

// Stop sends the group its stop signal (Command.StopSignal), followed by
// SIGCONT so that stopped processes act on it, and waits until the main
// process has exited and no process is left in the group. When ctx is done
// first, it sends the group SIGKILL, waits at most 2 seconds more, and
// returns an error that wraps context.Cause(ctx).
//
// Stop returns nil at once when the group is already gone, and stops the
// leftovers of a group whose main process exited by itself. It may be
// called more than once and from several goroutines.
//
// Stop wakes on each child the Reaper reaps. It also looks at the group
// every 100 ms, for members that are not children of this process (when it
// is neither PID 1 nor a subreaper) and in case a SIGCHLD was missed.
func (g *Group) Stop(ctx context.Context) error {
	if g.isGone() {
		return nil
	}
	sig := g.stop
	if sig == 0 {
		sig = syscall.SIGTERM
	}
	if err := g.kill(sig); err != nil && err != os.ErrProcessDone {
		return fmt.Errorf("stop app group %d: send %s: %v", g.pid, SignalName(sig), err)
	}
	if sig != syscall.SIGKILL && sig != syscall.SIGCONT {
		_ = g.kill(syscall.SIGCONT)
	}
	return escalate(ctx, fmt.Sprintf("app group %d", g.pid), sig, g.kill, g.wait)
}

// wait reports whether the group is gone before ctx is done.
func (g *Group) wait(ctx context.Context) bool {
	t := time.NewTimer(recheckInterval)
	defer t.Stop()
	for {
		reaped := g.r.next() // taken before the check, so no reap is missed
		if g.isGone() {
			return true
		}
		select {
		case <-ctx.Done():
			return g.isGone()
		case <-reaped:
		case <-t.C:
			g.r.reap() // in case a SIGCHLD was lost
			t.Reset(recheckInterval)
		}
	}
}

// isGone reports whether the main process is reaped and no process is left
// in the group. A zombie still counts as a member.
func (g *Group) isGone() bool {
	if g.gone.Load() {
		return true
	}
	select {
	case <-g.exited:
	default:
		return false
	}
	if g.r.sys().kill(-g.pid, 0) != syscall.ESRCH {
		return false
	}
	g.gone.Store(true) // from now on the PGID may be reused: never signal it again
	return true
}

// kill sends sig to the group, or returns os.ErrProcessDone if it is gone.
func (g *Group) kill(sig syscall.Signal) error {
	if g.gone.Load() {
		return os.ErrProcessDone
	}
	err := g.r.sys().kill(-g.pid, sig)
	if err == syscall.ESRCH {
		return os.ErrProcessDone
	}
	return err
}
