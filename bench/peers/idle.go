package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
)

// idleCost measures what idle keep-alive client connections cost a
// system: it opens n connections, sends one request on each and reads the
// answer, then, with all n open and idle, reads the system's resident
// set. It reports the resident set before and with the connections, in
// KiB.
func (b *bench) idleCost(ctx context.Context, s *system, n int) (before, with int64, err error) {
	before, _ = s.p.memory()
	conns := make([]net.Conn, n)
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	}()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(b.conns)
	var mu sync.Mutex
	for i := range conns {
		g.Go(func() error {
			c, err := (&net.Dialer{}).DialContext(gctx, "tcp", s.h1)
			if err != nil {
				return fmt.Errorf("connection %d: %w", i, err)
			}
			mu.Lock()
			conns[i] = c
			mu.Unlock()
			c.SetDeadline(time.Now().Add(30 * time.Second))
			if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: bench\r\n\r\n"); err != nil {
				return err
			}
			res, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				return fmt.Errorf("connection %d: %w", i, err)
			}
			_, err = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != 200 || res.Close {
				return fmt.Errorf("connection %d: status %d, close %v: want a kept-alive 200", i, res.StatusCode, res.Close)
			}
			c.SetDeadline(time.Time{})
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return before, 0, err
	}
	// Let the system settle (a Go heap grown by the burst of requests is
	// collected within two GC cycles; the minimum heap target is 4 MiB),
	// then read its memory.
	if err := pause(ctx, 2*time.Second); err != nil {
		return before, 0, err
	}
	with, _ = s.p.memory()
	return before, with, nil
}

// pause waits for d, or until ctx ends.
func pause(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
