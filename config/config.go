package config

import (
	"strconv"
	"syscall"
	"time"
)

// Config is the effective configuration: plain data, filled in by Load
// from flags, environment, YAML file, platform profile and built-in
// defaults, in that order of precedence. Every field holds its effective
// value after Load; the zero values described below are what a field means
// when a Config is built by hand.
type Config struct {
	// Listen is the public address, host:port. ":port" binds all
	// addresses, IPv4 and IPv6. Load sets ":$PORT" when PORT is set, else
	// ":8080", except when TLS is on: then only a listen address that was
	// set explicitly is kept. Empty means no plain HTTP listener.
	Listen string

	// Upstream is where requests go: "http://host:port",
	// "https://host:port" or "unix:/path.sock". Empty means the caller
	// derives it from AppPort (supervisor mode); sidecar mode requires it.
	Upstream string

	// UpstreamWait is how long a request is held while the upstream is
	// not yet accepting connections. Zero means requests are not held.
	UpstreamWait time.Duration

	// UpstreamTimeout is the longest wait for the upstream's response
	// headers. Zero means no limit.
	UpstreamTimeout time.Duration

	// AppPort is the PORT given to the app in supervisor mode. Zero means
	// the caller picks a free loopback port.
	AppPort int

	// Command is the app command and its arguments. Empty means sidecar
	// mode: lameduck proxies to Upstream and stops the app, if at all,
	// through StopPID, StopPIDFile or StopURL.
	Command []string

	// StopSignal is sent to the app after draining. Zero means none is
	// set; Load sets SIGTERM by default.
	StopSignal syscall.Signal

	// StopTimeout is how long the app has to exit after StopSignal before
	// it gets SIGKILL. Zero means SIGKILL follows at once.
	StopTimeout time.Duration

	// StopPID is, in sidecar mode, the process to signal after draining.
	// Zero means none.
	StopPID int

	// StopPIDFile is, in sidecar mode, a file holding the PID to signal
	// after draining, read at stop time. Empty means none.
	StopPIDFile string

	// StopURL is, in sidecar mode, a URL to POST to after draining. Empty
	// means none.
	StopURL string

	// ShutdownDelay is how long lameduck keeps serving after SIGTERM,
	// with readiness failing, before it closes its listeners. Zero means
	// the listeners close at once.
	ShutdownDelay time.Duration

	// DrainTimeout is the longest wait for in-flight work once the
	// listeners are closed; what remains is then cut. Load shrinks it to
	// fit KillBudget. Zero means in-flight work is cut at once.
	DrainTimeout time.Duration

	// KillBudget is the platform's window from SIGTERM to SIGKILL.
	// Negative means unknown (no check, nothing shrunk); zero means SIGKILL
	// follows SIGTERM at once. Load sets -1 when no budget is known.
	KillBudget time.Duration

	// WSCloseCode is the close code sent to WebSockets at drain. Zero
	// means none is set; Load sets 1001 (going away) by default.
	WSCloseCode int

	// IdleTimeout is how long an idle client keep-alive connection stays
	// open. Zero means no limit.
	IdleTimeout time.Duration

	// ReadHeaderTimeout limits reading a request's headers. Zero means no
	// limit.
	ReadHeaderTimeout time.Duration

	// H2C accepts HTTP/2 without TLS (prior knowledge) on the public
	// listener. False means HTTP/1.1 only.
	H2C bool

	// HealthPath is the readiness path served on the public listener.
	// Empty means none.
	HealthPath string

	// Admin is the admin listener's address (/healthz /readyz /metrics
	// /drain). Empty means no admin listener.
	Admin string

	// LogFormat is "text" or "json". Empty means text.
	LogFormat string

	// Platform is the platform profile in effect after Load: one of the
	// names in Profiles, or "none". Load resolves "auto" by detection.
	// Empty means none.
	Platform string

	// ConfigFile is the YAML file that was read. Empty means none.
	ConfigFile string

	// Version is set by --version: the caller prints the version and
	// exits. Load then skips the environment, the file and validation.
	Version bool

	// Warnings are problems that do not stop lameduck, each one line, for
	// the caller to log: a drain plan that does not fit the kill budget, a
	// platform setting to change, an environment variable ignored.
	Warnings []string

	// TLSDomains are the names lameduck serves HTTPS for, with
	// certificates it obtains and renews by ACME. Empty means none.
	TLSDomains []string

	// ACMEEmail is the contact address of the ACME account. Empty means
	// none, which Validate refuses when certificates come from ACME.
	ACMEEmail string

	// HTTPSListen is the HTTPS listener's address when TLS is on (see
	// TLS). Load sets ":443" by default and never leaves it empty; empty
	// with TLS on is a Validate error.
	HTTPSListen string

	// HTTPListen is, when TLS is on, the address of the HTTP listener that
	// answers ACME HTTP-01 challenges and redirects to HTTPS. Empty means
	// no HTTP listener. Load sets ":80" by default.
	HTTPListen string

	// ACMECA is the ACME directory URL. Empty means LetsEncrypt, which
	// Load sets by default.
	ACMECA string

	// ACMECARoot is a PEM file of the roots trusted for the ACME CA's own
	// HTTPS server. Empty means the system's roots.
	ACMECARoot string

	// TLSStorage is the directory of the ACME account, certificates and
	// locks. Load sets the per-user data directory when certificates come
	// from ACME; empty means none was set.
	TLSStorage string

	// TLSOnDemand obtains a certificate during the TLS handshake for any
	// name that TLSAsk approves. False means only TLSDomains.
	TLSOnDemand bool

	// TLSAsk is the URL asked, with ?domain=NAME, before an on-demand
	// certificate is obtained. Empty means none.
	TLSAsk string

	// TLSCert and TLSKey are PEM files of a certificate chain and its key,
	// served instead of ACME certificates. Empty means none.
	TLSCert, TLSKey string

	// TrustedProxies lists, comma-separated, the CIDR prefixes of the
	// proxies whose forwarding headers are trusted, normalised by Load
	// ("private" expanded, addresses made /32 or /128). Empty means none:
	// every client's X-Forwarded-For, -Proto and -Host are replaced.
	TrustedProxies string

	// MaxHeaderBytes is the largest request head accepted, request line
	// included. Zero means the proxy's default.
	MaxHeaderBytes int

	// AdminToken, when set, is the bearer token the admin /drain and
	// /metrics require. Empty means no authentication.
	AdminToken string

	// sources records where each option's value came from, by canonical
	// key. Nil for a Config not made by Load.
	sources map[string]source
}

