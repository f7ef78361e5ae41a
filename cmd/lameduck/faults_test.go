package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestUpstreamHangs: with --upstream-timeout, a request the app never
// answers gets 504 and is cancelled at the app, and lameduck goes on
// serving. The timeout bounds only the wait for response headers: a stream
// that has started runs on, and at the drain it is the drain timeout that
// cuts it.
func TestUpstreamHangs(t *testing.T) {
	t.Parallel()
	in := start(t, nil, "--upstream-timeout", "300ms", "--drain-timeout", "500ms", "--", "node", testApp).ready()
	c := httpClient(t)
	r := recv(t, get(t, c, in.url("/hold?id=hung")))
	if r.code != http.StatusGatewayTimeout || r.body != "lameduck: upstream timed out\n" {
		t.Fatalf("GET /hold = %d %q %v, want 504 lameduck: upstream timed out", r.code, r.body, r.err)
	}
	in.waitApp("hold-aborted", 1)
	mustGet(t, c, in.url("/"), 200)

	res, err := c.Get(in.url("/sse?n=0&ms=100"))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	br := bufio.NewReader(res.Body)
	for i := 1; i <= 5; i++ { // 500 ms of stream: past the upstream timeout
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("stream cut after %d events: %v", i-1, err)
		}
		if line == "\n" {
			i--
		}
	}
	in.signal(syscall.SIGTERM)
	if _, err := io.Copy(io.Discard, br); err == nil {
		t.Fatal("never-ending stream ended cleanly at the drain, want it cut at the drain timeout")
	}
	if code := in.wait(); code != 0 {
		t.Fatalf("exit status = %d, want 0", code)
	}
	if rep := in.report(); num(rep, "cut") != 1 || !strings.Contains(fmt.Sprint(rep["drain_cause"]), "drain timeout 500ms") {
		t.Fatalf("drain report = %v, want the stream cut at the drain timeout", rep)
	}
}

// metric reads one unlabelled value from the admin /metrics.
func metric(t *testing.T, in *instance, name string) float64 {
	t.Helper()
	body := mustGet(t, noKeepAlive(t), in.adminURL("/metrics"), 200)
	m := regexp.MustCompile(`(?m)^` + name + ` (\S+)$`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("/metrics has no %s", name)
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}

func noKeepAlive(t *testing.T) *http.Client {
	return &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: wait}
}

// waitMetric waits until /metrics reports name = want. The proxy offers
// no event for it, so this polls.
func waitMetric(t *testing.T, in *instance, name string, want float64) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for metric(t, in, name) != want {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s = %v", name, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// settled waits until nothing is in flight and lameduck runs no more
// goroutines than baseline: a request whose client left is cancelled at
// the app and leaves nothing behind. The runtime offers no event for it,
// so this polls /metrics.
func settled(t *testing.T, in *instance, baseline float64) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		inflight, g := metric(t, in, "lameduck_requests_in_flight"), metric(t, in, "go_goroutines")
		if inflight == 0 && g <= baseline {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("in flight %v, goroutines %v; want 0 and at most %v as before", inflight, g, baseline)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestClientGone: a client that disconnects in the middle of an upload
// or of a download has its upstream request cancelled (the app sees it
// abort) and leaves no goroutine behind; lameduck goes on serving.
func TestClientGone(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		req   string
		event string // what the app logs when the request is abandoned
	}{
		{"mid-upload", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n" + strings.Repeat("u", 4096), "upload-aborted"},
		{"mid-download", "GET /chunks?n=0&ms=20 HTTP/1.1\r\nHost: x\r\n\r\n", "stream-aborted"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in := start(t, nil, "--", "node", testApp).ready()
			mustGet(t, noKeepAlive(t), in.url("/"), 200) // warm up: one pooled upstream connection
			baseline := metric(t, in, "go_goroutines")

			c, err := net.Dial("tcp", in.addr)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.WriteString(c, tc.req); err != nil {
				t.Fatal(err)
			}
			in.waitApp("request", 2) // the app has the request
			if tc.event == "stream-aborted" {
				if _, err := bufio.NewReader(c).ReadString('\n'); err != nil { // the download has begun
					t.Fatal(err)
				}
			}
			c.Close()
			in.waitApp(tc.event, 1)
			settled(t, in, baseline)
			mustGet(t, httpClient(t), in.url("/"), 200)
			in.signal(syscall.SIGTERM)
			if code := in.wait(); code != 0 {
				t.Fatalf("exit status = %d, want 0", code)
			}
		})
	}
}

// TestSIGTERMDuringStartup: a SIGTERM that arrives while the app is still
// starting drains as usual: a request held for the app is answered (by the
// app once it listens, or 503 at --upstream-wait), the app is stopped, and
// lameduck exits with the app's status.
func TestSIGTERMDuringStartup(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		env  []string
		hold string // --upstream-wait
		code int
		body string
	}{
		{"app listens later", []string{"APP_START_DELAY_MS=500"}, "20s", 200, "hello"},
		{"app never listens", []string{"APP_NEVER_LISTEN=1"}, "800ms", 503, "lameduck: upstream not accepting connections after 800ms\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in := start(t, tc.env, "--upstream-wait", tc.hold, "--", "node", testApp)
			in.waitApp("start", 1)
			c := httpClient(t)
			held := get(t, c, in.url("/"))
			waitMetric(t, in, "lameduck_requests_in_flight", 1)
			in.signal(syscall.SIGTERM)
			in.waitLog("msg", "listeners closed")
			if r := recv(t, held); r.code != tc.code || r.body != tc.body {
				t.Fatalf("request held at SIGTERM = %d %q %v, want %d %q", r.code, r.body, r.err, tc.code, tc.body)
			}
			if code := in.wait(); code != 0 {
				t.Fatalf("exit status = %d, want the app's 0", code)
			}
			if rep := in.report(); num(rep, "cut") != 0 || rep["drain_cause"] != "idle" {
				t.Fatalf("drain report = %v, want the held request finished, not cut", rep)
			}
		})
	}
}

