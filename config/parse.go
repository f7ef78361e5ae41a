package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The parsers below turn the text a user wrote (a flag value, an
// environment variable, a YAML scalar) into a field value. They are shared
// by all three sources, so a value means the same thing wherever it is
// written. Their error messages leave out the flag, variable or key; the
// caller adds it.

// parseDuration accepts Go duration syntax ("1m30s", "250ms", "0"). Negative
// durations are rejected, and a bare number gets a hint, since "30" is the
// most common mistake.
func parseDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		if isNumber(s) {
			return 0, fmt.Errorf("invalid duration %q (did you mean %ss?)", s, s)
		}
		return 0, fmt.Errorf("invalid duration %q", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("invalid duration %q: must not be negative", s)
	}
	return d, nil
}

// parseKillBudget is parseDuration, plus "none" (and "") for an unknown
// budget, stored as -1.
func parseKillBudget(s string) (any, error) {
	if s == "" || s == "none" {
		return time.Duration(-1), nil
	}
	d, err := parseDuration(s)
	return d, err
}

// parseInt accepts a decimal integer.
func parseInt(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("want an integer, got %q", s)
	}
	return n, nil
}

// parseBool accepts true, false, 1 and 0, in any case.
func parseBool(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "true", "1":
		return true, nil
	case "false", "0":
		return false, nil
	}
	return false, fmt.Errorf("want true or false, got %q", s)
}

func parseAppPort(s string) (any, error) {
	n, err := parseInt(s)
	if err != nil {
		return 0, err
	}
	if n < 0 || n > 65535 {
		return 0, fmt.Errorf("port %d out of range (want 1-65535, or 0 for a free port)", n)
	}
	return n, nil
}

func parsePID(s string) (any, error) {
	n, err := parseInt(s)
	if err != nil {
		return 0, err
	}
	if n < 0 {
		return 0, fmt.Errorf("invalid PID %d", n)
	}
	return n, nil
}

// parseCloseCode accepts the WebSocket close codes an endpoint may send
// (RFC 6455 §7.4.1 and §7.4.2): 1000-1003, 1007-1014 and the 3000-4999
// ranges for libraries and applications. 1004 is reserved, and 1005, 1006
// and 1015 are never sent on the wire.
func parseCloseCode(s string) (any, error) {
	n, err := parseInt(s)
	if err != nil {
		return 0, err
	}
	if !validCloseCode(n) {
		return 0, fmt.Errorf("invalid WebSocket close code %d (want 1000-1003, 1007-1014 or 3000-4999)", n)
	}
	return n, nil
}

func validCloseCode(n int) bool {
	return (n >= 1000 && n <= 1003) || (n >= 1007 && n <= 1014) || (n >= 3000 && n <= 4999)
}

// parseListen accepts an address, or "" for no plain listener, which
// Validate allows only when TLS serves the public instead.
func parseListen(s string) (any, error) {
	if s == "" {
		return "", nil
	}
	if _, err := splitAddr(s); err != nil {
		return "", err
	}
	return s, nil
}

func parseAdmin(s string) (any, error) {
	if s == "" {
		return "", nil
	}
	if _, err := splitAddr(s); err != nil {
		return "", err
	}
	return s, nil
}

// splitAddr checks a listen address, host:port with a numeric port
// 0-65535, and returns the port. The host may be empty (all addresses), a
// name, an IPv4 address, or an IPv6 address in brackets.
func splitAddr(s string) (int, error) {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		switch {
		case isDigits(s):
			return 0, fmt.Errorf("invalid address %q (did you mean \":%s\"?)", s, s)
		case strings.Count(s, ":") > 1 && !strings.HasPrefix(s, "["):
			return 0, fmt.Errorf("invalid address %q: want host:port, with an IPv6 host in brackets ([::1]:8080)", s)
		}
		return 0, fmt.Errorf("invalid address %q: want host:port", s)
	}
	if strings.ContainsAny(host, " /") {
		return 0, fmt.Errorf("invalid address %q: bad host %q", s, host)
	}
	n, err := strconv.Atoi(port)
	if err != nil || !isDigits(port) || n > 65535 {
		return 0, fmt.Errorf("invalid address %q: port must be a number from 0 to 65535", s)
	}
	return n, nil
}

// addrPort returns the port of an address that splitAddr accepted, or 0.
func addrPort(s string) int {
	n, _ := splitAddr(s)
	return n
}

// isNumber reports whether s is a plain non-negative decimal number such as
// "30" or "1.5".
func isNumber(s string) bool {
	whole, frac, dot := strings.Cut(s, ".")
	return isDigits(whole) && (!dot || isDigits(frac))
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// parseUpstream accepts "" (derived from the app port), "unix:/path.sock",
// or an http or https URL with a host.
func parseUpstream(s string) (any, error) {
	if s == "" {
		return "", nil
	}
	if path, ok := strings.CutPrefix(s, "unix:"); ok {
		if path == "" {
			return "", fmt.Errorf("invalid upstream %q: want unix:/path/to.sock", s)
		}
		return s, nil
	}
	const want = "want http://host:port, https://host:port or unix:/path.sock"
	if !strings.Contains(s, "://") {
		if _, err := splitAddr(s); err == nil || isDigits(s) {
			hint := s
			if isDigits(s) {
				hint = "127.0.0.1:" + s
			} else if strings.HasPrefix(s, ":") {
				hint = "127.0.0.1" + s
			}
			return "", fmt.Errorf("invalid upstream %q: %s (did you mean \"http://%s\"?)", s, want, hint)
		}
		return "", fmt.Errorf("invalid upstream %q: %s", s, want)
	}
	if err := checkHTTPURL(s); err != nil {
		return "", fmt.Errorf("invalid upstream %q: %v", s, err)
	}
	return s, nil
}

// parseStopURL accepts "" (none) or an http or https URL with a host.
func parseStopURL(s string) (any, error) {
	if s == "" {
		return "", nil
	}
	if err := checkHTTPURL(s); err != nil {
		return "", fmt.Errorf("invalid URL %q: %v", s, err)
	}
	return s, nil
}

func checkHTTPURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return errors.New("want an http or https URL")
	}
	if u.Host == "" || u.Hostname() == "" {
		return errors.New("no host")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("bad port %q", p)
		}
	}
	return nil
}

func parseHealthPath(s string) (any, error) {
	if s != "" && !strings.HasPrefix(s, "/") {
		return "", fmt.Errorf(`invalid path %q: must start with "/" (or be "" to turn it off)`, s)
	}
	return s, nil
}

func parseLogFormat(s string) (any, error) {
	if s != "text" && s != "json" {
		return "", fmt.Errorf("unknown log format %q (want text or json)", s)
	}
	return s, nil
}

func parsePlatform(s string) (any, error) {
	if s == "auto" || s == "none" || profileByName(s) != nil {
		return s, nil
	}
	return "", fmt.Errorf("unknown platform %q (want auto, none, %s)", s, strings.Join(platformNames(), ", "))
}

// formatDuration prints whole seconds as "90s" rather than "1m30s", so
// that messages show the numbers a user typed; other values use Go syntax.
// Both forms parse back with time.ParseDuration.
func formatDuration(d time.Duration) string {
	if d%time.Second == 0 {
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	}
	return d.String()
}
