package certs

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/certmagic"
	"golang.org/x/net/idna"
)

// LetsEncrypt is the ACME directory of Let's Encrypt's production CA, used
// when Options.CA is empty.
const LetsEncrypt = certmagic.LetsEncryptProductionCA

// Options configures a Manager: certificates from ACME (Domains, OnDemand
// or both), or from files (CertFile and KeyFile). The zero value of each
// field means what its comment says.
type Options struct {
	// Domains are the names whose certificates are obtained (or loaded
	// from Storage) by Run and renewed in the background. Empty means
	// none.
	Domains []string

	// OnDemand obtains a certificate during the TLS handshake for a name
	// not in Domains, when Ask approves it. False means a handshake for
	// any other name fails.
	OnDemand bool

	// Ask is the URL asked, as GET Ask?domain=NAME, whether an on-demand
	// certificate may be obtained for NAME: a 2xx answer approves it.
	// Required with OnDemand.
	Ask string

	// Email is the ACME account's contact address. Required for ACME:
	// certmagic would otherwise prompt for one on the terminal. The CA's
	// terms of service are agreed to on the user's behalf.
	Email string

	// CA is the ACME directory URL. Empty means LetsEncrypt; its staging
	// directory is then used for retries after a failure, as certmagic
	// does, to spare the production rate limits.
	CA string

	// CARootFile is a PEM file of the roots trusted for the CA's own HTTPS
	// server. Empty means the system's roots.
	CARootFile string

	// Storage is the directory of the ACME account, the certificates and
	// the locks. Required for ACME. It must persist across restarts, or
	// every start asks the CA for new certificates.
	Storage string

	// HTTPAddr is the address of the listener that serves HTTPHandler,
	// where the CA's HTTP-01 validations arrive. Empty turns HTTP-01 off.
	HTTPAddr string

	// HTTPSAddr is the address of the listener that serves TLSConfig,
	// where the CA's TLS-ALPN-01 validations arrive. Empty turns
	// TLS-ALPN-01 off.
	HTTPSAddr string

	// CertFile and KeyFile are PEM files of a certificate chain and its
	// private key, served instead of ACME certificates and reloaded when
	// they change. Empty means ACME.
	CertFile, KeyFile string

	// Logger receives the Manager's lines and certmagic's. Nil means
	// slog.Default().
	Logger *slog.Logger
}

// Manager provides the TLS certificates of lameduck's HTTPS listener: it
// builds the tls.Config, obtains and renews certificates through
// certmagic (with a cache of its own, which Close stops), answers ACME
// challenges, and reports readiness and the status of each certificate.
//
// Create it with New, serve TLSConfig and HTTPHandler, call Run, and call
// Close once Run has returned and the listeners are closed.
type Manager struct {
	logger  *slog.Logger
	domains []string // ACME names obtained at start, normalized

	// ACME; nil with certificate files.
	cache  *certmagic.Cache
	magic  *certmagic.Config // for domains
	demand *certmagic.Config // for on-demand names; nil without
	issuer *certmagic.ACMEIssuer
	ask    *asker
	ca     string

	static *staticCert // certificate files; nil with ACME

	ready     atomic.Bool
	mu        sync.Mutex
	status    map[string]*Status
	closeOnce sync.Once
}

// Status is the state of one certificate, for metrics and logs.
type Status struct {
	// Name is the domain the certificate is for (for certificate files,
	// their first DNS name).
	Name string

	// Ready reports whether the certificate is in the cache, served to
	// clients. False means it is still being obtained.
	Ready bool

	// NotAfter is when the certificate expires. Zero means not known yet.
	NotAfter time.Time

	// Err is the last error obtaining or renewing the certificate. Empty
	// means none since it was last cached.
	Err string
}

