package proxy

import (
	"net/http"
	"net/http/httputil"
	"net/netip"
)

// setForwarded sets X-Forwarded-For, -Host and -Proto on the outgoing
// request. A client's own forwarding headers are replaced, so that nobody
// can pass as another address or scheme (the outgoing request arrives
// without them: httputil.ReverseProxy strips them before Rewrite, and
// upgradeRequest does the same). From a peer in TrustedProxies they are
// kept instead: its X-Forwarded-For gets the peer's address appended, and
// its X-Forwarded-Proto and -Host pass through, since that proxy, not
// lameduck, saw the client.
//
// With no trusted proxies this is exactly SetXForwarded: the check costs
// a length comparison and no allocation.
func (h *Handler) setForwarded(pr *httputil.ProxyRequest) {
	if len(h.TrustedProxies) == 0 || !h.trustedPeer(pr.In.RemoteAddr) {
		pr.SetXForwarded()
		return
	}
	in, out := pr.In.Header, pr.Out.Header
	if v := in["X-Forwarded-For"]; len(v) > 0 {
		out["X-Forwarded-For"] = v // SetXForwarded appends the peer to it
	}
	pr.SetXForwarded()
	if v := in["X-Forwarded-Host"]; len(v) > 0 {
		out["X-Forwarded-Host"] = v
	}
	if v := in["X-Forwarded-Proto"]; len(v) > 0 {
		out["X-Forwarded-Proto"] = v
	}
}

// trustedPeer reports whether the connection's peer, "ip:port" as in
// http.Request.RemoteAddr, is in TrustedProxies.
func (h *Handler) trustedPeer(remote string) bool {
	ap, err := netip.ParseAddrPort(remote)
	if err != nil {
		return false
	}
	a := ap.Addr().Unmap()
	for _, p := range h.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// forwardedHeaders are the headers a client could use to pass as another
// address, host or scheme; httputil.ReverseProxy removes the same ones
// before Rewrite.
var forwardedHeaders = []string{"Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto"}

// stripForwarded removes the client's forwarding headers from an outgoing
// request built by hand, before setForwarded.
func stripForwarded(h http.Header) {
	for _, k := range forwardedHeaders {
		delete(h, k)
	}
}
