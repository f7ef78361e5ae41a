package proxy

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"
)

// cannedUpstream answers every request with the same response, reading
// requests by hand, so that a benchmark measures the proxy alone.
func cannedUpstream(b *testing.B, body []byte) *Upstream {
	res := fmt.Appendf(nil, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	return rawUpstream(b, func(c net.Conn, br *bufio.Reader) {
		c.SetDeadline(time.Time{}) // a benchmark runs as long as it needs
		for {
			if err := skipHead(br); err != nil {
				return
			}
			if _, err := c.Write(res); err != nil {
				return
			}
		}
	})
}

// skipHead reads up to the end of a head.
func skipHead(br *bufio.Reader) error {
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return err
		}
		if len(line) <= 2 {
			return nil
		}
	}
}

// readCanned reads one response with a Content-Length body, by hand.
func readCanned(br *bufio.Reader) error {
	n := -1
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return err
		}
		if len(line) <= 2 {
			break
		}
		if v, ok := bytes.CutPrefix(line, []byte("Content-Length: ")); ok {
			n, _ = strconv.Atoi(string(bytes.TrimSpace(v)))
		}
	}
	if n < 0 {
		return fmt.Errorf("response without Content-Length")
	}
	_, err := br.Discard(n)
	return err
}

// BenchmarkProxy sends requests through a Server to a canned upstream,
// over loopback, from parallel keep-alive clients: the whole hop, client
// to upstream and back. allocs/op counts the proxy's allocations (the
// client and the upstream allocate nothing per request).
func BenchmarkProxy(b *testing.B) {
	for _, size := range []int{24, 64 << 10} {
		b.Run(fmt.Sprintf("body=%d", size), func(b *testing.B) {
			u := cannedUpstream(b, bytes.Repeat([]byte("a"), size))
			p := startProxyTo(b, u, nil)
			req := []byte("GET / HTTP/1.1\r\nHost: bench\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n")
			b.ReportAllocs()
			b.SetBytes(int64(size))
			b.SetParallelism(32) // 64 clients on two cores, as in bench/peers
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				c, err := net.Dial("tcp", p.addr)
				if err != nil {
					b.Error(err)
					return
				}
				defer c.Close()
				br := bufio.NewReaderSize(c, 64<<10)
				for pb.Next() {
					if _, err := c.Write(req); err != nil {
						b.Error(err)
						return
					}
					if err := readCanned(br); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
