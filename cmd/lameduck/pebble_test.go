package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// pebble is a Pebble ACME server on loopback, run by a test: Let's
// Encrypt's test CA, which validates challenges for real. Every run has a
// new issuing root, so a test never reuses certificate storage across runs.
type pebble struct {
	dirURL     string // ACME directory
	listenerCA string // PEM file of the CA of Pebble's own HTTPS listeners
	httpPort   int    // where Pebble sends HTTP-01 validations
	tlsPort    int    // where Pebble sends TLS-ALPN-01 validations
	mgmt       string // management address
	log        string // Pebble's output
	client     *http.Client
}

// startPebble starts Pebble, validating challenges at httpPort and tlsPort
// on localhost, and waits until it answers.
func startPebble(t *testing.T, httpPort, tlsPort int) *pebble {
	t.Helper()
	bin := toolPath(t, "pebble")
	dir := t.TempDir()
	ports := freePorts(t, 2)
	p := &pebble{
		dirURL:     fmt.Sprintf("https://127.0.0.1:%d/dir", ports[0]),
		mgmt:       fmt.Sprintf("127.0.0.1:%d", ports[1]),
		listenerCA: filepath.Join(dir, "ca.pem"),
		httpPort:   httpPort,
		tlsPort:    tlsPort,
		log:        filepath.Join(dir, "pebble.log"),
	}
	// Debian's pebble ships no certificate for its own listeners.
	pool := writeListenerCert(t, dir)
	p.client = &http.Client{Timeout: wait, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	t.Cleanup(p.client.CloseIdleConnections)
	cfg, _ := json.Marshal(map[string]any{"pebble": map[string]any{
		"listenAddress":                  fmt.Sprintf("127.0.0.1:%d", ports[0]),
		"managementListenAddress":        p.mgmt,
		"certificate":                    filepath.Join(dir, "cert.pem"),
		"privateKey":                     filepath.Join(dir, "key.pem"),
		"httpPort":                       httpPort,
		"tlsPort":                        tlsPort,
		"ocspResponderURL":               "",
		"externalAccountBindingRequired": false,
	}})
	if err := os.WriteFile(filepath.Join(dir, "pebble.json"), cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(p.log)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(bin, "-config", filepath.Join(dir, "pebble.json"))
	cmd.Dir = dir
	// No random sleep before validations, no rejected nonces: fast and
	// deterministic.
	cmd.Env = append(os.Environ(), "PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		if t.Failed() {
			b, _ := os.ReadFile(p.log)
			t.Logf("pebble log:\n%s", b)
		}
	})
	// Pebble has no readiness signal but answering: ask until it does.
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(wait)
	for {
		res, err := p.client.Get(p.dirURL)
		if err == nil {
			res.Body.Close()
			return p
		}
		select {
		case <-tick.C:
		case <-exited:
			b, _ := os.ReadFile(p.log)
			t.Fatalf("pebble exited:\n%s", b)
		case <-deadline:
			t.Fatalf("pebble not answering at %s: %v", p.dirURL, err)
		}
	}
}

// roots returns Pebble's issuing root, the only one a client of lameduck
// trusts in these tests.
func (p *pebble) roots(t *testing.T) *x509.CertPool {
	t.Helper()
	res, err := p.client.Get("https://" + p.mgmt + "/roots/0")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("GET /roots/0 = %d %v", res.StatusCode, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		t.Fatalf("no PEM in Pebble's root: %q", b)
	}
	return pool
}

// freePorts returns n distinct free loopback ports, holding every
// listener until all are chosen, so that none is handed out twice.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	var lns []net.Listener
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	for _, ln := range lns {
		ln.Close()
	}
	return ports
}

// writeListenerCert writes a throwaway CA (ca.pem) and a certificate for
// localhost and 127.0.0.1 signed by it (cert.pem, key.pem) in dir, and
// returns a pool holding the CA.
func writeListenerCert(t *testing.T, dir string) *x509.CertPool {
	t.Helper()
	caKey, caDER := newCert(t, &x509.Certificate{
		Subject: pkix.Name{CommonName: "pebble listener CA"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}, nil, nil)
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	key, der := newCert(t, &x509.Certificate{
		Subject: pkix.Name{CommonName: "localhost"}, DNSNames: []string{"localhost"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, ca, caKey)
	writePEM(t, filepath.Join(dir, "ca.pem"), "CERTIFICATE", caDER)
	writePEM(t, filepath.Join(dir, "cert.pem"), "CERTIFICATE", der)
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, filepath.Join(dir, "key.pem"), "EC PRIVATE KEY", kder)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return pool
}

var serials struct {
	sync.Mutex
	n int64
}

// newCert makes a key and a certificate from tmpl, signed by parent (self
// signed when nil), valid for a day around now, with a fresh serial.
func newCert(t *testing.T, tmpl, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*ecdsa.PrivateKey, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serials.Lock()
	serials.n++
	tmpl.SerialNumber = big.NewInt(serials.n)
	serials.Unlock()
	tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour)
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	return key, der
}

// writePEM writes one PEM block to name, replacing the file by a rename so
// that a reader never sees half of it.
func writePEM(t *testing.T, name, typ string, der []byte) {
	t.Helper()
	tmp := name + ".tmp"
	if err := os.WriteFile(tmp, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, name); err != nil {
		t.Fatal(err)
	}
}

// gate forwards TCP connections to target once released: until then, a
// client connecting through it waits. Cleanup closes everything it opened.
type gate struct {
	ln      net.Listener
	target  string
	release chan struct{}
	wg      sync.WaitGroup
	mu      sync.Mutex
	conns   []net.Conn
}

func newGate(t *testing.T, target string) *gate {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := &gate{ln: ln, target: target, release: make(chan struct{})}
	g.wg.Go(g.accept)
	t.Cleanup(func() {
		ln.Close()
		g.mu.Lock()
		for _, c := range g.conns {
			c.Close()
		}
		g.mu.Unlock()
		select {
		case <-g.release:
		default:
			close(g.release)
		}
		g.wg.Wait()
	})
	return g
}

func (g *gate) addr() string { return g.ln.Addr().String() }

func (g *gate) track(c net.Conn) {
	g.mu.Lock()
	g.conns = append(g.conns, c)
	g.mu.Unlock()
}

func (g *gate) accept() {
	for {
		c, err := g.ln.Accept()
		if err != nil {
			return
		}
		g.track(c)
		g.wg.Go(func() { g.forward(c) })
	}
}

// forward waits for the release, then copies both ways.
func (g *gate) forward(c net.Conn) {
	defer c.Close()
	<-g.release
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	up, err := (&net.Dialer{}).DialContext(ctx, "tcp", g.target)
	if err != nil {
		return
	}
	g.track(up)
	defer up.Close()
	done := make(chan struct{})
	go func() {
		io.Copy(up, c)
		up.(*net.TCPConn).CloseWrite()
		close(done)
	}()
	io.Copy(c, up)
	c.(*net.TCPConn).CloseWrite()
	<-done
}
