package main

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// goUpstream is an app in another "container": a Go server lameduck does
// not start.
func goUpstream(t *testing.T) *httptest.Server {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "sidecar "+r.URL.Path)
	}))
	t.Cleanup(up.Close)
	return up
}

// TestSidecarStopURL: with --upstream and --stop-url, lameduck proxies,
// and after the drain POSTs to the stop URL, then exits 0.
func TestSidecarStopURL(t *testing.T) {
	t.Parallel()
	up := goUpstream(t)
	stopped := make(chan string, 1)
	stopSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		stopped <- r.Method + " " + r.URL.Path
	}))
	defer stopSrv.Close()
	in := start(t, nil, "--upstream", up.URL, "--stop-url", stopSrv.URL+"/quit").ready()
	if body := mustGet(t, httpClient(t), in.url("/x"), 200); body != "sidecar /x" {
		t.Fatalf("GET /x = %q", body)
	}
	in.signal(syscall.SIGTERM)
	if code := in.wait(); code != 0 {
		t.Fatalf("exit status = %d, want 0", code)
	}
	select {
	case got := <-stopped:
		if got != "POST /quit" {
			t.Fatalf("stop URL got %q, want POST /quit", got)
		}
	default:
		t.Fatal("stop URL never called")
	}
}

// TestSidecarStopPID: --stop-pid signals a process lameduck did not start
// and waits for it.
func TestSidecarStopPID(t *testing.T) {
	t.Parallel()
	up := goUpstream(t)
	app := exec.Command("sleep", "60")
	if err := app.Start(); err != nil {
		t.Fatal(err)
	}
	var waitErr error
	exited := make(chan struct{})
	go func() { waitErr = app.Wait(); close(exited) }()
	t.Cleanup(func() {
		app.Process.Kill()
		select {
		case <-exited:
		case <-time.After(wait):
			t.Error("the app did not exit after SIGKILL")
		}
	})
	in := start(t, nil, "--upstream", up.URL, "--stop-pid", strconv.Itoa(app.Process.Pid), "--stop-signal", "SIGUSR1").ready()
	in.signal(syscall.SIGTERM)
	if code := in.wait(); code != 0 {
		t.Fatalf("exit status = %d, want 0", code)
	}
	select {
	case <-exited:
	case <-time.After(wait):
		t.Fatal("the app did not exit after lameduck stopped it")
	}
	ee, ok := waitErr.(*exec.ExitError)
	if !ok || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGUSR1 {
		t.Fatalf("stopped app: %v, want killed by SIGUSR1", waitErr)
	}
}

// TestSidecarDrainThenWait: a drain asked for over /drain, with no app to
// stop, leaves lameduck drained and alive (as a Kubernetes native sidecar
// must be) until its own SIGTERM, which ends it at once.
func TestSidecarDrainThenWait(t *testing.T) {
	t.Parallel()
	up := goUpstream(t)
	in := start(t, nil, "--upstream", up.URL).ready()
	c := httpClient(t)
	if r := recv(t, get(t, c, in.adminURL("/drain"))); r.code != 200 {
		t.Fatalf("/drain = %d %q", r.code, r.body)
	}
	in.waitLog("msg", "drained; waiting for a stop signal")
	mustGet(t, c, in.adminURL("/healthz"), 200)
	mustGet(t, c, in.adminURL("/readyz"), 503)
	if !refused(in.addr) {
		t.Fatal("public listener open after the drain")
	}
	// A second /drain joins the finished drain.
	if r := recv(t, get(t, c, in.adminURL("/drain"))); r.code != 200 {
		t.Fatalf("second /drain = %d %q", r.code, r.body)
	}
	in.signal(syscall.SIGTERM)
	if code := in.wait(); code != 0 {
		t.Fatalf("exit status = %d, want 0", code)
	}
}

