package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// The end-to-end tests build the real binary once and run it, with real
// sockets and signals, in front of a real Node app (testdata/app.js).

var (
	binary  string // the lameduck binary under test
	testApp string // absolute path of testdata/app.js
)

// wait bounds every wait of the end-to-end tests.
const wait = 20 * time.Second

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "lameduck-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "lameduck")
	args := []string{"build", "-o", binary}
	if raceEnabled {
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, ".")...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build lameduck:", err)
		os.Exit(1)
	}
	testApp, _ = filepath.Abs("testdata/app.js")
	code := 0
	func() {
		defer os.RemoveAll(dir)
		goleak.VerifyTestMain(exitCatcher{m, &code})
	}()
	os.Exit(code)
}

// exitCatcher lets TestMain clean up after goleak.VerifyTestMain, which
// calls os.Exit itself.
type exitCatcher struct {
	m    *testing.M
	code *int
}

func (e exitCatcher) Run() int { *e.code = e.m.Run(); return *e.code }

// lines collects the JSON lines of a stream and lets tests wait for one.
type lines struct {
	mu      sync.Mutex
	entries []map[string]any
	raw     []string
	changed chan struct{} // closed and replaced on every new line
	done    chan struct{} // closed at EOF
}

func newLines() *lines { return &lines{changed: make(chan struct{}), done: make(chan struct{})} }

func (l *lines) read(r io.Reader) {
	defer close(l.done)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var m map[string]any
		json.Unmarshal(sc.Bytes(), &m) // non-JSON lines are kept raw only
		l.mu.Lock()
		l.entries = append(l.entries, m)
		l.raw = append(l.raw, sc.Text())
		close(l.changed)
		l.changed = make(chan struct{})
		l.mu.Unlock()
	}
}

// find returns the n-th (from 1) line whose key equals value, if any.
func (l *lines) find(key, value string, n int) (map[string]any, chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, m := range l.entries {
		if m != nil && fmt.Sprint(m[key]) == value {
			if n--; n == 0 {
				return m, nil
			}
		}
	}
	return nil, l.changed
}

// findText returns the n-th line containing text, if any.
func (l *lines) findText(text string, n int) (string, chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range l.raw {
		if strings.Contains(r, text) {
			if n--; n == 0 {
				return r, nil
			}
		}
	}
	return "", l.changed
}

func (l *lines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.raw, "\n")
}

// instance is one lameduck process under test.
type instance struct {
	t      *testing.T
	cmd    *exec.Cmd
	logs   *lines // lameduck's log (stderr, JSON)
	out    *lines // the app's events (stdout, JSON)
	addr   string // public address
	admin  string // admin address
	exited chan struct{}
	status int
}

// start runs lameduck with args, after "--log-format json --listen
// 127.0.0.1:0 --admin 127.0.0.1:0", and env added to a minimal environment.
// It returns once lameduck has logged its addresses.
func start(t *testing.T, env []string, args ...string) *instance {
	t.Helper()
	in := startRaw(t, env, append([]string{"--log-format", "json", "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0"}, args...)...)
	m := in.waitLog("msg", "lameduck starting")
	in.addr = fmt.Sprint(m["listen"])
	in.admin = fmt.Sprint(m["admin"])
	return in
}

// startRaw runs lameduck with exactly args.
func startRaw(t *testing.T, env []string, args ...string) *instance {
	t.Helper()
	return startProgram(t, env, binary, args...)
}

// startProgram runs program, which runs lameduck, such as unshare.
func startProgram(t *testing.T, env []string, program string, args ...string) *instance {
	t.Helper()
	cmd := exec.Command(program, args...)
	cmd.Env = append(baseEnv(), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	return launch(t, cmd, stderr)
}

// baseEnv is the environment every lameduck under test starts from. A
// race-enabled binary sleeps a second at exit unless told not to, and
// should stop at its first data race.
func baseEnv() []string {
	return []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"),
		"GORACE=atexit_sleep_ms=0 halt_on_error=1"}
}

// launch starts cmd, whose log is read from logs and whose app events from
// its stdout, and stops what is left of it when the test ends.
func launch(t *testing.T, cmd *exec.Cmd, logs io.Reader) *instance {
	t.Helper()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	in := &instance{t: t, cmd: cmd, logs: newLines(), out: newLines(), exited: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go in.logs.read(logs)
	go in.out.read(stdout)
	go in.reap()
	t.Cleanup(in.kill)
	return in
}

// reap waits for the instance's output to end, then for its exit, and
// records its exit status, 128+n for a death by signal n.
func (in *instance) reap() {
	<-in.logs.done
	<-in.out.done
	err := in.cmd.Wait()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		in.status = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			in.status = 128 + int(ws.Signal())
		}
	case err != nil:
		in.status = -1
	}
	close(in.exited)
}

