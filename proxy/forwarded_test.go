package proxy

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
)

// seenHeaders is an upstream that answers, as JSON, the forwarding and
// hop-by-hop headers it received, for plain requests and for upgrades
// alike (it answers an upgrade with a 400, which lameduck relays).
func seenHeaders() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := map[string]string{}
		for _, k := range []string{"X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "Forwarded", "X-Hop"} {
			got[k] = strings.Join(r.Header.Values(k), " | ")
		}
		if r.Header.Get("Upgrade") != "" {
			w.WriteHeader(http.StatusBadRequest)
		}
		json.NewEncoder(w).Encode(got)
	})
}

// TestForwardedTrust: a client's forwarding headers are replaced unless
// its address is in TrustedProxies, then X-Forwarded-For is appended to
// and X-Forwarded-Proto and -Host are kept. The same holds for upgrade
// requests, which lameduck builds by hand. Connection-listed headers never
// pass.
func TestForwardedTrust(t *testing.T) {
	spoof := map[string]string{
		"X-Forwarded-For":   "6.6.6.6",
		"X-Forwarded-Proto": "https",
		"X-Forwarded-Host":  "edge.example",
		"Forwarded":         "for=6.6.6.6",
		"Connection":        "X-Hop",
		"X-Hop":             "must not pass",
	}
	for _, tc := range []struct {
		name    string
		trusted []netip.Prefix
		want    map[string]string
	}{
		{"nobody trusted", nil, map[string]string{
			"X-Forwarded-For": "127.0.0.1", "X-Forwarded-Proto": "http", "X-Forwarded-Host": "app.example"}},
		{"peer not trusted", []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, map[string]string{
			"X-Forwarded-For": "127.0.0.1", "X-Forwarded-Proto": "http", "X-Forwarded-Host": "app.example"}},
		{"peer trusted", []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("127.0.0.0/8")}, map[string]string{
			"X-Forwarded-For": "6.6.6.6, 127.0.0.1", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "edge.example"}},
	} {
		for _, upgrade := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/upgrade=%v", tc.name, upgrade), func(t *testing.T) {
				p := startProxy(t, seenHeaders(), func(s *Server) { s.Handler.TrustedProxies = tc.trusted })
				c, err := net.Dial("tcp", p.addr)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				var b strings.Builder
				b.WriteString("GET /h HTTP/1.1\r\nHost: app.example\r\n")
				for k, v := range spoof {
					if k == "Connection" && upgrade {
						v += ", Upgrade"
						b.WriteString("Upgrade: websocket\r\n")
					}
					fmt.Fprintf(&b, "%s: %s\r\n", k, v)
				}
				b.WriteString("\r\n")
				if _, err := c.Write([]byte(b.String())); err != nil {
					t.Fatal(err)
				}
				res, err := http.ReadResponse(bufio.NewReader(c), nil)
				if err != nil {
					t.Fatal(err)
				}
				defer res.Body.Close()
				var got map[string]string
				if err := json.NewDecoder(res.Body).Decode(&got); err != nil {
					t.Fatalf("upstream answer (%s): %v", res.Status, err)
				}
				for _, k := range []string{"X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "Forwarded", "X-Hop"} {
					if got[k] != tc.want[k] {
						t.Errorf("upstream saw %s = %q, want %q", k, got[k], tc.want[k])
					}
				}
			})
		}
	}
}

// TestWriteHeadAllocs: writing a request head for the upstream, forwarding
// fields included, allocates nothing, whether the peer is trusted or not.
func TestWriteHeadAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector")
	}
	u, err := NewUpstream("http://127.0.0.1:3000")
	if err != nil {
		t.Fatal(err)
	}
	r, _ := http.NewRequest("POST", "http://app.example/a/b?q=1", nil)
	r.RequestURI = "/a/b?q=1"
	r.RemoteAddr = "10.1.2.3:1234"
	r.Header = http.Header{
		"Accept":          {"*/*"},
		"User-Agent":      {"curl/8.5.0"},
		"Cookie":          {"a=b; c=d"},
		"Connection":      {"keep-alive"},
		"X-Forwarded-For": {"192.0.2.7"},
	}
	bw := bufio.NewWriter(io.Discard)
	for _, tc := range []struct {
		name    string
		trusted []netip.Prefix
	}{
		{"nobody trusted", nil},
		{"peer not trusted", []netip.Prefix{netip.MustParsePrefix("192.168.0.0/16")}},
		{"peer trusted", []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}},
	} {
		h := &Handler{Upstream: u, TrustedProxies: tc.trusted}
		got := testing.AllocsPerRun(100, func() {
			h.writeHead(bw, r, outgoing{length: 12})
			bw.Flush()
		})
		if got != 0 {
			t.Errorf("%s: writeHead allocations = %v, want 0", tc.name, got)
		}
	}
}

// TestScreen: an over-long request target is answered 414 and not
// forwarded; HTTP/1.0 requests and requests with a chunked body end their
// connection after the response.
func TestScreen(t *testing.T) {
	forwarded := 0
	p := startProxy(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		forwarded++
		io.Copy(io.Discard, r.Body) // sends 100 Continue when asked
		w.Header().Set("Content-Length", "2")
		w.Write([]byte("ok"))
	}), nil)
	for _, tc := range []struct {
		name      string
		req       string
		code      int
		wantClose bool
	}{
		{"plain", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 200, false},
		{"long URI", "GET /" + strings.Repeat("a", maxURIBytes) + " HTTP/1.1\r\nHost: x\r\n\r\n", 414, true},
		{"HTTP/1.0 keep-alive", "GET / HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n\r\n", 200, true},
		{"chunked body", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n", 200, true},
		// The upstream answers 100 Continue first, which the reverse
		// proxy relays and then clears the response headers.
		{"chunked body after 100 Continue", "POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n", 200, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := forwarded
			c, err := net.Dial("tcp", p.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.Write([]byte(tc.req))
			br := bufio.NewReader(c)
			res, err := http.ReadResponse(br, nil)
			for err == nil && res.StatusCode == http.StatusContinue {
				res, err = http.ReadResponse(br, nil)
			}
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != tc.code || res.Close != tc.wantClose {
				t.Errorf("%s: status %d, close %v; want %d, close %v", tc.name, res.StatusCode, res.Close, tc.code, tc.wantClose)
			}
			if n := forwarded - before; (n == 1) != (tc.code == 200) {
				t.Errorf("%s: forwarded %d times, want %v", tc.name, n, tc.code == 200)
			}
		})
	}
}
