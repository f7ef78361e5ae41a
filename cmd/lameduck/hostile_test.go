package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestSlowClients holds 500 slow connections, half of them dribbling
// their headers (slowloris), half a body, and proves that normal requests
// are still served; the read-header timeout closes the slowloris
// connections, the idle timeout closes an idle keep-alive connection and
// answers 408 to a body that stopped coming.
func TestSlowClients(t *testing.T) {
	t.Parallel()
	const n = 250
	in := start(t, nil, "--read-header-timeout", "1s", "--idle-timeout", "1s", "--drain-timeout", "300ms", "--", "node", testApp).ready()
	var slowloris, slowBody []net.Conn
	defer func() {
		for _, c := range append(slowloris, slowBody...) {
			c.Close()
		}
	}()
	for i := range 2 * n {
		c, err := net.Dial("tcp", in.addr)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		if i%2 == 0 {
			io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nX-Slow: 1\r\n")
			slowloris = append(slowloris, c)
		} else {
			io.WriteString(c, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nslow")
			slowBody = append(slowBody, c)
		}
	}
	c := httpClient(t)
	for range 20 {
		mustGet(t, c, in.url("/"), 200)
	}
	// The slowloris connections are closed at the read-header timeout,
	// without an answer.
	var wg sync.WaitGroup
	var mu sync.Mutex
	open := 0
	for _, conn := range slowloris {
		wg.Go(func() {
			conn.SetReadDeadline(time.Now().Add(wait))
			if _, err := conn.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
				mu.Lock()
				open++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if open != 0 {
		t.Fatalf("%d of %d slowloris connections still open after the read-header timeout", open, n)
	}
	// An idle keep-alive connection is closed at the idle timeout.
	idle, err := net.Dial("tcp", in.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	io.WriteString(idle, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	br := bufio.NewReader(idle)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	idle.SetReadDeadline(time.Now().Add(wait))
	if _, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("idle keep-alive connection: read = %v, want EOF at the idle timeout", err)
	}
	// A slow body that pauses for the idle timeout is answered 408 and
	// its connection closed; none is left for the drain to cut.
	for i, conn := range slowBody {
		conn.SetReadDeadline(time.Now().Add(wait))
		res, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil || res.StatusCode != http.StatusRequestTimeout {
			t.Fatalf("slow body %d: response %v, %v; want 408 at the idle timeout", i, res, err)
		}
	}
	in.signal(syscall.SIGTERM)
	if code := in.wait(); code != 0 {
		t.Fatalf("exit status = %d, want 0", code)
	}
	if rep := in.report(); num(rep, "cut") != 0 {
		t.Fatalf("drain report = %v, want nothing cut: the idle timeout ended the slow bodies", rep)
	}
}

// recorded is one request as the upstream received it.
type recorded struct {
	Method, URI string
	Header      http.Header
	Body        string
	Err         string // the request was cut: how reading it failed
}

// recorder is an upstream that reads requests with Go's strict parser and
// records each, so that a test sees exactly what lameduck forwarded.
type recorder struct {
	ln   net.Listener
	mu   sync.Mutex
	reqs []recorded
	wg   sync.WaitGroup
}

func newRecorder(t *testing.T) *recorder {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &recorder{ln: ln}
	r.wg.Go(r.accept)
	t.Cleanup(func() { ln.Close(); r.wg.Wait() })
	return r
}

func (r *recorder) accept() {
	for {
		c, err := r.ln.Accept()
		if err != nil {
			return
		}
		r.wg.Go(func() { r.serve(c) })
	}
}

func (r *recorder) serve(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(wait))
	br := bufio.NewReader(c)
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			if err != io.EOF {
				r.add(recorded{Err: "head: " + err.Error()})
			}
			return
		}
		body, err := io.ReadAll(req.Body)
		rec := recorded{Method: req.Method, URI: req.RequestURI, Header: req.Header, Body: string(body)}
		if err != nil {
			rec.Err = "body: " + err.Error()
			r.add(rec)
			return
		}
		r.add(rec)
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	}
}

func (r *recorder) add(rec recorded) {
	r.mu.Lock()
	r.reqs = append(r.reqs, rec)
	r.mu.Unlock()
}

// since returns the requests recorded after the first n.
func (r *recorder) since(n int) []recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]recorded(nil), r.reqs[n:]...)
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.reqs)
}

