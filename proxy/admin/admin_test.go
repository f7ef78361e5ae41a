package admin

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// quiet is a logger that drops everything, so test output stays readable.
var quiet = slog.New(slog.DiscardHandler)

// serve runs one request through h and returns the recorded answer.
func serve(h http.Handler, method, path string, hdr http.Header) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, nil)
	for k, vs := range hdr {
		req.Header[k] = vs
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestEndpoints(t *testing.T) {
	h := New(Options{
		Ready:  func() (bool, string) { return true, "" },
		Drain:  (&fakeDrain{summary: "drained: 0 finished, 0 cut in 0s"}).instant,
		Logger: quiet,
	})
	tests := []struct {
		name     string
		method   string
		path     string
		wantCode int
		wantBody string // exact body; "" means not checked
	}{
		{"healthz", "GET", "/healthz", 200, "ok\n"},
		{"healthz HEAD", "HEAD", "/healthz", 200, ""},
		{"readyz", "GET", "/readyz", 200, "ready\n"},
		{"metrics", "GET", "/metrics", 200, ""},
		{"drain GET", "GET", "/drain", 200, "drained: 0 finished, 0 cut in 0s\n"},
		{"drain POST", "POST", "/drain", 200, "drained: 0 finished, 0 cut in 0s\n"},
		{"root", "GET", "/", 404, ""},
		{"unknown", "GET", "/quitquitquit", 404, ""},
		{"trailing slash", "GET", "/healthz/", 404, ""},
		{"sub-path", "POST", "/drain/now", 404, ""},
		{"prefix", "GET", "/metricsz", 404, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := serve(h, tt.method, tt.path, nil)
			if rec.Code != tt.wantCode {
				t.Errorf("%s %s: code = %d, want %d", tt.method, tt.path, rec.Code, tt.wantCode)
			}
			if tt.wantBody != "" && rec.Body.String() != tt.wantBody {
				t.Errorf("%s %s: body = %q, want %q", tt.method, tt.path, rec.Body.String(), tt.wantBody)
			}
			if got := rec.Header().Get("Cache-Control"); tt.path != "/metrics" && got != "no-store" {
				t.Errorf("%s %s: Cache-Control = %q, want %q", tt.method, tt.path, got, "no-store")
			}
		})
	}
}

func TestReadyz(t *testing.T) {
	tests := []struct {
		name     string
		ready    func() (bool, string)
		wantCode int
		wantBody string
	}{
		{"nil means ready", nil, 200, "ready\n"},
		{"ready", func() (bool, string) { return true, "ignored" }, 200, "ready\n"},
		{"starting", func() (bool, string) { return false, "starting: upstream not accepting yet" }, 503, "starting: upstream not accepting yet\n"},
		{"draining", func() (bool, string) { return false, "draining" }, 503, "draining\n"},
		{"no reason", func() (bool, string) { return false, "" }, 503, "not ready\n"},
		{"multi-line reason", func() (bool, string) { return false, "draining\nsince 2s\n" }, 503, "draining; since 2s\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := New(Options{Ready: tt.ready, Logger: quiet})
			rec := serve(h, "GET", "/readyz", nil)
			if rec.Code != tt.wantCode || rec.Body.String() != tt.wantBody {
				t.Errorf("GET /readyz = %d %q, want %d %q", rec.Code, rec.Body.String(), tt.wantCode, tt.wantBody)
			}
		})
	}
}

func TestHealthzStaysUpWhileNotReady(t *testing.T) {
	h := New(Options{Ready: func() (bool, string) { return false, "draining" }, Logger: quiet})
	if rec := serve(h, "GET", "/healthz", nil); rec.Code != 200 || rec.Body.String() != "ok\n" {
		t.Errorf("GET /healthz while draining = %d %q, want 200 %q", rec.Code, rec.Body.String(), "ok\n")
	}
}

func TestMethods(t *testing.T) {
	tests := []struct {
		method    string
		path      string
		wantAllow string
	}{
		{"HEAD", "/drain", "GET, POST"},
		{"PUT", "/drain", "GET, POST"},
		{"DELETE", "/drain", "GET, POST"},
		{"PATCH", "/drain", "GET, POST"},
		{"OPTIONS", "/drain", "GET, POST"},
		{"POST", "/healthz", "GET, HEAD"},
		{"PUT", "/readyz", "GET, HEAD"},
		{"POST", "/metrics", "GET, HEAD"},
		{"DELETE", "/metrics", "GET, HEAD"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			fd := &fakeDrain{summary: "drained"}
			h := New(Options{Drain: fd.instant, Logger: quiet})
			rec := serve(h, tt.method, tt.path, nil)
			if rec.Code != http.StatusMethodNotAllowed {
				t.Errorf("%s %s: code = %d, want %d", tt.method, tt.path, rec.Code, http.StatusMethodNotAllowed)
			}
			if got := rec.Header().Get("Allow"); got != tt.wantAllow {
				t.Errorf("%s %s: Allow = %q, want %q", tt.method, tt.path, got, tt.wantAllow)
			}
			if n := fd.calls.Load(); n != 0 {
				t.Errorf("%s %s: drain called %d times, want 0", tt.method, tt.path, n)
			}
		})
	}
}

