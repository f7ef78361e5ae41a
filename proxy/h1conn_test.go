package proxy

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// serveH1 serves h with lameduck's HTTP/1.1 loop on a loopback port.
func serveH1(t *testing.T, h http.Handler) (*Server, string) {
	t.Helper()
	u, err := NewUpstream("http://127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	s := &Server{Handler: &Handler{Upstream: u, Logger: logger}, Logger: logger}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln, h, nil) }()
	t.Cleanup(func() {
		s.Cut(0)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Finish(ctx)
		within(t, done, "Serve to return")
	})
	return s, ln.Addr().String()
}

// rawExchange writes raw on a new connection and returns what comes back
// until the server closes it or 2 s pass.
func rawExchange(t *testing.T, addr, raw string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	io.WriteString(c, raw)
	b, _ := io.ReadAll(c)
	return string(b)
}

// TestH1IdleHoldsNoBuffer: between requests, a keep-alive connection of
// the loop holds neither its read nor its write buffer.
func TestH1IdleHoldsNoBuffer(t *testing.T) {
	idle := make(chan bool, 4)
	testHookIdle = func(hc *h1conn) { idle <- hc.br == nil && hc.out.pool == nil }
	t.Cleanup(func() { testHookIdle = nil })
	_, addr := serveH1(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	within(t, idle, "the connection to wait for its first request")
	br := bufio.NewReader(c)
	for range 2 {
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		if !within(t, idle, "the connection to go idle") {
			t.Fatal("an idle connection holds a buffer")
		}
	}
}

// TestH1Pipelined: requests sent back to back on one connection are
// answered in order.
func TestH1Pipelined(t *testing.T) {
	_, addr := serveH1(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %s", r.URL.Path, b)
	}))
	got := rawExchange(t, addr, "GET /1 HTTP/1.1\r\nHost: x\r\n\r\n"+
		"POST /2 HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nbody"+
		"POST /3 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n2\r\nab\r\n0\r\n\r\n")
	br := bufio.NewReader(strings.NewReader(got))
	for _, want := range []string{"/1 ", "/2 body", "/3 ab"} {
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("reading the response %q: %v (all: %q)", want, err, got)
		}
		b, _ := io.ReadAll(res.Body)
		if string(b) != want {
			t.Fatalf("pipelined response = %q, want %q", b, want)
		}
	}
}

// TestH1Refusals: what the loop refuses before a handler runs, with the
// status Go's own server answers, and the connection closed.
func TestH1Refusals(t *testing.T) {
	_, addr := serveH1(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "served") }))
	for _, tc := range []struct {
		name, raw string
		status    int
	}{
		{"no Host", "GET / HTTP/1.1\r\n\r\n", 400},
		{"two Hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
		{"bad Host", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400},
		{"malformed request line", "GET /\r\nHost: x\r\n\r\n", 400},
		{"bad method", "G(T / HTTP/1.1\r\nHost: x\r\n\r\n", 400},
		{"bad escape", "GET /%zz HTTP/1.1\r\nHost: x\r\n\r\n", 400},
		{"not a path", "GET a/b HTTP/1.1\r\nHost: x\r\n\r\n", 400},
		{"HTTP/2.0", "GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505},
		{"not HTTP", "GET / XTTP/1.1\r\nHost: x\r\n\r\n", 400},
		{"Expect other", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nExpect: 200-ok\r\n\r\nx", 417},
		{"Transfer-Encoding gzip", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501},
		{"Content-Length not a number", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400},
		{"field without colon", "GET / HTTP/1.1\r\nHost: x\r\nbogus\r\n\r\n", 400},
		{"head too large", "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("b", DefaultMaxHeaderBytes+8192) + "\r\n\r\n", 431},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := rawExchange(t, addr, tc.raw)
			want := fmt.Sprintf("HTTP/1.1 %d ", tc.status)
			if !strings.HasPrefix(got, want) || !strings.Contains(got, "Connection: close\r\n") || strings.Contains(got, "served") {
				t.Fatalf("response = %q, want %q... and the connection closed", got, want)
			}
		})
	}
}

// TestH1Framing: the loop frames responses as RFC 9112 has it: a length
// when the handler gives one, chunked otherwise, with trailers; no body
// for HEAD, 204 and 304; a body ended by the close for HTTP/1.0.
func TestH1Framing(t *testing.T) {
	_, addr := serveH1(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/length":
			w.Header().Set("Content-Length", "5")
			io.WriteString(w, "hello")
		case "/chunked":
			w.Header().Set("Trailer", "X-Sum")
			io.WriteString(w, "hel")
			w.(http.Flusher).Flush()
			io.WriteString(w, "lo")
			w.Header().Set("X-Sum", "42")
		case "/204":
			w.Header().Set("Content-Length", "5")
			w.WriteHeader(204)
		case "/304":
			w.WriteHeader(304)
		case "/head":
			w.Header().Set("Content-Length", "5")
			io.WriteString(w, "hello")
		}
	}))
	for _, tc := range []struct {
		name, raw string
		want      []string // in the response, in order
		not       []string
	}{
		{"length", "GET /length HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
			[]string{"HTTP/1.1 200 OK\r\n", "Content-Length: 5\r\n", "\r\n\r\nhello"}, []string{"Transfer-Encoding"}},
		{"chunked with trailer", "GET /chunked HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
			[]string{"Transfer-Encoding: chunked\r\n", "\r\n\r\n3\r\nhel\r\n2\r\nlo\r\n0\r\nX-Sum: 42\r\n\r\n"}, nil},
		{"204", "GET /204 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
			[]string{"HTTP/1.1 204 No Content\r\n"}, []string{"Content-Length", "Transfer-Encoding"}},
		{"304", "GET /304 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
			[]string{"HTTP/1.1 304 Not Modified\r\n"}, []string{"Transfer-Encoding"}},
		{"HEAD", "HEAD /head HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
			[]string{"Content-Length: 5\r\n"}, []string{"hello"}},
		{"HTTP/1.0", "GET /chunked HTTP/1.0\r\n\r\n",
			[]string{"HTTP/1.0 200 OK\r\n", "Connection: close\r\n", "\r\nhello"}, []string{"Transfer-Encoding"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := rawExchange(t, addr, tc.raw)
			rest := got
			for _, w := range tc.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("response %q lacks %q (in order)", got, w)
				}
				rest = rest[i+len(w):]
			}
			for _, n := range tc.not {
				if strings.Contains(got, n) {
					t.Fatalf("response %q has %q", got, n)
				}
			}
		})
	}
}

