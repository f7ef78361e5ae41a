package certs

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/certmagic"
)

// retryDelays are the waits between attempts to obtain a certificate at
// start: soon at first (a DNS record just created, a port just opened),
// then at most hourly. After a failure, certmagic retries against Let's
// Encrypt's staging CA first, so these retries do not count against the
// production rate limits.
var retryDelays = []time.Duration{
	time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute,
	20 * time.Minute, 30 * time.Minute, time.Hour,
}

// newACME sets up certmagic: one cache of the Manager's own, which Close
// stops; one Config for Options.Domains and, with OnDemand, a second one
// for on-demand names (certmagic renews on-demand certificates during
// handshakes instead of in its maintenance, so the two must not share a
// Config); an ACME issuer each, whose challenges are answered through
// lameduck's own listeners.
func (m *Manager) newACME(opts Options) error {
	switch {
	case len(m.domains) == 0 && !opts.OnDemand:
		return errors.New("no domain, and on-demand certificates are off")
	case opts.Email == "":
		// certmagic would prompt for one on the terminal and wait.
		return errors.New("an email address is required for the ACME account")
	case opts.Storage == "":
		return errors.New("a storage directory is required for ACME")
	case opts.OnDemand && opts.Ask == "":
		return errors.New("on-demand certificates need an ask URL")
	case opts.HTTPAddr == "" && opts.HTTPSAddr == "":
		return errors.New("no listener for ACME challenges: an HTTP or HTTPS address is required")
	}
	if err := os.MkdirAll(opts.Storage, 0o700); err != nil {
		return fmt.Errorf("tls storage: %w", err)
	}
	var roots *x509.CertPool
	if opts.CARootFile != "" {
		pem, err := os.ReadFile(opts.CARootFile)
		if err != nil {
			return fmt.Errorf("acme CA root: %w", err)
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return fmt.Errorf("acme CA root %s: no PEM certificate in it", opts.CARootFile)
		}
	}
	m.ca = opts.CA
	if m.ca == "" {
		m.ca = LetsEncrypt
	}
	host, httpPort, err := challengeAddr(opts.HTTPAddr, "")
	if err != nil {
		return err
	}
	host, tlsPort, err := challengeAddr(opts.HTTPSAddr, host)
	if err != nil {
		return err
	}
	if opts.OnDemand {
		if m.ask, err = newAsker(opts.Ask); err != nil {
			return err
		}
	}

	zl := newZap(m.logger.Handler())
	storage := &certmagic.FileStorage{Path: opts.Storage}
	newConfig := func(onDemand *certmagic.OnDemandConfig) (*certmagic.Config, *certmagic.ACMEIssuer) {
		cfg := certmagic.New(m.cache, certmagic.Config{
			Storage:        storage,
			Logger:         zl,
			OnEvent:        m.onEvent,
			ShouldEmitFunc: func(event string) bool { return event != "tls_get_certificate" },
			OnDemand:       onDemand,
		})
		iss := certmagic.NewACMEIssuer(cfg, certmagic.ACMEIssuer{
			CA:                      m.ca,
			Email:                   opts.Email,
			Agreed:                  true,
			TrustedRoots:            roots,
			DisableHTTPChallenge:    opts.HTTPAddr == "",
			DisableTLSALPNChallenge: opts.HTTPSAddr == "",
			// certmagic binds the challenge port itself when it is free;
			// here lameduck's listeners hold them, so it finds them taken
			// and leaves the answers to HTTPHandler and TLSConfig.
			ListenHost:     host,
			AltHTTPPort:    httpPort,
			AltTLSALPNPort: tlsPort,
			Logger:         zl,
		})
		cfg.Issuers = []certmagic.Issuer{iss}
		return cfg, iss
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.cache = certmagic.NewCache(certmagic.CacheOptions{GetConfigForCert: m.configFor, Logger: zl})
	m.magic, m.issuer = newConfig(nil)
	if len(m.domains) > 0 {
		// Clients that send no server name (by IP address) get the first
		// domain's certificate rather than a failed handshake.
		m.magic.DefaultServerName = m.domains[0]
	}
	if m.ask != nil {
		m.demand, _ = newConfig(&certmagic.OnDemandConfig{DecisionFunc: m.ask.decide})
	}
	return nil
}

// challengeAddr returns the port of addr, and the host certmagic should
// use for both challenges: host when it is already set or addr's host
// differs, "" for all addresses.
func challengeAddr(addr, host string) (string, int, error) {
	if addr == "" {
		return host, 0, nil
	}
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("challenge address %q: %w", addr, err)
	}
	port, err := strconv.Atoi(p)
	if err != nil || port <= 0 || port > 65535 {
		return "", 0, fmt.Errorf("challenge address %q: bad port", addr)
	}
	if ip := net.ParseIP(h); ip != nil && ip.IsUnspecified() {
		h = ""
	}
	if host != "" {
		h = host
	}
	return h, port, nil
}

