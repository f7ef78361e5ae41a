package proxy

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net"
	"net/http"
	"testing"
	"time"
)

// serveBeside serves h on a second listener of p's Server, with tlsConfig
// when not nil, and returns its address.
func serveBeside(t *testing.T, p *testProxy, h http.Handler, tlsConfig *tls.Config) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.srv.Serve(ln, h, tlsConfig) }()
	t.Cleanup(func() {
		p.srv.Cut(0)
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve(beside) = %v, want nil after Cut", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Serve(beside) did not return after Cut")
		}
	})
	return ln.Addr().String()
}

// TestServeBesideDrains: a handler served next to the proxy holds the
// drain while a request to it is in flight, and once draining its answers
// on a kept-alive connection ask the client to close.
func TestServeBesideDrains(t *testing.T) {
	p := startProxy(t, http.NotFoundHandler(), nil)
	arrived, release := make(chan struct{}, 1), make(chan struct{})
	addr := serveBeside(t, p, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hold" {
			arrived <- struct{}{}
			<-release
		}
		io.WriteString(w, "ok "+r.URL.Path)
	}), nil)

	idle, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	br := bufio.NewReader(idle)
	roundTrip(t, idle, br, "/", false)

	held := make(chan error, 1)
	go func() {
		res, err := http.Get("http://" + addr + "/hold")
		if err == nil {
			res.Body.Close()
		}
		held <- err
	}()
	<-arrived
	if reqs, _, _ := p.srv.Count(); reqs != 1 {
		t.Fatalf("Count() requests = %d, want the held request", reqs)
	}
	drained := p.srv.Close()
	roundTrip(t, idle, br, "/", true)
	select {
	case <-drained:
		t.Fatal("drain ended while a request was in flight")
	default:
	}
	close(release)
	if err := <-held; err != nil {
		t.Fatalf("held request: %v", err)
	}
	select {
	case <-drained:
	case <-time.After(5 * time.Second):
		t.Fatal("drain did not end after the held request finished")
	}
}

// TestServeTLSKeepsProtocols: Serve offers h2 and http/1.1 after the
// protocols of the TLS config, so that a config listing only "acme-tls/1"
// (as ACME's TLS-ALPN-01 challenge needs) still serves HTTP/2 and HTTP/1.1.
func TestServeTLSKeepsProtocols(t *testing.T) {
	p := startProxy(t, http.NotFoundHandler(), nil)
	cert := selfSigned(t)
	addr := serveBeside(t, p, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Proto)
	}), &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"acme-tls/1"}})
	for _, tc := range []struct {
		name   string
		client []string
		want   string
	}{
		{"browser", []string{"h2", "http/1.1"}, "h2"},
		{"http1", []string{"http/1.1"}, "http/1.1"},
		{"acme validator", []string{"acme-tls/1"}, "acme-tls/1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := tls.Dialer{Config: &tls.Config{InsecureSkipVerify: true, NextProtos: tc.client}}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			c, err := d.DialContext(ctx, "tcp", addr)
			if err != nil {
				t.Fatalf("handshake offering %q: %v", tc.client, err)
			}
			defer c.Close()
			if got := c.(*tls.Conn).ConnectionState().NegotiatedProtocol; got != tc.want {
				t.Fatalf("NegotiatedProtocol offering %q = %q, want %q", tc.client, got, tc.want)
			}
		})
	}
}

// selfSigned makes a throwaway certificate for 127.0.0.1.
func selfSigned(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "test"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}
