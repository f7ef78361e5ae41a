package proxy

import "net/http"

// Limits of the request head. Go's server answers 431 by itself to a head
// over MaxHeaderBytes (plus 4 KiB of slack); lameduck answers 414 to a
// request target over maxURIBytes, as nginx does with its default buffers.
const (
	// DefaultMaxHeaderBytes is the default limit of a request head,
	// request line included: 64 KiB fits the largest cookies browsers
	// send, and is 16 times less than Go's default of 1 MiB that each
	// connection could otherwise make the proxy buffer.
	DefaultMaxHeaderBytes = 64 << 10

	maxURIBytes = 8 << 10
)

// closeConn is the value of a "Connection: close" header. It is shared:
// header values are only ever replaced or appended to, never changed in
// place, and appending to a full slice copies it.
var closeConn = []string{"close"}

// screen answers the requests that must not be forwarded, and reports
// whether r may go on, and with which ResponseWriter. It also ends, after
// the response, the connections whose next bytes a proxy in front might
// frame differently:
//
//   - an HTTP/1.0 request: Go ignores a Transfer-Encoding on it and frames
//     the body by Content-Length, so what a chunked-aware proxy in front
//     sent as body would be read here as the next request (RFC 9112 §6.1:
//     such framing is faulty and the connection must close);
//   - a request with a chunked body: when it also carried Content-Length,
//     Go removed that header before the handler could see it, and RFC 9112
//     §6.1 asks the server to close the connection after responding.
//
// Neither case is forwarded ambiguously: lameduck writes each request anew
// for the upstream, so lameduck and the app always agree on where it ends.
func (h *Handler) screen(w http.ResponseWriter, r *http.Request) (http.ResponseWriter, bool) {
	if len(r.RequestURI) > maxURIBytes {
		w.Header()["Connection"] = closeConn
		h.respond(w, http.StatusRequestURITooLong, "lameduck: request URI too long\n")
		return w, false
	}
	if r.ProtoMajor == 1 && (r.ProtoMinor == 0 || len(r.TransferEncoding) > 0) {
		return &closeAfter{ResponseWriter: w}, true
	}
	return w, true
}

// closeAfter marks the final response "Connection: close". Setting the
// header up front is not enough: the hop clears the response headers after
// relaying an upstream's 1xx, such as 100 Continue, so that the fields of
// the interim response do not leak into the final one.
type closeAfter struct {
	http.ResponseWriter
	final bool // the final (non-1xx) status has been written
}

func (c *closeAfter) WriteHeader(code int) {
	if code >= 200 && !c.final {
		c.final = true
		c.ResponseWriter.Header()["Connection"] = closeConn
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *closeAfter) Write(p []byte) (int, error) {
	if !c.final {
		c.WriteHeader(http.StatusOK)
	}
	return c.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach Flush and Hijack.
func (c *closeAfter) Unwrap() http.ResponseWriter { return c.ResponseWriter }
