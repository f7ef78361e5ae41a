package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// The TLS end-to-end tests run lameduck against a real Pebble ACME server
// on loopback, which validates HTTP-01 and TLS-ALPN-01 challenges by
// connecting to lameduck's own listeners. Clients trust Pebble's issuing
// root only. Names are "localhost", which Pebble resolves to 127.0.0.1.

// tlsInstance is a lameduck process serving HTTPS.
type tlsInstance struct {
	*instance
	https, http string // listener addresses; http is "off" when turned off
}

// startTLS runs lameduck with TLS options in args and the test app, and
// returns once it has logged its listeners.
func startTLS(t *testing.T, env []string, args ...string) *tlsInstance {
	t.Helper()
	args = append([]string{"--log-format", "json", "--admin", "127.0.0.1:0"}, args...)
	in := startRaw(t, env, append(args, "--", "node", testApp)...)
	m := in.waitLog("msg", "tls on")
	s := in.waitLog("msg", "lameduck starting")
	in.admin = fmt.Sprint(s["admin"])
	return &tlsInstance{instance: in, https: fmt.Sprint(m["https"]), http: fmt.Sprint(m["http"])}
}

// acmeArgs are the options that point lameduck at p, with fresh storage,
// serving localhost's certificate on httpsPort (and HTTP on httpPort, or
// no HTTP listener when it is 0).
func acmeArgs(t *testing.T, p *pebble, httpsPort, httpPort int) []string {
	httpListen := ""
	if httpPort != 0 {
		httpListen = fmt.Sprintf("127.0.0.1:%d", httpPort)
	}
	return []string{
		"--https-listen", fmt.Sprintf("127.0.0.1:%d", httpsPort),
		"--http-listen", httpListen,
		"--acme-ca", p.dirURL,
		"--acme-ca-root", p.listenerCA,
		"--acme-email", "ops@example.com",
		"--tls-storage", t.TempDir(),
	}
}

// httpsClient returns a client that trusts only roots, connects to addr
// whatever the URL's host, offers HTTP/2 when h2 is set, and does not
// follow redirects.
func httpsClient(t *testing.T, roots *x509.CertPool, addr string, h2 bool) *http.Client {
	tr := &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
		ForceAttemptHTTP2: h2,
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: wait, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
}

// fetch GETs url and returns the response with its body read.
func fetch(t *testing.T, c *http.Client, url string) (*http.Response, string) {
	t.Helper()
	res, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	b, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		t.Fatalf("GET %s: body: %v", url, err)
	}
	return res, string(b)
}

// handshake connects to addr with server name sni and returns the leaf
// certificate served, or the handshake error.
func handshake(addr, sni string, roots *x509.CertPool) (*x509.Certificate, error) {
	d := tls.Dialer{NetDialer: &net.Dialer{Timeout: wait}, Config: &tls.Config{ServerName: sni, RootCAs: roots, InsecureSkipVerify: roots == nil}}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.(*tls.Conn).ConnectionState().PeerCertificates[0], nil
}