// TestSidecarUnixSocket proxies to an upstream on a Unix socket.
func TestSidecarUnixSocket(t *testing.T) {
	t.Parallel()
	sock := filepath.Join(t.TempDir(), "app.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "unix "+r.Host)
	}))
	up.Listener = ln
	up.Start()
	defer up.Close()
	in := start(t, nil, "--upstream", "unix:"+sock).ready()
	if body := mustGet(t, httpClient(t), in.url("/"), 200); body != "unix "+in.addr {
		t.Fatalf("GET / = %q, want the client's Host passed through", body)
	}
	in.signal(syscall.SIGTERM)
	in.wait()
}

// TestUpstreamGone502: an upstream that stops accepting after start-up
// gets 502s with a short body; lameduck keeps running and serves again
// when it is back.
func TestUpstreamGone502(t *testing.T) {
	t.Parallel()
	up := goUpstream(t)
	in := start(t, nil, "--upstream", up.URL).ready()
	c := httpClient(t)
	mustGet(t, c, in.url("/"), 200)
	up.Close()
	c.CloseIdleConnections()
	if body := mustGet(t, c, in.url("/"), 502); body != "lameduck: upstream unavailable\n" {
		t.Fatalf("502 body = %q", body)
	}
	in.waitLog("msg", "upstream error")
	mustGet(t, c, in.adminURL("/healthz"), 200)
	in.signal(syscall.SIGTERM)
	if code := in.wait(); code != 0 {
		t.Fatalf("exit status = %d, want 0", code)
	}
}

// TestUpstreamNeverReady: requests are held up to --upstream-wait, then
// answered 503 with a clear body; readiness stays 503.
func TestUpstreamNeverReady(t *testing.T) {
	t.Parallel()
	in := start(t, []string{"APP_NEVER_LISTEN=1"}, "--upstream-wait", "300ms", "--", "node", testApp)
	in.waitApp("start", 1)
	c := httpClient(t)
	r := recv(t, get(t, c, in.url("/")))
	if r.code != 503 || !strings.Contains(r.body, "upstream not accepting connections after 300ms") {
		t.Fatalf("GET / = %d %q, want 503 naming the wait", r.code, r.body)
	}
	mustGet(t, c, in.adminURL("/readyz"), 503)
	mustGet(t, c, in.url("/__lameduck/ready"), 503)
	in.signal(syscall.SIGTERM)
	if code := in.wait(); code != 0 {
		t.Fatalf("exit status = %d, want the app's 0", code)
	}
}

// TestMetrics: /metrics reports requests by class and the drain phase.
func TestMetrics(t *testing.T) {
	t.Parallel()
	up := goUpstream(t)
	in := start(t, nil, "--upstream", up.URL).ready()
	c := httpClient(t)
	mustGet(t, c, in.url("/"), 200)
	body := mustGet(t, c, in.adminURL("/metrics"), 200)
	for _, want := range []string{
		`lameduck_requests_total{code="2xx"} 1`,
		`lameduck_drain_phase{phase="serving"} 1`,
		`lameduck_upstream_ready 1`,
		`lameduck_requests_in_flight 0`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	in.signal(syscall.SIGTERM)
	in.wait()
}

// TestSidecarSIGTERMDuringAdminDrain: a SIGTERM that arrives while a drain
// started by /drain is still running is remembered: lameduck exits when the
// drain ends, without waiting for another signal.
func TestSidecarSIGTERMDuringAdminDrain(t *testing.T) {
	t.Parallel()
	up := goUpstream(t)
	in := start(t, nil, "--upstream", up.URL, "--shutdown-delay", "1s").ready()
	drained := get(t, httpClient(t), in.adminURL("/drain"))
	in.waitLog("msg", "drain started")
	in.signal(syscall.SIGTERM)
	in.waitLog("msg", "signal received again: already draining")
	if code := in.wait(); code != 0 {
		t.Fatalf("exit status = %d, want 0", code)
	}
	recv(t, drained)
}
