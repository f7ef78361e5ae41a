package config

import (
	"strings"
	"syscall"
	"time"
)

// kind is the type of an option's value, which decides how it is parsed and
// what a YAML node for it must look like.
type kind int

const (
	kindString kind = iota
	kindDuration
	kindInt
	kindBool
	kindSignal
	kindList // app.command, tls.domains
)

// want names the kind in "want ..., got ..." messages.
func (k kind) want() string {
	switch k {
	case kindDuration:
		return "a duration"
	case kindInt:
		return "an integer"
	case kindBool:
		return "true or false"
	case kindSignal:
		return "a signal name or number"
	case kindList:
		return "a list of strings"
	}
	return "a string"
}

// option is one setting: the single definition from which the flag, the
// environment variable, the YAML key, the defaults, the help text and the
// reference documentation are all derived.
type option struct {
	key   string // canonical key: the dotted YAML key, or the flag name for options not in the file
	flag  string // flag name without dashes; "" for app.command (positional arguments)
	env   bool   // read from LAMEDUCK_<FLAG>
	yaml  bool   // accepted in the YAML file under key
	kind  kind
	meta  string // placeholder for the value in the help text, such as DURATION
	def   string // built-in default, as a user would write it; parsed by parse
	doc   string // default as the reference shows it, when def alone would mislead
	usage string // what the option means, lower case, no final period
	// offEmpty marks options where "" is meaningful and turns something off.
	offEmpty bool
	// secret marks options whose value WriteYAML does not print.
	secret bool
	// parse turns the text form into the value stored in the field. Its
	// errors are messages without the name of the flag, variable or key.
	parse func(string) (any, error)
	// field returns a pointer to the option's field in c.
	field func(c *Config) any
}

// envName is the option's environment variable, or "" when it has none.
func (o *option) envName() string {
	if !o.env {
		return ""
	}
	return "LAMEDUCK_" + strings.ToUpper(strings.ReplaceAll(o.flag, "-", "_"))
}

// flagName is the flag as written in messages, with two dashes.
func (o *option) flagName() string {
	if o.flag == "" {
		return ""
	}
	return "--" + o.flag
}

// set stores v, a value returned by parse, in the option's field of c.
func (o *option) set(c *Config, v any) {
	switch p := o.field(c).(type) {
	case *string:
		*p = v.(string)
	case *time.Duration:
		*p = v.(time.Duration)
	case *int:
		*p = v.(int)
	case *bool:
		*p = v.(bool)
	case *syscall.Signal:
		*p = v.(syscall.Signal)
	case *[]string:
		*p = v.([]string)
	default:
		panic("config: option " + o.key + " has a field of unsupported type")
	}
}

// Option keys that the loading and validation code refers to by name.
const (
	keyListen        = "listen"
	keyUpstream      = "upstream.url"
	keyAppPort       = "app.port"
	keyCommand       = "app.command"
	keyStopPID       = "app.stop_pid"
	keyStopPIDFile   = "app.stop_pidfile"
	keyStopURL       = "app.stop_url"
	keyStopTimeout   = "app.stop_timeout"
	keyShutdownDelay = "drain.shutdown_delay"
	keyDrainTimeout  = "drain.timeout"
	keyKillBudget    = "drain.kill_budget"
	keyAdmin         = "admin"
	keyPlatform      = "platform"
	keyConfig        = "config"
	keyVersion       = "version"

	keyTLSDomains  = "tls.domains"
	keyACMEEmail   = "tls.acme_email"
	keyHTTPSListen = "tls.https_listen"
	keyHTTPListen  = "tls.http_listen"
	keyACMECA      = "tls.acme_ca"
	keyACMECARoot  = "tls.acme_ca_root"
	keyTLSStorage  = "tls.storage"
	keyTLSOnDemand = "tls.on_demand"
	keyTLSAsk      = "tls.ask"
	keyTLSCert     = "tls.cert"
	keyTLSKey      = "tls.key"
)