// TestTLSObtainHTTP01: lameduck obtains a certificate by HTTP-01 through
// its own HTTP listener (Pebble's TLS-ALPN-01 port leads nowhere), serves
// the app over HTTPS with HTTP/2 to a client that trusts only Pebble's
// root, redirects plain HTTP to HTTPS, reports the certificate in
// /metrics, and stops certmagic's maintenance at exit.
func TestTLSObtainHTTP01(t *testing.T) {
	t.Parallel()
	ports := freePorts(t, 3) // https, http, and a port nothing listens on
	p := startPebble(t, ports[1], ports[2])
	in := startTLS(t, nil, append(acmeArgs(t, p, ports[0], ports[1]), "--tls-domain", "localhost")...)
	if m := in.waitLog("msg", "lameduck starting"); m["listen"] != "off" {
		t.Errorf("plain listener = %v, want off with TLS", m["listen"])
	}
	in.waitLog("msg", "certificates ready")
	in.ready()

	c := httpsClient(t, p.roots(t), in.https, true)
	res, body := fetch(t, c, fmt.Sprintf("https://localhost:%d/", ports[0]))
	if res.StatusCode != 200 || body != "hello" || res.ProtoMajor != 2 {
		t.Fatalf("GET over HTTPS = %d %s %q, want 200 HTTP/2.0 hello", res.StatusCode, res.Proto, body)
	}
	if issuer := res.TLS.PeerCertificates[0].Issuer.CommonName; !strings.Contains(issuer, "Pebble") {
		t.Errorf("certificate issuer = %q, want Pebble's", issuer)
	}
	if _, body := fetch(t, c, fmt.Sprintf("https://localhost:%d/headers", ports[0])); !strings.Contains(body, `"x-forwarded-proto":"https"`) {
		t.Errorf("app saw headers %s, want X-Forwarded-Proto: https", body)
	}

	plain := httpsClient(t, nil, in.http, false)
	for _, tc := range []struct{ path, want string }{
		{"/cart?id=7", fmt.Sprintf("https://localhost:%d/cart?id=7", ports[0])},
		{"/.well-known/acme-challenge/unknown", fmt.Sprintf("https://localhost:%d/.well-known/acme-challenge/unknown", ports[0])},
	} {
		res, _ := fetch(t, plain, fmt.Sprintf("http://localhost:%d%s", ports[1], tc.path))
		if res.StatusCode != http.StatusPermanentRedirect || res.Header.Get("Location") != tc.want {
			t.Errorf("GET http %s = %d to %q, want 308 to %q", tc.path, res.StatusCode, res.Header.Get("Location"), tc.want)
		}
	}
	if res, body := fetch(t, plain, fmt.Sprintf("http://localhost:%d/__lameduck/ready", ports[1])); res.StatusCode != 200 {
		t.Errorf("health path on the HTTP listener = %d %q, want 200", res.StatusCode, body)
	}

	mustGet(t, httpClient(t), in.adminURL("/readyz"), 200)
	metrics := mustGet(t, httpClient(t), in.adminURL("/metrics"), 200)
	for _, want := range []string{`lameduck_tls_certificate_ready{name="localhost"} 1`, `lameduck_tls_certificate_expiry_timestamp_seconds{name="localhost"}`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	in.signal(syscall.SIGTERM)
	if code := in.wait(); code != 0 {
		t.Fatalf("exit status = %d, want 0", code)
	}
	in.waitLog("msg", "certificate maintenance stopped")
}

// TestTLSDrain: lameduck obtains its certificate by TLS-ALPN-01 through
// its HTTPS listener (no HTTP listener at all), and on SIGTERM drains
// HTTPS as it drains plain HTTP: an HTTP/1.1 request and an HTTP/2 stream
// in flight complete, the HTTP/2 client sees GOAWAY, the HTTP/1.1 answer
// carries Connection: close, and new connections are refused.
func TestTLSDrain(t *testing.T) {
	t.Parallel()
	ports := freePorts(t, 2) // https, and a port nothing listens on
	p := startPebble(t, ports[1], ports[0])
	in := startTLS(t, nil, append(acmeArgs(t, p, ports[0], 0), "--tls-domain", "localhost")...)
	if in.http != "off" {
		t.Fatalf("HTTP listener = %s, want off", in.http)
	}
	in.waitLog("msg", "certificates ready")
	in.ready()
	roots := p.roots(t)
	url := fmt.Sprintf("https://localhost:%d", ports[0])

	h1 := make(chan *http.Response, 1)
	go func() {
		res, err := httpsClient(t, roots, in.https, false).Get(url + "/hold?id=h1")
		if err != nil {
			t.Errorf("HTTP/1.1 request in flight: %v", err)
			h1 <- nil
			return
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		res.Body = io.NopCloser(bytes.NewReader(b))
		h1 <- res
	}()
	in.waitApp("held", 1)
	h2 := dialH2(t, in.https, roots, "/hold?id=h2")
	in.waitApp("held", 2)

	in.signal(syscall.SIGTERM)
	in.waitLog("msg", "listeners closed")
	if !refused(in.https) {
		t.Fatal("new connection to the HTTPS listener accepted after the listeners closed")
	}
	select {
	case <-h2.goaway:
	case <-time.After(wait):
		t.Fatal("no GOAWAY on the HTTP/2 connection")
	}
	appPort := num(in.waitApp("listening", 1), "port")
	mustGet(t, httpClient(t), fmt.Sprintf("http://127.0.0.1:%d/release", int(appPort)), 200)

	res := <-h1
	if res == nil {
		t.FailNow()
	}
	if b, _ := io.ReadAll(res.Body); res.StatusCode != 200 || string(b) != "released h1" || !res.Close {
		t.Errorf("HTTP/1.1 request in flight = %d %q close=%v, want 200 released h1 with Connection: close", res.StatusCode, b, res.Close)
	}
	select {
	case r := <-h2.result:
		if r.status != "200" || r.body != "released h2" || r.err != "" {
			t.Errorf("HTTP/2 stream in flight = %s %q (connection: %s), want 200 released h2", r.status, r.body, r.err)
		}
	case <-time.After(wait):
		t.Fatal("HTTP/2 stream in flight did not complete")
	}
	if code := in.wait(); code != 0 {
		t.Fatalf("exit status = %d, want 0", code)
	}
	if rep := in.report(); rep["drain_cause"] != "idle" || num(rep, "cut") != 0 || num(rep, "finished") != 2 {
		t.Fatalf("drain report = %v, want 2 finished, none cut, idle", rep)
	}
}

// TestTLSOnDemand: with --tls-on-demand, a handshake for a name the ask
// URL approves gets a certificate obtained there and then; another name
// fails the handshake, and no certificate is requested for it.
func TestTLSOnDemand(t *testing.T) {
	t.Parallel()
	asked := make(chan string, 10)
	ask := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := r.URL.Query().Get("domain")
		asked <- name
		if name != "localhost" {
			http.Error(w, "not a customer", http.StatusForbidden)
		}
	}))
	defer ask.Close()
	ports := freePorts(t, 2)
	p := startPebble(t, ports[1], ports[0])
	in := startTLS(t, nil, append(acmeArgs(t, p, ports[0], ports[1]), "--tls-on-demand", "--tls-ask", ask.URL+"/ask")...)
	in.ready()
	mustGet(t, httpClient(t), in.adminURL("/readyz"), 200) // nothing to obtain at start

	if _, err := handshake(in.https, "evil.test", nil); err == nil {
		t.Fatal("handshake for a refused name succeeded")
	}
	select {
	case got := <-asked:
		if got != "evil.test" {
			t.Fatalf("ask URL asked about %q, want evil.test", got)
		}
	case <-time.After(wait):
		t.Fatal("ask URL never asked about evil.test")
	}
	roots := p.roots(t)
	leaf, err := handshake(in.https, "localhost", roots)
	if err != nil {
		t.Fatalf("handshake for an approved name: %v", err)
	}
	if leaf.DNSNames[0] != "localhost" || !strings.Contains(leaf.Issuer.CommonName, "Pebble") {
		t.Fatalf("certificate %v from %q, want localhost from Pebble", leaf.DNSNames, leaf.Issuer.CommonName)
	}
	res, body := fetch(t, httpsClient(t, roots, in.https, true), fmt.Sprintf("https://localhost:%d/", ports[0]))
	if res.StatusCode != 200 || body != "hello" {
		t.Fatalf("GET over HTTPS = %d %q, want 200 hello", res.StatusCode, body)
	}
	if !strings.Contains(in.logs.String(), "evil.test not approved for a certificate") {
		t.Error("the refused handshake is not in the log")
	}
	if strings.Contains(readFile(t, p.log), "evil.test") {
		t.Error("Pebble was asked for a certificate for the refused name")
	}
	metrics := mustGet(t, httpClient(t), in.adminURL("/metrics"), 200)
	if !strings.Contains(metrics, `lameduck_tls_certificate_ready{name="localhost"} 1`) {
		t.Errorf("/metrics lacks the on-demand certificate")
	}
	in.signal(syscall.SIGTERM)
	if code := in.wait(); code != 0 {
		t.Fatalf("exit status = %d, want 0", code)
	}
}

