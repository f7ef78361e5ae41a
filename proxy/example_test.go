package proxy_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/lameduck/lameduck/proxy"
)

// Example forwards one request, then drains: the listener closes, and the
// idle channel is closed since nothing is in flight.
func Example() {
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from the app, via %s", r.Header.Get("X-Forwarded-Proto"))
	}))
	defer app.Close()
	up, _ := proxy.NewUpstream(app.URL)
	up.MarkReady() // or up.Probe(ctx, logger), which waits for the app
	srv := &proxy.Server{Handler: &proxy.Handler{Upstream: up}}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln, nil, nil) }()

	res, err := http.Get("http://" + ln.Addr().String() + "/")
	if err != nil {
		fmt.Println(err)
		return
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	fmt.Println(string(body))

	<-srv.Close()
	requests, upgrades, _ := srv.Cut(5)
	fmt.Println("cut:", requests, upgrades)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	srv.Finish(ctx)
	fmt.Println("serve:", <-served)
	// Output:
	// hello from the app, via http
	// cut: 0 0
	// serve: <nil>
}
