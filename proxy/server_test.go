package proxy

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/net/http2"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testProxy is a Server on a loopback port in front of an upstream.
type testProxy struct {
	srv  *Server
	addr string
	done chan error
}

func (p *testProxy) url(path string) string { return "http://" + p.addr + path }

// startProxy serves upstream through a new Server. configure may adjust
// the Server before it starts serving.
func startProxy(t testing.TB, upstream http.Handler, configure func(*Server)) *testProxy {
	t.Helper()
	up := httptest.NewServer(upstream)
	t.Cleanup(up.Close)
	u, err := NewUpstream(up.URL)
	if err != nil {
		t.Fatal(err)
	}
	u.MarkReady()
	return startProxyTo(t, u, configure)
}

func startProxyTo(t testing.TB, u *Upstream, configure func(*Server)) *testProxy {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	s := &Server{Handler: &Handler{Upstream: u, Logger: logger}, Logger: logger}
	if configure != nil {
		configure(s)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &testProxy{srv: s, addr: ln.Addr().String(), done: make(chan error, 1)}
	go func() { p.done <- s.Serve(ln, nil, nil) }()
	t.Cleanup(func() {
		s.Cut(0)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Finish(ctx)
		select {
		case err := <-p.done:
			if err != nil {
				t.Errorf("Serve() = %v, want nil after Cut", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Serve did not return after Cut")
		}
	})
	return p
}

// client returns an HTTP client that never reuses a pooled connection
// between tests and never follows redirects.
func client(t *testing.T) *http.Client {
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

func get(t *testing.T, c *http.Client, url string) (*http.Response, string) {
	t.Helper()
	res, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("GET %s: read body: %v", url, err)
	}
	return res, string(b)
}

func TestForwardHeaders(t *testing.T) {
	p := startProxy(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "X-Secret")
		w.Header().Set("X-Secret", "hop-by-hop")
		json.NewEncoder(w).Encode(map[string]string{
			"host":   r.Host,
			"xff":    r.Header.Get("X-Forwarded-For"),
			"proto":  r.Header.Get("X-Forwarded-Proto"),
			"xfhost": r.Header.Get("X-Forwarded-Host"),
			"hop":    r.Header.Get("X-Hop"),
			"path":   r.URL.RequestURI(),
		})
	}), nil)
	req, _ := http.NewRequest("GET", p.url("/a/b?q=1"), nil)
	req.Host = "app.example"
	req.Header.Set("X-Forwarded-For", "6.6.6.6")
	req.Header.Set("Connection", "X-Hop")
	req.Header.Set("X-Hop", "must not pass")
	res, err := client(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var got map[string]string
	if err := json.NewDecoder(res.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"host": "app.example", "xff": "127.0.0.1", "proto": "http",
		"xfhost": "app.example", "hop": "", "path": "/a/b?q=1",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("upstream saw %s = %q, want %q", k, got[k], v)
		}
	}
	if v := res.Header.Get("X-Secret"); v != "" {
		t.Errorf("response header X-Secret = %q, want it stripped (listed in Connection)", v)
	}
}

func TestHealthPath(t *testing.T) {
	ready := true
	var mu sync.Mutex
	p := startProxy(t, http.NotFoundHandler(), func(s *Server) {
		s.Handler.HealthPath = "/__lameduck/ready"
		s.Handler.Ready = func() bool { mu.Lock(); defer mu.Unlock(); return ready }
	})
	c := client(t)
	if res, _ := get(t, c, p.url("/__lameduck/ready")); res.StatusCode != 200 {
		t.Fatalf("health = %d, want 200", res.StatusCode)
	}
	mu.Lock()
	ready = false
	mu.Unlock()
	if res, _ := get(t, c, p.url("/__lameduck/ready")); res.StatusCode != 503 {
		t.Fatalf("health when not ready = %d, want 503", res.StatusCode)
	}
	if res, _ := get(t, c, p.url("/other")); res.StatusCode != 404 {
		t.Fatalf("other path = %d, want the upstream's 404", res.StatusCode)
	}
}