// options is the table of every setting, in the order of the help text and
// the reference. Adding a field to Config without a row here fails
// TestReferenceCoversConfig.
var options = []*option{
	{
		key: keyListen, flag: "listen", env: true, yaml: true, kind: kindString, meta: "ADDR",
		def: ":8080", doc: `":$PORT" when PORT is set, else ":8080"`,
		usage:    `public address; ":port" binds all addresses, IPv4 and IPv6; "" (only with TLS) turns the plain listener off`,
		offEmpty: true,
		parse:    parseListen,
		field:    func(c *Config) any { return &c.Listen },
	},
	{
		key: keyUpstream, flag: "upstream", env: true, yaml: true, kind: kindString, meta: "URL",
		def: "", doc: "derived from the app port when an app command is given",
		usage: `where requests go: "http://host:port", "https://host:port" or "unix:/path.sock"; required without an app command`,
		parse: parseUpstream,
		field: func(c *Config) any { return &c.Upstream },
	},
	{
		key: "upstream.wait", flag: "upstream-wait", env: true, yaml: true, kind: kindDuration, meta: "DURATION",
		def:   "60s",
		usage: "how long a request is held while the upstream is not yet accepting connections",
		field: func(c *Config) any { return &c.UpstreamWait },
	},
	{
		key: "upstream.timeout", flag: "upstream-timeout", env: true, yaml: true, kind: kindDuration, meta: "DURATION",
		def: "0s", doc: "0s (none)",
		usage: "longest wait for the upstream's response headers",
		field: func(c *Config) any { return &c.UpstreamTimeout },
	},
	{
		key: keyAppPort, flag: "app-port", env: true, yaml: true, kind: kindInt, meta: "PORT",
		def: "0", doc: "0 (a free loopback port)",
		usage: "PORT given to the app",
		parse: parseAppPort,
		field: func(c *Config) any { return &c.AppPort },
	},
	{
		key: keyCommand, yaml: true, kind: kindList,
		def: "", doc: "none",
		usage: "the app command and its arguments (supervisor mode); on the command line, the arguments after the flags",
		field: func(c *Config) any { return &c.Command },
	},
	{
		key: "app.stop_signal", flag: "stop-signal", env: true, yaml: true, kind: kindSignal, meta: "SIGNAL",
		def:   "SIGTERM",
		usage: `signal sent to the app after draining: a name ("SIGTERM", "TERM", "term") or a number`,
		field: func(c *Config) any { return &c.StopSignal },
	},
	{
		key: keyStopTimeout, flag: "stop-timeout", env: true, yaml: true, kind: kindDuration, meta: "DURATION",
		def:   "5s",
		usage: "how long the app has to exit after the stop signal, before SIGKILL",
		field: func(c *Config) any { return &c.StopTimeout },
	},
	{
		key: keyStopPID, flag: "stop-pid", env: true, yaml: true, kind: kindInt, meta: "PID",
		def: "0", doc: "0 (none)",
		usage: "sidecar mode: PID to signal after draining",
		parse: parsePID,
		field: func(c *Config) any { return &c.StopPID },
	},
	{
		key: keyStopPIDFile, flag: "stop-pidfile", env: true, yaml: true, kind: kindString, meta: "FILE",
		def: "", doc: "none",
		usage: "sidecar mode: file holding the PID to signal after draining (read at stop time)",
		field: func(c *Config) any { return &c.StopPIDFile },
	},
	{
		key: keyStopURL, flag: "stop-url", env: true, yaml: true, kind: kindString, meta: "URL",
		def: "", doc: "none",
		usage: "sidecar mode: URL to POST to after draining",
		parse: parseStopURL,
		field: func(c *Config) any { return &c.StopURL },
	},
	{
		key: keyShutdownDelay, flag: "shutdown-delay", env: true, yaml: true, kind: kindDuration, meta: "DURATION",
		def: "0s", doc: "0s, or the platform's",
		usage: "after SIGTERM, keep serving with readiness failing for this long, then close the listeners",
		field: func(c *Config) any { return &c.ShutdownDelay },
	},
	{
		key: keyDrainTimeout, flag: "drain-timeout", env: true, yaml: true, kind: kindDuration, meta: "DURATION",
		def: "20s", doc: "20s, or the platform's",
		usage: "longest wait for in-flight work once the listeners are closed; shrunk to fit the kill budget",
		field: func(c *Config) any { return &c.DrainTimeout },
	},
	{
		key: keyKillBudget, flag: "kill-budget", env: true, yaml: true, kind: kindDuration, meta: "DURATION",
		def: "none", doc: "the platform's, else none",
		usage: `the platform's SIGTERM-to-SIGKILL window; "none" when unknown`,
		parse: parseKillBudget,
		field: func(c *Config) any { return &c.KillBudget },
	},
	{
		key: "drain.ws_close_code", flag: "ws-close-code", env: true, yaml: true, kind: kindInt, meta: "CODE",
		def:   "1001",
		usage: "close code sent to WebSockets at drain: 1000-1003, 1007-1014 or 3000-4999",
		parse: parseCloseCode,
		field: func(c *Config) any { return &c.WSCloseCode },
	},
	{
		key: "server.idle_timeout", flag: "idle-timeout", env: true, yaml: true, kind: kindDuration, meta: "DURATION",
		def:   "120s",
		usage: "how long an idle client keep-alive connection stays open, and the longest pause within an HTTP/1.1 request body (then 408)",
		field: func(c *Config) any { return &c.IdleTimeout },
	},
	{
		key: "server.read_header_timeout", flag: "read-header-timeout", env: true, yaml: true, kind: kindDuration, meta: "DURATION",
		def:   "10s",
		usage: "limit for reading a request's headers (slowloris protection)",
		field: func(c *Config) any { return &c.ReadHeaderTimeout },
	},
	{
		key: "server.h2c", flag: "h2c", env: true, yaml: true, kind: kindBool,
		def:   "false",
		usage: "accept HTTP/2 without TLS (prior knowledge) on the public listener",
		field: func(c *Config) any { return &c.H2C },
	},
	{
		key: "health_path", flag: "health-path", env: true, yaml: true, kind: kindString, meta: "PATH",
		def: "/__lameduck/ready", offEmpty: true,
		usage: `readiness path on the public listener; "" turns it off`,
		parse: parseHealthPath,
		field: func(c *Config) any { return &c.HealthPath },
	},
	{
		key: keyAdmin, flag: "admin", env: true, yaml: true, kind: kindString, meta: "ADDR",
		def: "127.0.0.1:9901", offEmpty: true,
		usage: `admin listener (/healthz /readyz /metrics /drain); "" turns it off`,
		parse: parseAdmin,
		field: func(c *Config) any { return &c.Admin },
	},
	{
		key: "log_format", flag: "log-format", env: true, yaml: true, kind: kindString, meta: "FORMAT",
		def:   "text",
		usage: "log format: text or json",
		parse: parseLogFormat,
		field: func(c *Config) any { return &c.LogFormat },
	},
	{
		key: keyPlatform, flag: "platform", env: true, yaml: true, kind: kindString, meta: "NAME",
		def:   "auto",
		usage: "platform profile: auto (detect), none, or " + strings.Join(platformNames(), ", "),
		parse: parsePlatform,
		field: func(c *Config) any { return &c.Platform },
	},
	{
		key: keyConfig, flag: "config", env: true, kind: kindString, meta: "FILE",
		def: "", doc: "none",
		usage: "YAML file to read settings from",
		field: func(c *Config) any { return &c.ConfigFile },
	},
	{
		key: keyVersion, flag: "version", kind: kindBool,
		def:   "false",
		usage: "print the version and exit",
		field: func(c *Config) any { return &c.Version },
	},
	// TLS: automatic HTTPS by ACME, or certificates from files (see tls.go).
	{
		key: keyTLSDomains, flag: "tls-domain", env: true, yaml: true, kind: kindList, meta: "NAME",
		def: "", doc: "none",
		usage: "serve HTTPS for this domain with a certificate obtained and renewed by ACME; repeat the flag for more (comma-separated in the environment)",
		parse: parseDomains,
		field: func(c *Config) any { return &c.TLSDomains },
	},
	{
		key: keyACMEEmail, flag: "acme-email", env: true, yaml: true, kind: kindString, meta: "EMAIL",
		def: "", doc: "none",
		usage: "contact address of the ACME account (expiry and account notices); required with --tls-domain or --tls-on-demand",
		parse: parseEmail,
		field: func(c *Config) any { return &c.ACMEEmail },
	},
	{
		key: keyHTTPSListen, flag: "https-listen", env: true, yaml: true, kind: kindString, meta: "ADDR",
		def:   ":443",
		usage: "HTTPS listener, when TLS is on",
		parse: parseListen,
		field: func(c *Config) any { return &c.HTTPSListen },
	},
	{
		key: keyHTTPListen, flag: "http-listen", env: true, yaml: true, kind: kindString, meta: "ADDR",
		def: ":80", offEmpty: true,
		usage: `HTTP listener, when TLS is on: answers ACME HTTP-01 challenges and redirects everything else to HTTPS; "" turns it off`,
		parse: parseAdmin,
		field: func(c *Config) any { return &c.HTTPListen },
	},
	{
		key: keyACMECA, flag: "acme-ca", env: true, yaml: true, kind: kindString, meta: "URL",
		def:   LetsEncrypt,
		usage: "ACME directory URL of the certificate authority",
		parse: parseACMECA,
		field: func(c *Config) any { return &c.ACMECA },
	},
	{
		key: keyACMECARoot, flag: "acme-ca-root", env: true, yaml: true, kind: kindString, meta: "FILE",
		def: "", doc: "none (the system's roots)",
		usage: "PEM file of the roots that the ACME CA's own HTTPS server is trusted by, instead of the system's",
		field: func(c *Config) any { return &c.ACMECARoot },
	},
	{
		key: keyTLSStorage, flag: "tls-storage", env: true, yaml: true, kind: kindString, meta: "DIR",
		def: "", doc: `"$XDG_DATA_HOME/lameduck", else "$HOME/.local/share/lameduck"`,
		usage: "directory of the ACME account, certificates and locks; it must persist across restarts, or certificates are issued anew at every start",
		field: func(c *Config) any { return &c.TLSStorage },
	},
	{
		key: keyTLSOnDemand, flag: "tls-on-demand", env: true, yaml: true, kind: kindBool,
		def:   "false",
		usage: "obtain a certificate during the TLS handshake for any name that --tls-ask approves",
		field: func(c *Config) any { return &c.TLSOnDemand },
	},
	{
		key: keyTLSAsk, flag: "tls-ask", env: true, yaml: true, kind: kindString, meta: "URL",
		def: "", doc: "none",
		usage: "with --tls-on-demand, asked GET URL?domain=NAME before a certificate is obtained for NAME; a 2xx answer approves it",
		parse: parseStopURL,
		field: func(c *Config) any { return &c.TLSAsk },
	},
	{
		key: keyTLSCert, flag: "tls-cert", env: true, yaml: true, kind: kindString, meta: "FILE",
		def: "", doc: "none",
		usage: "PEM certificate chain to serve HTTPS with instead of ACME; read again when the file changes",
		field: func(c *Config) any { return &c.TLSCert },
	},
	{
		key: keyTLSKey, flag: "tls-key", env: true, yaml: true, kind: kindString, meta: "FILE",
		def: "", doc: "none",
		usage: "PEM private key of --tls-cert",
		field: func(c *Config) any { return &c.TLSKey },
	},
	{
		key: "server.trusted_proxies", flag: "trusted-proxies", env: true, yaml: true, kind: kindString, meta: "CIDRS",
		def: "", doc: "none",
		usage: `comma-separated addresses or CIDRs of proxies in front (the platform's edge, an ingress); their X-Forwarded-For is appended to and their X-Forwarded-Proto and -Host kept, anyone else's replaced; "private" stands for the private and loopback ranges`,
		parse: parseTrustedProxies,
		field: func(c *Config) any { return &c.TrustedProxies },
	},
	{
		key: "server.max_header_bytes", flag: "max-header-bytes", env: true, yaml: true, kind: kindInt, meta: "BYTES",
		def:   "65536",
		usage: "largest request head (request line and headers) accepted; a larger one is answered 431",
		parse: parseMaxHeaderBytes,
		field: func(c *Config) any { return &c.MaxHeaderBytes },
	},
	{
		key: "admin_token", flag: "admin-token", env: true, yaml: true, kind: kindString, meta: "TOKEN",
		def: "", doc: "none",
		usage:  `bearer token required on the admin /drain and /metrics ("Authorization: Bearer TOKEN"); /healthz and /readyz stay open`,
		secret: true,
		parse:  parseSecret,
		field:  func(c *Config) any { return &c.AdminToken },
	},
}

// lookup finds an option by canonical key or by flag name.
func lookup(name string) *option {
	name = strings.TrimLeft(name, "-")
	for _, o := range options {
		if o.key == name || (o.flag != "" && o.flag == name) {
			return o
		}
	}
	return nil
}

// parseValue parses s with the option's parser, or the one for its kind.
func (o *option) parseValue(s string) (any, error) {
	if o.parse != nil {
		return o.parse(s)
	}
	switch o.kind {
	case kindDuration:
		d, err := parseDuration(s)
		return d, err
	case kindInt:
		n, err := parseInt(s)
		return n, err
	case kindBool:
		b, err := parseBool(s)
		return b, err
	case kindSignal:
		sig, err := parseSignal(s)
		return sig, err
	}
	return s, nil
}
