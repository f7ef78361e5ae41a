package proxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// lameduck serves plain HTTP/1.1 with a loop of its own rather than
// net/http's, for two reasons that net/http cannot meet (docs/benchmarks.md
// has the figures): an idle keep-alive connection holds no buffer, only
// its socket and a parked goroutine, so thousands of them cost little; and
// a request costs a few allocations, with the response head and body going
// out in one write. TLS, HTTP/2 and h2c stay with net/http.

// readBufSizeClient is the read buffer of a client connection, taken from
// a pool while a request is read and served. Larger request heads are
// copied aside, up to the head limit.
const readBufSizeClient = 4 << 10

var clientReaders = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, readBufSizeClient) }}

// watchDelay is how long a request waits for its response before the loop
// starts watching for the client leaving, so that a request that ends
// sooner costs no watch at all.
const watchDelay = 5 * time.Millisecond

// lingerMax is how long a connection closed with part of a request body
// unread goes on reading (and dropping) what the client still sends after
// lameduck's end of it closed: a close with unread data sends a reset,
// which could make the client lose the response it has not read yet.
// net/http waits as long.
const lingerMax = 500 * time.Millisecond

// discardMax is how much of a request body the handler left unread is read
// and thrown away so that the connection can carry another request, as
// net/http does.
const discardMax = 256 << 10

// States of an h1conn.
const (
	stateIdle   = iota // waiting for a request
	stateActive        // reading or serving one
	stateClosed        // closed by the server
	stateHijacked
)

// An h1conn is one client connection of the HTTP/1.1 loop. Its goroutine,
// serve, reads each request and writes each response; between requests it
// waits for the client without holding a buffer.
type h1conn struct {
	s       *Server
	handler http.Handler
	c       net.Conn
	rc      syscall.RawConn // nil when c is not a socket
	state   atomic.Int32

	ctx    context.Context
	cancel context.CancelCauseFunc

	br      *bufio.Reader // while a request is read or served
	out     outBuf
	req     *http.Request // reused from request to request
	reqTmpl http.Request  // what req starts as: the connection's context and address
	reqHdr  http.Header   // req's header map, reused
	hasBody bool          // the request has a body, whatever the handler does to req
	url     url.URL       // the request's URL, when its target needed no parsing
	resHdr  http.Header
	res     response
	body    bodyReader

	peekBuf    [1]byte
	peekFn     func(fd uintptr) bool
	peekErr    error
	peekWaited bool
	reset      bool // end with a reset: a response was cut short

	handlerDeadline   atomic.Bool  // the handler set a read deadline of its own
	handlerDeadlineAt atomic.Int64 // which one, in Unix nanoseconds (0: none)
	linger            bool         // close gently: a request body was left unread

	watchMu     sync.Mutex
	watchTimer  *time.Timer
	watchArmed  bool // the current request may start a watch
	watchActive bool // a watch is waiting on the connection
	watching    sync.WaitGroup
}

// testHookIdle, when set by a test, runs on a connection's goroutine as
// it begins to wait for the next request.
var testHookIdle func(*h1conn)

// serveH1 accepts connections on ln and serves each with lameduck's own
// HTTP/1.1 loop, until ln is closed.
func (s *Server) serveH1(ln net.Listener, h http.Handler) error {
	var delay time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) || errors.Is(err, syscall.ECONNABORTED) {
				// Out of file descriptors, or a connection gone before it
				// was accepted: wait a little, as net/http does.
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				s.logger().Warn("accept", "err", err, "retry_in", delay)
				t := time.NewTimer(delay)
				<-t.C
				continue
			}
			return err
		}
		delay = 0
		hc := s.newH1Conn(c, h)
		if hc == nil {
			c.Close() // the server is cut
			continue
		}
		go func() {
			defer s.h1wg.Done()
			hc.serve()
		}()
	}
}

// newH1Conn registers a new connection, or returns nil once the server is
// cut.
func (s *Server) newH1Conn(c net.Conn, h http.Handler) *h1conn {
	hc := &h1conn{s: s, handler: h, c: c, resHdr: make(http.Header)}
	if sc, ok := c.(syscall.Conn); ok {
		hc.rc, _ = sc.SyscallConn()
	}
	hc.peekFn = hc.peek
	hc.out.c = c
	hc.ctx, hc.cancel = context.WithCancelCause(context.Background())
	hc.reqTmpl = *(&http.Request{RemoteAddr: c.RemoteAddr().String()}).WithContext(hc.ctx)
	hc.req, hc.reqHdr = new(http.Request), make(http.Header)
	s.h1mu.Lock()
	defer s.h1mu.Unlock()
	if s.h1cut.Load() {
		hc.cancel(errServerCut)
		return nil
	}
	s.h1wg.Add(1) // under h1mu, so that no Add follows the Wait of a cut
	if s.h1conns == nil {
		s.h1conns = make(map[*h1conn]struct{})
	}
	s.h1conns[hc] = struct{}{}
	return hc
}