func TestHoldUntilUpstreamReady(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello") }))
	defer up.Close()
	u, err := NewUpstream(up.URL)
	if err != nil {
		t.Fatal(err)
	}
	p := startProxyTo(t, u, nil)
	c := client(t)
	type result struct {
		code int
		body string
	}
	got := make(chan result, 1)
	go func() {
		res, err := c.Get(p.url("/"))
		if err != nil {
			got <- result{body: err.Error()}
			return
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		got <- result{res.StatusCode, string(b)}
	}()
	waitFor(t, "request held", func() bool { r, _ := p.srv.Handler.InFlight(); return r == 1 })
	select {
	case r := <-got:
		t.Fatalf("request answered %v before the upstream was ready", r)
	default:
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := u.Probe(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if r := <-got; r.code != 200 || r.body != "hello" {
		t.Fatalf("held request = %d %q, want 200 hello", r.code, r.body)
	}
}

func TestHoldTimesOut(t *testing.T) {
	u, err := NewUpstream("http://127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	p := startProxyTo(t, u, func(s *Server) { s.Handler.UpstreamWait = 50 * time.Millisecond })
	res, body := get(t, client(t), p.url("/"))
	if res.StatusCode != 503 || !strings.Contains(body, "upstream not accepting") {
		t.Fatalf("GET while upstream never ready = %d %q, want 503 with a clear body", res.StatusCode, body)
	}
}

func TestUpstreamRefused502(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	u, _ := NewUpstream("http://" + addr)
	u.MarkReady()
	p := startProxyTo(t, u, nil)
	res, body := get(t, client(t), p.url("/"))
	if res.StatusCode != 502 || body != "lameduck: upstream unavailable\n" {
		t.Fatalf("GET with upstream down = %d %q, want 502 with a short body", res.StatusCode, body)
	}
	if n := p.srv.Handler.UpstreamErrors(); n != 1 {
		t.Fatalf("UpstreamErrors() = %d, want 1", n)
	}
}

// TestRetryReusedConnection: a pooled upstream connection turns out dead
// when the next request is written, before any byte of it is sent. The POST
// is retried once on a fresh connection rather than answered 502.
func TestRetryReusedConnection(t *testing.T) {
	p := startProxy(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Write(b)
	}), nil)
	var (
		mu    sync.Mutex
		conns []*deadOnWrite
	)
	p.srv.Handler.Upstream.dialHook = func(c net.Conn) net.Conn {
		d := &deadOnWrite{Conn: c}
		mu.Lock()
		conns = append(conns, d)
		mu.Unlock()
		return d
	}
	c := client(t)
	post := func(body string) (int, string) {
		res, err := c.Post(p.url("/"), "text/plain", strings.NewReader(body))
		if err != nil {
			t.Fatalf("POST %s: %v", body, err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	if code, body := post("one"); code != 200 || body != "one" {
		t.Fatalf("first POST = %d %q", code, body)
	}
	mu.Lock()
	conns[0].dead.Store(true)
	mu.Unlock()
	if code, body := post("two"); code != 200 || body != "two" {
		t.Fatalf("POST on a dead pooled connection = %d %q, want it retried: 200 two", code, body)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(conns) != 2 {
		t.Fatalf("upstream connections dialed = %d, want 2 (one retry)", len(conns))
	}
}

// deadOnWrite fails every write, without writing, once dead is set: the
// state of a pooled connection the upstream has closed.
type deadOnWrite struct {
	net.Conn
	dead atomic.Bool
}

func (d *deadOnWrite) Write(p []byte) (int, error) {
	if d.dead.Load() {
		return 0, syscall.EPIPE
	}
	return d.Conn.Write(p)
}

// waitFor polls cond until it holds or 5 s pass. Tests use it only for
// state that has no event to wait on (a counter moving).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestDrainKeepAlive: after Close, a request in flight completes with
// "Connection: close"; a request arriving on an idle keep-alive connection
// is answered, not reset, also with "Connection: close"; new connections
// are refused; the idle channel closes with the last response.
func TestDrainKeepAlive(t *testing.T) {
	release := make(chan struct{})
	var releaseOnce sync.Once
	arrived := make(chan struct{}, 1)
	p := startProxy(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hold" {
			arrived <- struct{}{}
			<-release
		}
		io.WriteString(w, "ok "+r.URL.Path)
	}), nil)
	t.Cleanup(func() { releaseOnce.Do(func() { close(release) }) })

	// An idle keep-alive connection, by hand so that reuse is certain.
	idleConn, err := net.Dial("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer idleConn.Close()
	idleBr := bufio.NewReader(idleConn)
	roundTrip(t, idleConn, idleBr, "/warm", false)

	// A request in flight.
	busyConn, err := net.Dial("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer busyConn.Close()
	fmt.Fprintf(busyConn, "GET /hold HTTP/1.1\r\nHost: x\r\n\r\n")
	<-arrived

	idle := p.srv.Close()
	if _, err := net.DialTimeout("tcp", p.addr, time.Second); err == nil {
		t.Fatal("new connection accepted after Close")
	}
	// The idle connection is still served, and told to close.
	roundTrip(t, idleConn, idleBr, "/late", true)
	if _, err := idleBr.ReadByte(); err != io.EOF {
		t.Fatalf("after a Connection: close response, read = %v, want EOF", err)
	}
	select {
	case <-idle:
		t.Fatal("idle before the held request finished")
	default:
	}
	releaseOnce.Do(func() { close(release) })
	busyBr := bufio.NewReader(busyConn)
	res, err := http.ReadResponse(busyBr, nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if !res.Close {
		t.Error("in-flight response finished during the drain without Connection: close")
	}
	select {
	case <-idle:
	case <-time.After(5 * time.Second):
		t.Fatal("idle not closed after the last response")
	}
	if r, u, held := p.srv.Cut(5); r != 0 || u != 0 || len(held) != 0 {
		t.Fatalf("Cut() after idle = %d, %d, %q, want nothing cut", r, u, held)
	}
}

// roundTrip sends one request on c and checks whether the response asks
// for the connection to be closed (ReadResponse turns "Connection: close"
// into res.Close).
func roundTrip(t *testing.T, c net.Conn, br *bufio.Reader, path string, wantClose bool) {
	t.Helper()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	defer c.SetDeadline(time.Time{})
	if _, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path); err != nil {
		t.Fatalf("write %s: %v", path, err)
	}
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("read response to %s: %v", path, err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || string(b) != "ok "+path {
		t.Fatalf("%s = %d %q", path, res.StatusCode, b)
	}
	if res.Close != wantClose {
		t.Fatalf("%s: Connection: close = %v, want %v", path, res.Close, wantClose)
	}
}

// TestDrainCut: at the drain timeout, Cut closes the busy connection and
// names the request that held the drain.
func TestDrainCut(t *testing.T) {
	arrived := make(chan struct{}, 1)
	p := startProxy(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-r.Context().Done()
	}), nil)
	errc := make(chan error, 1)
	go func() {
		res, err := client(t).Get(p.url("/stuck"))
		if err == nil {
			res.Body.Close()
		}
		errc <- err
	}()
	<-arrived
	p.srv.Close()
	r, u, held := p.srv.Cut(5)
	if r != 1 || u != 0 || len(held) != 1 || !strings.HasPrefix(held[0], "GET /stuck ") {
		t.Fatalf("Cut() = %d, %d, %q, want the stuck request", r, u, held)
	}
	if err := <-errc; err == nil {
		t.Fatal("client of a cut request saw no error")
	}
	if n := p.srv.ConnectionsCut(); n != 1 {
		t.Fatalf("ConnectionsCut() = %d, want 1", n)
	}
}

// TestDrainHTTP2 checks GOAWAY: a stream in flight over h2c completes, the
// client learns the connection is going away, and the next request on a new
// connection is refused.
func TestDrainHTTP2(t *testing.T) {
	release := make(chan struct{})
	var releaseOnce sync.Once
	arrived := make(chan struct{}, 1)
	p := startProxy(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-release
		io.WriteString(w, "done")
	}), func(s *Server) { s.H2C = true })
	t.Cleanup(func() { releaseOnce.Do(func() { close(release) }) })
	var gotGoaway = make(chan struct{})
	var once sync.Once
	tr := &http.Transport{
		Protocols: new(http.Protocols),
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return &goawaySpy{Conn: c, seen: func() { once.Do(func() { close(gotGoaway) }) }}, nil
		},
	}
	tr.Protocols.SetUnencryptedHTTP2(true)
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	type result struct {
		proto, body string
		err         error
	}
	got := make(chan result, 1)
	go func() {
		res, err := c.Get(p.url("/stream"))
		if err != nil {
			got <- result{err: err}
			return
		}
		b, err := io.ReadAll(res.Body)
		res.Body.Close()
		got <- result{res.Proto, string(b), err}
	}()
	<-arrived
	p.srv.Close()
	select {
	case <-gotGoaway:
	case <-time.After(5 * time.Second):
		t.Fatal("no GOAWAY frame after Close")
	}
	releaseOnce.Do(func() { close(release) })
	r := <-got
	if r.err != nil || r.proto != "HTTP/2.0" || r.body != "done" {
		t.Fatalf("in-flight h2 stream = %+v, want HTTP/2.0 done", r)
	}
	if _, err := c.Get(p.url("/after")); err == nil {
		t.Fatal("request after GOAWAY and Close succeeded, want refused")
	}
}

// goawaySpy watches the server-to-client bytes for an HTTP/2 GOAWAY frame
// header (type 0x7). It assumes frames are read whole, which holds for the
// small frames of this test closely enough: it scans every 9-byte window.
type goawaySpy struct {
	net.Conn
	mu   sync.Mutex
	fr   *http2.Framer
	pr   *io.PipeReader
	pw   *io.PipeWriter
	seen func()
	wg   sync.WaitGroup
}

func (g *goawaySpy) Read(p []byte) (int, error) {
	n, err := g.Conn.Read(p)
	g.mu.Lock()
	if g.pw == nil {
		g.pr, g.pw = io.Pipe()
		g.fr = http2.NewFramer(nil, g.pr)
		g.wg.Go(g.scan)
	}
	pw := g.pw
	g.mu.Unlock()
	if n > 0 {
		pw.Write(p[:n])
	}
	if err != nil {
		pw.CloseWithError(err)
	}
	return n, err
}

func (g *goawaySpy) scan() {
	for {
		f, err := g.fr.ReadFrame()
		if err != nil {
			var se http2.StreamError
			if errors.As(err, &se) {
				continue
			}
			io.Copy(io.Discard, g.pr)
			return
		}
		if _, ok := f.(*http2.GoAwayFrame); ok {
			g.seen()
		}
	}
}

func (g *goawaySpy) Close() error {
	err := g.Conn.Close()
	g.mu.Lock()
	pw := g.pw
	g.mu.Unlock()
	if pw != nil {
		pw.CloseWithError(net.ErrClosed)
	}
	g.wg.Wait()
	return err
}

// TestDrainLastResponseNotLost: the drain is idle once the last handler
// returns, but net/http writes the end of that response afterwards. Cut
// must not close the connection under it: the client gets every byte.
func TestDrainLastResponseNotLost(t *testing.T) {
	body := strings.Repeat("x", 3000)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, body)
	}))
	defer up.Close()
	u, _ := NewUpstream(up.URL)
	u.MarkReady()
	s := &Server{Handler: &Handler{Upstream: u, Logger: slog.New(slog.DiscardHandler)}, Logger: slog.New(slog.DiscardHandler)}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	returned := make(chan struct{})
	cutDone := make(chan struct{})
	// The request stops counting (the drain goes idle), then net/http
	// writes the buffered response only once Cut has run.
	testHookEnded = func() {
		close(returned)
		<-cutDone
	}
	defer func() { testHookEnded = nil }()
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln, nil, nil) }()
	got := make(chan result, 1)
	go func() {
		res, err := client(t).Get("http://" + ln.Addr().String() + "/")
		if err != nil {
			got <- result{err: err}
			return
		}
		b, err := io.ReadAll(res.Body)
		res.Body.Close()
		got <- result{code: res.StatusCode, body: string(b), err: err}
	}()
	<-returned
	select {
	case <-s.Close():
	case <-time.After(5 * time.Second):
		t.Fatal("not idle after the last handler returned")
	}
	if r, u, _ := s.Cut(5); r != 0 || u != 0 {
		t.Fatalf("Cut() = %d, %d, want nothing in flight", r, u)
	}
	close(cutDone)
	r := <-got
	if r.err != nil || r.code != 200 || r.body != body {
		t.Fatalf("last response of the drain = %d, %d bytes, %v: want all %d bytes", r.code, len(r.body), r.err, len(body))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Finish(ctx); err != nil {
		t.Fatalf("Finish() = %v", err)
	}
	if err := <-served; err != nil {
		t.Fatalf("Serve() = %v", err)
	}
}

type result struct {
	code int
	body string
	err  error
}