// TestHeadDrainOverTheWire checks that a real HEAD request, routed through
// net/http the way a ServeMux would see it, does not start a drain.
func TestHeadDrainOverTheWire(t *testing.T) {
	fd := &fakeDrain{summary: "drained"}
	srv := httptest.NewServer(New(Options{Drain: fd.instant, Logger: quiet}))
	defer srv.Close()

	resp, err := srv.Client().Head(srv.URL + "/drain")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("HEAD /drain: code = %d, want %d", resp.StatusCode, http.StatusMethodNotAllowed)
	}
	if n := fd.calls.Load(); n != 0 {
		t.Errorf("HEAD /drain: drain called %d times, want 0", n)
	}
}

func TestDrainAbsentWhenNil(t *testing.T) {
	h := New(Options{Logger: quiet})
	for _, method := range []string{"GET", "POST", "PUT"} {
		if rec := serve(h, method, "/drain", nil); rec.Code != http.StatusNotFound {
			t.Errorf("%s /drain with nil Drain: code = %d, want %d", method, rec.Code, http.StatusNotFound)
		}
	}
}

func TestToken(t *testing.T) {
	const token = "s3cret-token"
	tests := []struct {
		name     string
		method   string
		path     string
		auth     string // Authorization header; "" means none
		wantCode int
	}{
		{"healthz open", "GET", "/healthz", "", 200},
		{"readyz open", "GET", "/readyz", "", 200},
		{"healthz ignores a wrong token", "GET", "/healthz", "Bearer nope", 200},
		{"metrics without token", "GET", "/metrics", "", 401},
		{"metrics wrong token", "GET", "/metrics", "Bearer nope", 401},
		{"metrics token prefix", "GET", "/metrics", "Bearer s3cret", 401},
		{"metrics token longer", "GET", "/metrics", "Bearer s3cret-token2", 401},
		{"metrics bare token", "GET", "/metrics", token, 401},
		{"metrics basic scheme", "GET", "/metrics", "Basic " + token, 401},
		{"metrics right token", "GET", "/metrics", "Bearer " + token, 200},
		{"metrics scheme case-insensitive", "GET", "/metrics", "bearer " + token, 200},
		{"drain without token", "POST", "/drain", "", 401},
		{"drain GET without token", "GET", "/drain", "", 401},
		{"drain wrong token", "POST", "/drain", "Bearer nope", 401},
		{"drain right token", "POST", "/drain", "Bearer " + token, 200},
		{"drain wrong method before auth", "HEAD", "/drain", "", 405},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fd := &fakeDrain{summary: "drained"}
			h := New(Options{Drain: fd.instant, Token: token, Logger: quiet})
			hdr := http.Header{}
			if tt.auth != "" {
				hdr.Set("Authorization", tt.auth)
			}
			rec := serve(h, tt.method, tt.path, hdr)
			if rec.Code != tt.wantCode {
				t.Errorf("%s %s (Authorization %q): code = %d, want %d", tt.method, tt.path, tt.auth, rec.Code, tt.wantCode)
			}
			if rec.Code == 401 {
				if got := rec.Header().Get("WWW-Authenticate"); got != "Bearer" {
					t.Errorf("%s %s: WWW-Authenticate = %q, want %q", tt.method, tt.path, got, "Bearer")
				}
				if n := fd.calls.Load(); n != 0 {
					t.Errorf("%s %s: unauthorized request called drain %d times, want 0", tt.method, tt.path, n)
				}
				if strings.Contains(rec.Body.String(), "lameduck_") {
					t.Errorf("%s %s: unauthorized answer leaks metrics", tt.method, tt.path)
				}
			}
		})
	}
}

func TestNoTokenMeansOpen(t *testing.T) {
	fd := &fakeDrain{summary: "drained"}
	h := New(Options{Drain: fd.instant, Logger: quiet})
	for _, path := range []string{"/metrics", "/drain"} {
		if rec := serve(h, "GET", path, nil); rec.Code != 200 {
			t.Errorf("GET %s without Token configured: code = %d, want 200", path, rec.Code)
		}
	}
}

func TestOneLine(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain", "draining", "draining"},
		{"trailing newline", "drained: 1 finished\n", "drained: 1 finished"},
		{"two lines", "a\nb", "a; b"},
		{"crlf and blanks", "a\r\n\r\nb\r\n", "a; b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := oneLine(tt.in); got != tt.want {
				t.Errorf("oneLine(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}
