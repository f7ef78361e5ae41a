package proc

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"sync"
	"syscall"
)

// A Reaper owns every wait4 call of the process: it reaps the main process
// of each [Group] it started, and the orphans the process adopted as PID 1
// or as a child subreaper.
//
// A process should have one Reaper, and while it runs the process must not
// start children any other way (os/exec, os.StartProcess): wait4(-1) would
// take their exit statuses, and their Wait would fail with ECHILD.
//
// The zero value is ready to use.
type Reaper struct {
	// Logger receives a debug line for each orphan reaped. Nil means no
	// logging.
	Logger *slog.Logger

	calls *osCalls // nil: the real system calls; tests substitute fakes

	// mu is held across each sweep of wait4 and across starting a child
	// and registering it, so a child that exits at once is never reaped
	// before its Group is known.
	mu      sync.Mutex
	mains   map[int]*Group // main processes not reaped yet, by pid
	reaped  chan struct{}  // closed by a sweep that reaped a child; nil until wanted
	orphans uint64
}

// osCalls are the operating-system calls behind a Reaper and its groups.
type osCalls struct {
	forkExec func(argv0 string, argv []string, attr *syscall.ProcAttr) (int, error)
	wait4    func(pid int, ws *syscall.WaitStatus, options int, ru *syscall.Rusage) (int, error)
	kill     func(pid int, sig syscall.Signal) error
}

var realCalls = &osCalls{
	forkExec: syscall.ForkExec,
	wait4:    syscall.Wait4,
	kill:     syscall.Kill,
}

func (r *Reaper) sys() *osCalls {
	if r.calls != nil {
		return r.calls
	}
	return realCalls
}

// Run reaps children until ctx is done: once at start, then after each
// value received from sigchld, which the caller feeds with
// signal.Notify(sigchld, syscall.SIGCHLD). The channel must be buffered, as
// signal.Notify requires; signals that arrive while a value is pending are
// not lost, since each sweep reaps until no exited child is left.
//
// Run returns nil when ctx is done, and an error if sigchld is closed. The
// groups started by r report their exit only while Run runs, so ctx should
// end after the app has been stopped.
func (r *Reaper) Run(ctx context.Context, sigchld <-chan os.Signal) error {
	r.reap()
	for {
		select {
		case <-ctx.Done():
			return nil
		case _, ok := <-sigchld:
			if !ok {
				return errors.New("reaper: SIGCHLD channel closed")
			}
			r.reap()
		}
	}
}

// Orphans reports how many children that were not the main process of a
// Group have been reaped.
func (r *Reaper) Orphans() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.orphans
}

// reap collects every child that has exited, without blocking.
func (r *Reaper) reap() {
	r.mu.Lock()
	defer r.mu.Unlock()
	found := false
	for {
		var ws syscall.WaitStatus
		pid, err := r.sys().wait4(-1, &ws, syscall.WNOHANG, nil)
		if err == syscall.EINTR {
			continue
		}
		if err != nil || pid <= 0 { // ECHILD: no children; 0: none has exited
			break
		}
		found = true
		if g, ok := r.mains[pid]; ok {
			delete(r.mains, pid)
			g.status = Status{ws: ws}
			close(g.exited)
			continue
		}
		r.orphans++
		if r.Logger != nil {
			r.Logger.Debug("reaped orphan", "pid", pid, "status", Status{ws: ws}.String())
		}
	}
	if found && r.reaped != nil {
		close(r.reaped)
		r.reaped = nil
	}
}

// next returns a channel closed by the next sweep that reaps a child.
func (r *Reaper) next() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.reaped == nil {
		r.reaped = make(chan struct{})
	}
	return r.reaped
}

// add registers pid as the main process of a new group. r.mu must be held.
func (r *Reaper) add(pid int, stop syscall.Signal) *Group {
	if r.mains == nil {
		r.mains = make(map[int]*Group)
	}
	g := &Group{r: r, pid: pid, stop: stop, exited: make(chan struct{})}
	r.mains[pid] = g
	return g
}