// exchange sends raw bytes on a new connection and reads every response
// until lameduck closes it. It returns the statuses, and an error if the
// connection ended in the middle of a response.
func exchange(t *testing.T, addr, raw string) (statuses []int, cut error) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(wait))
	if _, err := io.WriteString(c, raw); err != nil {
		return nil, err
	}
	br := bufio.NewReader(c)
	for {
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			if err == io.EOF {
				return statuses, nil
			}
			return statuses, err
		}
		statuses = append(statuses, res.StatusCode)
		_, err = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if err != nil {
			return statuses, err
		}
		if res.Close {
			return statuses, nil
		}
	}
}

// TestSmuggling sends request-smuggling vectors over a raw socket and
// checks both sides: what the client got back, and what the upstream
// received. Nothing may reach the upstream with ambiguous framing, and no
// bytes a front proxy could have taken for a body may become a second
// request ("/smuggled").
func TestSmuggling(t *testing.T) {
	t.Parallel()
	up := newRecorder(t)
	in := start(t, nil, "--upstream", "http://"+up.ln.Addr().String()).ready()
	const smuggled = "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
	for _, tc := range []struct {
		name     string
		raw      string
		statuses []int    // what the client gets, in order
		cut      bool     // the connection may end mid-response instead
		upstream []string // "METHOD URI body" of each complete request the upstream gets
		check    func(t *testing.T, got []recorded)
	}{
		{name: "Content-Length and Transfer-Encoding",
			raw:      "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 40\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled,
			statuses: []int{200}, upstream: []string{"POST /a "}},
		{name: "Transfer-Encoding then Content-Length",
			raw:      "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n3\r\nabc\r\n0\r\n\r\n" + smuggled,
			statuses: []int{200}, upstream: []string{"POST /a abc"}},
		{name: "differing Content-Lengths",
			raw:      "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 40\r\n\r\nabc" + smuggled,
			statuses: []int{400}},
		{name: "Transfer-Encoding not chunked",
			raw:      "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n" + smuggled,
			statuses: []int{501}},
		{name: "two Transfer-Encodings",
			raw:      "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n" + smuggled,
			statuses: []int{501}},
		{name: "space before colon",
			raw:      "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n" + smuggled,
			statuses: []int{400}},
		{name: "obsolete line folding",
			raw:      "GET /fold HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n b\r\nConnection: close\r\n\r\n",
			statuses: []int{200}, upstream: []string{"GET /fold "},
			check: func(t *testing.T, got []recorded) {
				if v := got[0].Header.Values("X-Folded"); len(v) != 1 || v[0] != "a b" {
					t.Errorf("upstream got X-Folded %q, want the fold replaced by a space: \"a b\"", v)
				}
			}},
		{name: "bare LF",
			raw:      "GET /lf HTTP/1.1\nHost: x\nConnection: close\n\n",
			statuses: []int{200}, upstream: []string{"GET /lf "}},
		{name: "duplicate Host",
			raw:      "GET /a HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n",
			statuses: []int{400}},
		{name: "HTTP/1.0 with Transfer-Encoding",
			raw:      "POST /a HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n" + smuggled,
			statuses: []int{200}, upstream: []string{"POST /a "}},
		{name: "malformed chunk size mid-body",
			raw:      "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n" + smuggled,
			statuses: []int{502}, cut: true},
		{name: "chunk size overflow",
			raw:      "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffffff\r\nhello\r\n0\r\n\r\n" + smuggled,
			statuses: []int{502}, cut: true},
		{name: "NUL in a header value",
			raw:      "GET /a HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n",
			statuses: []int{400}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := up.count()
			statuses, cut := exchange(t, in.addr, tc.raw)
			if cut != nil && !tc.cut {
				t.Errorf("connection cut mid-response: %v", cut)
			}
			if fmt.Sprint(statuses) != fmt.Sprint(tc.statuses) && !(tc.cut && len(statuses) == 0) {
				t.Errorf("client got statuses %v, want %v", statuses, tc.statuses)
			}
			got := up.since(before)
			var complete []string
			for _, r := range got {
				if r.URI == "/smuggled" {
					t.Errorf("the upstream received the smuggled request: %+v", r)
				}
				if r.Err == "" {
					complete = append(complete, r.Method+" "+r.URI+" "+r.Body)
				}
			}
			if fmt.Sprint(complete) != fmt.Sprint(tc.upstream) {
				t.Errorf("upstream received %q (all: %+v), want %q", complete, got, tc.upstream)
			}
			if tc.check != nil && len(got) > 0 {
				tc.check(t, got)
			}
		})
	}
	mustGet(t, httpClient(t), in.url("/after"), 200) // lameduck still serves
	in.signal(syscall.SIGTERM)
	if code := in.wait(); code != 0 {
		t.Fatalf("exit status = %d, want 0", code)
	}
}