// TestTLSReadinessWaitsForCertificate: while the CA has not answered,
// readiness is 503 with the name it waits for (on the admin listener and
// on the HTTP listener's health path) and HTTPS handshakes fail; once the
// certificate is cached, both turn 200.
func TestTLSReadinessWaitsForCertificate(t *testing.T) {
	t.Parallel()
	ports := freePorts(t, 2)
	p := startPebble(t, ports[1], ports[0])
	g := newGate(t, strings.TrimSuffix(strings.TrimPrefix(p.dirURL, "https://"), "/dir"))
	args := acmeArgs(t, p, ports[0], ports[1])
	for i := range args {
		if args[i] == p.dirURL {
			args[i] = "https://" + g.addr() + "/dir"
		}
	}
	in := startTLS(t, nil, append(args, "--tls-domain", "localhost")...)
	in.ready()
	c := httpClient(t)
	if body := mustGet(t, c, in.adminURL("/readyz"), 503); !strings.Contains(body, "waiting for certificates: localhost") {
		t.Errorf("/readyz before the certificate = %q, want the name it waits for", body)
	}
	mustGet(t, c, fmt.Sprintf("http://%s/__lameduck/ready", in.http), 503)
	if _, err := handshake(in.https, "localhost", nil); err == nil {
		t.Error("HTTPS handshake succeeded before there is a certificate")
	}
	close(g.release)
	in.waitLog("msg", "certificates ready")
	mustGet(t, c, in.adminURL("/readyz"), 200)
	mustGet(t, c, fmt.Sprintf("http://%s/__lameduck/ready", in.http), 200)
	in.signal(syscall.SIGTERM)
	if code := in.wait(); code != 0 {
		t.Fatalf("exit status = %d, want 0", code)
	}
}

