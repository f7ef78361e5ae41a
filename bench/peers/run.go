package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"
)

// The load generator and the upstream share one CPU, every proxy gets the
// other: each proxy is measured on one core of its own, and what it costs
// shows as what the load can get through it.
const (
	loadCPU  = 0
	proxyCPU = 1
)

type options struct {
	rounds, conns, idle, drains int
	duration                    time.Duration
	only, doc, plot             string
	keep                        bool
}

// bench holds one run: its work directory, tools and processes.
type bench struct {
	options
	dir     string
	root    string // the module's directory
	taskset bool

	upstream    string // the upstream's address
	upstreamBin string
	lameduck    string
	cert, key   string

	procs []*proc
	wg    sync.WaitGroup // owns the processes' waiters
}

// run does the whole benchmark and writes the report.
func run(ctx context.Context, o options) error {
	b := &bench{options: o}
	if err := b.setup(); err != nil {
		return err
	}
	defer b.cleanup()
	r := &report{options: o, started: time.Now(), versions: versions()}

	if _, err := b.start("upstream", loadCPU, nil, b.upstreamBin, "-listen", b.upstream); err != nil {
		return err
	}
	if err := waitPort(ctx, b.upstream); err != nil {
		return err
	}
	systems, err := b.systems()
	if err != nil {
		return err
	}
	for _, s := range systems {
		if err := b.launch(ctx, s); err != nil {
			return err
		}
		r.idleRSS = append(r.idleRSS, b.rss(s))
	}

	// Warm every pool up, then the interleaved rounds.
	for _, sc := range scenarios {
		for _, s := range offering(systems, sc) {
			if _, err := b.load(ctx, s, sc, time.Second); err != nil {
				return err
			}
		}
	}
	for round := range o.rounds {
		for _, sc := range scenarios {
			for _, s := range offering(systems, sc) {
				smp, err := b.load(ctx, s, sc, o.duration)
				if err != nil {
					return err
				}
				fmt.Fprintf(os.Stderr, "round %d  %-28s %-9s %9.0f req/s  p50 %6.2f ms  p99 %6.2f ms  %6.1f µs/req  %d errors\n",
					round+1, sc.name, s.name, smp.rps, smp.p50, smp.p99, smp.cpu, smp.errors)
				r.add(sc.name, s.name, smp)
			}
		}
	}
	for _, s := range systems {
		if s.p != nil {
			_, peak := s.p.memory()
			r.peakRSS = append(r.peakRSS, memory{s.name, peak})
		}
		b.halt(s)
	}

	// Idle keep-alive connections, on fresh instances.
	for _, s := range systems {
		if s.run == nil {
			continue
		}
		if err := b.launch(ctx, s); err != nil {
			return err
		}
		before, with, err := b.idleCost(ctx, s, o.idle)
		b.halt(s)
		if err != nil {
			return fmt.Errorf("%s, idle connections: %w", s.name, err)
		}
		fmt.Fprintf(os.Stderr, "idle     %-9s %d connections: %d KiB -> %d KiB\n", s.name, o.idle, before, with)
		r.perConn = append(r.perConn, memory{s.name, with - before})
	}

	if o.only == "" || strings.Contains(","+o.only+",", ",lameduck,") {
		if r.gaps, err = b.drainGap(ctx, o.drains); err != nil {
			return fmt.Errorf("drain gap: %w", err)
		}
		if r.exits, err = b.exitTime(ctx, o.drains); err != nil {
			return fmt.Errorf("SIGTERM to exit: %w", err)
		}
		for range min(o.rounds, 3) {
			before, during, err := b.underDrain(ctx, o.duration)
			if err != nil {
				return fmt.Errorf("throughput under drain: %w", err)
			}
			r.beforeDrain = append(r.beforeDrain, before.rps)
			r.duringDrain = append(r.duringDrain, during.rps)
		}
	}
	return r.write(b)
}

// offering returns the systems that serve scenario sc.
func offering(systems []*system, sc scenario) []*system {
	var out []*system
	for _, s := range systems {
		if !sc.h2 || s.h2 != "" {
			out = append(out, s)
		}
	}
	return out
}

// launch starts s, waits for its listeners and checks that it serves the
// upstream's bodies.
func (b *bench) launch(ctx context.Context, s *system) error {
	if s.run != nil {
		p, err := s.run(b, s)
		if err != nil {
			return err
		}
		s.p = p
	}
	for _, addr := range []string{s.h1, s.h2} {
		if addr == "" {
			continue
		}
		if err := waitPort(ctx, addr); err != nil {
			return fmt.Errorf("%s: %w (see %s)", s.name, err, filepath.Join(b.dir, s.name+".log"))
		}
	}
	return check(s)
}

