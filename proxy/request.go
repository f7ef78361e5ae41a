package proxy

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"

	"golang.org/x/net/http/httpguts"
)

var errBadField = errors.New("request header field not valid for HTTP/1.1")

// An outgoing describes the request lameduck writes to the upstream.
type outgoing struct {
	length  int64  // body length; -1 for chunked, 0 for none
	zeroCL  bool   // say "Content-Length: 0" for an empty body
	expect  bool   // ask "Expect: 100-continue" before sending the body
	upgrade string // the protocol asked for, for a tunnel
}

// writeHead writes the request head for the upstream: the request line,
// Host, the client's end-to-end fields, the forwarding fields (see
// setForwarded), and the framing of the body. Fields are written as the
// server parsed them, never copied as raw bytes, so lameduck and the app
// agree on where the request ends whatever the client sent. Hop-by-hop
// fields (RFC 9110 §7.6.1) and those Connection lists are left out.
func (h *Handler) writeHead(bw *bufio.Writer, r *http.Request, o outgoing) error {
	bw.WriteString(r.Method)
	bw.WriteByte(' ')
	h.Upstream.writeTarget(bw, r)
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	if r.Host != "" {
		bw.WriteString(r.Host)
	} else {
		bw.WriteString(h.Upstream.url.Host)
	}
	bw.WriteString("\r\n")
	listed := r.Header["Connection"]
	for k, vv := range r.Header {
		if skipField(k) || len(listed) > 0 && connectionLists(listed, k) {
			continue
		}
		if !httpguts.ValidHeaderFieldName(k) {
			return errBadField
		}
		for _, v := range vv {
			if !validValueString(v) {
				return errBadField
			}
			bw.WriteString(k)
			bw.WriteString(": ")
			bw.WriteString(v)
			bw.WriteString("\r\n")
		}
	}
	if te := r.Header["Te"]; len(te) > 0 && httpguts.HeaderValuesContainsToken(te, "trailers") {
		bw.WriteString("Te: trailers\r\n")
	}
	h.setForwarded(bw, r)
	if o.upgrade != "" {
		bw.WriteString("Connection: Upgrade\r\nUpgrade: ")
		bw.WriteString(o.upgrade)
		bw.WriteString("\r\n")
	}
	switch {
	case o.length > 0:
		bw.WriteString("Content-Length: ")
		bw.Write(strconv.AppendInt(bw.AvailableBuffer(), o.length, 10))
		bw.WriteString("\r\n")
	case o.length < 0:
		bw.WriteString("Transfer-Encoding: chunked\r\n")
		if len(r.Trailer) > 0 {
			bw.WriteString("Trailer: ")
			first := true
			for k := range r.Trailer {
				if !first {
					bw.WriteString(", ")
				}
				bw.WriteString(k)
				first = false
			}
			bw.WriteString("\r\n")
		}
	case o.zeroCL:
		bw.WriteString("Content-Length: 0\r\n")
	}
	if o.expect {
		bw.WriteString("Expect: 100-continue\r\n")
	}
	_, err := bw.WriteString("\r\n")
	return err
}

// skipField reports whether the request field k is not copied: it is
// hop-by-hop, framing that lameduck writes itself, or forwarding that
// setForwarded writes.
func skipField(k string) bool {
	switch k {
	case "Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
		"Te", "Trailer", "Transfer-Encoding", "Upgrade", "Host", "Content-Length", "Expect",
		"Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto":
		return true
	}
	return false
}

// connectionLists reports whether the Connection values list field k.
func connectionLists(conn []string, k string) bool {
	for _, v := range conn {
		for tok := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(trimOWS(tok), k) {
				return true
			}
		}
	}
	return false
}

// writeTarget writes the request target: the client's own, as it sent it,
// when the upstream has no path of its own and the target is plain
// printable ASCII in origin form; otherwise the path and query are built
// again from the parsed URL, under the upstream's path.
func (u *Upstream) writeTarget(bw *bufio.Writer, r *http.Request) {
	if u.prefix == "" && u.query == "" && plainTarget(r.RequestURI) {
		bw.WriteString(r.RequestURI)
		return
	}
	if r.Method == http.MethodOptions && r.RequestURI == "*" && u.prefix == "" {
		bw.WriteByte('*')
		return
	}
	path := r.URL.EscapedPath()
	bw.WriteString(u.prefix)
	if !strings.HasPrefix(path, "/") {
		bw.WriteByte('/')
	}
	bw.WriteString(path)
	q := r.URL.RawQuery
	if u.query != "" {
		bw.WriteByte('?')
		bw.WriteString(u.query)
		if q != "" {
			bw.WriteByte('&')
		}
	} else if q != "" {
		bw.WriteByte('?')
	}
	bw.WriteString(q)
}

// plainTarget reports whether t is an origin-form target of printable
// ASCII, which can go to the upstream as it came.
func plainTarget(t string) bool {
	if len(t) == 0 || t[0] != '/' {
		return false
	}
	for i := 0; i < len(t); i++ {
		if c := t[i]; c <= ' ' || c >= 0x7f {
			return false
		}
	}
	return true
}

// clientIP returns the address part of the connection's peer, "ip:port"
// as in http.Request.RemoteAddr, or "" when it has none.
func clientIP(remote string) string {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		return ""
	}
	return host
}
