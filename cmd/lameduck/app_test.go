package main

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestAppExitStatus: when the app exits by itself, lameduck closes its
// listeners at once and exits with the app's status; a death by signal n
// becomes 128+n.
func TestAppExitStatus(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		env  []string
		want int
	}{
		{"exit 3", []string{"APP_EXIT_AFTER_MS=100", "APP_EXIT_CODE=3"}, 3},
		{"exit 0", []string{"APP_EXIT_AFTER_MS=100"}, 0},
		{"killed by SIGTERM", []string{"APP_ON_SIGTERM=die"}, 143},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in := start(t, tc.env, "--", "node", testApp).ready()
			if tc.want == 143 {
				// The app dies of the stop signal it gets after the drain.
				in.signal(syscall.SIGTERM)
			} else {
				in.waitLog("msg", "app exited by itself")
				in.waitLog("msg", "listeners closed")
				if !refused(in.addr) {
					t.Fatal("listener still open after the app exited")
				}
			}
			if code := in.wait(); code != tc.want {
				t.Fatalf("exit status = %d, want %d", code, tc.want)
			}
		})
	}
}

// TestStopTimeoutKills: an app that ignores its stop signal is killed
// after --stop-timeout, and lameduck exits 137.
func TestStopTimeoutKills(t *testing.T) {
	t.Parallel()
	in := start(t, []string{"APP_ON_SIGTERM=ignore"}, "--stop-timeout", "300ms", "--", "node", testApp).ready()
	in.signal(syscall.SIGTERM)
	in.waitApp("signal", 1)
	if code := in.wait(); code != 137 {
		t.Fatalf("exit status = %d, want 137 (SIGKILL)", code)
	}
}

// TestStopSignal: --stop-signal chooses what the app gets after the drain.
func TestStopSignal(t *testing.T) {
	t.Parallel()
	in := start(t, nil, "--stop-signal", "SIGINT", "--", "node", testApp).ready()
	in.signal(syscall.SIGTERM)
	if m := in.waitApp("signal", 1); m["sig"] != "SIGINT" {
		t.Fatalf("app got %v, want SIGINT", m["sig"])
	}
	if code := in.wait(); code != 0 {
		t.Fatalf("exit status = %d, want 0", code)
	}
}

// TestSignalsForwarded: SIGHUP, SIGUSR1, SIGUSR2 and SIGWINCH reach the app
// and do not start a drain.
func TestSignalsForwarded(t *testing.T) {
	t.Parallel()
	in := start(t, nil, "--", "node", testApp).ready()
	for i, sig := range []syscall.Signal{syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGWINCH} {
		in.signal(sig)
		if m := in.waitApp("signal", i+1); m["sig"] != "SIG"+strings.ToUpper(sigName(sig)) {
			t.Fatalf("app got %v, want %v", m["sig"], sig)
		}
	}
	mustGet(t, httpClient(t), in.adminURL("/readyz"), 200)
	in.signal(syscall.SIGTERM)
	in.wait()
}

func sigName(s syscall.Signal) string {
	return map[syscall.Signal]string{syscall.SIGHUP: "hup", syscall.SIGUSR1: "usr1", syscall.SIGUSR2: "usr2", syscall.SIGWINCH: "winch"}[s]
}

// TestPortHandling: lameduck listens on $PORT and gives the app another
// PORT, plus LAMEDUCK=1.
func TestPortHandling(t *testing.T) {
	t.Parallel()
	port := freeTestPort(t)
	in := startRaw(t, []string{"PORT=" + strconv.Itoa(port)}, "--log-format", "json", "--admin", "", "--", "node", testApp)
	in.ready()
	body := mustGet(t, httpClient(t), fmt.Sprintf("http://127.0.0.1:%d/env", port), 200)
	var env map[string]any
	if err := json.Unmarshal([]byte(body), &env); err != nil {
		t.Fatal(err)
	}
	if p := fmt.Sprint(env["PORT"]); p == "" || p == strconv.Itoa(port) {
		t.Fatalf("app PORT = %q, want a port other than lameduck's %d", p, port)
	}
	if env["LAMEDUCK"] != "1" {
		t.Fatalf("app LAMEDUCK = %v, want 1", env["LAMEDUCK"])
	}
	// ":$PORT" binds every address, IPv6 too where the host has it.
	if c, err := net.Dial("tcp6", fmt.Sprintf("[::1]:%d", port)); err == nil {
		c.Close()
	} else if !strings.Contains(err.Error(), "cannot assign") && !strings.Contains(err.Error(), "network is unreachable") {
		t.Fatalf("IPv6 loopback: %v", err)
	}
	in.signal(syscall.SIGTERM)
	in.wait()
}