var (
	errServerCut  = errors.New("connection closed by the drain")
	errClientGone = errors.New("client closed the connection")
)

// serve reads and serves requests until the connection ends.
func (hc *h1conn) serve() {
	defer hc.end()
	s := hc.s
	wait := s.readHeaderTimeout() // the first request comes at once
	for {
		if !hc.awaitRequest(wait) {
			return
		}
		wait = s.idleTimeout()
		if hc.br == nil {
			hc.br = clientReaders.Get().(*bufio.Reader)
			hc.br.Reset(hc.c)
		}
		// The first bytes, under the wait's deadline still.
		if _, err := hc.br.Peek(1); err != nil || !hc.state.CompareAndSwap(stateIdle, stateActive) {
			return
		}
		hc.out.take()
		hc.c.SetReadDeadline(time.Now().Add(s.readHeaderTimeout()))
		if err := hc.readRequest(); err != nil {
			hc.refuse(err)
			return
		}
		if s.shuttingDown() {
			// The drain ended while this request was on its way: nothing
			// serves it any more. It ends as an idle connection does.
			return
		}
		hc.c.SetReadDeadline(time.Time{})
		if !hc.serveRequest() {
			return
		}
		if hc.br.Buffered() == 0 {
			// Nothing pipelined: wait for the next request with no buffer.
			hc.br.Reset(nil)
			clientReaders.Put(hc.br)
			hc.br = nil
			hc.out.release()
		}
		if !hc.state.CompareAndSwap(stateActive, stateIdle) || s.shuttingDown() {
			return
		}
	}
}

// serveRequest runs the handler for the request read, and reports whether
// the connection can carry another.
func (hc *h1conn) serveRequest() (again bool) {
	hc.res.reset(hc)
	hc.handlerDeadline.Store(false)
	if !hc.hasBody {
		hc.watchSoon()
	}
	defer func() {
		hc.unwatch()
		if v := recover(); v != nil {
			again, hc.reset = false, true
			if v != http.ErrAbortHandler {
				buf := make([]byte, 16<<10)
				buf = buf[:runtime.Stack(buf, false)]
				hc.s.logger().Error("panic serving request", "remote", hc.req.RemoteAddr, "panic", fmt.Sprint(v), "stack", string(buf))
			}
		}
	}()
	hc.handler.ServeHTTP(&hc.res, hc.req)
	if hc.res.hijacked {
		return false
	}
	again = hc.res.finish()
	if hc.hasBody {
		// The discard's own deadline, not the body's idle one.
		hc.handlerDeadline.Store(true)
		hc.c.SetReadDeadline(time.Now().Add(hc.s.readHeaderTimeout()))
		read := hc.body.discard(discardMax)
		hc.c.SetReadDeadline(time.Time{})
		hc.linger = !read
		again = again && read
	}
	return again && hc.ctx.Err() == nil
}

// refuse answers a request the loop will not serve, unless the client
// went quiet or away, then the connection ends.
func (hc *h1conn) refuse(err error) {
	var re *requestError
	if !errors.As(err, &re) {
		return // timed out, closed or reset: nobody to answer
	}
	hc.linger = true // the rest of what the client sent is unread
	body := fmt.Sprintf("%d %s", re.code, http.StatusText(re.code))
	if re.code == http.StatusBadRequest {
		body += ": " + re.msg
	}
	fmt.Fprintf(hc.c, "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s",
		re.code, http.StatusText(re.code), len(body), body)
}

// awaitRequest waits until the client sends the next request, without a
// buffer, for up to d. It reports false when the client went away, the
// wait timed out, or the server closed the connection; true may also
// come, rarely, when nothing has arrived (the caller's read then waits,
// with a buffer).
func (hc *h1conn) awaitRequest(d time.Duration) bool {
	if hc.br != nil && hc.br.Buffered() > 0 {
		return true // pipelined
	}
	if testHookIdle != nil {
		testHookIdle(hc)
	}
	hc.c.SetReadDeadline(time.Now().Add(d)) // serve sets the next one
	if hc.rc == nil {
		return true
	}
	hc.peekErr, hc.peekWaited = nil, false
	if err := hc.rc.Read(hc.peekFn); err != nil {
		return false
	}
	return hc.peekErr == nil
}

// peek is awaitRequest's look at the socket. The first call peeks without
// reading: it reports false (wait for the socket to turn readable) when
// nothing has arrived. The call after the wait reports true at once: the
// read that follows finds what woke it, and one syscall is saved per
// request. (The look first cannot be skipped: the runtime forgets any
// readiness it saw before a wait begins, so only what arrives after the
// look wakes the wait.)
func (hc *h1conn) peek(fd uintptr) bool {
	if hc.peekWaited {
		return true
	}
	n, err := peekSocket(fd, &hc.peekBuf)
	switch {
	case err == syscall.EAGAIN:
		hc.peekWaited = true
		return false
	case err != nil:
		hc.peekErr = err
	case n == 0:
		hc.peekErr = errClientGone
	}
	return true
}

