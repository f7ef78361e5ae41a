package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"net"
	"sync"
	"syscall"
	"time"
)

// Sizes of the buffers of an upstream connection. They are taken from a
// pool while the connection carries an exchange and given back while it
// sits idle, so that a large idle pool costs only its sockets.
const (
	readBufSize  = 32 << 10
	writeBufSize = 8 << 10
)

var (
	readers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, readBufSize) }}
	writers = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, writeBufSize) }}
)

// An upConn is one connection to the upstream: idle in the pool, or
// carrying one exchange at a time, written and read by the goroutine of
// the request it carries. Nothing reads it in the background: whether the
// upstream closed it while idle is checked when it is taken (see alive).
type upConn struct {
	c  net.Conn
	rc syscall.RawConn // for alive; nil when c is not a plain socket

	br *bufio.Reader // while carrying an exchange
	bw *bufio.Writer

	written int64     // bytes written to c, ever
	idleAt  time.Time // when it was put in the pool
	reused  bool      // it carried an exchange before this one

	abortFn  func()                // c.abort, bound once
	peekFn   func(fd uintptr) bool // c.peek, bound once
	peekDead bool                  // what the last peek found
	peekBuf  [1]byte
}

func newUpConn(c net.Conn) *upConn {
	uc := &upConn{c: c}
	raw := c
	if tc, ok := c.(*tls.Conn); ok {
		raw = tc.NetConn() // anything arriving unasked, a close_notify too, ends it
	}
	if sc, ok := raw.(syscall.Conn); ok {
		uc.rc, _ = sc.SyscallConn()
	}
	uc.abortFn, uc.peekFn = uc.abort, uc.peek
	return uc
}

// Write counts what reaches the socket, so that a failed exchange knows
// whether any byte of it left (see Handler.forward).
func (uc *upConn) Write(p []byte) (int, error) {
	n, err := uc.c.Write(p)
	uc.written += int64(n)
	return n, err
}

// Read reads from the socket.
func (uc *upConn) Read(p []byte) (int, error) { return uc.c.Read(p) }

// take attaches pooled buffers for an exchange.
func (uc *upConn) take() {
	uc.br = readers.Get().(*bufio.Reader)
	uc.br.Reset(uc)
	uc.bw = writers.Get().(*bufio.Writer)
	uc.bw.Reset(uc)
}

// release gives the buffers back.
func (uc *upConn) release() {
	if uc.br != nil {
		uc.br.Reset(nil)
		readers.Put(uc.br)
		uc.br = nil
	}
	if uc.bw != nil {
		uc.bw.Reset(nil)
		writers.Put(uc.bw)
		uc.bw = nil
	}
}

// abort wakes every read and write blocked on the connection, for good.
func (uc *upConn) abort() { uc.c.SetDeadline(aLongTimeAgo) }

// close closes the socket and gives the buffers back.
func (uc *upConn) close() {
	uc.c.Close()
	uc.release()
}

// alive reports whether an idle connection can carry a request: the
// upstream has neither closed it nor sent anything unasked. It costs one
// non-blocking peek at the socket (under TLS too: an idle TLS connection
// receives nothing but a close). A connection it cannot look into is taken
// as alive; the retry rules cover it.
func (uc *upConn) alive() bool {
	if uc.rc == nil {
		return true
	}
	if tc, ok := uc.c.(*tls.Conn); ok && !tlsIdle(tc) {
		return false
	}
	uc.peekDead = false
	if err := uc.rc.Read(uc.peekFn); err != nil {
		return false
	}
	return !uc.peekDead
}

func (uc *upConn) peek(fd uintptr) bool {
	// EAGAIN: nothing to read, the connection is open. Anything else,
	// end of stream, bytes nobody asked for or an error, ends it.
	_, err := peekSocket(fd, &uc.peekBuf)
	uc.peekDead = err != syscall.EAGAIN
	return true
}

// tlsIdle reports whether nothing waits inside the TLS connection: no
// decrypted byte that a response left behind (the socket peek cannot see
// those). A read with a deadline already past returns one at once if there
// is one, else a timeout, which crypto/tls does not hold against the
// connection.
func tlsIdle(tc *tls.Conn) bool {
	tc.SetReadDeadline(aLongTimeAgo)
	var b [1]byte
	n, err := tc.Read(b[:])
	tc.SetReadDeadline(time.Time{})
	var ne net.Error
	return n == 0 && errors.As(err, &ne) && ne.Timeout()
}

