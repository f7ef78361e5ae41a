package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// TestHoldDuringStartup: requests that arrive while the app is starting
// are held, not answered 502, and readiness is 503 until the app accepts.
func TestHoldDuringStartup(t *testing.T) {
	t.Parallel()
	in := start(t, []string{"APP_START_DELAY_MS=700"}, "--", "node", testApp)
	c := httpClient(t)
	in.waitApp("start", 1)
	if r := recv(t, get(t, c, in.adminURL("/readyz"))); r.code != 503 {
		t.Fatalf("readyz before the app listens = %d, want 503", r.code)
	}
	held := get(t, c, in.url("/"))
	in.waitApp("listening", 1)
	if r := recv(t, held); r.err != nil || r.code != 200 || r.body != "hello" {
		t.Fatalf("request sent during start-up = %d %q %v, want 200 hello", r.code, r.body, r.err)
	}
	mustGet(t, c, in.adminURL("/readyz"), 200)
}

// TestDrainInFlight: on SIGTERM every request in flight completes, a new
// connection is refused, and the app is signalled only after the last
// response.
func TestDrainInFlight(t *testing.T) {
	t.Parallel()
	in := start(t, nil, "--", "node", testApp).ready()
	c := httpClient(t)
	var pending []<-chan result
	for i := range 3 {
		pending = append(pending, get(t, c, in.url(fmt.Sprintf("/hold?id=%d", i))))
		in.waitApp("held", i+1)
	}
	in.signal(syscall.SIGTERM)
	in.waitLog("msg", "listeners closed")
	if !refused(in.addr) {
		t.Fatal("new connection accepted after the listeners closed")
	}
	// Release through the app's own port: lameduck no longer accepts.
	appPort := num(in.waitApp("listening", 1), "port")
	mustGet(t, http.DefaultClient, fmt.Sprintf("http://127.0.0.1:%d/release", int(appPort)), 200)
	for i, ch := range pending {
		if r := recv(t, ch); r.err != nil || r.code != 200 {
			t.Fatalf("in-flight request %d = %d %v, want 200", i, r.code, r.err)
		}
	}
	released := in.waitApp("released", 3)
	sig := in.waitApp("signal", 1)
	if sig["sig"] != "SIGTERM" {
		t.Fatalf("app got %v, want SIGTERM", sig["sig"])
	}
	gap := num(sig, "t") - num(released, "t")
	if gap < 0 {
		t.Fatalf("app signalled %v ms before its last response", -gap)
	}
	t.Logf("last response to app signal: %v ms (app clock)", gap)
	if code := in.wait(); code != 0 {
		t.Fatalf("exit status = %d, want the app's 0", code)
	}
	rep := in.report()
	if num(rep, "at_start") != 3 || num(rep, "finished") != 3 || num(rep, "cut") != 0 || rep["drain_cause"] != "idle" {
		t.Fatalf("drain report = %v, want 3 in flight, 3 finished, none cut, idle", rep)
	}
}

// TestDrainTimeoutCuts: at the drain timeout what is left is cut, named in
// the report, and the app is still stopped.
func TestDrainTimeoutCuts(t *testing.T) {
	t.Parallel()
	in := start(t, nil, "--drain-timeout", "300ms", "--", "node", testApp).ready()
	stuck := get(t, httpClient(t), in.url("/hold?id=stuck"))
	in.waitApp("held", 1)
	in.signal(syscall.SIGTERM)
	if r := recv(t, stuck); r.err == nil {
		t.Fatalf("request past the drain timeout = %d %q, want it cut", r.code, r.body)
	}
	in.waitApp("signal", 1)
	if code := in.wait(); code != 0 {
		t.Fatalf("exit status = %d, want the app's 0", code)
	}
	rep := in.report()
	held := fmt.Sprint(rep["held"])
	if num(rep, "cut") != 1 || !strings.Contains(held, "GET /hold") || !strings.Contains(fmt.Sprint(rep["drain_cause"]), "drain timeout 300ms") {
		t.Fatalf("drain report = %v, want one cut request GET /hold and the timeout as cause", rep)
	}
}

