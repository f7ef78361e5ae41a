package proc

import (
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"
)

// Status is how a process ended. The zero value means exit status 0.
type Status struct {
	ws syscall.WaitStatus
}

// ExitCode returns the exit code, or 128+n when the process was killed by
// signal n, as shells report it (SIGKILL: 137, SIGTERM: 143).
func (s Status) ExitCode() int {
	if s.ws.Signaled() {
		return 128 + int(s.ws.Signal())
	}
	return s.ws.ExitStatus()
}

// Signal returns the signal that killed the process, or 0 if it exited.
func (s Status) Signal() syscall.Signal {
	if s.ws.Signaled() {
		return s.ws.Signal()
	}
	return 0
}

// String describes the status: "exit status 3", "killed by SIGKILL", or
// "killed by SIGSEGV (core dumped)".
func (s Status) String() string {
	if !s.ws.Signaled() {
		return fmt.Sprintf("exit status %d", s.ws.ExitStatus())
	}
	str := "killed by " + SignalName(s.ws.Signal())
	if s.ws.CoreDump() {
		str += " (core dumped)"
	}
	return str
}

// SignalName returns the name of sig, such as "SIGTERM", or "signal 40"
// for a signal without one.
func SignalName(sig syscall.Signal) string {
	if name := unix.SignalName(sig); name != "" {
		return name
	}
	return fmt.Sprintf("signal %d", int(sig))
}
