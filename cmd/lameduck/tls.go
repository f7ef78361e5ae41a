package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"syscall"

	"golang.org/x/sync/errgroup"

	"github.com/lameduck/lameduck/proxy/admin"
	"github.com/lameduck/lameduck/proxy/certs"
)

// tlsServing is what TLS adds to a run: the HTTPS listener (the proxy),
// the HTTP listener (ACME challenges and the redirect to HTTPS), and the
// certificates. All three are served by the same proxy.Server as the
// plain listener, so they drain in the same sequence.
type tlsServing struct {
	https, http net.Listener // http is nil when --http-listen is ""
	certs       *certs.Manager
}

// openTLS binds the TLS listeners and prepares the certificates, when TLS
// is on.
func (l *lifecycle) openTLS() (code int, err error) {
	cfg := l.cfg
	if !cfg.TLS() {
		return exitOK, nil
	}
	t := &tlsServing{}
	l.tls = t
	if t.https, err = listen(cfg.HTTPSListen); err != nil {
		return exitFailure, fmt.Errorf("https listener: %w", err)
	}
	if cfg.HTTPListen != "" {
		if t.http, err = listen(cfg.HTTPListen); err != nil {
			return exitFailure, fmt.Errorf("http listener: %w", err)
		}
	}
	// certmagic writes a few lines with the standard log package; make
	// them slog lines like the rest.
	slog.SetDefault(l.logger)
	opts := certs.Options{
		Domains:    cfg.TLSDomains,
		OnDemand:   cfg.TLSOnDemand,
		Ask:        cfg.TLSAsk,
		Email:      cfg.ACMEEmail,
		CA:         cfg.ACMECA,
		CARootFile: cfg.ACMECARoot,
		Storage:    cfg.TLSStorage,
		HTTPSAddr:  t.https.Addr().String(),
		CertFile:   cfg.TLSCert,
		KeyFile:    cfg.TLSKey,
		Logger:     l.logger,
	}
	if t.http != nil {
		opts.HTTPAddr = t.http.Addr().String()
	}
	if t.certs, err = certs.New(opts); err != nil {
		return exitUsage, fmt.Errorf("tls: %w", err)
	}
	certificates := "acme"
	switch {
	case cfg.TLSCert != "":
		certificates = "files"
	case cfg.TLSOnDemand && len(cfg.TLSDomains) == 0:
		certificates = "acme on demand"
	case cfg.TLSOnDemand:
		certificates = "acme, and on demand"
	}
	args := []any{"https", t.https.Addr().String(), "http", addrOf(t.http), "certificates", certificates}
	if cfg.ACME() {
		args = append(args, "domains", strings.Join(cfg.TLSDomains, ","), "ca", cfg.ACMECA, "storage", cfg.TLSStorage)
	}
	l.logger.Info("tls on", args...)
	return exitOK, nil
}

// listen binds addr, with a hint when a port below 1024 is refused.
func listen(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if errors.Is(err, syscall.EACCES) {
		err = fmt.Errorf("%w (ports below 1024 need root or the CAP_NET_BIND_SERVICE capability)", err)
	}
	return ln, err
}

// addrOf is a listener's address, or "off".
func addrOf(ln net.Listener) string {
	if ln == nil {
		return "off"
	}
	return ln.Addr().String()
}

// serveTLS serves the TLS listeners and obtains the certificates, under g.
func (l *lifecycle) serveTLS(ctx context.Context, g *errgroup.Group) {
	t := l.tls
	if t == nil {
		return
	}
	g.Go(func() error { return l.srv.Serve(t.https, nil, t.certs.TLSConfig()) })
	if t.http != nil {
		redirect := certs.Redirect(t.https.Addr().(*net.TCPAddr).Port)
		next := redirect
		if path := l.cfg.HealthPath; path != "" {
			// Health checkers seldom follow redirects: the health path is
			// answered on the HTTP listener too.
			health := l.srv.Handler
			next = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == path {
					health.ServeHTTP(w, r)
					return
				}
				redirect.ServeHTTP(w, r)
			})
		}
		g.Go(func() error { return l.srv.Serve(t.http, t.certs.HTTPHandler(next), nil) })
	}
	g.Go(func() error { return t.certs.Run(ctx) })
}

// tlsReady is the TLS part of readiness: every certificate obtained at
// start is in the cache.
func (l *lifecycle) tlsReady() (bool, string) {
	if l.tls == nil || l.tls.certs == nil || l.tls.certs.Ready() {
		return true, ""
	}
	return false, "starting: waiting for certificates: " + strings.Join(l.tls.certs.Pending(), ", ")
}

// certMetrics is the certificates' part of /metrics, or nil without TLS.
func (l *lifecycle) certMetrics() func() []admin.Certificate {
	if l.tls == nil || l.tls.certs == nil {
		return nil
	}
	m := l.tls.certs
	return func() []admin.Certificate {
		st := m.Status()
		out := make([]admin.Certificate, len(st))
		for i, s := range st {
			out[i] = admin.Certificate{Name: s.Name, Ready: s.Ready, NotAfter: s.NotAfter}
		}
		return out
	}
}

// closeTLS closes the TLS listeners, which the proxy.Server closes itself
// once serving, and stops certmagic's maintenance. Call it after the
// certificates' Run has returned.
func (l *lifecycle) closeTLS() {
	t := l.tls
	if t == nil {
		return
	}
	for _, ln := range []net.Listener{t.https, t.http} {
		if ln != nil {
			ln.Close()
		}
	}
	if t.certs != nil {
		t.certs.Close()
	}
}
