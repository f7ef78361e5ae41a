package admin_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"

	"github.com/lameduck/lameduck/proxy/admin"
)

func Example() {
	draining := false
	h := admin.New(admin.Options{
		Ready: func() (bool, string) {
			if draining {
				return false, "draining"
			}
			return true, ""
		},
		Drain: func(ctx context.Context) (string, error) {
			draining = true // the real drain waits here for in-flight work
			return "drained: 3 finished, 0 cut in 1.204s", nil
		},
		Logger: slog.New(slog.DiscardHandler),
	})

	get := func(method, path string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
		fmt.Printf("%s %s: %d %s", method, path, rec.Code, rec.Body)
	}
	get("GET", "/readyz")
	get("POST", "/drain")
	get("GET", "/readyz")
	get("GET", "/healthz")
	// Output:
	// GET /readyz: 200 ready
	// POST /drain: 200 drained: 3 finished, 0 cut in 1.204s
	// GET /readyz: 503 draining
	// GET /healthz: 200 ok
}
