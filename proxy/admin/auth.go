package admin

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
)

// authorized reports whether r carries the bearer token, when one is
// configured. If it does not, it answers 401 with a Bearer challenge
// (RFC 6750 §3).
func (h *Handler) authorized(w http.ResponseWriter, r *http.Request) bool {
	if h.token == "" || tokenMatches(r.Header.Get("Authorization"), h.token) {
		return true
	}
	h.logger.WarnContext(r.Context(), "admin request rejected: missing or wrong bearer token",
		"path", r.URL.Path, "remote", r.RemoteAddr)
	w.Header().Set("WWW-Authenticate", "Bearer")
	reply(w, http.StatusUnauthorized, "unauthorized")
	return false
}

// tokenMatches reports whether the Authorization header value carries
// token under the Bearer scheme. The scheme name is case-insensitive
// (RFC 9110 §11.1). The tokens are compared through their SHA-256 digests
// in constant time, so neither their contents nor their lengths leak
// through timing.
func tokenMatches(header, token string) bool {
	scheme, got, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	g := sha256.Sum256([]byte(strings.TrimSpace(got)))
	w := sha256.Sum256([]byte(token))
	return subtle.ConstantTimeCompare(g[:], w[:]) == 1
}
