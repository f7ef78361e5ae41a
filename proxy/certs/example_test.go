package certs_test

import (
	"fmt"
	"net/http/httptest"

	"github.com/lameduck/lameduck/proxy/certs"
)

// The HTTP listener of lameduck's automatic HTTPS: ACME challenges are
// answered (by Manager.HTTPHandler), everything else goes to HTTPS.
func ExampleRedirect() {
	h := certs.Redirect(443)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "http://example.com/cart?id=7", nil))
	fmt.Println(w.Code, w.Header().Get("Location"))
	// Output: 308 https://example.com/cart?id=7
}