// TestOversizedHead: request heads over --max-header-bytes get 431 and
// request targets over 8 KiB get 414, without reaching the upstream, and
// lameduck goes on serving.
func TestOversizedHead(t *testing.T) {
	t.Parallel()
	up := newRecorder(t)
	in := start(t, nil, "--upstream", "http://"+up.ln.Addr().String(), "--max-header-bytes", "16384").ready()
	for _, tc := range []struct {
		name string
		raw  string
		want int
	}{
		{"large header", "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("b", 32<<10) + "\r\n\r\n", 431},
		{"many headers", "GET / HTTP/1.1\r\nHost: x\r\n" + strings.Repeat("X-Many: 0123456789abcdef\r\n", 2000) + "\r\n", 431},
		{"long URI", "GET /" + strings.Repeat("u", 9<<10) + " HTTP/1.1\r\nHost: x\r\n\r\n", 414},
		{"URI longer than the head limit", "GET /" + strings.Repeat("u", 40<<10) + " HTTP/1.1\r\nHost: x\r\n\r\n", 431},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := up.count()
			statuses, cut := exchange(t, in.addr, tc.raw)
			if cut != nil || fmt.Sprint(statuses) != fmt.Sprint([]int{tc.want}) {
				t.Errorf("client got %v %v, want [%d]", statuses, cut, tc.want)
			}
			if got := up.since(before); len(got) != 0 {
				t.Errorf("upstream received %+v, want nothing", got)
			}
		})
	}
	mustGet(t, httpClient(t), in.url("/after"), 200)
}

// TestForwardingHeaders: without --trusted-proxies a client's forwarding
// headers are replaced; with its address trusted they are appended to and
// kept. Connection-listed headers never reach the app.
func TestForwardingHeaders(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		args  []string
		xff   string
		proto string
	}{
		{"untrusted", nil, "127.0.0.1", "http"},
		{"trusted", []string{"--trusted-proxies", "127.0.0.1"}, "203.0.113.9, 127.0.0.1", "https"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in := start(t, nil, append(tc.args, "--", "node", testApp)...).ready()
			req, _ := http.NewRequest("GET", in.url("/headers"), nil)
			req.Header.Set("X-Forwarded-For", "203.0.113.9")
			req.Header.Set("X-Forwarded-Proto", "https")
			req.Header.Set("Connection", "X-Secret")
			req.Header.Set("X-Secret", "hop")
			res, err := httpClient(t).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			var h map[string]string
			if err := json.NewDecoder(res.Body).Decode(&h); err != nil {
				t.Fatal(err)
			}
			if h["x-forwarded-for"] != tc.xff || h["x-forwarded-proto"] != tc.proto || h["x-secret"] != "" {
				t.Fatalf("app saw X-Forwarded-For %q, -Proto %q, X-Secret %q; want %q, %q and none",
					h["x-forwarded-for"], h["x-forwarded-proto"], h["x-secret"], tc.xff, tc.proto)
			}
		})
	}
}

// TestAdminToken: with --admin-token (or LAMEDUCK_ADMIN_TOKEN), /drain and
// /metrics need the bearer token while the probes stay open; an admin
// listener reachable from other hosts without a token is warned about.
func TestAdminToken(t *testing.T) {
	t.Parallel()
	in := start(t, []string{"LAMEDUCK_ADMIN_TOKEN=s3cret"}, "--", "node", testApp).ready()
	c := httpClient(t)
	do := func(method, path, token string) int {
		req, _ := http.NewRequest(method, in.adminURL(path), nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	for _, tc := range []struct {
		method, path, token string
		want                int
	}{
		{"GET", "/metrics", "", 401},
		{"GET", "/metrics", "wrong", 401},
		{"GET", "/metrics", "s3cret", 200},
		{"POST", "/drain", "", 401},
		{"HEAD", "/drain", "s3cret", 405},
		{"GET", "/healthz", "", 200},
		{"HEAD", "/readyz", "", 200},
		{"POST", "/readyz", "", 405},
	} {
		if got := do(tc.method, tc.path, tc.token); got != tc.want {
			t.Errorf("%s %s with token %q = %d, want %d", tc.method, tc.path, tc.token, got, tc.want)
		}
	}
	if m, _ := in.logs.find("msg", "drain started", 1); m != nil {
		t.Fatal("a drain started without the token")
	}
	if got := do("POST", "/drain", "s3cret"); got != 200 {
		t.Fatalf("POST /drain with the token = %d, want 200", got)
	}
	in.wait()

	exposed := start(t, nil, "--admin", "0.0.0.0:0", "--", "node", testApp).ready()
	exposed.waitLog("msg", "admin listener reachable from other hosts without a token: anyone who reaches it can start a drain; set --admin-token")
}
