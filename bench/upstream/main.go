// Command upstream is the app behind every proxy in the benchmarks: a
// small Go HTTP/1.1 server with a fixed short body at / and a 64 KiB body
// at /64k, so that the proxies, not the app, are what is measured.
package main

import (
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"
)

func main() {
	addr := flag.String("listen", "127.0.0.1:0", "address to listen on")
	flag.Parse()
	short := []byte("hello from the upstream\n")
	large := make([]byte, 64<<10)
	for i := range large {
		large[i] = 'a' + byte(i%26)
	}
	serve := func(body []byte) http.HandlerFunc {
		n := strconv.Itoa(len(body))
		return func(w http.ResponseWriter, r *http.Request) {
			h := w.Header()
			h["Content-Type"] = []string{"text/plain"}
			h["Content-Length"] = []string{n}
			w.Write(body)
		}
	}
	mux := http.NewServeMux()
	mux.Handle("/", serve(short))
	mux.Handle("/64k", serve(large))
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "upstream: %v\n", err)
		os.Exit(1)
	}
	fmt.Println(ln.Addr())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 5 * time.Minute}
	fmt.Fprintln(os.Stderr, srv.Serve(ln))
	os.Exit(1)
}
