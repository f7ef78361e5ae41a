package config

import (
	"fmt"
	"net"
	"net/url"
	"strings"
)

// Validate checks the rules that involve more than one option: the mode
// (an app command, or --upstream without one), the stop method, and ports
// that would collide. Load calls it; single values are checked as they are
// parsed. Its errors name the options where the user set them.
func (c *Config) Validate() error {
	stops := 0
	for _, set := range []bool{c.StopPID != 0, c.StopPIDFile != "", c.StopURL != ""} {
		if set {
			stops++
		}
	}
	if c.Sidecar() {
		if c.Upstream == "" {
			return &Error{Msg: "--upstream is required when no app command is given"}
		}
		if stops > 1 {
			return &Error{Msg: "only one of --stop-pid, --stop-pidfile, --stop-url"}
		}
		if c.AppPort != 0 {
			return c.errorAt(keyAppPort, func(name string) string {
				return name + " is for supervisor mode (an app command)"
			})
		}
		if err := c.checkSelfProxy(); err != nil {
			return err
		}
	} else {
		if stops > 0 {
			return &Error{Msg: "--stop-pid, --stop-pidfile and --stop-url are for sidecar mode (no app command)"}
		}
		if c.Command[0] == "" {
			return c.errorAt(keyCommand, func(name string) string {
				return "the app command's program name is empty"
			})
		}
	}
	if err := c.validateTLS(); err != nil {
		return err
	}
	if c.Listen == "" && !c.TLS() {
		return c.errorAt(keyListen, func(name string) string {
			return name + `: an address is required (":port" listens on all addresses); "" is only for TLS, where HTTPS serves instead`
		})
	}
	return c.checkPorts()
}

// checkPorts rejects an app port or admin address that would take the
// public listener's port.
func (c *Config) checkPorts() error {
	lhost, lport := hostPort(c.Listen)
	listen := fmt.Sprintf("--listen %q (from %s)", c.Listen, c.sourceOr(keyListen))
	if c.AppPort != 0 && c.AppPort == lport {
		return c.errorAt(keyAppPort, func(name string) string {
			return fmt.Sprintf("%s %d is also the port of %s; give the app its own port, or 0 for a free one", name, c.AppPort, listen)
		})
	}
	if c.Admin == "" {
		return nil
	}
	ahost, aport := hostPort(c.Admin)
	if aport != 0 && aport == lport && (ahost == lhost || wildcard(ahost) || wildcard(lhost)) {
		return c.errorAt(keyAdmin, func(name string) string {
			return fmt.Sprintf("%s %q uses the port of %s", name, c.Admin, listen)
		})
	}
	if c.AppPort != 0 && c.AppPort == aport {
		return c.errorAt(keyAppPort, func(name string) string {
			return fmt.Sprintf("%s %d is also the port of --admin %q; give the app its own port, or 0 for a free one", name, c.AppPort, c.Admin)
		})
	}
	return nil
}

// checkSelfProxy rejects, in sidecar mode, an upstream on loopback at the
// port lameduck itself listens on: every request would loop.
func (c *Config) checkSelfProxy() error {
	_, lport := hostPort(c.Listen)
	u, err := url.Parse(c.Upstream)
	if lport == 0 || err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return nil
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	if port != fmt.Sprint(lport) || !loopback(u.Hostname()) {
		return nil
	}
	return c.errorAt(keyUpstream, func(name string) string {
		return fmt.Sprintf("%s %q is lameduck's own --listen %q: requests would loop", name, c.Upstream, c.Listen)
	})
}

// sourceOr is Source, or "default" for a Config not made by Load.
func (c *Config) sourceOr(key string) string {
	if s := c.Source(key); s != "" {
		return s
	}
	return srcDefault
}

// hostPort splits an address that splitAddr accepted; the port is 0 when
// the address is empty or malformed.
func hostPort(addr string) (string, int) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0
	}
	return host, addrPort(addr)
}

func wildcard(host string) bool {
	return host == "" || host == "0.0.0.0" || host == "::"
}

func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") || wildcard(host) {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
