package proc

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// PIDFile stops a process lameduck did not start, named by a PID file that
// is read when Stop is called.
type PIDFile struct {
	// Path is the file holding the PID in decimal, optionally followed by
	// white space. It must be set.
	Path string

	// Signal is sent first. Zero means SIGTERM.
	Signal syscall.Signal
}

// Stop reads the PID from the file and stops that process as [PID.Stop]
// does. An error reading the file matches what os.ReadFile returned
// (fs.ErrNotExist for a missing file).
func (p PIDFile) Stop(ctx context.Context) error {
	data, err := os.ReadFile(p.Path)
	if err != nil {
		return fmt.Errorf("pid file: %w", err)
	}
	s := strings.TrimSpace(string(data))
	pid, err := strconv.Atoi(s)
	if err != nil || pid <= 0 {
		return fmt.Errorf("pid file %s: invalid pid %q", p.Path, truncate(s, 20))
	}
	return PID{Pid: pid, Signal: p.Signal}.Stop(ctx)
}

// truncate shortens s to at most n bytes, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