// TestIdleKeepAliveDoesNotHoldDrain: an idle keep-alive connection does not
// delay the drain, which ends idle rather than at its timeout.
func TestIdleKeepAliveDoesNotHoldDrain(t *testing.T) {
	t.Parallel()
	in := start(t, nil, "--drain-timeout", "60s", "--", "node", testApp).ready()
	conn, err := net.Dial("tcp", in.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprint(conn, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil || res.Close {
		t.Fatalf("keep-alive request = %v, close=%v", err, res != nil && res.Close)
	}
	res.Body.Close()
	in.signal(syscall.SIGTERM)
	if code := in.wait(); code != 0 {
		t.Fatalf("exit status = %d, want 0", code)
	}
	if rep := in.report(); rep["drain_cause"] != "idle" || num(rep, "cut") != 0 {
		t.Fatalf("drain report = %v, want idle with nothing cut", rep)
	}
}

// TestShutdownDelay: during the delay lameduck keeps serving new
// connections while readiness fails, and liveness stays green.
func TestShutdownDelay(t *testing.T) {
	t.Parallel()
	in := start(t, nil, "--shutdown-delay", "1500ms", "--", "node", testApp).ready()
	c := httpClient(t)
	mustGet(t, c, in.url("/__lameduck/ready"), 200)
	in.signal(syscall.SIGTERM)
	in.waitLog("msg", "drain started")
	if m, _ := in.logs.find("msg", "listeners closed", 1); m != nil {
		t.Fatal("listeners closed before the shutdown delay")
	}
	mustGet(t, c, in.url("/"), 200)
	mustGet(t, c, in.adminURL("/readyz"), 503)
	mustGet(t, c, in.adminURL("/healthz"), 200)
	mustGet(t, c, in.url("/__lameduck/ready"), 503)
	in.waitLog("msg", "listeners closed")
	if code := in.wait(); code != 0 {
		t.Fatalf("exit status = %d, want 0", code)
	}
	if rep := in.report(); num(rep, "arrived") < 1 || num(rep, "delay_ms") < 1500 {
		t.Fatalf("drain report = %v, want requests counted as arrived during a full delay", rep)
	}
}

// TestWebSocketGoingAway: a WebSocket open at SIGTERM gets a 1001 close
// frame, the app sees the close handshake, and the drain completes idle.
func TestWebSocketGoingAway(t *testing.T) {
	t.Parallel()
	in := start(t, nil, "--", "node", testApp).ready()
	ctx := testContext(t)
	ws := dialWS(t, ctx, in)
	defer ws.CloseNow()
	if err := ws.Write(ctx, websocket.MessageText, []byte("ping")); err != nil {
		t.Fatal(err)
	}
	if _, msg, err := ws.Read(ctx); err != nil || string(msg) != "ping" {
		t.Fatalf("echo = %q %v", msg, err)
	}
	in.signal(syscall.SIGTERM)
	_, _, err := ws.Read(ctx)
	if got := websocket.CloseStatus(err); got != websocket.StatusGoingAway {
		t.Fatalf("WebSocket after SIGTERM: %v, want close 1001", err)
	}
	if m := in.waitApp("ws-close", 1); num(m, "code") != 1001 {
		t.Fatalf("app saw close code %v, want 1001", m["code"])
	}
	if code := in.wait(); code != 0 {
		t.Fatalf("exit status = %d, want 0", code)
	}
	if rep := in.report(); rep["drain_cause"] != "idle" || num(rep, "cut") != 0 || num(rep, "upgrades_at_start") != 1 || num(rep, "upgrades_cut") != 0 {
		t.Fatalf("drain report = %v, want the WebSocket in flight at the start, closed, not cut", rep)
	}
}

// TestDrainReportUpgrades: the drain report tells requests and upgraded
// connections apart, both in flight at the start and cut.
func TestDrainReportUpgrades(t *testing.T) {
	t.Parallel()
	in := start(t, nil, "--drain-timeout", "500ms", "--", "node", testApp).ready()
	ctx := testContext(t)
	ws := dialWS(t, ctx, in)
	defer ws.CloseNow()
	if err := ws.Write(ctx, websocket.MessageText, []byte("ping")); err != nil {
		t.Fatal(err)
	}
	if _, msg, err := ws.Read(ctx); err != nil || string(msg) != "ping" {
		t.Fatalf("echo = %q %v", msg, err)
	}
	stuck := get(t, httpClient(t), in.url("/hold?id=stuck"))
	in.waitApp("held", 1)
	// The client reads no more, so it never answers the close frame: the
	// WebSocket is cut at the drain timeout, with the request.
	in.signal(syscall.SIGTERM)
	if r := recv(t, stuck); r.err == nil {
		t.Fatalf("request past the drain timeout = %d %q, want it cut", r.code, r.body)
	}
	if code := in.wait(); code != 0 {
		t.Fatalf("exit status = %d, want the app's 0", code)
	}
	rep := in.report()
	for key, want := range map[string]float64{"at_start": 2, "upgrades_at_start": 1, "cut": 2, "upgrades_cut": 1, "finished": 0} {
		if got := num(rep, key); got != want {
			t.Errorf("drain report %s = %v, want %v", key, got, want)
		}
	}
	if t.Failed() {
		t.Logf("drain report: %v", rep)
	}
}

// TestWebSocketCloseCode: --ws-close-code 1012 is what clients get.
func TestWebSocketCloseCode(t *testing.T) {
	t.Parallel()
	in := start(t, nil, "--ws-close-code", "1012", "--", "node", testApp).ready()
	ctx := testContext(t)
	ws := dialWS(t, ctx, in)
	defer ws.CloseNow()
	in.waitApp("ws-open", 1)
	in.signal(syscall.SIGTERM)
	_, _, err := ws.Read(ctx)
	if got := websocket.CloseStatus(err); got != websocket.StatusServiceRestart {
		t.Fatalf("WebSocket after SIGTERM: %v, want close 1012", err)
	}
	in.wait()
}

// TestStreamingUnbuffered: SSE events reach the client as the app writes
// them: the first one arrives while the app still holds the stream open.
func TestStreamingUnbuffered(t *testing.T) {
	t.Parallel()
	in := start(t, nil, "--", "node", testApp).ready()
	c := httpClient(t)
	for _, path := range []string{"/sse?n=2&ms=60000", "/chunks?n=2&ms=60000"} {
		res, err := c.Get(in.url(path))
		if err != nil {
			t.Fatal(err)
		}
		line, err := bufio.NewReader(res.Body).ReadString('\n')
		res.Body.Close()
		if err != nil || !strings.Contains(line, "1") {
			t.Fatalf("%s: first line = %q, %v: want it before the stream ends", path, line, err)
		}
	}
}

// TestSecondSIGINTSkips: Ctrl-C twice skips the remaining waits.
func TestSecondSIGINTSkips(t *testing.T) {
	t.Parallel()
	in := start(t, nil, "--drain-timeout", "60s", "--", "node", testApp).ready()
	stuck := get(t, httpClient(t), in.url("/hold?id=x"))
	in.waitApp("held", 1)
	in.signal(syscall.SIGINT)
	in.waitLog("msg", "listeners closed")
	in.signal(syscall.SIGINT)
	in.wait()
	recv(t, stuck)
	if rep := in.report(); !strings.Contains(fmt.Sprint(rep["drain_cause"]), "second SIGINT") || num(rep, "cut") != 1 {
		t.Fatalf("drain report = %v, want cut short by the second SIGINT", rep)
	}
}

// TestRepeatedSIGTERMDoesNotSkip: platforms that send SIGTERM twice do not
// cut the drain short.
func TestRepeatedSIGTERMDoesNotSkip(t *testing.T) {
	t.Parallel()
	in := start(t, nil, "--drain-timeout", "60s", "--", "node", testApp).ready()
	held := get(t, httpClient(t), in.url("/hold?id=x"))
	in.waitApp("held", 1)
	in.signal(syscall.SIGTERM)
	in.waitLog("msg", "listeners closed")
	in.signal(syscall.SIGTERM)
	in.waitLog("msg", "signal received again: already draining")
	appPort := num(in.waitApp("listening", 1), "port")
	mustGet(t, http.DefaultClient, fmt.Sprintf("http://127.0.0.1:%d/release", int(appPort)), 200)
	if r := recv(t, held); r.err != nil || r.code != 200 {
		t.Fatalf("held request = %d %v, want 200", r.code, r.err)
	}
	if code := in.wait(); code != 0 {
		t.Fatalf("exit status = %d, want 0", code)
	}
	if rep := in.report(); rep["drain_cause"] != "idle" || num(rep, "cut") != 0 {
		t.Fatalf("drain report = %v, want a full drain", rep)
	}
}

// TestAdminDrain: GET /drain starts the drain and blocks until it is done;
// HEAD does not start one.
func TestAdminDrain(t *testing.T) {
	t.Parallel()
	in := start(t, nil, "--", "node", testApp).ready()
	c := httpClient(t)
	res, err := c.Head(in.adminURL("/drain"))
	if err != nil || res.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("HEAD /drain = %v %v, want 405", res, err)
	}
	mustGet(t, c, in.adminURL("/readyz"), 200)
	held := get(t, c, in.url("/hold?id=x"))
	in.waitApp("held", 1)
	drained := get(t, c, in.adminURL("/drain"))
	in.waitLog("msg", "listeners closed")
	select {
	case r := <-drained:
		t.Fatalf("/drain returned %d %q with a request in flight", r.code, r.body)
	default:
	}
	appPort := num(in.waitApp("listening", 1), "port")
	mustGet(t, http.DefaultClient, fmt.Sprintf("http://127.0.0.1:%d/release", int(appPort)), 200)
	recv(t, held)
	if r := recv(t, drained); r.code != 200 || !strings.HasPrefix(r.body, "drained in ") {
		t.Fatalf("/drain = %d %q, want 200 drained", r.code, r.body)
	}
	if code := in.wait(); code != 0 {
		t.Fatalf("exit status = %d, want 0", code)
	}
}

// TestUpstreamCrash502: a request the app dies in the middle of is cut,
// and lameduck exits with the app's status.
func TestUpstreamCrash502(t *testing.T) {
	t.Parallel()
	in := start(t, nil, "--", "node", testApp).ready()
	r := recv(t, get(t, httpClient(t), in.url("/crash")))
	if r.err == nil && r.code == 200 && len(r.body) == 1024 {
		t.Fatal("the client got a whole body from an app that crashed mid-response")
	}
	if code := in.wait(); code != 3 {
		t.Fatalf("exit status = %d, want the app's 3", code)
	}
}

// TestPublicHealthPathOff: --health-path "" passes the path to the app.
func TestPublicHealthPathOff(t *testing.T) {
	t.Parallel()
	in := start(t, nil, "--health-path", "", "--", "node", testApp).ready()
	mustGet(t, httpClient(t), in.url("/__lameduck/ready"), 404)
}

// TestHTTP2Cleartext: with --h2c, prior-knowledge HTTP/2 clients are
// served over HTTP/2.
func TestHTTP2Cleartext(t *testing.T) {
	t.Parallel()
	in := start(t, nil, "--h2c", "--", "node", testApp).ready()
	tr := &http.Transport{Protocols: new(http.Protocols)}
	tr.Protocols.SetUnencryptedHTTP2(true)
	defer tr.CloseIdleConnections()
	res, err := (&http.Client{Transport: tr, Timeout: wait}).Get(in.url("/"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.ProtoMajor != 2 || string(b) != "hello" {
		t.Fatalf("h2c GET = %s %q, want HTTP/2.0 hello", res.Proto, b)
	}
	in.signal(syscall.SIGTERM)
	if code := in.wait(); code != 0 {
		t.Fatalf("exit status = %d, want 0", code)
	}
}

// TestDrainUnderLoad sends a steady stream of requests, SIGTERMs lameduck
// with a shutdown delay, and counts: every request that was accepted is
// answered 200; after the listeners close, new connections are refused
// (never reset mid-request).
func TestDrainUnderLoad(t *testing.T) {
	t.Parallel()
	in := start(t, nil, "--shutdown-delay", "300ms", "--", "node", testApp).ready()
	c := httpClient(t)
	stop := make(chan struct{})
	type tally struct{ ok, refused, failed int }
	results := make(chan tally, 4)
	for range 4 {
		go func() {
			var n tally
			defer func() { results <- n }()
			for {
				select {
				case <-stop:
					return
				default:
				}
				res, err := c.Get(in.url("/slow?ms=20"))
				switch {
				case err != nil && isRefused(err):
					n.refused++
					return
				case err != nil:
					n.failed++
					t.Logf("request failed: %v", err)
					return
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode == 200 {
					n.ok++
				} else {
					n.failed++
					t.Logf("request answered %d", res.StatusCode)
				}
			}
		}()
	}
	in.waitApp("request", 50)
	in.signal(syscall.SIGTERM)
	in.wait()
	close(stop)
	var total tally
	for range 4 {
		n := <-results
		total.ok += n.ok
		total.refused += n.refused
		total.failed += n.failed
	}
	t.Logf("drain under load: %d ok, %d refused after close, %d failed", total.ok, total.refused, total.failed)
	if total.failed != 0 || total.ok < 50 {
		t.Fatalf("drain under load: %+v, want no failed request", total)
	}
}

func isRefused(err error) bool {
	return strings.Contains(err.Error(), "connection refused")
}

// TestSIGTERMToExitIdle measures, for the closing note and docs, the time from
// SIGTERM to exit with nothing in flight. It asserts only the outcome.
func TestSIGTERMToExitIdle(t *testing.T) {
	t.Parallel()
	in := start(t, nil, "--", "node", testApp).ready()
	sent := time.Now()
	in.signal(syscall.SIGTERM)
	if code := in.wait(); code != 0 {
		t.Fatalf("exit status = %d, want 0", code)
	}
	t.Logf("SIGTERM to exit, nothing in flight, Node app: %v", time.Since(sent).Round(time.Millisecond))
}

// dialWS opens a WebSocket to the test app's /ws through lameduck.
func dialWS(t *testing.T, ctx context.Context, in *instance) *websocket.Conn {
	t.Helper()
	ws, _, err := websocket.Dial(ctx, "ws://"+in.addr+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	return ws
}
