package proxy

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultIdleConnTimeout is how long an idle upstream connection is kept.
// It is below Node's default keepAliveTimeout of 5 s, so lameduck never
// reuses a connection the app is closing at that moment.
const DefaultIdleConnTimeout = 4 * time.Second

// DefaultMaxIdleConns is how many idle upstream connections are kept by
// default: enough for hundreds of concurrent requests, where Go's default
// transport keeps 2 and dials anew for most requests under load.
const DefaultMaxIdleConns = 1024

// Upstream is where requests go: an HTTP address or a Unix socket, with a
// pool of keep-alive connections sized for a proxy that carries all of an
// app's traffic.
//
// Set the exported fields before serving starts; the zero value of each
// means its documented default.
type Upstream struct {
	// HeaderTimeout limits the wait for a response head, counted from the
	// end of the request. Zero means no limit.
	HeaderTimeout time.Duration

	// IdleConnTimeout is how long an idle connection is kept. Zero means
	// DefaultIdleConnTimeout.
	IdleConnTimeout time.Duration

	// MaxIdleConns is how many idle connections are kept. Zero means
	// DefaultMaxIdleConns.
	MaxIdleConns int

	url    *url.URL // scheme and host for requests
	prefix string   // the upstream's own path, escaped, without a final "/"
	query  string   // the upstream's own query
	socket string   // Unix socket path, or ""
	dialer net.Dialer
	pool   pool

	// dialHook, when set by a test, wraps each new connection.
	dialHook func(net.Conn) net.Conn
	// rootCAs, when set by a test, replaces the system's roots for an
	// https upstream.
	rootCAs *x509.CertPool

	readyOnce sync.Once
	readyCh   chan struct{}
	ready     atomic.Bool
}

// NewUpstream parses target, "http://host:port" or "unix:/path.sock".
func NewUpstream(target string) (*Upstream, error) {
	u := &Upstream{readyCh: make(chan struct{})}
	if path, ok := strings.CutPrefix(target, "unix:"); ok {
		if path == "" {
			return nil, fmt.Errorf("upstream %q: empty socket path", target)
		}
		u.socket = path
		u.url = &url.URL{Scheme: "http", Host: "localhost"}
	} else {
		pu, err := url.Parse(target)
		if err != nil {
			return nil, fmt.Errorf("upstream %q: %w", target, err)
		}
		if pu.Scheme != "http" && pu.Scheme != "https" || pu.Host == "" {
			return nil, fmt.Errorf("upstream %q: want http://host:port or unix:/path", target)
		}
		u.url = &url.URL{Scheme: pu.Scheme, Host: pu.Host}
		u.prefix = strings.TrimSuffix(pu.EscapedPath(), "/")
		u.query = pu.RawQuery
	}
	u.dialer = net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	return u, nil
}

// String returns the upstream as the user wrote it.
func (u *Upstream) String() string {
	if u.socket != "" {
		return "unix:" + u.socket
	}
	return u.url.String()
}

// dialUpstream opens a connection to the upstream's socket.
func (u *Upstream) dialUpstream(ctx context.Context) (net.Conn, error) {
	var c net.Conn
	var err error
	if u.socket != "" {
		c, err = u.dialer.DialContext(ctx, "unix", u.socket)
	} else {
		host := u.url.Host
		if u.url.Port() == "" {
			host = net.JoinHostPort(u.url.Hostname(), map[string]string{"http": "80", "https": "443"}[u.url.Scheme])
		}
		c, err = u.dialer.DialContext(ctx, "tcp", host)
	}
	if err == nil && u.dialHook != nil {
		c = u.dialHook(c)
	}
	return c, err
}

// Ready reports whether the upstream has accepted a connection since start.
func (u *Upstream) Ready() bool { return u.ready.Load() }

// MarkReady records that the upstream accepts connections.
func (u *Upstream) MarkReady() {
	u.readyOnce.Do(func() {
		u.ready.Store(true)
		close(u.readyCh)
	})
}

// Probe dials the upstream until it accepts a connection, then marks it
// ready and returns nil. It returns ctx's error if ctx ends first. Probing
// happens only at start-up; once ready, the upstream is not probed again.
func (u *Upstream) Probe(ctx context.Context, logger *slog.Logger) error {
	start := time.Now()
	wait := 5 * time.Millisecond
	var lastErr error
	for attempt := 1; ; attempt++ {
		dctx, cancel := context.WithTimeout(ctx, time.Second)
		c, err := u.dialUpstream(dctx)
		cancel()
		if err == nil {
			c.Close()
			u.MarkReady()
			if logger != nil {
				logger.Info("upstream ready", "upstream", u.String(), "after", time.Since(start).Round(time.Millisecond))
			}
			return nil
		}
		lastErr = err
		if attempt == 1 && logger != nil {
			logger.Info("waiting for upstream", "upstream", u.String())
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("upstream %s not accepting: %w", u, errors.Join(context.Cause(ctx), lastErr))
		case <-t.C:
		}
		wait = min(wait*2, 100*time.Millisecond)
	}
}

// await blocks until the upstream is ready, ctx is done, or limit passes.
func (u *Upstream) await(ctx context.Context, limit time.Duration) bool {
	if u.ready.Load() {
		return true
	}
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case <-u.readyCh:
		return true
	case <-ctx.Done():
	case <-t.C:
	}
	return false
}

// CloseIdle closes idle pooled connections to the upstream. A Node app's
// server.close() waits for pooled connections, so this runs before the app
// is asked to stop.
func (u *Upstream) CloseIdle() { u.pool.closeIdle() }