// A pool keeps idle upstream connections, most recently used on top, and
// closes those idle for longer than its timeout.
type pool struct {
	mu    sync.Mutex
	idle  []*upConn // oldest first
	timer *time.Timer
}

// get returns the most recently used idle connection that is still alive,
// or nil. Connections idle for timeout or longer are closed: the upstream
// may be closing them at that moment.
func (p *pool) get(timeout time.Duration) *upConn {
	for {
		p.mu.Lock()
		n := len(p.idle)
		if n == 0 {
			p.mu.Unlock()
			return nil
		}
		uc := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		if time.Since(uc.idleAt) < timeout && uc.alive() {
			uc.reused = true
			uc.take()
			return uc
		}
		uc.c.Close()
	}
}

// put makes uc idle, or closes it when max connections are idle already.
func (p *pool) put(uc *upConn, max int, timeout time.Duration) {
	uc.release()
	uc.idleAt = time.Now()
	p.mu.Lock()
	if len(p.idle) >= max {
		p.mu.Unlock()
		uc.c.Close()
		return
	}
	p.idle = append(p.idle, uc)
	if p.timer == nil {
		p.timer = time.AfterFunc(timeout, func() { p.sweep(timeout) })
	}
	p.mu.Unlock()
}

// sweep closes the connections idle for timeout or longer, and runs again
// when the oldest of the others reaches it.
func (p *pool) sweep(timeout time.Duration) {
	now := time.Now()
	p.mu.Lock()
	k := 0
	for k < len(p.idle) && now.Sub(p.idle[k].idleAt) >= timeout {
		k++
	}
	expired := append([]*upConn(nil), p.idle[:k]...)
	p.idle = append(p.idle[:0], p.idle[k:]...)
	clear(p.idle[len(p.idle):cap(p.idle)])
	switch {
	case len(p.idle) > 0 && p.timer != nil:
		p.timer.Reset(timeout - now.Sub(p.idle[0].idleAt))
	case len(p.idle) > 0:
		p.timer = time.AfterFunc(timeout-now.Sub(p.idle[0].idleAt), func() { p.sweep(timeout) })
	default:
		p.timer = nil
	}
	p.mu.Unlock()
	for _, uc := range expired {
		uc.c.Close()
	}
}

// closeIdle closes every idle connection.
func (p *pool) closeIdle() {
	p.mu.Lock()
	idle := p.idle
	p.idle = nil
	if p.timer != nil {
		p.timer.Stop()
		p.timer = nil
	}
	p.mu.Unlock()
	for _, uc := range idle {
		uc.c.Close()
	}
}

// conn returns a connection for an exchange: an idle one unless fresh is
// set, else a new one.
func (u *Upstream) conn(ctx context.Context, fresh bool) (*upConn, error) {
	if !fresh {
		if uc := u.pool.get(u.idleTimeout()); uc != nil {
			return uc, nil
		}
	}
	c, err := u.dialConn(ctx)
	if err != nil {
		return nil, err
	}
	uc := newUpConn(c)
	uc.take()
	return uc, nil
}

// dialConn opens a connection to the upstream, with TLS when the upstream
// is https.
func (u *Upstream) dialConn(ctx context.Context) (net.Conn, error) {
	c, err := u.dialUpstream(ctx)
	if err != nil || u.url.Scheme != "https" {
		return c, err
	}
	cfg := &tls.Config{ServerName: u.url.Hostname(), NextProtos: []string{"http/1.1"}, RootCAs: u.rootCAs}
	tc := tls.Client(c, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return tc, nil
}

// idle puts uc back in the pool after a complete exchange.
func (u *Upstream) idle(uc *upConn) { u.pool.put(uc, u.maxIdle(), u.idleTimeout()) }

func (u *Upstream) idleTimeout() time.Duration {
	if u.IdleConnTimeout > 0 {
		return u.IdleConnTimeout
	}
	return DefaultIdleConnTimeout
}

func (u *Upstream) maxIdle() int {
	if u.MaxIdleConns > 0 {
		return u.MaxIdleConns
	}
	return DefaultMaxIdleConns
}
