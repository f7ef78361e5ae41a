package proc

import (
	"syscall"
	"testing"
)

func TestStatus(t *testing.T) {
	tests := []struct {
		name string
		ws   syscall.WaitStatus
		code int
		sig  syscall.Signal
		str  string
	}{
		{"zero", 0, 0, 0, "exit status 0"},
		{"exit 3", 3 << 8, 3, 0, "exit status 3"},
		{"exit 255", 255 << 8, 255, 0, "exit status 255"},
		{"SIGKILL", syscall.WaitStatus(syscall.SIGKILL), 137, syscall.SIGKILL, "killed by SIGKILL"},
		{"SIGTERM", syscall.WaitStatus(syscall.SIGTERM), 143, syscall.SIGTERM, "killed by SIGTERM"},
		{"SIGSEGV with core", syscall.WaitStatus(syscall.SIGSEGV) | 0x80, 139, syscall.SIGSEGV, "killed by SIGSEGV (core dumped)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := Status{ws: tt.ws}
			if got := s.ExitCode(); got != tt.code {
				t.Errorf("Status{%#x}.ExitCode() = %d, want %d", tt.ws, got, tt.code)
			}
			if got := s.Signal(); got != tt.sig {
				t.Errorf("Status{%#x}.Signal() = %v, want %v", tt.ws, got, tt.sig)
			}
			if got := s.String(); got != tt.str {
				t.Errorf("Status{%#x}.String() = %q, want %q", tt.ws, got, tt.str)
			}
		})
	}
}

// TestExitStatus runs real processes: the code is passed through, and a
// death by signal n is 128+n, never Go's -1.
func TestExitStatus(t *testing.T) {
	r := startReaper(t)
	tests := []struct {
		name   string
		script string
		code   int
		str    string
	}{
		{"exit 0", "exit 0", 0, "exit status 0"},
		{"exit 3", "exit 3", 3, "exit status 3"},
		{"SIGKILL", "kill -KILL $$", 137, "killed by SIGKILL"},
		{"SIGTERM without trap", "kill -TERM $$", 143, "killed by SIGTERM"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := startScript(t, r, 0, tt.script)
			st := waitExited(t, g)
			if got := st.ExitCode(); got != tt.code {
				t.Errorf("sh -c %q: ExitCode() = %d, want %d", tt.script, got, tt.code)
			}
			if got := st.String(); got != tt.str {
				t.Errorf("sh -c %q: String() = %q, want %q", tt.script, got, tt.str)
			}
		})
	}
}

func TestSignalName(t *testing.T) {
	tests := []struct {
		sig  syscall.Signal
		want string
	}{
		{syscall.SIGTERM, "SIGTERM"},
		{syscall.SIGINT, "SIGINT"},
		{syscall.SIGKILL, "SIGKILL"},
		{syscall.SIGHUP, "SIGHUP"},
		{syscall.Signal(40), "signal 40"},
	}
	for _, tt := range tests {
		if got := SignalName(tt.sig); got != tt.want {
			t.Errorf("SignalName(%d) = %q, want %q", int(tt.sig), got, tt.want)
		}
	}
}