// New checks opts and prepares the certificates: with files it loads them
// (an error if it cannot); with ACME it creates the storage directory and
// starts certmagic's maintenance, which Close stops.
func New(opts Options) (*Manager, error) {
	m := &Manager{logger: opts.Logger, status: map[string]*Status{}}
	if m.logger == nil {
		m.logger = slog.Default()
	}
	if opts.CertFile != "" || opts.KeyFile != "" {
		if len(opts.Domains) > 0 || opts.OnDemand {
			return nil, errors.New("certificate files and ACME are exclusive")
		}
		s, err := newStatic(opts.CertFile, opts.KeyFile, m.logger)
		if err != nil {
			return nil, err
		}
		m.static = s
		m.ready.Store(true)
		return m, nil
	}
	for _, d := range opts.Domains {
		name, err := normalize(d)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(m.domains, name) {
			m.domains = append(m.domains, name)
			m.status[name] = &Status{Name: name}
		}
	}
	if err := m.newACME(opts); err != nil {
		return nil, err
	}
	m.ready.Store(len(m.domains) == 0)
	return m, nil
}

// normalize returns the name as certificates and SNI carry it: lower
// case, internationalized names in punycode.
func normalize(name string) (string, error) {
	name = strings.TrimSuffix(strings.TrimSpace(name), ".")
	if net.ParseIP(name) != nil {
		return name, nil
	}
	ascii, err := idna.Lookup.ToASCII(name)
	if err != nil || ascii == "" || len(ascii) > 253 {
		return "", fmt.Errorf("invalid domain name %q", name)
	}
	for label := range strings.SplitSeq(ascii, ".") {
		if label == "" || len(label) > 63 {
			return "", fmt.Errorf("invalid domain name %q", name)
		}
	}
	return strings.ToLower(ascii), nil
}

// TLSConfig returns the configuration of the HTTPS listener. Its
// NextProtos lists "acme-tls/1" alone for ACME: the server adds "h2" and
// "http/1.1" after it (see proxy.Server.Serve).
func (m *Manager) TLSConfig() *tls.Config {
	if m.static != nil {
		return &tls.Config{GetCertificate: m.static.getCertificate}
	}
	cfg := m.magic.TLSConfig()
	cfg.GetCertificate = m.getCertificate
	return cfg
}

// HTTPHandler returns the handler of the HTTP listener: it answers the
// CA's HTTP-01 validations and hands every other request to next.
func (m *Manager) HTTPHandler(next http.Handler) http.Handler {
	if m.issuer == nil {
		return next
	}
	return m.issuer.HTTPChallengeHandler(next)
}

// Run obtains the certificates of Options.Domains, or loads them from
// storage, retrying each with a growing delay (1 minute, then up to an
// hour) while the CA cannot be reached or refuses. It returns once every
// one is in the cache, or when ctx is done, after its goroutines have
// ended. Renewals happen in certmagic's maintenance, not in Run.
func (m *Manager) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, name := range m.domains {
		wg.Go(func() { m.keepTrying(ctx, name, m.manage) })
	}
	wg.Wait()
	return nil
}

// Ready reports whether every certificate of Options.Domains is in the
// cache. It is true from the start with certificate files, or with
// on-demand certificates only.
func (m *Manager) Ready() bool { return m.ready.Load() }

// Pending returns the names of Options.Domains whose certificate is not in
// the cache yet, in the order given.
func (m *Manager) Pending() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for _, name := range m.domains {
		if !m.status[name].Ready {
			out = append(out, name)
		}
	}
	return out
}

// Status returns the state of every certificate: those of Options.Domains
// in the order given, then the on-demand ones obtained so far, by name.
func (m *Manager) Status() []Status {
	if m.static != nil {
		return []Status{m.static.status()}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Status, 0, len(m.status))
	for _, name := range m.domains {
		out = append(out, *m.status[name])
	}
	var extra []Status
	for name, st := range m.status {
		if !slices.Contains(m.domains, name) {
			extra = append(extra, *st)
		}
	}
	slices.SortFunc(extra, func(a, b Status) int { return strings.Compare(a.Name, b.Name) })
	return append(out, extra...)
}

// Close stops certmagic's background maintenance and waits for it, and
// closes idle connections. Call it after Run has returned; it is safe to
// call more than once.
func (m *Manager) Close() {
	m.closeOnce.Do(func() {
		if m.cache != nil {
			m.cache.Stop()
			m.logger.Info("certificate maintenance stopped")
		}
		if m.ask != nil {
			m.ask.close()
		}
	})
}
