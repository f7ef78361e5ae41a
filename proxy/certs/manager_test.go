package certs

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/caddyserver/certmagic"
)

// acmeOptions are valid ACME options with a CA nothing listens on.
func acmeOptions(t *testing.T, rec *recorder) Options {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	return Options{
		Domains:   []string{"Example.COM", "www.example.com", "example.com"},
		Email:     "ops@example.com",
		CA:        "https://" + closed + "/dir",
		Storage:   filepath.Join(t.TempDir(), "certs"),
		HTTPAddr:  "127.0.0.1:1080",
		HTTPSAddr: "127.0.0.1:1443",
		Logger:    slog.New(rec),
	}
}

func TestNewErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*Options)
		want   string
	}{
		{"nothing to serve", func(o *Options) { o.Domains = nil }, "no domain"},
		{"no email", func(o *Options) { o.Email = "" }, "email"},
		{"no storage", func(o *Options) { o.Storage = "" }, "storage"},
		{"on-demand without ask", func(o *Options) { o.OnDemand = true }, "ask URL"},
		{"bad ask", func(o *Options) { o.OnDemand, o.Ask = true, "ftp://x" }, "want an http or https URL"},
		{"no listener", func(o *Options) { o.HTTPAddr, o.HTTPSAddr = "", "" }, "no listener"},
		{"bad address", func(o *Options) { o.HTTPAddr = "nope" }, "challenge address"},
		{"root file missing", func(o *Options) { o.CARootFile = "/nonexistent/ca.pem" }, "acme CA root"},
		{"files and ACME", func(o *Options) { o.CertFile, o.KeyFile = "c.pem", "k.pem" }, "exclusive"},
		{"bad domain", func(o *Options) { o.Domains = []string{"a..b"} }, "invalid domain"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := acmeOptions(t, newRecorder())
			tc.change(&o)
			m, err := New(o)
			if err == nil {
				m.Close()
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New() error = %v, want one saying %q", err, tc.want)
			}
		})
	}
}

// TestUnreachableCA: with a CA that refuses connections, Run logs one
// clear error per name and keeps waiting to retry, readiness stays false,
// and cancelling Run then Close leaves nothing running.
func TestUnreachableCA(t *testing.T) {
	rec := newRecorder()
	o := acmeOptions(t, rec)
	o.Domains = []string{"localhost"}
	m, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	line := rec.wait(t, "cannot obtain certificate; will retry")
	if attr(line, "name") != "localhost" || attr(line, "ca") != o.CA || attr(line, "retry_in") != "1m0s" ||
		!strings.Contains(attr(line, "err"), "connection refused") {
		t.Fatalf("error line = %v, want name, CA, retry in 1m0s and the refused connection", line)
	}
	if line.Level != slog.LevelError {
		t.Fatalf("error line level = %v, want ERROR", line.Level)
	}
	if m.Ready() {
		t.Fatal("Ready() = true without a certificate")
	}
	if got := m.Pending(); !slices.Equal(got, []string{"localhost"}) {
		t.Fatalf("Pending() = %q, want [localhost]", got)
	}
	if st := m.Status(); len(st) != 1 || st[0].Ready || !strings.Contains(st[0].Err, "connection refused") {
		t.Fatalf("Status() = %+v, want localhost not ready with the error", st)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run() = %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context was cancelled")
	}
	m.Close()
	m.Close() // a second Close does nothing
}

// TestKeepTrying: attempts are spaced by retryDelays, each failure is
// recorded, success ends the loop, and so does ctx while waiting.
func TestKeepTrying(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := &Manager{logger: slog.New(newRecorder()), status: map[string]*Status{"a.test": {Name: "a.test"}}}
		start := time.Now()
		var at []time.Duration
		var attempts []int
		m.keepTrying(context.Background(), "a.test", func(ctx context.Context, name string) error {
			at = append(at, time.Since(start))
			attempts = append(attempts, *ctx.Value(certmagic.AttemptsCtxKey).(*int))
			if len(at) < 4 {
				return errors.New("no")
			}
			return nil
		})
		want := []time.Duration{0, time.Minute, 3 * time.Minute, 8 * time.Minute}
		if !slices.Equal(at, want) {
			t.Fatalf("attempts at %v, want %v", at, want)
		}
		if !slices.Equal(attempts, []int{0, 1, 2, 3}) {
			t.Fatalf("attempt numbers seen by certmagic = %v, want 0 1 2 3", attempts)
		}
		if st := m.Status(); st[0].Err != "no" {
			t.Fatalf("Status().Err = %q, want the last error", st[0].Err)
		}

		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			m.keepTrying(ctx, "a.test", func(context.Context, string) error { return errors.New("no") })
		}()
		synctest.Wait() // waiting out the first delay
		cancel()
		<-done
		if time.Since(start) != 8*time.Minute {
			t.Fatalf("keepTrying returned at %v, want at once on cancel", time.Since(start))
		}
	})
}