// check sends one request of each kind through s.
func check(s *system) error {
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true},
		ForceAttemptHTTP2: true,
	}}
	defer c.CloseIdleConnections()
	get := func(url string, size int, proto int) error {
		res, err := c.Get(url)
		if err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		defer res.Body.Close()
		body, err := io.ReadAll(res.Body)
		if err != nil || res.StatusCode != 200 || size > 0 && len(body) != size || res.ProtoMajor != proto {
			return fmt.Errorf("%s: GET %s = %s %s, %d bytes, %v", s.name, url, res.Proto, res.Status, len(body), err)
		}
		return nil
	}
	if err := get("http://"+s.h1+"/", 0, 1); err != nil {
		return err
	}
	if err := get("http://"+s.h1+"/64k", 64<<10, 1); err != nil {
		return err
	}
	if s.h2 != "" {
		return get("https://"+s.h2+"/", 0, 2)
	}
	return nil
}

// halt stops s.
func (b *bench) halt(s *system) {
	if s.p != nil {
		s.p.stop()
		s.p = nil
	}
}

func (b *bench) rss(s *system) memory {
	if s.p == nil {
		return memory{s.name, 0}
	}
	rss, _ := s.p.memory()
	return memory{s.name, rss}
}

// setup checks the tools, makes the work directory, builds the upstream
// and lameduck, and writes a self-signed certificate for the TLS runs.
func (b *bench) setup() error {
	var missing []string
	for _, t := range []string{"wrk", "h2load", "nginx", "haproxy", "caddy"} {
		if _, err := exec.LookPath(t); err != nil {
			missing = append(missing, t)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("not installed: %s (bench/run installs them with apt)", strings.Join(missing, ", "))
	}
	_, err := exec.LookPath("taskset")
	b.taskset = err == nil
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil || strings.TrimSpace(string(gomod)) == "" {
		return errors.New("run from within the lameduck module")
	}
	b.root = filepath.Dir(strings.TrimSpace(string(gomod)))
	if b.dir, err = os.MkdirTemp("", "lameduck-peers-"); err != nil {
		return err
	}
	b.upstreamBin = filepath.Join(b.dir, "upstream")
	b.lameduck = filepath.Join(b.dir, "lameduck")
	for bin, pkg := range map[string]string{b.upstreamBin: "./bench/upstream", b.lameduck: "./cmd/lameduck"} {
		cmd := exec.Command("go", "build", "-o", bin, pkg)
		cmd.Dir = b.root
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build %s: %w: %s", pkg, err, out)
		}
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	b.upstream = fmt.Sprintf("127.0.0.1:%d", port)
	b.cert, b.key = filepath.Join(b.dir, "cert.pem"), filepath.Join(b.dir, "key.pem")
	return selfSigned(b.cert, b.key)
}

// cleanup stops every process still running and removes the work
// directory unless asked to keep it.
func (b *bench) cleanup() {
	for _, p := range b.procs {
		select {
		case <-p.done:
		default:
			p.stop()
		}
	}
	b.wg.Wait()
	if b.keep {
		fmt.Fprintf(os.Stderr, "work directory kept: %s\n", b.dir)
		return
	}
	os.RemoveAll(b.dir)
}

// selfSigned writes a certificate for 127.0.0.1 and its key.
func selfSigned(certPath, keyPath string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:     []string{"localhost"},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return err
	}
	return os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600)
}

// versions returns one line naming the machine and every tool's version.
func versions() string {
	first := func(args ...string) string {
		out, _ := exec.Command(args[0], args[1:]...).CombinedOutput() // wrk --version exits 1
		if len(out) == 0 {
			return args[0] + " ?"
		}
		line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
		return strings.TrimSpace(line)
	}
	cpu := "?"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for l := range strings.SplitSeq(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	return strings.Join([]string{
		fmt.Sprintf("%d CPUs (%s)", runtime.NumCPU(), cpu),
		first("uname", "-sr"),
		first("go", "version"),
		strings.TrimPrefix(first("nginx", "-v"), "nginx version: "),
		first("haproxy", "-v"),
		"caddy " + first("caddy", "version"),
		first("wrk", "--version"),
		first("h2load", "--version"),
	}, "; ")
}