// TestH1Panic: a handler that panics loses its connection, not the
// server.
func TestH1Panic(t *testing.T) {
	_, addr := serveH1(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/panic" {
			panic("boom")
		}
		io.WriteString(w, "ok")
	}))
	if got := rawExchange(t, addr, "GET /panic HTTP/1.1\r\nHost: x\r\n\r\n"); got != "" {
		t.Fatalf("a panicking handler's client got %q, want the connection closed", got)
	}
	if got := rawExchange(t, addr, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"); !strings.Contains(got, "\r\n2\r\nok\r\n0\r\n\r\n") {
		t.Fatalf("after a panic, response = %q, want ok", got)
	}
}

// TestH1BodyTimeout: a client that stops sending its body for the idle
// timeout gets 408, whether its body was to be read whole or streamed, and
// the app never takes the cut body for a whole one.
func TestH1BodyTimeout(t *testing.T) {
	var whole atomic.Int64
	p := startProxy(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.Copy(io.Discard, r.Body); err == nil {
			whole.Add(1)
		}
	}), func(s *Server) { s.IdleTimeout = 100 * time.Millisecond })
	for _, size := range []int{100, 1 << 20} {
		got := rawExchange(t, p.addr, fmt.Sprintf("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\nonly this", size))
		if !strings.HasPrefix(got, "HTTP/1.1 408 ") {
			t.Fatalf("a body of %d bytes stalled: response %q, want 408", size, got)
		}
	}
	if n := whole.Load(); n != 0 {
		t.Fatalf("the app read %d stalled bodies as whole", n)
	}
}

// TestH1FreshRequest: nothing a handler does to one request carries over
// to the next on the same connection: its form, its address, or a body it
// replaced (the loop still reads the real one, which is never taken for a
// request of its own).
func TestH1FreshRequest(t *testing.T) {
	_, addr := serveH1(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s|", r.FormValue("a"), r.RemoteAddr)
		r.RemoteAddr = "6.6.6.6:1"
		r.Body = http.NoBody
	}))
	// The POST's body goes unread: its answer ends the connection.
	got := rawExchange(t, addr, "GET /?a=alice HTTP/1.1\r\nHost: x\r\n\r\n"+
		"GET /?a=carol HTTP/1.1\r\nHost: x\r\n\r\n"+
		"POST /?a=bob HTTP/1.1\r\nHost: x\r\nContent-Length: 35\r\n\r\nGET /?a=smuggled HTTP/1.1\r\nHost: x\r\n\r\n")
	if strings.Contains(got, "smuggled") || strings.Contains(got, "6.6.6.6") {
		t.Fatalf("a request saw what the one before it left: %q", got)
	}
	for _, want := range []string{"alice 127.0.0.1:", "carol 127.0.0.1:", "bob 127.0.0.1:", "Connection: close"} {
		if !strings.Contains(got, want) {
			t.Fatalf("responses %q lack %q", got, want)
		}
	}
}

// TestH1LargeHeadManyLines: a head of thousands of short lines, larger
// than the read buffer, is read (the copy looks at each line once).
func TestH1LargeHeadManyLines(t *testing.T) {
	_, addr := serveH1(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, len(r.Header["A"]))
	}))
	got := rawExchange(t, addr, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"+strings.Repeat("a:\n", 15000)+"\r\n")
	if !strings.Contains(got, "\r\n5\r\n15000\r\n") {
		t.Fatalf("response = %.200q, want the 15000 fields counted", got)
	}
}

// TestH1CutMidHead: a request whose head is still arriving when the drain
// ends is not served after it: its connection ends, as an idle one does.
func TestH1CutMidHead(t *testing.T) {
	served := make(chan struct{}, 1)
	s, addr := serveH1(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { served <- struct{}{} }))
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET / HTTP/1.1\r\n")
	waitFor(t, "the connection to be reading the head", func() bool {
		s.h1mu.Lock()
		defer s.h1mu.Unlock()
		for hc := range s.h1conns {
			if hc.state.Load() == stateActive {
				return true
			}
		}
		return false
	})
	s.Close()
	if r, u, _ := s.Cut(0); r+u != 0 {
		t.Fatalf("Cut found %d requests in flight, want 0", r+u)
	}
	io.WriteString(c, "Host: x\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if b, _ := io.ReadAll(c); len(b) != 0 {
		t.Fatalf("after the drain, the request was answered %q", b)
	}
	select {
	case <-served:
		t.Fatal("the request was served after the drain ended")
	default:
	}
}