// TestReadiness: readiness comes from cached_managed_cert for every
// domain, not from cert_obtained; on-demand names are listed after the
// domains.
func TestReadiness(t *testing.T) {
	rec := newRecorder()
	o := acmeOptions(t, rec)
	o.OnDemand, o.Ask = true, "http://127.0.0.1:1/ask"
	m, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ctx := context.Background()
	if m.Ready() {
		t.Fatal("Ready() = true before any certificate")
	}
	m.onEvent(ctx, "cert_obtained", map[string]any{"identifier": "example.com", "renewal": false})
	if m.Ready() {
		t.Fatal("Ready() = true after cert_obtained, before the certificate is cached")
	}
	m.onEvent(ctx, "cached_managed_cert", map[string]any{"sans": []string{"example.com"}})
	if m.Ready() || !slices.Equal(m.Pending(), []string{"www.example.com"}) {
		t.Fatalf("Ready() = %v, Pending() = %q with one of two cached, want false, [www.example.com]", m.Ready(), m.Pending())
	}
	m.onEvent(ctx, "cached_managed_cert", map[string]any{"sans": []string{"customer.test"}})
	m.onEvent(ctx, "cached_managed_cert", map[string]any{"sans": []string{"www.example.com"}})
	if !m.Ready() || len(m.Pending()) != 0 {
		t.Fatalf("Ready() = %v, Pending() = %q with both cached, want true, none", m.Ready(), m.Pending())
	}
	var names []string
	for _, st := range m.Status() {
		names = append(names, st.Name)
	}
	if want := []string{"example.com", "www.example.com", "customer.test"}; !slices.Equal(names, want) {
		t.Fatalf("Status() names = %q, want %q", names, want)
	}
	rec.wait(t, "certificates ready")
	m.onEvent(ctx, "cert_failed", map[string]any{"identifier": "example.com", "renewal": true, "error": errors.New("CA down")})
	if line := rec.wait(t, "certificate not obtained"); attr(line, "err") != "CA down" {
		t.Fatalf("renewal failure line = %v, want the error", line)
	}
	if st := m.Status(); st[0].Err != "CA down" || !st[0].Ready {
		t.Fatalf("Status()[0] = %+v, want still ready, with the renewal error", st[0])
	}
}

// TestAsk: the ask URL approves names with a 2xx answer; anything else, or
// no answer, refuses them.
func TestAsk(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("token") != "s3cret" {
			http.Error(w, "no token", http.StatusUnauthorized)
			return
		}
		if r.URL.Query().Get("domain") != "shop.customer.test" {
			http.Error(w, "unknown", http.StatusNotFound)
		}
	}))
	defer srv.Close()
	a, err := newAsker(srv.URL + "/ask?token=s3cret")
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	for _, tc := range []struct{ name, want string }{
		{"shop.customer.test", ""},
		{"evil.test", "404 Not Found"},
	} {
		err := a.decide(context.Background(), tc.name)
		if (err == nil) != (tc.want == "") || err != nil && !strings.Contains(err.Error(), tc.want) {
			t.Errorf("decide(%q) = %v, want %q", tc.name, err, tc.want)
		}
	}
	down, err := newAsker("http://" + srv.Listener.Addr().String() + "/ask")
	if err != nil {
		t.Fatal(err)
	}
	srv.Close()
	if err := down.decide(context.Background(), "shop.customer.test"); err == nil {
		t.Error("decide with the ask URL down = nil, want a refusal")
	}
}
