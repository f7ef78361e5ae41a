package proc

import (
	"context"
	"fmt"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// pollInterval is how often PID looks for the process when the kernel has
// no pidfd_open (before Linux 5.3).
const pollInterval = 50 * time.Millisecond

// pidfdOpen is unix.PidfdOpen; tests replace it to take the polling path.
var pidfdOpen = unix.PidfdOpen

// PID stops a process that lameduck did not start, such as an app in the
// same pod with a shared PID namespace. It signals that process only, not
// its group.
type PID struct {
	// Pid is the process to stop. Zero and negative values are errors.
	Pid int

	// Signal is sent first. Zero means SIGTERM.
	Signal syscall.Signal
}

// Stop sends the signal and waits until the process has exited. When ctx
// is done first, it sends SIGKILL, waits at most 2 seconds more, and
// returns an error that wraps context.Cause(ctx). A process that is already
// gone is not an error.
//
// The process is held by a pidfd, so a PID reused after the exit is never
// signalled. On kernels without pidfd_open, Stop looks for the process
// every 50 ms instead.
func (p PID) Stop(ctx context.Context) error {
	if p.Pid <= 0 {
		return fmt.Errorf("stop pid %d: not a process id", p.Pid)
	}
	sig := p.Signal
	if sig == 0 {
		sig = syscall.SIGTERM
	}
	target, err := openProcess(p.Pid)
	if err == syscall.ESRCH {
		return nil
	}
	if err != nil {
		return fmt.Errorf("stop pid %d: %v", p.Pid, err)
	}
	defer target.close()

	if err := target.signal(sig); err != nil && err != syscall.ESRCH {
		return fmt.Errorf("stop pid %d: send %s: %v", p.Pid, SignalName(sig), err)
	}
	return escalate(ctx, fmt.Sprintf("pid %d", p.Pid), sig, target.signal, target.wait)
}

// process is a process being stopped, held by a pidfd when the kernel has
// them.
type process struct {
	pid int
	f   *os.File // pidfd in the runtime poller; nil: look with kill(pid, 0)
	rc  syscall.RawConn
}

// openProcess returns the process, or syscall.ESRCH if there is none.
func openProcess(pid int) (*process, error) {
	fd, err := pidfdOpen(pid, 0)
	if err == syscall.ESRCH {
		return nil, err
	}
	if err != nil {
		// No pidfd_open (ENOSYS), or it is blocked by a seccomp filter.
		if err := syscall.Kill(pid, 0); err == syscall.ESRCH {
			return nil, err
		}
		return &process{pid: pid}, nil
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("pidfd: %v", err)
	}
	f := os.NewFile(uintptr(fd), fmt.Sprintf("pidfd:%d", pid))
	rc, err := f.SyscallConn()
	if err == nil {
		err = f.SetReadDeadline(time.Time{}) // fails if the poller does not take it
	}
	if err != nil {
		f.Close()
		return &process{pid: pid}, nil
	}
	return &process{pid: pid, f: f, rc: rc}, nil
}

func (p *process) close() {
	if p.f != nil {
		p.f.Close()
	}
}

func (p *process) signal(sig syscall.Signal) error {
	if p.f == nil {
		return syscall.Kill(p.pid, sig)
	}
	var err error
	if cerr := p.rc.Control(func(fd uintptr) {
		err = unix.PidfdSendSignal(int(fd), sig, nil, 0)
	}); cerr != nil {
		return cerr
	}
	return err
}

// wait reports whether the process exits before ctx is done.
func (p *process) wait(ctx context.Context) bool {
	if p.f == nil {
		return p.poll(ctx)
	}
	if err := p.f.SetReadDeadline(time.Time{}); err != nil {
		return false
	}
	expired := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(expired)
		p.f.SetReadDeadline(time.Unix(1, 0))
	})
	// A pidfd becomes readable when its process exits.
	err := p.rc.Read(func(fd uintptr) bool { return readable(fd) })
	if !stop() {
		<-expired
	}
	if err == nil {
		return true
	}
	// The deadline may have come as the process exited: look once more.
	exited := false
	_ = p.rc.Control(func(fd uintptr) { exited = readable(fd) })
	return exited
}

// readable reports whether fd can be read without blocking, or is broken.
func readable(fd uintptr) bool {
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for {
		n, err := unix.Poll(fds, 0)
		if err == syscall.EINTR {
			continue
		}
		return err != nil || n > 0
	}
}

// poll looks for the process every pollInterval until it is gone.
func (p *process) poll(ctx context.Context) bool {
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	for {
		if syscall.Kill(p.pid, 0) == syscall.ESRCH {
			return true
		}
		select {
		case <-ctx.Done():
			return syscall.Kill(p.pid, 0) == syscall.ESRCH
		case <-t.C:
		}
	}
}