// TestTLSUnreachableCA: a CA that cannot be reached is a clear error line
// and readiness stays 503, without a crash; SIGTERM still drains and
// exits with the app's status.
func TestTLSUnreachableCA(t *testing.T) {
	t.Parallel()
	dead := freePorts(t, 1)[0]
	in := startTLS(t, nil,
		"--https-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0",
		"--acme-ca", fmt.Sprintf("https://127.0.0.1:%d/dir", dead), "--acme-email", "ops@example.com",
		"--tls-storage", t.TempDir(), "--tls-domain", "localhost")
	in.ready()
	m := in.waitLog("msg", "cannot obtain certificate; will retry")
	if m["level"] != "ERROR" || m["name"] != "localhost" || m["retry_in"] != "1m0s" || !strings.Contains(fmt.Sprint(m["err"]), "connection refused") {
		t.Fatalf("error line = %v, want ERROR for localhost, retry in 1m0s, connection refused", m)
	}
	c := httpClient(t)
	if body := mustGet(t, c, in.adminURL("/readyz"), 503); !strings.Contains(body, "waiting for certificates: localhost") {
		t.Errorf("/readyz = %q, want it waiting for localhost", body)
	}
	if metrics := mustGet(t, c, in.adminURL("/metrics"), 200); !strings.Contains(metrics, `lameduck_tls_certificate_ready{name="localhost"} 0`) {
		t.Error("/metrics lacks the certificate being obtained")
	}
	mustGet(t, c, in.adminURL("/healthz"), 200)
	in.signal(syscall.SIGTERM)
	if code := in.wait(); code != 0 {
		t.Fatalf("exit status = %d, want the app's 0", code)
	}
}

// TestTLSStaticReload: a certificate from --tls-cert and --tls-key is
// served at once, and a new pair written over the files is served within
// about a second, with a log line, without a signal.
func TestTLSStaticReload(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeLeaf := func() *x509.Certificate {
		key, der := newCert(t, &x509.Certificate{DNSNames: []string{"localhost"}}, nil, nil)
		kder, err := x509.MarshalECPrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		writePEM(t, keyFile+".new", "EC PRIVATE KEY", kder)
		writePEM(t, certFile, "CERTIFICATE", der)
		if err := os.Rename(keyFile+".new", keyFile); err != nil {
			t.Fatal(err)
		}
		leaf, _ := x509.ParseCertificate(der)
		return leaf
	}
	first := writeLeaf()
	in := startTLS(t, nil, "--https-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0",
		"--tls-cert", certFile, "--tls-key", keyFile)
	in.ready()
	mustGet(t, httpClient(t), in.adminURL("/readyz"), 200)
	if leaf, err := handshake(in.https, "localhost", nil); err != nil || leaf.SerialNumber.Cmp(first.SerialNumber) != 0 {
		t.Fatalf("first handshake = %v, %v, want serial %v", leaf, err, first.SerialNumber)
	}
	second := writeLeaf()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(wait)
	for {
		leaf, err := handshake(in.https, "localhost", nil)
		if err != nil {
			t.Fatalf("handshake during the reload: %v", err)
		}
		if leaf.SerialNumber.Cmp(second.SerialNumber) == 0 {
			break
		}
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatal("the new certificate was never served")
		}
	}
	in.waitLog("msg", "certificate reloaded")
	in.signal(syscall.SIGTERM)
	if code := in.wait(); code != 0 {
		t.Fatalf("exit status = %d, want 0", code)
	}
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// h2stream is one HTTP/2 stream on a raw connection, so that a test sees
// the frames themselves: GOAWAY, then the stream's answer.
type h2stream struct {
	goaway chan struct{}
	result chan h2result
}

