// Command upstream is the app behind every proxy in the benchmarks: a
// small Go HTTP/1.1 server with a fixed short body at / and a 64 KiB body
// at /64k, so that the proxies, not the app, are what is measured.
//
// It listens on -listen, or on 127.0.0.1:$PORT when run by lameduck, and
// prints its address on the first line of stdout. With -drain it also
// serves /slow?ms=N (answers after N ms) and, on SIGTERM, prints
// "drain-gap-ns N", the time from the end of its last /slow response to
// the signal, then exits 0: that is how bench/peers measures how soon
// lameduck stops the app after the last response of a drain.
package main

import (
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	addr := flag.String("listen", "", "address to listen on (default 127.0.0.1:$PORT, else a free port)")
	drain := flag.Bool("drain", false, "serve /slow and report the drain gap on SIGTERM")
	flag.Parse()
	if *addr == "" {
		*addr = "127.0.0.1:" + os.Getenv("PORT")
		if os.Getenv("PORT") == "" {
			*addr = "127.0.0.1:0"
		}
	}
	short := []byte("hello from the upstream\n")
	large := make([]byte, 64<<10)
	for i := range large {
		large[i] = 'a' + byte(i%26)
	}
	start := time.Now()
	var lastSlow atomic.Int64 // when the last /slow response was written, since start
	mux := http.NewServeMux()
	mux.Handle("/", fixed(short))
	mux.Handle("/64k", fixed(large))
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		ms, _ := strconv.Atoi(r.URL.Query().Get("ms"))
		fmt.Println("slow started")
		t := time.NewTimer(time.Duration(ms) * time.Millisecond)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return
		}
		w.Header()["Content-Length"] = []string{"3"}
		w.Write([]byte("ok\n"))
		w.(http.Flusher).Flush()
		lastSlow.Store(int64(time.Since(start)))
	})
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "upstream: %v\n", err)
		os.Exit(1)
	}
	if *drain {
		sigs := make(chan os.Signal, 1)
		signal.Notify(sigs, syscall.SIGTERM)
		go func() {
			<-sigs
			gap := int64(time.Since(start)) - lastSlow.Load()
			fmt.Printf("drain-gap-ns %d\n", gap)
			os.Exit(0)
		}()
	}
	fmt.Println(ln.Addr())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 5 * time.Minute}
	fmt.Fprintf(os.Stderr, "upstream: %v\n", srv.Serve(ln))
	os.Exit(1)
}

// fixed answers every request with body.
func fixed(body []byte) http.HandlerFunc {
	n := []string{strconv.Itoa(len(body))}
	ct := []string{"text/plain"}
	return func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h["Content-Type"] = ct
		h["Content-Length"] = n
		w.Write(body)
	}
}
