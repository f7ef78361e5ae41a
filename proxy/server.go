package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults for the client-facing server.
const (
	// DefaultIdleTimeout outlasts the idle timeouts of platform edges
	// (60 to 90 s), so that the edge, not lameduck, closes an idle
	// keep-alive connection and no request races the close.
	DefaultIdleTimeout = 120 * time.Second
	// DefaultReadHeaderTimeout bounds how long a client may take to send
	// its request headers.
	DefaultReadHeaderTimeout = 10 * time.Second
)

// Server accepts client connections on one or more listeners, serves them
// with HTTP/1.1 and HTTP/2, and drains them: its Count, Close and Cut
// methods are what drain.Sequence drives.
//
// Draining does not use http.Server.Shutdown, which closes idle keep-alive
// connections at once (racing a client's next request into a reset) and
// polls for idleness. Instead Close closes the listeners and leaves idle
// HTTP/1.1 connections open: a request arriving on one is answered with
// "Connection: close". HTTP/2 connections get GOAWAY. Idle connections are
// closed by Cut, once nothing is in flight, and connections still writing
// their last response finish it (see Cut and Finish).
type Server struct {
	// Handler forwards and tracks requests. Required.
	Handler *Handler

	// IdleTimeout limits how long a client keep-alive connection may sit
	// idle. Zero means DefaultIdleTimeout.
	IdleTimeout time.Duration

	// ReadHeaderTimeout limits how long a client may take to send request
	// headers. Zero means DefaultReadHeaderTimeout.
	ReadHeaderTimeout time.Duration

	// MaxHeaderBytes limits the size of a request head, request line
	// included; a larger one is answered 431 and its connection closed.
	// Zero means DefaultMaxHeaderBytes.
	MaxHeaderBytes int

	// H2C accepts HTTP/2 without TLS (prior knowledge), for platforms whose
	// edge speaks cleartext HTTP/2 to the app.
	H2C bool

	// Logger receives server errors. Nil means slog.Default().
	Logger *slog.Logger

	once sync.Once
	// goaway is never served: it holds the HTTP/2 implementation that the
	// real servers use, and that implementation's shutdown hook, so that
	// GOAWAY can be sent without shutting down the real servers.
	goaway *http.Server

	mu        sync.Mutex
	closed    bool
	cut       bool
	servers   []*http.Server
	listeners []net.Listener
	drains    []*drainListener

	// finishing runs the graceful shutdowns Cut starts when nothing is in
	// flight; stopFinishing ends them early.
	finishing     sync.WaitGroup
	stopFinishing context.CancelFunc

	// The connections of lameduck's own HTTP/1.1 loop (see h1conn.go).
	h1mu    sync.Mutex
	h1conns map[*h1conn]struct{}
	h1cut   atomic.Bool // the drain has ended: no connection carries another request
	h1wg    sync.WaitGroup
}

func (s *Server) init() {
	s.once.Do(func() {
		s.Handler.init()
		s.goaway = &http.Server{Protocols: new(http.Protocols)}
		s.goaway.Protocols.SetHTTP1(true)
		s.goaway.Protocols.SetHTTP2(true)
		s.goaway.Protocols.SetUnencryptedHTTP2(true)
		// ServeTLS sets HTTP/2 up on goaway (its TLSNextProto, and the
		// GOAWAY hook run by goaway.Shutdown) before it fails to load a
		// certificate, so it never serves. TestDrainHTTP2 checks that
		// Close still sends GOAWAY.
		_ = s.goaway.ServeTLS(nil, "", "")
	})
}

func (s *Server) idleTimeout() time.Duration {
	if s.IdleTimeout > 0 {
		return s.IdleTimeout
	}
	return DefaultIdleTimeout
}

func (s *Server) readHeaderTimeout() time.Duration {
	if s.ReadHeaderTimeout > 0 {
		return s.ReadHeaderTimeout
	}
	return DefaultReadHeaderTimeout
}

func (s *Server) maxHeaderBytes() int {
	if s.MaxHeaderBytes > 0 {
		return s.MaxHeaderBytes
	}
	return DefaultMaxHeaderBytes
}

func (s *Server) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

// Serve accepts connections on ln until Close or Cut and serves them with
// h, or with s.Handler when h is nil. Requests to h are tracked and
// drained like the proxy's. With tlsConfig set it terminates TLS and
// offers HTTP/2 and HTTP/1.1 after the protocols tlsConfig lists (such as
// "acme-tls/1"), with net/http; so it does for h2c. Plain HTTP/1.1 is
// served by lameduck's own loop (h1conn.go). Serve returns nil once the
// Server is closed.
func (s *Server) Serve(ln net.Listener, h http.Handler, tlsConfig *tls.Config) error {
	s.init()
	if h == nil {
		h = s.Handler
	} else {
		h = s.Handler.beside(h)
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: s.ReadHeaderTimeout,
		IdleTimeout:       s.idleTimeout(),
		MaxHeaderBytes:    s.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.logger().Handler(), slog.LevelWarn),
		TLSNextProto:      s.goaway.TLSNextProto,
		Protocols:         new(http.Protocols),
	}
	if srv.ReadHeaderTimeout == 0 {
		srv.ReadHeaderTimeout = DefaultReadHeaderTimeout
	}
	if srv.MaxHeaderBytes == 0 {
		srv.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	srv.Protocols.SetHTTP1(true)
	srv.Protocols.SetUnencryptedHTTP2(s.H2C)
	dl := newDrainListener(ln)
	ln = dl
	own := tlsConfig == nil && !s.H2C // lameduck's HTTP/1.1 loop, else net/http
	if tlsConfig != nil {
		srv.Protocols.SetHTTP2(true)
		cfg := tlsConfig.Clone()
		for _, p := range []string{"h2", "http/1.1"} {
			if !slices.Contains(cfg.NextProtos, p) {
				cfg.NextProtos = append(cfg.NextProtos, p)
			}
		}
		srv.TLSConfig = cfg
		ln = tls.NewListener(ln, cfg)
	}

	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ln.Close()
		return nil
	}
	if !own {
		s.servers = append(s.servers, srv)
	}
	s.listeners = append(s.listeners, ln)
	s.drains = append(s.drains, dl)
	s.mu.Unlock()

	var err error
	if own {
		err = s.serveH1(ln, h)
	} else {
		err = srv.Serve(ln)
	}
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return nil
	}
	return err
}

