package proxy

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"sync"
)

// bufSize is the copy buffer for response bodies: large enough that a
// 64 KiB body goes out in a couple of writes.
const bufSize = 32 << 10

type bufferPool struct{ p sync.Pool }

func (b *bufferPool) Get() []byte {
	if v := b.p.Get(); v != nil {
		return *v.(*[]byte)
	}
	return make([]byte, bufSize)
}

func (b *bufferPool) Put(buf []byte) { b.p.Put(&buf) }

var buffers bufferPool

func (h *Handler) newReverseProxy() *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Rewrite:        h.rewrite,
		Transport:      h.Upstream.Transport,
		BufferPool:     &buffers,
		ModifyResponse: h.modifyResponse,
		ErrorHandler:   h.errorHandler,
		ErrorLog:       slog.NewLogLogger(h.logger().Handler(), slog.LevelWarn),
	}
}

// rewrite points the outgoing request at the upstream, keeps the client's
// Host (apps build their URLs from it), and sets X-Forwarded-For, -Host and
// -Proto (see setForwarded).
func (h *Handler) rewrite(pr *httputil.ProxyRequest) {
	pr.SetURL(h.Upstream.url)
	pr.Out.Host = pr.In.Host
	h.setForwarded(pr)
	if pr.Out.Body != nil && pr.Out.Body != http.NoBody {
		// A request that failed on a reused upstream connection
		// before any byte was written is retried once, whatever its
		// method; the transport needs GetBody for that.
		rb := &replayBody{src: pr.Out.Body}
		pr.Out.Body, pr.Out.GetBody = rb, rb.getBody
	}
}

// modifyResponse counts the response and, while draining, asks the client to
// close its connection after it: "Connection: close" on HTTP/1.1, GOAWAY on
// HTTP/2 (the HTTP/2 server turns that header into a graceful shutdown).
func (h *Handler) modifyResponse(res *http.Response) error {
	h.countStatus(res.StatusCode)
	if h.track.closing.Load() {
		res.Header.Set("Connection", "close")
	}
	return nil
}

// errorHandler answers 502 when the upstream refused, reset or failed the
// request, 504 when it timed out, and nothing when the client went away.
func (h *Handler) errorHandler(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() != nil {
		return // the client is gone: nobody to answer
	}
	h.upErrs.Add(1)
	code, msg := http.StatusBadGateway, "lameduck: upstream unavailable\n"
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
		code, msg = http.StatusGatewayTimeout, "lameduck: upstream timed out\n"
	}
	h.logger().Warn("upstream error", "method", r.Method, "path", r.URL.Path, "status", code, "err", err)
	h.respond(w, code, msg)
}
