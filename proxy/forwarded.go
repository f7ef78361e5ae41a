package proxy

import (
	"bufio"
	"net/http"
	"net/netip"
)

// setForwarded writes X-Forwarded-For, -Host and -Proto for the upstream.
// A client's own forwarding fields are replaced (writeHead drops them), so
// that nobody can pass as another address or scheme. From a peer in
// TrustedProxies they are kept instead: its X-Forwarded-For gets the
// peer's address appended, and its X-Forwarded-Proto and -Host pass
// through, since that proxy, not lameduck, saw the client. This is what
// httputil.ProxyRequest.SetXForwarded does, written straight to the
// connection.
func (h *Handler) setForwarded(bw *bufio.Writer, r *http.Request) {
	trusted := len(h.TrustedProxies) > 0 && h.trustedPeer(r.RemoteAddr)
	if ip := clientIP(r.RemoteAddr); ip != "" {
		bw.WriteString("X-Forwarded-For: ")
		if prior := r.Header["X-Forwarded-For"]; trusted && validValues(prior) {
			for _, v := range prior {
				bw.WriteString(v)
				bw.WriteString(", ")
			}
		}
		bw.WriteString(ip)
		bw.WriteString("\r\n")
	}
	host, proto := r.Host, "http"
	if r.TLS != nil {
		proto = "https"
	}
	if v := r.Header["X-Forwarded-Host"]; trusted && len(v) > 0 && validValues(v) {
		host = v[0]
	}
	if v := r.Header["X-Forwarded-Proto"]; trusted && len(v) > 0 && validValues(v) {
		proto = v[0]
	}
	if host != "" {
		bw.WriteString("X-Forwarded-Host: ")
		bw.WriteString(host)
		bw.WriteString("\r\n")
	}
	bw.WriteString("X-Forwarded-Proto: ")
	bw.WriteString(proto)
	bw.WriteString("\r\n")
}

func validValues(vv []string) bool {
	for _, v := range vv {
		if !validValueString(v) {
			return false
		}
	}
	return true
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
