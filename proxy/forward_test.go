package proxy

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// rawUpstream is an upstream that speaks HTTP/1.1 by hand, to send what a
// well-behaved server would not. serve runs for each connection and owns
// it; the test waits for every serve to return.
func rawUpstream(t testing.TB, serve func(c net.Conn, br *bufio.Reader)) *Upstream {
	t.Helper()
	addr := rawServer(t, func(c net.Conn) { serve(c, bufio.NewReader(c)) })
	u, err := NewUpstream("http://" + addr)
	if err != nil {
		t.Fatal(err)
	}
	u.MarkReady()
	return u
}

// rawServer accepts connections on a loopback port and runs serve for
// each, which owns it for up to 10 s; the test waits for every serve to
// return. It returns the address.
func rawServer(t testing.TB, serve func(c net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				serve(c)
			})
		}
	})
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return ln.Addr().String()
}

// countDials counts the connections u opens from now on.
func countDials(u *Upstream) *atomic.Int64 {
	var n atomic.Int64
	u.dialHook = func(c net.Conn) net.Conn { n.Add(1); return c }
	return &n
}

func do(t *testing.T, c *http.Client, req *http.Request) (*http.Response, string, error) {
	t.Helper()
	res, err := c.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res, string(b), err
}

// TestForwardBodies: request bodies of every framing reach the app whole,
// and responses of every framing reach the client whole.
func TestForwardBodies(t *testing.T) {
	p := startProxy(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/echo":
			b, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
			w.Header().Set("X-Length", fmt.Sprint(r.ContentLength))
			w.Header().Set("X-Sum", fmt.Sprintf("%x", sha256.Sum256(b)))
			w.Write(b)
		case "/chunked":
			for i := range 3 {
				fmt.Fprintf(w, "part %d\n", i)
				w.(http.Flusher).Flush()
			}
		case "/empty":
			w.WriteHeader(http.StatusNoContent)
		case "/head":
			w.Header().Set("Content-Length", "1234")
		}
	}), nil)
	c := client(t)
	big := bytes.Repeat([]byte("0123456789abcdef"), 200<<10/16)
	for _, tc := range []struct {
		name   string
		method string
		path   string
		body   io.Reader
		length int64 // -1: unknown, sent chunked
		want   string
		status int
	}{
		{"GET", "GET", "/echo", nil, 0, "", 200},
		{"small POST", "POST", "/echo", strings.NewReader("hello"), 5, "hello", 200},
		{"empty POST", "POST", "/echo", http.NoBody, 0, "", 200},
		{"large POST streamed", "POST", "/echo", bytes.NewReader(big), int64(len(big)), string(big), 200},
		{"chunked POST", "POST", "/echo", io.MultiReader(strings.NewReader("chunk"), strings.NewReader("ed")), -1, "chunked", 200},
		{"chunked response", "GET", "/chunked", nil, 0, "part 0\npart 1\npart 2\n", 200},
		{"204", "GET", "/empty", nil, 0, "", 204},
		{"HEAD", "HEAD", "/head", nil, 0, "", 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, p.url(tc.path), tc.body)
			req.ContentLength = tc.length
			res, body, err := do(t, c, req)
			if err != nil {
				t.Fatal(err)
			}
			if res.StatusCode != tc.status || body != tc.want {
				t.Fatalf("%s %s = %d, %d bytes; want %d, %d bytes", tc.method, tc.path, res.StatusCode, len(body), tc.status, len(tc.want))
			}
			if tc.path == "/echo" && tc.body != nil && tc.body != http.NoBody {
				if sum := fmt.Sprintf("%x", sha256.Sum256([]byte(tc.want))); res.Header.Get("X-Sum") != sum {
					t.Errorf("the app got a body with sum %s, want %s", res.Header.Get("X-Sum"), sum)
				}
				if tc.length >= 0 && res.Header.Get("X-Length") != fmt.Sprint(tc.length) {
					t.Errorf("the app saw Content-Length %s, want %d", res.Header.Get("X-Length"), tc.length)
				}
			}
			if tc.method == "HEAD" && res.ContentLength != 1234 {
				t.Errorf("HEAD Content-Length = %d, want the app's 1234", res.ContentLength)
			}
		})
	}
}