// Sidecar reports whether c is in sidecar mode: no app command, so
// lameduck proxies to an upstream it does not start.
func (c *Config) Sidecar() bool { return len(c.Command) == 0 }

// Source reports where the effective value of an option came from. key is
// the option's YAML key ("drain.timeout") or flag name ("drain-timeout",
// "config", "version"). The answer is one of:
//
//	default                        the built-in default
//	platform railway               the platform profile
//	file lameduck.yaml:7           the YAML file, at that line
//	env LAMEDUCK_DRAIN_TIMEOUT     an environment variable (also "env PORT"
//	                               for listen, and the platform's own
//	                               variable for the kill budget and platform)
//	flag                           the command line
//	args                           the app command after the flags
//
// followed by ", shrunk to fit the kill budget" for a drain timeout that
// Load shrank. Source returns "" for an unknown key, or for a Config not
// made by Load.
func (c *Config) Source(key string) string {
	o := lookup(key)
	if o == nil || c.sources == nil {
		return ""
	}
	s, ok := c.sources[o.key]
	if !ok {
		return ""
	}
	return s.String()
}

// Source kinds.
const (
	srcDefault  = "default"
	srcPlatform = "platform"
	srcFile     = "file"
	srcEnv      = "env"
	srcFlag     = "flag"
	srcArgs     = "args"
)

// source is where a value came from.
type source struct {
	kind string // one of the src constants
	name string // platform name, file name or environment variable
	line int    // line in the file
	note string // appended, such as "shrunk to fit the kill budget"
}

func (s source) String() string {
	out := s.kind
	if s.name != "" {
		out += " " + s.name
		if s.line > 0 {
			out += ":" + strconv.Itoa(s.line)
		}
	}
	if s.note != "" {
		out += ", " + s.note
	}
	return out
}

// display names an option the way its source spells it: "--drain-timeout"
// for a flag (and for defaults), the variable for the environment, the
// dotted key for the file.
func (s source) display(o *option) string {
	switch s.kind {
	case srcEnv:
		if s.name != "" {
			return s.name
		}
	case srcFile:
		return o.key
	}
	if o.flag == "" {
		return o.key
	}
	return o.flagName()
}

// errorAt returns an Error about option key, located where its value came
// from, with msg formatted by the caller around the option's display name.
func (c *Config) errorAt(key string, msg func(name string) string) *Error {
	o := lookup(key)
	s := c.sources[o.key]
	e := &Error{Msg: msg(s.display(o))}
	switch s.kind {
	case srcFlag, srcArgs:
		e.Source = "flag"
	case srcEnv:
		e.Source = "env"
	case srcFile:
		e.Source, e.File, e.Line = "file", s.name, s.line
	}
	return e
}