// configFor is the cache's GetConfigForCert: the on-demand Config for a
// certificate with a name outside Options.Domains.
func (m *Manager) configFor(cert certmagic.Certificate) (*certmagic.Config, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.demand != nil {
		for _, name := range cert.Names {
			if !slices.Contains(m.domains, name) {
				return m.demand, nil
			}
		}
	}
	return m.magic, nil
}

// getCertificate is the tls.Config hook: names outside Options.Domains go
// to the on-demand Config, when there is one.
func (m *Manager) getCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	if m.demand != nil && hello.ServerName != "" && !slices.Contains(m.domains, strings.ToLower(hello.ServerName)) {
		return m.demand.GetCertificate(hello)
	}
	return m.magic.GetCertificate(hello)
}

// manage obtains the certificate of name, or loads it from storage, and
// puts it in the cache, once.
func (m *Manager) manage(ctx context.Context, name string) error {
	return m.magic.ManageSync(ctx, []string{name})
}

// keepTrying calls obtain for name until it succeeds or ctx is done,
// waiting retryDelays between attempts.
func (m *Manager) keepTrying(ctx context.Context, name string, obtain func(context.Context, string) error) {
	attempts := 0
	for {
		// certmagic reads the attempt number to retry on a staging CA.
		err := obtain(context.WithValue(ctx, certmagic.AttemptsCtxKey, &attempts), name)
		if err == nil || ctx.Err() != nil {
			return
		}
		wait := retryDelays[min(attempts, len(retryDelays)-1)]
		attempts++
		m.setErr(name, err)
		m.logger.Error("cannot obtain certificate; will retry", "name", name, "ca", m.ca,
			"attempt", attempts, "retry_in", wait.String(), "err", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// onEvent is certmagic's event callback. It must return quickly.
func (m *Manager) onEvent(_ context.Context, event string, data map[string]any) error {
	name, _ := data["identifier"].(string)
	renewal, _ := data["renewal"].(bool)
	switch event {
	case "cached_managed_cert":
		// The certificate is in the cache and served: this, not
		// cert_obtained, is when a name is ready.
		sans, _ := data["sans"].([]string)
		for _, san := range sans {
			m.cached(san)
		}
	case "cert_obtained":
		m.logger.Info("certificate obtained", "name", name, "renewal", renewal, "issuer", data["issuer"])
	case "cert_failed":
		err, _ := data["error"].(error)
		if err == nil {
			err = errors.New("unknown error")
		}
		m.setErr(name, err)
		if renewal || !slices.Contains(m.domains, name) {
			// Failures at start are logged by keepTrying.
			m.logger.Error("certificate not obtained", "name", name, "renewal", renewal, "err", err)
		}
	}
	return nil
}

// cached records that the certificate of name is in the cache.
func (m *Manager) cached(name string) {
	var notAfter time.Time
	for _, c := range m.cache.AllMatchingCertificates(name) {
		if c.Leaf != nil && c.Leaf.NotAfter.After(notAfter) {
			notAfter = c.Leaf.NotAfter
		}
	}
	m.mu.Lock()
	st := m.entry(name)
	first, renewed := !st.Ready, st.Ready && !notAfter.Equal(st.NotAfter)
	st.Ready, st.NotAfter, st.Err = true, notAfter, ""
	all := true
	for _, d := range m.domains {
		all = all && m.status[d].Ready
	}
	m.mu.Unlock()
	switch {
	case first:
		m.logger.Info("certificate ready", "name", name, "not_after", notAfter)
	case renewed:
		m.logger.Info("certificate renewed", "name", name, "not_after", notAfter)
	}
	if all && !m.ready.Swap(true) {
		m.logger.Info("certificates ready", "names", strings.Join(m.domains, ","))
	}
}

// setErr records the last error for name.
func (m *Manager) setErr(name string, err error) {
	if name == "" {
		return
	}
	m.mu.Lock()
	m.entry(name).Err = err.Error()
	m.mu.Unlock()
}

// entry returns the status of name, adding one for an on-demand name.
// m.mu is held.
func (m *Manager) entry(name string) *Status {
	st, ok := m.status[name]
	if !ok {
		st = &Status{Name: name}
		m.status[name] = st
	}
	return st
}
