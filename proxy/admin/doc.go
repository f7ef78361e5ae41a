// Package admin serves lameduck's admin endpoints and its Prometheus metrics.
//
// The handler answers four paths, meant for a listener that only operators
// and the platform reach (by default 127.0.0.1:9901):
//
//	GET  /healthz   liveness: 200 "ok" for as long as the process runs,
//	                including during a drain
//	GET  /readyz    readiness: 200 "ready", or 503 with a short reason
//	                such as "draining"
//	GET  /metrics   Prometheus text format
//	POST /drain     start the drain (or join the one under way) and answer
//	                once its wait has ended; GET works too, because a
//	                Kubernetes preStop httpGet hook can only GET
//
// The package knows nothing about the proxy or the drain sequence: it learns
// everything through the functions in [Options] and [Metrics], and reads
// every metric at scrape time, so serving traffic costs nothing extra.
//
// Typical use, in the wiring of the program:
//
//	h := admin.New(admin.Options{
//		Ready: readiness,    // func() (ok bool, reason string)
//		Drain: drainAndWait, // starts the drain once, waits for its end or ctx
//		Token: token,
//		Metrics: admin.Metrics{
//			InFlight: tracker.InFlight,
//			Phase:    seq.Phase,
//		},
//		Logger: logger,
//	})
//	srv := &http.Server{Addr: "127.0.0.1:9901", Handler: h}
//
// The read-only endpoints also answer HEAD; /drain never does, so that a
// HEAD cannot start a drain. Other methods get 405 and unknown paths 404.
//
// A /drain request holds its connection for as long as the drain wait
// lasts, so the admin server must not have a WriteTimeout shorter than the
// shutdown delay plus the drain timeout, and it must be shut down
// gracefully, after the drain wait, for the answer to reach the caller.
package admin