func freeTestPort(t *testing.T) int {
	ln, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestProcessGroupStopped: the app's whole process group is stopped and
// waited for, including a child that ignores SIGTERM (npm start runs node
// under a shell).
func TestProcessGroupStopped(t *testing.T) {
	t.Parallel()
	in := start(t, []string{"APP_FORK=1"}, "--stop-timeout", "300ms", "--", "node", testApp).ready()
	child := int(num(in.waitApp("forked", 1), "pid"))
	in.signal(syscall.SIGTERM)
	in.wait()
	if err := syscall.Kill(child, 0); err != syscall.ESRCH {
		t.Fatalf("forked child %d still exists after lameduck exited (kill 0: %v)", child, err)
	}
	if m := in.waitLog("msg", "drain report"); !strings.Contains(fmt.Sprint(m["stop_error"]), "SIGKILL") {
		t.Fatalf("drain report = %v, want the group SIGKILLed at the stop timeout", m)
	}
}

// TestStartErrors: an app that cannot start gives the shell's statuses.
func TestStartErrors(t *testing.T) {
	t.Parallel()
	notExec := t.TempDir() + "/app"
	if err := os.WriteFile(notExec, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		cmd  string
		want int
	}{
		{"no-such-app-here", 127},
		{notExec, 126},
	} {
		in := startRaw(t, nil, "--admin", "", "--listen", "127.0.0.1:0", "--", tc.cmd)
		if code := in.wait(); code != tc.want {
			t.Errorf("lameduck -- %s: exit status %d, want %d", tc.cmd, code, tc.want)
		}
	}
}

// TestReapZombiesAsPID1 runs lameduck as PID 1 of a new PID namespace, the
// way a container runs it: an orphan of the app is re-parented to it and
// reaped, never left a zombie.
func TestReapZombiesAsPID1(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("needs root for a new PID namespace")
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		t.Skip("needs unshare")
	}
	in := startProgram(t, []string{"APP_ORPHAN=1", "APP_ORPHAN_MS=500"}, unshare,
		"--pid", "--fork", binary, "--log-format", "json", "--admin", "", "--listen", "127.0.0.1:0", "--", "node", testApp)
	in.waitLog("msg", "running as PID 1: reaping orphaned processes")
	in.waitApp("orphan", 1)
	host := lameduckHostPID(t, in.cmd.Process.Pid)
	t.Cleanup(func() { syscall.Kill(host, syscall.SIGKILL) }) // ends the namespace
	// The orphaned sleep is re-parented to lameduck, then exits after
	// 500 ms; a zombie would stay listed as a child.
	waitProc(t, "orphan re-parented to lameduck", func() bool { return childNamed(host, "sleep") })
	waitProc(t, "orphan reaped", func() bool { return !childNamed(host, "sleep") })
	// unshare does not forward signals to its child.
	if err := syscall.Kill(host, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := in.wait(); code != 0 {
		t.Fatalf("exit status = %d, want 0", code)
	}
}

// waitProc polls /proc until cond holds: the kernel offers no event for a
// process's parent or state.
func waitProc(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// lameduckHostPID finds lameduck, the only child of unshare.
func lameduckHostPID(t *testing.T, unsharePID int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", unsharePID, unsharePID))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("children of unshare: %q", b)
	}
	return pid
}

// childNamed reports whether pid has a child process, zombie or not, whose
// command is name.
func childNamed(pid int, name string) bool {
	tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	for _, task := range tasks {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/children", pid, task.Name()))
		for _, f := range strings.Fields(string(b)) {
			if comm, _ := os.ReadFile("/proc/" + f + "/comm"); strings.TrimSpace(string(comm)) == name {
				return true
			}
		}
	}
	return false
}

// TestAppExitDuringDelay: when the app exits during the shutdown delay (on
// Heroku it gets SIGTERM too), nothing can be answered any more: the delay
// ends at once and lameduck exits with the app's status, rather than
// answering 502 until the delay is over.
func TestAppExitDuringDelay(t *testing.T) {
	t.Parallel()
	in := start(t, []string{"APP_ON_SIGTERM=exit:3"}, "--shutdown-delay", "60s", "--", "node", testApp).ready()
	app := int(num(in.waitLog("msg", "app started"), "pid"))
	in.signal(syscall.SIGTERM)
	in.waitLog("msg", "drain started")
	if err := syscall.Kill(-app, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if m := in.waitLog("msg", "shutdown delay skipped"); !strings.Contains(fmt.Sprint(m["cause"]), "app exited") {
		t.Fatalf("delay skipped with cause %v, want the app's exit", m["cause"])
	}
	if code := in.wait(); code != 3 {
		t.Fatalf("exit status = %d, want the app's 3", code)
	}
}
