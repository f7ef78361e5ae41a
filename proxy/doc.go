// Package proxy forwards requests to one upstream and drains them: it
// tracks every request and upgraded connection in flight, closes its
// listeners without resetting queued connections, asks open connections to
// finish ("Connection: close", HTTP/2 GOAWAY, a WebSocket close frame
// between two messages), and reports the moment nothing is in flight.
//
// A Handler forwards (holding requests until the upstream first accepts a
// connection, retrying once a request that failed on a reused upstream
// connection before any byte was sent, tunnelling upgrades); a Server
// serves it on listeners and implements the traffic side of a drain: Count,
// Close and Cut, then Finish.
//
// Both sides of the hop are lameduck's own where that pays: the Handler
// writes each request for the upstream straight from the parsed one and
// reads the answer on a pooled connection, in the request's goroutine
// (forward.go, head.go, body.go, pool.go); the Server reads plain
// HTTP/1.1 with a loop that holds no buffer for an idle connection
// (h1conn.go, h1request.go, h1response.go). TLS, HTTP/2 and h2c are
// net/http's. docs/benchmarks.md in the repository has the figures.
//
// # Typical use
//
//	up, err := proxy.NewUpstream("http://127.0.0.1:3000")
//	if err != nil { ... }
//	srv := &proxy.Server{Handler: &proxy.Handler{Upstream: up}}
//	go up.Probe(ctx, logger)           // marks the upstream ready
//	go srv.Serve(ln, nil, nil)         // nil handler: srv.Handler; nil TLS: plain
//	...
//	idle := srv.Close()                // on SIGTERM, after any shutdown delay
//	<-idle                             // or a drain timeout
//	srv.Cut(5)                         // cut what is left; stop the app now
//	srv.Finish(ctxWithTimeout)         // let the last responses reach clients
//
// In lameduck, drain.Sequence drives Close and Cut.
package proxy