// TestForwardRawResponses: responses a proxy must take care with: a body
// delimited by the close of the connection, trailers, interim responses,
// and heads lameduck refuses to relay (502).
func TestForwardRawResponses(t *testing.T) {
	responses := map[string]string{
		"/close":    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end",
		"/trailers": "HTTP/1.1 200 OK\r\nTrailer: X-Sum\r\nTransfer-Encoding: chunked\r\n\r\n4;ext=1\r\nbody\r\n0\r\nX-Sum: 42\r\n\r\n",
		"/hints":    "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
		"/bad":      "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok",
		"/gzip":     "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
		"/switch":   "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
	}
	u := rawUpstream(t, func(c net.Conn, br *bufio.Reader) {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		io.WriteString(c, responses[req.URL.Path])
	})
	p := startProxyTo(t, u, nil)
	var hints []int
	var mu sync.Mutex
	for _, tc := range []struct {
		path, body string
		status     int
	}{
		{"/close", "until the end", 200},
		{"/trailers", "body", 200},
		{"/hints", "ok", 200},
		{"/bad", "lameduck: upstream unavailable\n", 502},
		{"/gzip", "lameduck: upstream unavailable\n", 502},
		{"/switch", "lameduck: upstream unavailable\n", 502},
	} {
		t.Run(tc.path, func(t *testing.T) {
			req, _ := http.NewRequest("GET", p.url(tc.path), nil)
			res, body, err := do(t, client(t), req.WithContext(withInterim(req.Context(), &mu, &hints)))
			if err != nil {
				t.Fatal(err)
			}
			if res.StatusCode != tc.status || body != tc.body {
				t.Fatalf("GET %s = %d %q, want %d %q", tc.path, res.StatusCode, body, tc.status, tc.body)
			}
			switch tc.path {
			case "/trailers":
				if got := res.Trailer.Get("X-Sum"); got != "42" {
					t.Errorf("trailer X-Sum = %q, want 42", got)
				}
			case "/hints":
				mu.Lock()
				defer mu.Unlock()
				if fmt.Sprint(hints) != "[103]" {
					t.Errorf("interim responses = %v, want [103]", hints)
				}
			}
		})
	}
}

// TestForwardCutResponse: an app that dies in the middle of a body makes
// the client's response end in an error, not look complete, whatever the
// framing; lameduck counts an upstream error and serves the next request.
func TestForwardCutResponse(t *testing.T) {
	u := rawUpstream(t, func(c net.Conn, br *bufio.Reader) {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		switch req.URL.Path {
		case "/length":
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b")
		case "/chunked":
			io.WriteString(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
		default:
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
		}
	})
	p := startProxyTo(t, u, nil)
	c := client(t)
	for i, path := range []string{"/length", "/chunked"} {
		req, _ := http.NewRequest("GET", p.url(path), nil)
		if _, body, err := do(t, c, req); err == nil {
			t.Fatalf("GET %s: cut response read as whole: %q", path, body)
		}
		if got := p.srv.Handler.UpstreamErrors(); got != uint64(i+1) {
			t.Errorf("GET %s: UpstreamErrors() = %d, want %d", path, got, i+1)
		}
	}
	req, _ := http.NewRequest("GET", p.url("/"), nil)
	if res, body, err := do(t, c, req); err != nil || res.StatusCode != 200 || body != "ok" {
		t.Fatalf("next request = %v %q %v, want 200 ok", res, body, err)
	}
}

// TestForwardPool: requests reuse one upstream connection, and one the
// app closed while it was idle is noticed before use, so even a POST goes
// through.
func TestForwardPool(t *testing.T) {
	closeNext := make(chan struct{}, 1)
	closed := make(chan struct{}, 1)
	u := rawUpstream(t, func(c net.Conn, br *bufio.Reader) {
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			io.Copy(io.Discard, req.Body)
			select {
			case <-closeNext: // answer, then close the kept-alive connection unannounced
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
				c.Close()
				closed <- struct{}{}
				return
			default:
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
			}
		}
	})
	dials := countDials(u)
	p := startProxyTo(t, u, nil)
	c := client(t)
	for range 10 {
		post(t, c, p.url("/"))
	}
	if got := dials.Load(); got != 1 {
		t.Fatalf("10 sequential requests dialed %d connections, want 1", got)
	}
	closeNext <- struct{}{}
	post(t, c, p.url("/"))
	within(t, closed, "the app to close its connection")
	// The close reaches lameduck's socket a moment later; a request in
	// that moment races it, as with any proxy.
	waitFor(t, "the close to reach lameduck", func() bool {
		u.pool.mu.Lock()
		defer u.pool.mu.Unlock()
		return len(u.pool.idle) == 1 && !u.pool.idle[0].alive()
	})
	post(t, c, p.url("/"))
	if got := dials.Load(); got != 2 {
		t.Fatalf("after the app closed an idle connection, dials = %d, want 2", got)
	}
}

