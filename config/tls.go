package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strings"
)

// LetsEncrypt is the ACME directory of Let's Encrypt's production CA, the
// default --acme-ca.
const LetsEncrypt = "https://acme-v02.api.letsencrypt.org/directory"

// TLS reports whether lameduck serves HTTPS: with certificates from ACME
// (domains or on demand) or from files.
func (c *Config) TLS() bool { return c.ACME() || c.TLSCert != "" }

// ACME reports whether certificates come from an ACME CA: TLSDomains is
// not empty or TLSOnDemand is set.
func (c *Config) ACME() bool { return len(c.TLSDomains) > 0 || c.TLSOnDemand }

// parseDomains accepts one domain name, or several separated by commas
// (the environment variable's form), and returns them lower case.
func parseDomains(s string) (any, error) {
	var out []string
	for _, d := range strings.Split(s, ",") {
		d = strings.ToLower(strings.TrimSpace(d))
		if err := checkDomain(d); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// checkDomain accepts a name a certificate can be obtained for by the
// HTTP-01 or TLS-ALPN-01 challenge: a DNS name or an IP address, without
// scheme, port, path or wildcard.
func checkDomain(d string) error {
	const want = "want a name such as example.com"
	switch {
	case d == "":
		return errors.New("empty domain name")
	case net.ParseIP(d) != nil:
		return nil
	case strings.Contains(d, "://"):
		return fmt.Errorf("invalid domain %q: %s, without scheme", d, want)
	case strings.HasPrefix(d, "*."):
		return fmt.Errorf("wildcard %q needs the DNS challenge, which lameduck does not do: list the names, or use --tls-on-demand", d)
	case strings.ContainsAny(d, ":/"):
		return fmt.Errorf("invalid domain %q: %s, without port or path", d, want)
	case strings.ContainsAny(d, " *?#@\\\"'") || strings.HasPrefix(d, ".") || strings.HasSuffix(d, ".") || strings.Contains(d, ".."):
		return fmt.Errorf("invalid domain %q: %s", d, want)
	}
	return nil
}

// parseEmail accepts "" (none) or something that looks like an address.
func parseEmail(s string) (any, error) {
	if s == "" {
		return "", nil
	}
	local, domain, ok := strings.Cut(s, "@")
	if !ok || local == "" || domain == "" || strings.ContainsAny(s, " ,<>") {
		return "", fmt.Errorf("invalid email address %q", s)
	}
	return s, nil
}

// parseACMECA accepts an https URL with a host: ACME is served over HTTPS
// only (RFC 8555 §6.1).
func parseACMECA(s string) (any, error) {
	if err := checkHTTPURL(s); err != nil {
		return "", fmt.Errorf("invalid ACME directory URL %q: %v", s, err)
	}
	if u, _ := url.Parse(s); u.Scheme != "https" {
		return "", fmt.Errorf("invalid ACME directory URL %q: want https", s)
	}
	return s, nil
}

// validateTLS checks the TLS options against each other.
func (c *Config) validateTLS() error {
	at := func(key, msg string) error {
		return c.errorAt(key, func(name string) string { return name + " " + msg })
	}
	switch {
	case c.TLSCert != "" && c.TLSKey == "":
		return at(keyTLSCert, "needs --tls-key, the file of its private key")
	case c.TLSKey != "" && c.TLSCert == "":
		return at(keyTLSKey, "needs --tls-cert, the file of its certificate chain")
	case c.TLSCert != "" && c.ACME():
		return &Error{Msg: "--tls-cert serves a certificate from a file, --tls-domain and --tls-on-demand certificates from ACME: use one or the other"}
	case c.TLSOnDemand && c.TLSAsk == "":
		return at(keyTLSOnDemand, "needs --tls-ask URL, which approves each name: without it, anyone could make lameduck request certificates for any name")
	case c.TLSAsk != "" && !c.TLSOnDemand:
		return at(keyTLSAsk, "is for --tls-on-demand")
	case c.ACME() && c.ACMEEmail == "":
		return &Error{Msg: "--acme-email is required with --tls-domain and --tls-on-demand: the CA's contact for expiry and account notices"}
	case c.TLS() && c.HTTPSListen == "":
		return at(keyHTTPSListen, "is required when TLS is on")
	}
	if !c.TLS() {
		return nil
	}
	return c.checkTLSPorts()
}

// checkTLSPorts rejects listeners that would share a port, and an app port
// that would take one of the TLS listeners' ports.
func (c *Config) checkTLSPorts() error {
	type listener struct{ key, addr string }
	ls := []listener{{keyHTTPSListen, c.HTTPSListen}, {keyHTTPListen, c.HTTPListen}, {keyListen, c.Listen}, {keyAdmin, c.Admin}}
	for i, a := range ls {
		ahost, aport := hostPort(a.addr)
		if aport == 0 {
			continue
		}
		if i < 2 && c.AppPort == aport {
			return c.errorAt(keyAppPort, func(name string) string {
				return fmt.Sprintf("%s %d is also the port of %s %q; give the app its own port, or 0 for a free one", name, c.AppPort, lookup(a.key).flagName(), a.addr)
			})
		}
		for _, b := range ls[i+1:] {
			bhost, bport := hostPort(b.addr)
			if bport == aport && (ahost == bhost || wildcard(ahost) || wildcard(bhost)) {
				return c.errorAt(b.key, func(name string) string {
					return fmt.Sprintf("%s %q uses the port of %s %q", name, b.addr, lookup(a.key).flagName(), a.addr)
				})
			}
		}
	}
	return nil
}

// tlsListen turns the plain listener off when TLS is on and no source set
// a listen address: serving the app over plain HTTP beside HTTPS must be
// asked for.
func (c *Config) tlsListen() {
	if c.TLS() && c.sources[keyListen].kind == srcDefault {
		c.Listen = ""
		c.sources[keyListen] = source{kind: srcDefault, note: "off: TLS is on"}
	}
}

// tlsStorage sets the default storage directory for ACME, the per-user
// data directory, and warns about TLS options that have no effect.
func (c *Config) tlsStorage(env func(string) (string, bool)) error {
	if !c.ACME() {
		c.warnUnusedTLS()
		return nil
	}
	if c.TLSStorage != "" {
		return nil
	}
	for _, v := range []struct{ name, sub string }{
		{"XDG_DATA_HOME", "lameduck"},
		{"HOME", filepath.Join(".local", "share", "lameduck")},
	} {
		if dir, ok := env(v.name); ok && filepath.IsAbs(dir) {
			c.TLSStorage = filepath.Join(dir, v.sub)
			c.sources[keyTLSStorage] = source{kind: srcEnv, name: v.name}
			return nil
		}
	}
	return c.errorAt(keyTLSStorage, func(name string) string {
		return name + " is required: neither XDG_DATA_HOME nor HOME is an absolute path; give it a persistent directory"
	})
}

// warnUnusedTLS warns, when certificates do not come from ACME, about
// ACME options changed from their defaults, and about the TLS listeners
// when TLS is off: they have no effect.
func (c *Config) warnUnusedTLS() {
	keys := []string{keyACMEEmail, keyACMECA, keyACMECARoot, keyTLSStorage}
	if !c.TLS() {
		keys = append(keys, keyHTTPSListen, keyHTTPListen)
	}
	var unused []string
	for _, key := range keys {
		o := lookup(key)
		if *o.field(c).(*string) != o.def {
			unused = append(unused, c.sources[key].display(o))
		}
	}
	if len(unused) == 0 {
		return
	}
	why := "TLS is off (set --tls-domain, --tls-on-demand or --tls-cert)"
	if c.TLS() {
		why = "the certificate comes from --tls-cert, not ACME"
	}
	c.warnf("%s: no effect, since %s", strings.Join(unused, ", "), why)
}