// TestBrokenStderr: lameduck's log going nowhere (stderr closed, a pipe
// whose reader is gone, a full disk) does not stop it: it serves, logs an
// upstream error into the void, drains and exits with the app's status.
func TestBrokenStderr(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		stderr func(t *testing.T) *os.File // nil: closed with 2>&-
	}{
		{"closed", nil},
		{"pipe without reader", func(t *testing.T) *os.File {
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			r.Close()
			t.Cleanup(func() { w.Close() })
			return w
		}},
		{"full disk", func(t *testing.T) *os.File {
			f, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
			if err != nil {
				t.Skipf("no /dev/full: %v", err)
			}
			t.Cleanup(func() { f.Close() })
			return f
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			port := freeTestPort(t)
			args := []string{"--listen", fmt.Sprintf("127.0.0.1:%d", port), "--admin", "", "--upstream-timeout", "200ms", "--", "node", testApp}
			var cmd *exec.Cmd
			if tc.stderr == nil {
				cmd = exec.Command("sh", append([]string{"-c", `exec "$0" "$@" 2>&-`, binary}, args...)...)
			} else {
				cmd = exec.Command(binary, args...)
				cmd.Stderr = tc.stderr(t)
			}
			in := startCmd(t, cmd)
			in.addr = fmt.Sprintf("127.0.0.1:%d", port)
			in.waitApp("listening", 1)
			c := httpClient(t)
			mustGet(t, c, in.url("/"), 200)
			mustGet(t, c, in.url("/hold?id=x"), 504) // logs an upstream error
			mustGet(t, c, in.url("/"), 200)
			in.signal(syscall.SIGTERM)
			if code := in.wait(); code != 0 {
				t.Fatalf("exit status = %d, want the app's 0", code)
			}
		})
	}
}

// startCmd runs a prepared command that runs lameduck with stderr already
// set; only the app's events (stdout) are read.
func startCmd(t *testing.T, cmd *exec.Cmd) *instance {
	t.Helper()
	cmd.Env = baseEnv()
	in := launch(t, cmd, strings.NewReader(""))
	// Without lameduck's log, the app's group is found by its own event.
	t.Cleanup(func() {
		if m, _ := in.out.find("app", "start", 1); m != nil {
			syscall.Kill(-int(num(m, "pgid")), syscall.SIGKILL)
		}
	})
	return in
}

// TestUpstreamComesBack: an upstream that goes away gets 502s, and once it
// listens again on the same address the next request is answered: lameduck
// keeps no state that would need a restart.
func TestUpstreamComesBack(t *testing.T) {
	t.Parallel()
	up := goUpstream(t)
	addr := up.Listener.Addr().String()
	in := start(t, nil, "--upstream", up.URL).ready()
	c := httpClient(t)
	mustGet(t, c, in.url("/a"), 200)
	up.Close()
	mustGet(t, c, in.url("/a"), 502)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("cannot listen on %s again: %v", addr, err)
	}
	back := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "back "+r.URL.Path)
	})}
	served := make(chan struct{})
	go func() { back.Serve(ln); close(served) }()
	defer func() { back.Close(); <-served }()
	if body := mustGet(t, c, in.url("/b"), 200); body != "back /b" {
		t.Fatalf("GET /b = %q, want the upstream that came back", body)
	}
	in.signal(syscall.SIGTERM)
	if code := in.wait(); code != 0 {
		t.Fatalf("exit status = %d, want 0", code)
	}
}