// Count reports the requests and upgraded connections in flight and the
// requests accepted since start.
func (s *Server) Count() (requests, upgrades int, accepted uint64) {
	s.init()
	requests, upgrades = s.Handler.track.count()
	return requests, upgrades, s.Handler.track.accepted.Load()
}

// Close stops accepting connections and asks the open ones to finish: every
// later HTTP/1.1 response carries "Connection: close", HTTP/2 connections
// get GOAWAY, and WebSockets get a close frame. It returns a channel closed
// once nothing is in flight.
func (s *Server) Close() <-chan struct{} {
	s.init()
	idle := s.Handler.track.close()
	s.mu.Lock()
	s.closed = true
	for _, ln := range s.listeners {
		if err := ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			s.logger().Warn("close listener", "addr", ln.Addr().String(), "err", err)
		}
	}
	s.mu.Unlock()
	// The HTTP/2 shutdown hook runs once per Shutdown call; goaway has no
	// listener or connection, so Shutdown returns at once.
	_ = s.goaway.Shutdown(context.Background())
	return idle
}

// Cut ends the drain. It reports what was still in flight, describing up to
// limit of the oldest items, and closes the idle connections to the
// upstream.
//
// With work still in flight, Cut closes every connection at once: that work
// is cut. With nothing in flight, the last responses may still be on their
// way out (a handler has returned, but net/http writes the end of its
// response afterwards), so Cut closes only idle connections and lets the
// others finish writing and close: Finish waits for them. Either way the
// upstream has answered everything, so the app can be stopped as soon as Cut
// returns.
func (s *Server) Cut(limit int) (requests, upgrades int, held []string) {
	s.init()
	requests, upgrades, held = s.Handler.track.cut(limit)
	s.Handler.Upstream.CloseIdle()
	s.Handler.cutConn.Add(uint64(requests + upgrades))
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	for _, ln := range s.listeners {
		ln.Close() // if Close did not: the loop's Serve returns with it
	}
	if s.cut || requests+upgrades > 0 {
		for _, srv := range s.servers {
			srv.Close()
		}
		s.closeH1(true)
		s.cut = true
		return requests, upgrades, held
	}
	s.cut = true
	ctx, cancel := context.WithCancel(context.Background())
	s.stopFinishing = cancel
	for _, srv := range s.servers {
		// Shutdown closes idle connections and waits for busy ones
		// to go idle; its listeners are already closed.
		s.finishing.Go(func() { srv.Shutdown(ctx) })
	}
	s.closeH1(false)
	s.finishing.Go(func() { s.waitH1(ctx) })
	return requests, upgrades, held
}

// Finish waits, until ctx is done, for the responses that were still being
// written when the drain ended, then closes every connection left and waits
// for the handlers to return. It returns context.Cause(ctx) when it had to
// close connections that were still busy, or handlers had not returned.
func (s *Server) Finish(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	servers := slices.Clone(s.servers)
	stop := s.stopFinishing
	s.mu.Unlock()
	done := make(chan struct{})
	go func() {
		s.finishing.Wait()
		close(done)
	}()
	err := waitOr(ctx, done)
	if err != nil && stop != nil {
		stop()
	}
	<-done
	for _, srv := range servers {
		srv.Close()
	}
	s.closeH1(true)
	s.mu.Lock()
	for _, dl := range s.drains {
		dl.closeQueued()
	}
	s.mu.Unlock()
	// Handlers, tunnels included, return once their connections are
	// closed: wait for them, so that nothing of the server outlives it.
	if zerr := waitOr(ctx, s.Handler.track.zero()); err == nil {
		err = zerr
	}
	s.h1wg.Wait() // every connection is closed: its goroutine is ending
	// Exchanges that ended after Cut may have pooled their connections.
	s.Handler.Upstream.CloseIdle()
	return err
}

// waitOr waits for done, or for ctx. It reports context.Cause(ctx) only
// when done was not reached: a context that ended already does not hide a
// done channel that is ready too.
func waitOr(ctx context.Context, done <-chan struct{}) error {
	select {
	case <-done:
		return nil
	default:
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// ConnectionsCut reports how many requests and upgraded connections were
// cut at the end of a drain.
func (s *Server) ConnectionsCut() uint64 { return s.Handler.cutConn.Load() }
