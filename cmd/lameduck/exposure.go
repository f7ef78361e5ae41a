package main

import (
	"log/slog"
	"net"
	"net/netip"
	"strings"
)

// trustedProxies turns --trusted-proxies, which config has normalised to
// comma-separated prefixes, into the proxy's list.
func trustedProxies(s string, logger *slog.Logger) []netip.Prefix {
	var out []netip.Prefix
	for item := range strings.SplitSeq(s, ",") {
		if item == "" {
			continue
		}
		p, err := netip.ParsePrefix(item)
		if err != nil {
			logger.Warn("trusted proxy ignored", "proxy", item, "err", err)
			continue
		}
		out = append(out, p)
	}
	return out
}

// warnExposedAdmin warns when the admin listener is reachable from other
// hosts without a token: anyone who reaches it can start a drain.
func warnExposedAdmin(addr net.Addr, token string, logger *slog.Logger) {
	if addr == nil || token != "" {
		return
	}
	if ap, err := netip.ParseAddrPort(addr.String()); err == nil && ap.Addr().IsLoopback() {
		return
	}
	logger.Warn("admin listener reachable from other hosts without a token: anyone who reaches it can start a drain; set --admin-token",
		"admin", addr.String())
}