// h2result is how a stream ended: its status and body, or the error that
// ended the connection first.
type h2result struct{ status, body, err string }

// dialH2 opens an HTTP/2 connection to addr, as localhost, sends GET path
// on stream 1, and reads the frames in the background until the
// connection ends.
func dialH2(t *testing.T, addr string, roots *x509.CertPool, path string) *h2stream {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{ServerName: "localhost", RootCAs: roots, NextProtos: []string{"h2"}})
	if err != nil {
		t.Fatal(err)
	}
	if p := c.ConnectionState().NegotiatedProtocol; p != "h2" {
		t.Fatalf("negotiated %q, want h2", p)
	}
	fr := http2.NewFramer(c, c)
	fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	for _, f := range [][2]string{{":method", "GET"}, {":scheme", "https"}, {":authority", "localhost"}, {":path", path}} {
		enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	if _, err := io.WriteString(c, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: hb.Bytes(), EndStream: true, EndHeaders: true}); err != nil {
		t.Fatal(err)
	}
	s := &h2stream{goaway: make(chan struct{}), result: make(chan h2result, 1)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.read(fr)
	}()
	t.Cleanup(func() {
		c.Close()
		<-done
	})
	return s
}

// read handles frames until the connection ends: acknowledges SETTINGS
// and PING, reports GOAWAY, and collects stream 1's answer.
func (s *h2stream) read(fr *http2.Framer) {
	var r h2result
	goaway, ended := false, false
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			if !ended {
				r.err = err.Error()
				s.result <- r
			}
			return
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				fr.WriteSettingsAck()
			}
		case *http2.PingFrame:
			if !f.IsAck() {
				fr.WritePing(true, f.Data)
			}
		case *http2.GoAwayFrame:
			if !goaway {
				goaway = true
				close(s.goaway)
			}
		case *http2.MetaHeadersFrame:
			if f.StreamID == 1 {
				r.status = f.PseudoValue("status")
				if ended = f.StreamEnded(); ended {
					s.result <- r
				}
			}
		case *http2.DataFrame:
			if f.StreamID == 1 {
				r.body += string(f.Data())
				if len(f.Data()) > 0 {
					fr.WriteWindowUpdate(0, uint32(len(f.Data())))
				}
				if ended = f.StreamEnded(); ended {
					s.result <- r
				}
			}
		}
	}
}

// TestTLSBadCertificateFiles: certificate files that cannot be loaded stop
// lameduck at start, as a configuration error, before the app starts.
func TestTLSBadCertificateFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	in := startRaw(t, nil, "--log-format", "json", "--admin", "", "--https-listen", "127.0.0.1:0", "--http-listen", "",
		"--tls-cert", filepath.Join(dir, "cert.pem"), "--tls-key", filepath.Join(dir, "key.pem"), "--", "node", testApp)
	if code := in.wait(); code != exitUsage {
		t.Fatalf("exit status = %d, want %d", code, exitUsage)
	}
	if m := in.waitLog("msg", "cannot start"); !strings.Contains(fmt.Sprint(m["err"]), "no such file") {
		t.Fatalf("error line = %v, want the missing file", m)
	}
	if m, _ := in.out.find("app", "start", 1); m != nil {
		t.Fatal("the app was started")
	}
}
