package certs

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestRedirect(t *testing.T) {
	for _, tc := range []struct {
		name      string
		port      int
		method    string
		target    string
		host      string
		wantCode  int
		wantWhere string
	}{
		{"default port", 443, "GET", "/a/b?q=1", "example.com", 308, "https://example.com/a/b?q=1"},
		{"host with port", 443, "GET", "/", "example.com:80", 308, "https://example.com/"},
		{"other port", 8443, "POST", "/form", "example.com:8080", 308, "https://example.com:8443/form"},
		{"IPv6", 443, "GET", "/x", "[::1]:80", 308, "https://[::1]/x"},
		{"IPv6 other port", 8443, "GET", "/x", "[2001:db8::1]", 308, "https://[2001:db8::1]:8443/x"},
		{"asterisk", 443, "OPTIONS", "*", "example.com", 308, "https://example.com/"},
		{"no host", 443, "GET", "/", "", 400, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, "http://placeholder"+tc.target, nil)
			if tc.target == "*" {
				r = httptest.NewRequest(tc.method, "*", nil)
			}
			r.Host = tc.host
			w := httptest.NewRecorder()
			Redirect(tc.port).ServeHTTP(w, r)
			if w.Code != tc.wantCode || w.Header().Get("Location") != tc.wantWhere {
				t.Fatalf("Redirect(%d) for %s %s Host %q = %d %q, want %d %q", tc.port, tc.method, tc.target, tc.host,
					w.Code, w.Header().Get("Location"), tc.wantCode, tc.wantWhere)
			}
		})
	}
}

// TestHTTPHandlerPassesThrough: with certificate files there are no
// challenges, and every request reaches next.
func TestHTTPHandlerPassesThrough(t *testing.T) {
	dir := t.TempDir()
	writePair(t, dir, "app.test", 1)
	m, err := New(Options{CertFile: dir + "/cert.pem", KeyFile: dir + "/key.pem"})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	w := httptest.NewRecorder()
	m.HTTPHandler(Redirect(443)).ServeHTTP(w, httptest.NewRequest("GET", "http://app.test/.well-known/acme-challenge/abc", nil))
	if w.Code != http.StatusPermanentRedirect {
		t.Fatalf("challenge path without ACME = %d, want the redirect", w.Code)
	}
}
