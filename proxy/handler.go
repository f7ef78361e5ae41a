package proxy

import (
	"log/slog"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http/httpguts"
)

// DefaultUpstreamWait is how long a request is held, by default, while the
// upstream is not yet accepting connections.
const DefaultUpstreamWait = 60 * time.Second

// Handler forwards requests to an Upstream and tracks everything in
// flight, so that a drain knows when the last response has gone out.
//
// Set the exported fields before the first request; the zero value of each
// means its documented default. A Handler must not be copied after use.
type Handler struct {
	// Upstream is where requests go. Required.
	Upstream *Upstream

	// UpstreamWait is how long a request is held while the upstream has
	// not yet accepted a connection; then it is answered 503. Zero means
	// DefaultUpstreamWait; negative means requests are not held.
	UpstreamWait time.Duration

	// HealthPath, when not empty, is answered by the Handler itself: 200
	// when Ready reports true, 503 otherwise. Platforms such as Railway
	// probe the public port, not the admin one.
	HealthPath string

	// Ready reports readiness for HealthPath. Nil means the upstream is
	// ready and the Handler is not draining.
	Ready func() bool

	// CloseCode is the WebSocket close code sent to clients at drain. Zero
	// means 1001 (going away).
	CloseCode uint16

	// Logger receives upstream errors. Nil means slog.Default().
	Logger *slog.Logger

	// TrustedProxies are the networks of the proxies in front whose
	// forwarding headers are kept: from a peer in one of them,
	// X-Forwarded-For is appended to and X-Forwarded-Proto and -Host pass
	// through. Anyone else's are replaced. Nil means no peer is trusted.
	TrustedProxies []netip.Prefix

	once    sync.Once
	track   *tracker
	status  [6]atomic.Uint64 // responses by status class; index 0 is unused
	upErrs  atomic.Uint64
	cutConn atomic.Uint64
}

func (h *Handler) init() {
	h.once.Do(func() {
		h.track = newTracker()
	})
}

func (h *Handler) logger() *slog.Logger {
	if h.Logger != nil {
		return h.Logger
	}
	return slog.Default()
}

// ServeHTTP answers the health path, holds the request until the upstream
// is ready, and forwards it, as a tunnel when it asks for an upgrade.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.init()
	w, ok := h.screen(w, r)
	if !ok {
		return
	}
	if h.HealthPath != "" && r.URL.Path == h.HealthPath {
		h.serveHealth(w, r)
		return
	}
	e := h.track.begin(r.Method, r.URL.Path)
	defer h.end(e)
	if !h.Upstream.ready.Load() && !h.Upstream.await(r.Context(), h.upstreamWait()) {
		if r.Context().Err() == nil {
			h.respond(w, http.StatusServiceUnavailable, "lameduck: upstream not accepting connections after "+h.upstreamWait().String()+"\n")
		}
		return
	}
	var upgrade string
	if r.ProtoMajor == 1 && httpguts.HeaderValuesContainsToken(r.Header["Connection"], "upgrade") {
		upgrade = r.Header.Get("Upgrade")
	}
	h.forward(w, r, e, upgrade)
}

// testHookEnded, when set by a test, runs once a request is no longer
// counted as in flight, before net/http finishes writing its response.
var testHookEnded func()

func (h *Handler) end(e *entry) {
	h.track.end(e)
	if testHookEnded != nil {
		testHookEnded()
	}
}

func (h *Handler) upstreamWait() time.Duration {
	switch {
	case h.UpstreamWait > 0:
		return h.UpstreamWait
	case h.UpstreamWait < 0:
		return 0
	}
	return DefaultUpstreamWait
}

func (h *Handler) serveHealth(w http.ResponseWriter, r *http.Request) {
	ready := h.Upstream.Ready() && !h.track.closing.Load()
	if h.Ready != nil {
		ready = h.Ready()
	}
	w.Header().Set("Cache-Control", "no-store")
	if ready {
		h.respond(w, http.StatusOK, "ready\n")
		return
	}
	h.respond(w, http.StatusServiceUnavailable, "not ready\n")
}

// respond writes a short plain-text answer of lameduck's own.
func (h *Handler) respond(w http.ResponseWriter, code int, body string) {
	hdr := w.Header()
	hdr.Set("Content-Type", "text/plain; charset=utf-8")
	hdr.Set("X-Content-Type-Options", "nosniff")
	if h.track.closing.Load() {
		hdr.Set("Connection", "close")
	}
	w.WriteHeader(code)
	w.Write([]byte(body))
	h.countStatus(code)
}

func (h *Handler) countStatus(code int) {
	if c := code / 100; c >= 1 && c <= 5 {
		h.status[c].Add(1)
	}
}

// Requests reports how many responses of status class c (1 to 5) were
// sent, counting lameduck's own answers too.
func (h *Handler) Requests(c int) uint64 {
	if c < 1 || c > 5 {
		return 0
	}
	return h.status[c].Load()
}

// UpstreamErrors reports how many requests failed for want of an answer
// from the upstream.
func (h *Handler) UpstreamErrors() uint64 { return h.upErrs.Load() }

// InFlight reports the requests and upgraded connections in flight.
func (h *Handler) InFlight() (requests, upgrades int) {
	h.init()
	return h.track.count()
}

// Draining reports whether the drain has started.
func (h *Handler) Draining() bool {
	h.init()
	return h.track.closing.Load()
}