// kill stops whatever is left of the instance and its app, and reports the
// logs of a failed test.
func (in *instance) kill() {
	if m, _ := in.logs.find("msg", "app started", 1); m != nil {
		if pid, ok := m["pid"].(float64); ok {
			syscall.Kill(-int(pid), syscall.SIGKILL)
		}
	}
	in.cmd.Process.Kill()
	select {
	case <-in.exited:
	case <-time.After(wait):
		in.t.Error("lameduck did not exit after SIGKILL")
	}
	if strings.Contains(in.logs.String(), "WARNING: DATA RACE") {
		in.t.Error("lameduck reported a data race")
	}
	if in.t.Failed() {
		in.t.Logf("lameduck log:\n%s\napp output:\n%s", in.logs, in.out)
	}
}

func (in *instance) waitLine(l *lines, what, key, value string, n int) map[string]any {
	in.t.Helper()
	deadline := time.After(wait)
	for {
		m, changed := l.find(key, value, n)
		if m != nil {
			return m
		}
		select {
		case <-changed:
		case <-l.done:
			if m, _ := l.find(key, value, n); m != nil {
				return m
			}
			in.t.Fatalf("%s %s=%q never came (stream ended)", what, key, value)
		case <-deadline:
			in.t.Fatalf("timed out waiting for %s %s=%q", what, key, value)
		}
	}
}

// waitLog waits for lameduck's log line with key == value.
func (in *instance) waitLog(key, value string) map[string]any {
	in.t.Helper()
	return in.waitLine(in.logs, "log line", key, value, 1)
}

// waitApp waits for the n-th app event of that name.
func (in *instance) waitApp(event string, n int) map[string]any {
	in.t.Helper()
	return in.waitLine(in.out, "app event", "app", event, n)
}

// waitOutput waits for a line of the app's output containing text, for
// apps that do not log JSON.
func (in *instance) waitOutput(text string) string {
	in.t.Helper()
	deadline := time.After(wait)
	for {
		line, changed := in.out.findText(text, 1)
		if changed == nil {
			return line
		}
		select {
		case <-changed:
		case <-in.out.done:
			if line, _ := in.out.findText(text, 1); line != "" {
				return line
			}
			in.t.Fatalf("app output %q never came (stream ended)", text)
		case <-deadline:
			in.t.Fatalf("timed out waiting for app output %q", text)
		}
	}
}

// ready waits for the upstream to be ready.
func (in *instance) ready() *instance {
	in.t.Helper()
	in.waitLog("msg", "upstream ready")
	return in
}

func (in *instance) signal(sig syscall.Signal) {
	in.t.Helper()
	if err := in.cmd.Process.Signal(sig); err != nil {
		in.t.Fatalf("signal %v: %v", sig, err)
	}
}

// wait returns lameduck's exit status.
func (in *instance) wait() int {
	in.t.Helper()
	select {
	case <-in.exited:
		return in.status
	case <-time.After(wait):
		in.t.Fatal("lameduck did not exit")
		return -1
	}
}

func (in *instance) url(path string) string { return "http://" + in.addr + path }

func (in *instance) adminURL(path string) string { return "http://" + in.admin + path }

// report returns the drain report line.
func (in *instance) report() map[string]any {
	in.t.Helper()
	return in.waitLog("msg", "drain report")
}

// httpClient returns a client whose connections are closed when the test
// ends.
func httpClient(t *testing.T) *http.Client {
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: wait}
}

type result struct {
	code int
	body string
	err  error
	at   time.Time
}

// get sends a GET in the background and returns a channel for its result.
func get(t *testing.T, c *http.Client, url string) <-chan result {
	ch := make(chan result, 1)
	go func() {
		res, err := c.Get(url)
		if err != nil {
			ch <- result{err: err, at: time.Now()}
			return
		}
		b, err := io.ReadAll(res.Body)
		res.Body.Close()
		ch <- result{code: res.StatusCode, body: string(b), err: err, at: time.Now()}
	}()
	return ch
}

func recv(t *testing.T, ch <-chan result) result {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(wait):
		t.Fatal("no response")
		return result{}
	}
}

// mustGet fetches url and fails the test unless the answer is code.
func mustGet(t *testing.T, c *http.Client, url string, code int) string {
	t.Helper()
	r := recv(t, get(t, c, url))
	if r.err != nil || r.code != code {
		t.Fatalf("GET %s = %d %q %v, want %d", url, r.code, r.body, r.err, code)
	}
	return r.body
}

// refused reports whether a new connection to addr is refused.
func refused(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return true
	}
	c.Close()
	return false
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	t.Cleanup(cancel)
	return ctx
}

// num reads a JSON number field.
func num(m map[string]any, key string) float64 {
	f, _ := m[key].(float64)
	return f
}
