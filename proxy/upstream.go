package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
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

// Upstream is where requests go: an HTTP address or a Unix socket, with a
// connection pool tuned for a proxy that carries all of an app's traffic.
type Upstream struct {
	url    *url.URL // scheme and host for requests
	socket string   // Unix socket path, or ""
	dialer net.Dialer
	// Transport carries the forwarded requests. Its fields may be adjusted
	// before serving starts.
	Transport *http.Transport

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
		u.url = &url.URL{Scheme: pu.Scheme, Host: pu.Host, Path: pu.Path, RawPath: pu.RawPath}
	}
	u.dialer = net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	u.Transport = &http.Transport{
		Proxy:                 nil, // never route the app's traffic through $HTTP_PROXY
		DialContext:           u.dial,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   1024,
		IdleConnTimeout:       DefaultIdleConnTimeout,
		DisableCompression:    true, // pass the app's encoding through untouched
		ExpectContinueTimeout: time.Second,
		WriteBufferSize:       32 << 10,
		ReadBufferSize:        32 << 10,
	}
	return u, nil
}

// String returns the upstream as the user wrote it.
func (u *Upstream) String() string {
	if u.socket != "" {
		return "unix:" + u.socket
	}
	return u.url.String()
}

func (u *Upstream) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	if u.socket != "" {
		return u.dialer.DialContext(ctx, "unix", u.socket)
	}
	return u.dialer.DialContext(ctx, network, addr)
}

// dialUpstream opens a connection to the upstream, for tunnels.
func (u *Upstream) dialUpstream(ctx context.Context) (net.Conn, error) {
	host := u.url.Host
	if u.url.Port() == "" {
		host = net.JoinHostPort(u.url.Hostname(), map[string]string{"http": "80", "https": "443"}[u.url.Scheme])
	}
	return u.dial(ctx, "tcp", host)
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
func (u *Upstream) CloseIdle() { u.Transport.CloseIdleConnections() }
