package config

import (
	"fmt"
	"strconv"
	"strings"
	"syscall"
)

// signals maps the names accepted for --stop-signal, without the SIG
// prefix, to their numbers. signal_unix.go adds the signals that exist only
// on Unix.
var signals = map[string]syscall.Signal{
	"HUP":  syscall.SIGHUP,
	"INT":  syscall.SIGINT,
	"QUIT": syscall.SIGQUIT,
	"ABRT": syscall.SIGABRT,
	"KILL": syscall.SIGKILL,
	"ALRM": syscall.SIGALRM,
	"TERM": syscall.SIGTERM,
}

// maxSignal is the highest signal number accepted (SIGRTMAX on Linux).
const maxSignal = 64

// parseSignal accepts "SIGTERM", "TERM", "sigterm" or a number from 1 to 64.
func parseSignal(s string) (syscall.Signal, error) {
	if isDigits(s) {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxSignal {
			return 0, fmt.Errorf("invalid signal number %s (want 1-%d)", s, maxSignal)
		}
		return syscall.Signal(n), nil
	}
	name := strings.TrimPrefix(strings.ToUpper(s), "SIG")
	if sig, ok := signals[name]; ok {
		return sig, nil
	}
	return 0, fmt.Errorf("unknown signal %q", s)
}

// signalName returns "SIGTERM" for a known signal, else its number.
func signalName(sig syscall.Signal) string {
	for name, s := range signals {
		if s == sig {
			return "SIG" + name
		}
	}
	return strconv.Itoa(int(sig))
}