// watchSoon arms the watch for the client leaving: if the response has not
// begun after watchDelay, watch runs. The request body has been read by
// then (or there is none), so nothing else reads the connection.
func (hc *h1conn) watchSoon() {
	if hc.rc == nil {
		return
	}
	hc.watchMu.Lock()
	hc.watchArmed = true
	if hc.watchTimer == nil {
		hc.watchTimer = time.AfterFunc(watchDelay, hc.watchClient)
	} else {
		hc.watchTimer.Reset(watchDelay)
	}
	hc.watchMu.Unlock()
}

// watchClient waits, on the timer's goroutine, for the client to send
// something or go away, and cancels the connection's context when it goes:
// the hop then abandons the upstream request. unwatch ends the wait.
func (hc *h1conn) watchClient() {
	hc.watchMu.Lock()
	if !hc.watchArmed {
		hc.watchMu.Unlock()
		return
	}
	hc.watchArmed, hc.watchActive = false, true
	hc.watching.Add(1)
	hc.watchMu.Unlock()
	defer func() {
		hc.watchMu.Lock()
		hc.watchActive = false
		hc.watchMu.Unlock()
		hc.watching.Done()
	}()
	var gone error
	hc.rc.Read(func(fd uintptr) bool {
		n, err := peekSocket(fd, &hc.peekBuf)
		switch {
		case err == syscall.EAGAIN:
			return false
		case err != nil:
			gone = err
		case n == 0:
			gone = errClientGone
		}
		return true // a pipelined request: the client is there
	})
	if gone != nil {
		hc.cancel(gone)
	}
}

// unwatch ends the watch for the client leaving, and waits for it.
func (hc *h1conn) unwatch() {
	hc.watchMu.Lock()
	hc.watchArmed = false
	t, active := hc.watchTimer, hc.watchActive
	hc.watchMu.Unlock()
	if t == nil {
		return
	}
	t.Stop()
	if active {
		hc.c.SetReadDeadline(aLongTimeAgo) // wakes the watch
		hc.watching.Wait()
		hc.c.SetReadDeadline(time.Time{})
	}
}

// hijacked hands the connection over: the loop forgets it.
func (hc *h1conn) hijacked() {
	hc.state.Store(stateHijacked)
	hc.s.h1mu.Lock()
	delete(hc.s.h1conns, hc)
	hc.s.h1mu.Unlock()
}

// end closes the connection, unless it was hijacked, and forgets it.
func (hc *h1conn) end() {
	if hc.state.Load() != stateHijacked {
		switch tc, _ := hc.c.(*net.TCPConn); {
		case hc.reset && tc != nil:
			// A close-delimited body (HTTP/1.0) must not look whole.
			tc.SetLinger(0)
		case hc.linger && hc.state.Load() != stateClosed:
			hc.closeGently()
		}
		hc.c.Close()
		if hc.br != nil {
			hc.br.Reset(nil)
			clientReaders.Put(hc.br)
		}
		hc.out.release()
	}
	hc.br = nil
	hc.cancel(errClientGone)
	hc.s.h1mu.Lock()
	delete(hc.s.h1conns, hc)
	hc.s.h1mu.Unlock()
}

// closeGently ends lameduck's side of the connection, then reads what
// the client still sends, for up to lingerMax, so that the client reads
// the response before the connection is closed for good.
func (hc *h1conn) closeGently() {
	cw, ok := hc.c.(interface{ CloseWrite() error })
	if !ok || cw.CloseWrite() != nil {
		return
	}
	hc.c.SetReadDeadline(time.Now().Add(lingerMax))
	bp := buffers.Get().(*[]byte)
	defer buffers.Put(bp)
	for {
		if _, err := hc.c.Read(*bp); err != nil {
			return
		}
	}
}

// closeH1 closes the loop's connections: the idle ones, or all of them.
// From then on, busy connections end after their response, and new ones
// are closed at once.
func (s *Server) closeH1(all bool) {
	s.h1mu.Lock()
	s.h1cut.Store(true)
	var conns []*h1conn
	for hc := range s.h1conns {
		// A hijacked connection is the tunnel's: the tracker cuts it.
		if hc.state.CompareAndSwap(stateIdle, stateClosed) || all && hc.state.CompareAndSwap(stateActive, stateClosed) {
			conns = append(conns, hc)
		}
	}
	s.h1mu.Unlock()
	for _, hc := range conns {
		hc.cancel(errServerCut)
		hc.c.Close()
	}
}

// waitH1 waits for the loop's connections to end, or for ctx.
func (s *Server) waitH1(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		s.h1wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.closeH1(true)
		<-done
		return context.Cause(ctx)
	}
}

// shuttingDown reports whether the drain has ended: connections then end
// after their response.
func (s *Server) shuttingDown() bool { return s.h1cut.Load() }
