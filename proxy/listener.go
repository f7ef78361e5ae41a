package proxy

import (
	"net"
	"sync"
	"sync/atomic"
)

// drainListener closes without resetting connections. A connection whose
// handshake the kernel completed but that no Accept took yet sits in the
// listen queue, and closing the socket resets it: the client sees
// "connection reset by peer" for a request sent to an instance that had
// accepted its connection. So Close first takes what is queued, then closes
// the socket, and Accept hands those connections to the server (which
// serves them like any during a drain, with "Connection: close") before it
// reports the listener closed. New connections are refused from then on.
type drainListener struct {
	net.Listener
	closing atomic.Bool
	once    sync.Once
	err     error         // the socket's Close error
	closed  chan struct{} // closed once Close has taken the queue and closed the socket

	mu     sync.Mutex
	queued []net.Conn // taken from the listen queue by Close, not yet accepted
}

func newDrainListener(ln net.Listener) *drainListener {
	return &drainListener{Listener: ln, closed: make(chan struct{})}
}

// Accept returns the next connection. Once the listener is closed it
// returns the connections Close took from the queue, then net.ErrClosed.
func (l *drainListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil || !l.closing.Load() {
		return c, err
	}
	<-l.closed
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.queued) > 0 {
		c, l.queued = l.queued[0], l.queued[1:]
		return c, nil
	}
	return nil, &net.OpError{Op: "accept", Net: l.Addr().Network(), Addr: l.Addr(), Err: net.ErrClosed}
}

// Close takes the connections queued in the kernel, then closes the
// socket. It is safe to call more than once.
func (l *drainListener) Close() error {
	l.once.Do(func() {
		l.closing.Store(true)
		queued := takeQueued(l.Listener)
		l.mu.Lock()
		l.queued = queued
		l.mu.Unlock()
		l.err = l.Listener.Close()
		close(l.closed)
	})
	<-l.closed
	return l.err
}

// closeQueued closes the connections Close took from the queue that no
// Accept took after, as when the server stopped accepting early.
func (l *drainListener) closeQueued() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range l.queued {
		c.Close()
	}
	l.queued = nil
}
