package proc

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// SetSubreaper marks this process as a child subreaper
// (PR_SET_CHILD_SUBREAPER), so that processes orphaned by the app (node
// under `npm start` under sh) are re-parented to it instead of to init, and
// its [Reaper] collects them. PID 1 adopts orphans anyway; see [IsPID1].
func SetSubreaper() error {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("set child subreaper: %v", err)
	}
	return nil
}

// IsPID1 reports whether this process is PID 1 of its PID namespace, the
// init of a container: it adopts every orphan, and the kernel gives it no
// default action for signals it has not installed a handler for.
func IsPID1() bool {
	return os.Getpid() == 1
}
