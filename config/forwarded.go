package config

import (
	"fmt"
	"net/netip"
	"strings"
)

// privateRanges is what "private" stands for in --trusted-proxies: the
// RFC 1918 and RFC 4193 private ranges, carrier-grade NAT (RFC 6598) and
// loopback, where a platform's edge or an ingress controller connects from.
var privateRanges = []string{
	"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "127.0.0.0/8",
	"fc00::/7", "::1/128",
}

// parseTrustedProxies accepts a comma-separated list of CIDR prefixes,
// bare addresses and the word "private", and returns it normalised: every
// item a masked prefix, in the order given, without duplicates.
func parseTrustedProxies(s string) (any, error) {
	var out []string
	seen := map[string]bool{}
	add := func(p netip.Prefix) {
		if k := p.Masked().String(); !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		switch {
		case item == "":
			continue
		case strings.EqualFold(item, "private"):
			for _, r := range privateRanges {
				add(netip.MustParsePrefix(r))
			}
			continue
		}
		if p, err := netip.ParsePrefix(item); err == nil {
			if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
				// Peers are compared as IPv4 addresses.
				p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
			}
			add(p)
			continue
		}
		a, err := netip.ParseAddr(item)
		if err != nil || a.Zone() != "" {
			return "", fmt.Errorf("invalid proxy %q: want an address or a CIDR such as 10.0.0.0/8, or \"private\"", item)
		}
		add(netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return strings.Join(out, ","), nil
}

// Bounds of --max-header-bytes: below 4 KiB ordinary browsers' requests
// fail; above 1 MiB (Go's own default) a client can make the proxy hold a
// lot of memory per connection.
const (
	minHeaderBytes = 4 << 10
	maxHeaderBytes = 1 << 20
)

func parseMaxHeaderBytes(s string) (any, error) {
	n, err := parseInt(s)
	if err != nil {
		return 0, err
	}
	if n < minHeaderBytes || n > maxHeaderBytes {
		return 0, fmt.Errorf("%d out of range (want %d to %d)", n, minHeaderBytes, maxHeaderBytes)
	}
	return n, nil
}
