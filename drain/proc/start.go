package proc

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
)

// Command describes the app to start.
type Command struct {
	// Args is the program and its arguments; it must not be empty. Args[0]
	// is looked up in this process's PATH unless it contains a slash, as
	// exec.LookPath does.
	Args []string

	// Env is the app's whole environment, as "KEY=value" strings. Nil
	// means this process's environment.
	Env []string

	// StopSignal is the signal Group.Stop sends the group first. Zero
	// means SIGTERM.
	StopSignal syscall.Signal
}

// Start starts the app in a new process group whose ID is its PID, with
// this process's standard input, output and error, and registers its main
// process with r, which must be running (see [Reaper.Run]) for the group
// to learn of its exit.
//
// The error names the program: `start app "nodee": exec: "nodee":
// executable file not found in $PATH`. errors.Is reports exec.ErrNotFound
// for a program that is not found (a shell exits 127) and fs.ErrPermission
// for one that may not be executed (a shell exits 126).
//
// Limit: the app runs in a background process group, so an app that reads
// a terminal on standard input is stopped by SIGTTIN.
func (r *Reaper) Start(c Command) (*Group, error) {
	if len(c.Args) == 0 {
		return nil, errors.New("start app: no command")
	}
	name := c.Args[0]
	path, err := exec.LookPath(name)
	if err != nil {
		return nil, fmt.Errorf("start app %q: %w", name, err)
	}
	env := c.Env
	if env == nil {
		env = os.Environ()
	}
	attr := &syscall.ProcAttr{
		Env:   env,
		Files: []uintptr{os.Stdin.Fd(), os.Stdout.Fd(), os.Stderr.Fd()},
		Sys:   &syscall.SysProcAttr{Setpgid: true},
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	pid, err := r.sys().forkExec(path, c.Args, attr)
	if err != nil {
		return nil, fmt.Errorf("start app %q: %w", name, &os.PathError{Op: "fork/exec", Path: path, Err: err})
	}
	return r.add(pid, c.StopSignal), nil
}
