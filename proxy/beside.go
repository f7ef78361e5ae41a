package proxy

import "net/http"

// beside wraps a handler that a Server serves next to the proxy, such as
// the redirect to HTTPS on a plain HTTP listener, so that it drains like
// the proxy: its requests count as in flight, and while draining its
// responses carry "Connection: close" (GOAWAY on HTTP/2).
func (h *Handler) beside(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e := h.track.begin(r.Method, r.URL.Path)
		defer h.track.end(e)
		if h.track.closing.Load() {
			w.Header().Set("Connection", "close")
		}
		next.ServeHTTP(w, r)
	})
}
