// Command peers measures lameduck side by side with the proxies users
// would otherwise put in front of an app (nginx, HAProxy, Caddy) and with
// the app alone, in one run on one machine: throughput and latency under
// wrk (HTTP/1.1) and h2load (HTTP/2 over TLS), CPU per request, memory at
// idle, under load and per idle keep-alive connection, and lameduck's
// drain speed. Runs are interleaved and repeated; the report gives
// medians with min–max and ratios from the same run. See
// docs/benchmarks.md.
//
//	bench/run                   # installs the tools with apt, then runs this
//	go run ./bench/peers -h     # its flags
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	var o options
	flag.IntVar(&o.rounds, "rounds", 5, "interleaved rounds of every load run")
	flag.DurationVar(&o.duration, "duration", 5*time.Second, "length of each load run")
	flag.IntVar(&o.conns, "conns", 64, "concurrent connections (wrk) or streams (h2load)")
	flag.IntVar(&o.idle, "idle", 8000, "idle keep-alive connections held to measure their memory")
	flag.IntVar(&o.drains, "drains", 100, "drains measured for lameduck's drain speed")
	flag.StringVar(&o.only, "only", "", "comma-separated proxies to measure (default all: lameduck,nginx,haproxy,caddy)")
	flag.StringVar(&o.doc, "doc", "docs/benchmarks.md", "file whose peers section gets the report (\"\" to only print it)")
	flag.StringVar(&o.plot, "plot", "docs/benchmarks.png", "PNG plot of req/s and p99 per system (\"\" for none)")
	flag.BoolVar(&o.keep, "keep", false, "keep the work directory (configurations and logs)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, o)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "peers: %v\n", err)
		os.Exit(1)
	}
}