// TestForwardIdleTimeout: idle upstream connections are closed after
// IdleConnTimeout, before the app would close them itself.
func TestForwardIdleTimeout(t *testing.T) {
	u := rawUpstream(t, func(c net.Conn, br *bufio.Reader) {
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			io.Copy(io.Discard, req.Body)
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		}
	})
	u.IdleConnTimeout = 20 * time.Millisecond
	dials := countDials(u)
	p := startProxyTo(t, u, nil)
	c := client(t)
	post(t, c, p.url("/"))
	waitFor(t, "the idle connection closed", func() bool { return u.pool.count() == 0 })
	post(t, c, p.url("/"))
	if got := dials.Load(); got != 2 {
		t.Fatalf("a request after the idle timeout: dials = %d, want 2", got)
	}
}

func post(t *testing.T, c *http.Client, url string) {
	t.Helper()
	req, _ := http.NewRequest("POST", url, strings.NewReader("x"))
	if res, body, err := do(t, c, req); err != nil || res.StatusCode != 200 || body != "ok" {
		t.Fatalf("POST = %v %q %v, want 200 ok", res, body, err)
	}
}

// TestForwardExpect: "Expect: 100-continue" reaches the app, which either
// accepts (its 100 Continue reaches the client, then the body reaches the
// app) or refuses at once (the client gets the refusal, and the body is
// never sent).
func TestForwardExpect(t *testing.T) {
	var got atomic.Int64 // body bytes the app read
	p := startProxy(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Expect") != "100-continue" {
			http.Error(w, "no Expect", 500)
			return
		}
		if r.URL.Path == "/refuse" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		n, _ := io.Copy(io.Discard, r.Body) // Go's server sends 100 Continue here
		got.Add(n)
	}), nil)
	for _, tc := range []struct {
		path    string
		status  int
		proceed bool
		body    int64
	}{
		{"/accept", 200, true, 100 << 10},
		{"/refuse", 401, false, 0},
	} {
		t.Run(tc.path, func(t *testing.T) {
			got.Store(0)
			c, err := net.Dial("tcp", p.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n", tc.path, 100<<10)
			br := bufio.NewReader(c)
			res, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tc.proceed {
				if res.StatusCode != 100 {
					t.Fatalf("first response = %d, want 100 Continue", res.StatusCode)
				}
				c.Write(bytes.Repeat([]byte("b"), 100<<10))
				if res, err = http.ReadResponse(br, nil); err != nil {
					t.Fatal(err)
				}
			}
			if res.StatusCode != tc.status {
				t.Fatalf("final response = %d, want %d", res.StatusCode, tc.status)
			}
			if !tc.proceed && !res.Close {
				t.Errorf("a refusal before the body came: no Connection: close, though the connection ends")
			}
			io.Copy(io.Discard, res.Body)
			if n := got.Load(); n != tc.body {
				t.Fatalf("the app read %d body bytes, want %d", n, tc.body)
			}
		})
	}
}

// TestForwardEarlyAnswer: an app that answers a large upload before
// reading it, and closes, gets its answer to the client; the upload stops.
func TestForwardEarlyAnswer(t *testing.T) {
	u := rawUpstream(t, func(c net.Conn, br *bufio.Reader) {
		if _, err := http.ReadRequest(br); err != nil {
			return
		}
		io.WriteString(c, "HTTP/1.1 413 Payload Too Large\r\nContent-Length: 8\r\nConnection: close\r\n\r\ntoo big\n")
	})
	p := startProxyTo(t, u, nil)
	pr, pw := io.Pipe()
	defer pw.Close()
	go func() { // the client keeps uploading until the response ends it
		for {
			if _, err := pw.Write(make([]byte, 32<<10)); err != nil {
				return
			}
		}
	}()
	req, _ := http.NewRequest("POST", p.url("/upload"), pr)
	req.ContentLength = 1 << 30
	res, body, err := do(t, client(t), req)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 413 || body != "too big\n" {
		t.Fatalf("upload answered early = %d %q, want the app's 413", res.StatusCode, body)
	}
	if !res.Close {
		t.Errorf("answer before the end of the upload: no Connection: close, though the connection ends")
	}
	pr.Close()
}

