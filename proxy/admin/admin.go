package admin

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
)

// Options configures a [Handler]. The zero value serves /healthz, an
// always-ready /readyz and /metrics with only the Go and process
// collectors; /drain answers 404.
type Options struct {
	// Ready reports whether lameduck should receive traffic and, when it
	// should not, a short reason such as "starting: upstream not accepting
	// yet" or "draining". It is called on every GET /readyz and must not
	// block. Nil means always ready.
	Ready func() (ok bool, reason string)

	// Drain starts the drain if it has not started yet, then waits until
	// the drain wait has ended (nothing left in flight, or what remained
	// was cut) and returns a one-line summary such as
	// "drained: 3 finished, 0 cut in 1.204s". It must be safe to call
	// concurrently and more than once: a later call joins the drain under
	// way and returns when it ends. ctx is the request's context: it must
	// return promptly once ctx is done (the client went away), and that
	// must end only the waiting, so the drain itself runs under a context
	// of its own, never ctx. A non-nil error is answered with 500 and the
	// error text. Nil means there is no /drain endpoint (404).
	Drain func(ctx context.Context) (summary string, err error)

	// Token, when not empty, is required as "Authorization: Bearer <Token>"
	// on /drain and /metrics. /healthz and /readyz stay open, because
	// kubelet probes cannot send credentials. Empty means no
	// authentication: keep the admin listener on loopback or otherwise
	// private.
	Token string

	// Metrics are the functions read at scrape time. Each nil function
	// leaves its metrics out of /metrics. The zero value exposes only the
	// Go and process collectors.
	Metrics Metrics

	// Logger receives a line for each drain requested over HTTP, drain
	// errors, rejected credentials and metric collection errors. Nil means
	// slog.Default().
	Logger *slog.Logger
}

// Handler is the admin http.Handler. Create it with [New]; it is safe for
// concurrent use.
type Handler struct {
	ready   func() (bool, string)
	drain   func(context.Context) (string, error)
	token   string
	logger  *slog.Logger
	metrics http.Handler
}

// New returns a Handler serving the admin endpoints described in the
// package documentation, with a fresh Prometheus registry holding the
// lameduck metrics, the Go runtime collector and the process collector.
func New(opts Options) *Handler {
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	return &Handler{
		ready:   opts.Ready,
		drain:   opts.Drain,
		token:   opts.Token,
		logger:  logger,
		metrics: metricsHandler(newRegistry(opts.Metrics), logger),
	}
}

// Methods allowed on each kind of endpoint, as sent in the Allow header.
//
// A ServeMux pattern "GET /drain" also matches HEAD, which would let a HEAD
// start a drain; so methods are checked here, by hand. HEAD is allowed on
// the read-only endpoints (RFC 9110 §9.3.2) but never on /drain.
const (
	allowRead  = "GET, HEAD"
	allowDrain = "GET, POST"
)

// ServeHTTP routes the request to its endpoint. Unknown paths get 404 and
// methods an endpoint does not take get 405 with an Allow header, before
// any credential check.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/healthz":
		if allowed(w, r, allowRead) {
			reply(w, http.StatusOK, "ok")
		}
	case "/readyz":
		if allowed(w, r, allowRead) {
			h.serveReady(w)
		}
	case "/metrics":
		if allowed(w, r, allowRead) && h.authorized(w, r) {
			h.metrics.ServeHTTP(w, r)
		}
	case "/drain":
		if h.drain == nil {
			reply(w, http.StatusNotFound, "404 page not found")
			return
		}
		if allowed(w, r, allowDrain) && h.authorized(w, r) {
			h.serveDrain(w, r)
		}
	default:
		reply(w, http.StatusNotFound, "404 page not found")
	}
}

// allowed reports whether r's method is in allow (a comma-separated list as
// sent in the Allow header). If it is not, it answers 405.
func allowed(w http.ResponseWriter, r *http.Request, allow string) bool {
	for m := range strings.SplitSeq(allow, ", ") {
		if r.Method == m {
			return true
		}
	}
	w.Header().Set("Allow", allow)
	reply(w, http.StatusMethodNotAllowed, "method not allowed")
	return false
}

// serveReady answers GET /readyz.
func (h *Handler) serveReady(w http.ResponseWriter) {
	if h.ready == nil {
		reply(w, http.StatusOK, "ready")
		return
	}
	ok, reason := h.ready()
	if ok {
		reply(w, http.StatusOK, "ready")
		return
	}
	if reason = oneLine(reason); reason == "" {
		reason = "not ready"
	}
	reply(w, http.StatusServiceUnavailable, reason)
}

// serveDrain answers /drain: it blocks until the drain wait has ended or
// the client has gone away.
func (h *Handler) serveDrain(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	h.logger.InfoContext(ctx, "drain requested", "via", "admin "+r.Method+" /drain", "remote", r.RemoteAddr)
	summary, err := h.drain(ctx)
	if ctx.Err() != nil {
		// Nobody is left to read an answer; the drain goes on without us.
		h.logger.DebugContext(ctx, "drain request abandoned by client", "remote", r.RemoteAddr)
		return
	}
	if err != nil {
		h.logger.ErrorContext(ctx, "drain requested over admin failed", "err", err)
		reply(w, http.StatusInternalServerError, "drain: "+oneLine(err.Error()))
		return
	}
	reply(w, http.StatusOK, oneLine(summary))
}

// reply writes a one-line plain-text answer. Admin answers describe the
// present moment, so none may be cached.
func reply(w http.ResponseWriter, code int, body string) {
	hdr := w.Header()
	hdr.Set("Content-Type", "text/plain; charset=utf-8")
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(body + "\n"))
}

// oneLine joins the lines of s with "; " so an answer stays one line.
func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' }), "; ")
}