// TestForwardClientGone: a client that leaves while the app is still
// working cancels the upstream request: the app sees its connection close.
func TestForwardClientGone(t *testing.T) {
	arrived := make(chan struct{})
	cancelled := make(chan struct{})
	p := startProxy(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		select {
		case <-r.Context().Done():
			close(cancelled)
		case <-time.After(10 * time.Second):
		}
	}), nil)
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", p.url("/slow"), nil)
	errc := make(chan error, 1)
	go func() { _, _, err := do(t, client(t), req); errc <- err }()
	within(t, arrived, "the request to reach the app")
	cancel()
	within(t, errc, "the client to give up")
	select {
	case <-cancelled:
	case <-time.After(5 * time.Second):
		t.Fatal("the app's request was not cancelled after the client left")
	}
	waitFor(t, "the request to end", func() bool { r, _ := p.srv.Handler.InFlight(); return r == 0 })
}

// TestForwardHeaderTimeout: with HeaderTimeout, an app that does not
// answer in time gets the client a 504.
func TestForwardHeaderTimeout(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	p := startProxy(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}), func(s *Server) { s.Handler.Upstream.HeaderTimeout = 50 * time.Millisecond })
	res, body := get(t, client(t), p.url("/"))
	if res.StatusCode != 504 || body != "lameduck: upstream timed out\n" {
		t.Fatalf("GET of a stuck app = %d %q, want 504", res.StatusCode, body)
	}
}

// TestForwardTarget: the upstream's own path and query come first; a
// target with bytes outside printable ASCII goes escaped.
func TestForwardTarget(t *testing.T) {
	u := rawUpstream(t, func(c net.Conn, br *bufio.Reader) {
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(req.RequestURI), req.RequestURI)
		}
	})
	for _, tc := range []struct {
		upstream, target, want string
	}{
		{"", "/a/b?q=1", "/a/b?q=1"},
		{"", "/caf\xc3\xa9", "/caf%C3%A9"},
		{"", "http://example.com/abs?x", "/abs?x"},
		{"/base/", "/a?q=1", "/base/a?q=1"},
		{"/base?k=v", "/a?q=1", "/base/a?k=v&q=1"},
		{"/base?k=v", "/a", "/base/a?k=v"},
	} {
		t.Run(tc.target, func(t *testing.T) {
			target, err := NewUpstream(u.String() + tc.upstream)
			if err != nil {
				t.Fatal(err)
			}
			target.MarkReady()
			p := startProxyTo(t, target, nil)
			c, err := net.Dial("tcp", p.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", tc.target)
			res, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			if string(b) != tc.want {
				t.Fatalf("target %q via upstream %q reached the app as %q, want %q", tc.target, tc.upstream, b, tc.want)
			}
		})
	}
}

// withInterim records the interim (1xx) responses a client request gets.
func withInterim(ctx context.Context, mu *sync.Mutex, codes *[]int) context.Context {
	return httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		Got1xxResponse: func(code int, _ textproto.MIMEHeader) error {
			mu.Lock()
			defer mu.Unlock()
			*codes = append(*codes, code)
			return nil
		},
	})
}

// within waits up to 10 s for ch to yield, and returns what it yields.
func within[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

// TestForwardHopByHop: the standard hop-by-hop request fields never reach
// the app (RFC 9110 §7.6.1), except "Te: trailers", which a gRPC-style
// client needs end to end; end-to-end fields pass untouched.
func TestForwardHopByHop(t *testing.T) {
	p := startProxy(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var got []string
		for _, k := range []string{"Keep-Alive", "Proxy-Connection", "Proxy-Authorization", "Te", "Trailer", "Upgrade", "X-End-To-End"} {
			if v := r.Header.Values(k); len(v) > 0 {
				got = append(got, k+"="+strings.Join(v, ","))
			}
		}
		io.WriteString(w, strings.Join(got, " "))
	}), nil)
	for _, tc := range []struct {
		name, fields, want string
	}{
		{"hop-by-hop", "Keep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\nProxy-Authorization: Basic eDp5\r\n" +
			"Te: deflate\r\nTrailer: X-Sum\r\nUpgrade: h2c\r\nX-End-To-End: kept\r\n", "X-End-To-End=kept"},
		{"Te: trailers", "Te: trailers, deflate\r\n", "Te=trailers"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := net.Dial("tcp", p.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n"+tc.fields+"\r\n")
			res, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			if string(b) != tc.want {
				t.Fatalf("the app saw %q, want %q", b, tc.want)
			}
		})
	}
}

// TestForwardUpstreamReset: an app that resets the connection instead of
// answering gets the client a 502, for a small body read whole and for a
// large one streamed, and lameduck serves on.
func TestForwardUpstreamReset(t *testing.T) {
	u := rawUpstream(t, func(c net.Conn, br *bufio.Reader) {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		if req.URL.Path == "/ok" {
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
			return
		}
		c.(*net.TCPConn).SetLinger(0) // close with a reset
	})
	p := startProxyTo(t, u, nil)
	c := client(t)
	for _, size := range []int{10, 1 << 20} {
		req, _ := http.NewRequest("POST", p.url("/reset"), bytes.NewReader(make([]byte, size)))
		res, body, err := do(t, c, req)
		if err != nil {
			t.Fatalf("POST of %d bytes: %v", size, err)
		}
		if res.StatusCode != 502 || body != "lameduck: upstream unavailable\n" {
			t.Fatalf("POST of %d bytes to an app that resets = %d %q, want 502", size, res.StatusCode, body)
		}
	}
	if res, body := get(t, c, p.url("/ok")); res.StatusCode != 200 || body != "ok" {
		t.Fatalf("next request = %d %q, want 200 ok", res.StatusCode, body)
	}
}

// TestForwardClientGoneMidBody: a client that leaves in the middle of its
// body, small or large, never gets a cut request to the app as a whole one,
// and leaves nothing in flight.
func TestForwardClientGoneMidBody(t *testing.T) {
	var complete atomic.Int64
	p := startProxy(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.Copy(io.Discard, r.Body); err == nil {
			complete.Add(1)
		}
	}), nil)
	for _, size := range []int{1000, 1 << 20} {
		c, err := net.Dial("tcp", p.addr)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(c, "POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", size)
		c.Write(make([]byte, size/2))
		waitFor(t, "the request in flight", func() bool { r, _ := p.srv.Handler.InFlight(); return r == 1 })
		c.Close()
		waitFor(t, "the request to end", func() bool { r, _ := p.srv.Handler.InFlight(); return r == 0 })
	}
	if n := complete.Load(); n != 0 {
		t.Fatalf("the app read %d cut bodies as whole", n)
	}
}

// TestForwardTLSStray: an https upstream that sends bytes after a
// response's end (a body after its answer to HEAD, in a TLS record of its
// own) never has them read as the next response: the connection is not
// used again. Both records go out in one TCP write, so lameduck's TLS
// layer holds the second one, where no socket peek can see it.
func TestForwardTLSStray(t *testing.T) {
	cert, pool := selfSignedCert(t)
	addr := rawServer(t, func(c net.Conn) {
		bc := &batchConn{Conn: c}
		tc := tls.Server(bc, &tls.Config{Certificates: []tls.Certificate{cert}})
		br := bufio.NewReader(tc)
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			if req.Method != http.MethodHead {
				io.WriteString(tc, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
				continue
			}
			bc.batch = true
			io.WriteString(tc, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n")
			io.WriteString(tc, "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nstray!")
			bc.flush()
		}
	})
	u, err := NewUpstream("https://" + addr)
	if err != nil {
		t.Fatal(err)
	}
	u.rootCAs = pool
	u.MarkReady()
	p := startProxyTo(t, u, nil)
	c := client(t)
	req, _ := http.NewRequest("HEAD", p.url("/stray"), nil)
	if res, _, err := do(t, c, req); err != nil || res.StatusCode != 200 {
		t.Fatalf("HEAD = %v, %v; want 200", res, err)
	}
	if res, body := get(t, c, p.url("/")); res.StatusCode != 200 || body != "ok" {
		t.Fatalf("GET after the stray bytes = %d %q, want 200 ok", res.StatusCode, body)
	}
}

// batchConn holds writes, once batch is set, until flush.
type batchConn struct {
	net.Conn
	batch bool
	buf   []byte
}

func (b *batchConn) Write(p []byte) (int, error) {
	if b.batch {
		b.buf = append(b.buf, p...)
		return len(p), nil
	}
	return b.Conn.Write(p)
}

func (b *batchConn) flush() {
	b.Conn.Write(b.buf)
	b.buf, b.batch = nil, false
}

// selfSignedCert makes a certificate for 127.0.0.1 and a pool that trusts it.
func selfSignedCert(t *testing.T) (tls.Certificate, *x509.CertPool) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// count reports how many connections are idle.
func (p *pool) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.idle)
}
