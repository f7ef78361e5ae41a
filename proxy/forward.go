package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"time"
)

// maxBuffered is the largest request body read whole before it is sent:
// it can then be sent again when a pooled connection turns out dead, and
// the request and its body go out in one write. Larger bodies stream.
const maxBuffered = 16 << 10

// expectWait is how long the upstream has to answer "Expect: 100-continue"
// before the body is sent anyway (RFC 9110 §10.1.1).
const expectWait = time.Second

// aLongTimeAgo is a deadline in the past, to wake a blocked read or write.
var aLongTimeAgo = time.Unix(1, 0)

// exchanges recycles exchanges: each carries one request at a time.
var exchanges = sync.Pool{New: func() any { return new(exchange) }}

// Buffers for request bodies read whole, in two sizes, so that the usual
// small body does not hold a large buffer while it arrives.
var (
	smallBodies = sync.Pool{New: func() any { b := make([]byte, 4<<10); return &b }}
	largeBodies = sync.Pool{New: func() any { b := make([]byte, maxBuffered); return &b }}
)

// forward sends r to the upstream and relays the response to w; e is r's
// entry in the tracker. It is lameduck's own hop: the request's goroutine
// writes the request and reads the response on a pooled connection, with
// no copy of the request and no goroutine per connection. A request whose
// first try fails on a pooled connection before any byte of it reached the
// upstream is tried again, once, on a new connection, whatever its method;
// so is an idempotent request without a body that got no byte of answer.
func (h *Handler) forward(w http.ResponseWriter, r *http.Request, e *entry, upgrade string) {
	x := exchanges.Get().(*exchange)
	*x = exchange{h: h, w: w, r: r, e: e}
	x.out.upgrade = upgrade
	defer x.done()
	if err := x.prepare(); err != nil {
		switch {
		case r.Context().Err() != nil:
		case errors.Is(err, errBodyTimeout):
			h.respond(w, http.StatusRequestTimeout, "lameduck: request body timed out\n")
		default:
			h.respond(w, http.StatusBadRequest, "lameduck: could not read the request body\n")
		}
		return
	}
	for try := 0; ; try++ {
		uc, err := h.Upstream.conn(r.Context(), try > 0)
		if err != nil {
			h.errorHandler(w, r, err)
			return
		}
		again, err := x.roundTrip(uc)
		if err == nil {
			return
		}
		if again && try == 0 {
			continue
		}
		h.errorHandler(w, r, err)
		return
	}
}

// An exchange is one request forwarded and its response relayed.
type exchange struct {
	h   *Handler
	w   http.ResponseWriter
	r   *http.Request
	e   *entry
	out outgoing
	// body is the whole request body, when it was read in advance, in
	// bodyBuf; otherwise, with stream set, sendBody sends it as it comes
	// while the response is read.
	body    []byte
	bodyBuf *[]byte
	stream  bool

	mu       sync.Mutex // guards headDone and bodyErr, for sendBody
	headDone bool       // the response head has arrived
	bodyErr  error      // sendBody failed, and ended the connection
}

// prepare decides how the request body goes, and reads a small one.
func (x *exchange) prepare() error {
	r := x.r
	n := r.ContentLength
	if r.Body == nil || r.Body == http.NoBody {
		n = 0
	}
	x.out.length = n
	x.out.zeroCL = n == 0 && r.Method != http.MethodGet && r.Method != http.MethodHead && x.out.upgrade == ""
	expect := n != 0 && r.Header.Get("Expect") != ""
	switch {
	case n == 0:
	case n > 0 && n <= maxBuffered && !expect:
		pool := &largeBodies
		if n <= 4<<10 {
			pool = &smallBodies
		}
		x.bodyBuf = pool.Get().(*[]byte)
		x.body = (*x.bodyBuf)[:n]
		if _, err := io.ReadFull(r.Body, x.body); err != nil {
			return err
		}
	default:
		x.stream = true
		x.out.expect = expect
	}
	return nil
}

// done gives the exchange and its body buffer back to their pools.
func (x *exchange) done() {
	switch {
	case x.bodyBuf == nil:
	case len(*x.bodyBuf) == maxBuffered:
		largeBodies.Put(x.bodyBuf)
	default:
		smallBodies.Put(x.bodyBuf)
	}
	*x = exchange{}
	exchanges.Put(x)
}

// roundTrip carries the exchange on uc. Until the response head is relayed
// it returns the error to answer and whether the request may go again on a
// new connection; after, it handles failures itself: it cuts the client's
// response (http.ErrAbortHandler) when the upstream's broke.
func (x *exchange) roundTrip(uc *upConn) (again bool, err error) {
	ctx := x.r.Context()
	// The client leaving cancels ctx: wake whatever waits on uc.
	stop := context.AfterFunc(ctx, uc.abortFn)
	keep := false
	defer func() {
		if !stop() || !keep {
			uc.close()
			return
		}
		x.h.Upstream.idle(uc)
	}()

	start := uc.written
	err = x.h.writeHead(uc.bw, x.r, x.out)
	if err == nil && x.body != nil {
		_, err = uc.bw.Write(x.body)
	}
	if err == nil {
		err = uc.bw.Flush()
	}
	if err != nil {
		if errors.Is(err, errBadField) {
			return false, err
		}
		// Nothing of a streamed body has been read yet: it can go again
		// as well as a buffered one.
		return uc.reused && uc.written == start, fmt.Errorf("write request: %w", err)
	}

	var sent chan error // sendBody's result, once it runs
	send := func() {
		sent = make(chan error, 1)
		go x.sendBody(uc, sent)
	}
	defer func() {
		if sent == nil {
			return
		}
		select {
		case err := <-sent:
			keep = keep && err == nil
			return
		default:
		}
		// The response ended before the request body: stop sending it.
		keep = false
		uc.abort()
		http.NewResponseController(x.w).SetReadDeadline(aLongTimeAgo)
		<-sent
	}()
	if x.stream && !x.out.expect {
		send()
	}
	if x.out.expect {
		got, err := x.awaitContinue(ctx, uc)
		if err != nil {
			return false, x.headErr(ctx, err)
		}
		if !got {
			// No answer in time: invite the body (from this goroutine,
			// which writes the response) and send it anyway.
			x.w.WriteHeader(http.StatusContinue)
			send()
		}
	}

	hdr := x.w.Header()
	timeout := x.h.Upstream.HeaderTimeout
	if timeout > 0 && !x.stream {
		setReadDeadline(ctx, uc, time.Now().Add(timeout))
	}
	var head resHead
	for {
		var got bool
		head, got, err = readHead(uc.br, hdr)
		if err != nil {
			clear(hdr)
			idempotent := x.body == nil && !x.stream && isIdempotent(x.r.Method)
			return uc.reused && !got && idempotent, x.headErr(ctx, err)
		}
		if head.code >= 200 || head.code == http.StatusSwitchingProtocols {
			break
		}
		// An interim response (100 Continue, 103 Early Hints): relay it,
		// except to HTTP/1.0 clients, which cannot take one.
		if x.r.ProtoAtLeast(1, 1) {
			x.w.WriteHeader(head.code)
		}
		clear(hdr)
		if head.code == http.StatusContinue && x.out.expect && sent == nil {
			send()
		}
	}
	if x.stream {
		x.mu.Lock()
		x.headDone = true
		x.mu.Unlock()
	}
	if timeout > 0 {
		setReadDeadline(ctx, uc, time.Time{})
	}
	if head.code == http.StatusSwitchingProtocols {
		if x.out.upgrade == "" {
			clear(hdr)
			return false, errors.New("upstream switched protocols without being asked")
		}
		if !stop() {
			return false, context.Cause(ctx)
		}
		stop = func() bool { return true }
		return false, x.tunnel(uc, head)
	}
	if x.out.expect && sent == nil || x.out.upgrade != "" {
		// A final answer instead of 100 Continue, or to an upgrade: the
		// connection is not in a state to carry another request.
		head.close = true
	}

	if x.h.track.closing.Load() {
		hdr["Connection"] = closeConn
	}
	x.h.countStatus(head.code)
	x.w.WriteHeader(head.code)

	rl := relay{w: x.w, br: uc.br}
	var trailer http.Header
	switch {
	case x.r.Method == http.MethodHead || head.code == http.StatusNoContent || head.code == http.StatusNotModified:
	case head.chunked:
		trailer, err = rl.chunked()
	case head.length >= 0:
		err = rl.fixed(head.length)
	default:
		head.close = true
		err = rl.untilEOF()
	}
	if err != nil {
		if rl.werr == nil && ctx.Err() == nil {
			x.h.upErrs.Add(1)
			x.h.logger().Warn("upstream response cut", "method", x.r.Method, "path", x.r.URL.Path, "err", err)
		}
		// The client must not take a cut body for a whole one: end its
		// connection (HTTP/1.1) or stream (HTTP/2) without finishing the
		// response. The deferred functions run first.
		panic(http.ErrAbortHandler)
	}
	for k, vv := range trailer {
		hdr[http.TrailerPrefix+k] = vv
	}
	keep = !head.close && uc.br.Buffered() == 0
	return false, nil
}

// sendBody streams the request body to the upstream, then starts the
// response head timeout, which counts from the end of the request. When
// the client's body breaks off, it ends the exchange: the upstream must
// not take a cut body for a whole request. When the upstream stops
// reading, it only stops sending: the upstream may have answered already,
// as an app that refuses an upload early does.
func (x *exchange) sendBody(uc *upConn, sent chan<- error) {
	rerr, werr := writeBody(uc.bw, x.r, x.out.length)
	x.mu.Lock()
	switch t := x.h.Upstream.HeaderTimeout; {
	case rerr != nil:
		x.bodyErr = fmt.Errorf("read request body: %w", rerr)
		uc.abort()
	case werr != nil:
		x.bodyErr = fmt.Errorf("send request body: %w", werr)
	case t > 0 && !x.headDone:
		setReadDeadline(x.r.Context(), uc, time.Now().Add(t))
	}
	err := x.bodyErr
	x.mu.Unlock()
	sent <- err
}

// awaitContinue waits up to expectWait for the upstream's first answer to
// a request that asked "Expect: 100-continue", and reports whether one
// came. The answer itself is read by the caller.
func (x *exchange) awaitContinue(ctx context.Context, uc *upConn) (bool, error) {
	setReadDeadline(ctx, uc, time.Now().Add(expectWait))
	_, err := uc.br.Peek(1)
	setReadDeadline(ctx, uc, time.Time{})
	if errors.Is(err, os.ErrDeadlineExceeded) && ctx.Err() == nil {
		return false, nil
	}
	return err == nil, err
}

// headErr describes a failure to get the response head.
func (x *exchange) headErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	x.mu.Lock()
	berr := x.bodyErr
	x.mu.Unlock()
	if berr != nil {
		return berr // what cut the exchange short
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("read response head: %w", context.DeadlineExceeded)
	}
	return fmt.Errorf("read response head: %w", err)
}

// setReadDeadline sets a read deadline on uc, unless the client has left,
// whose wake-up (abort) it must not undo.
func setReadDeadline(ctx context.Context, uc *upConn, t time.Time) {
	uc.c.SetReadDeadline(t)
	if ctx.Err() != nil {
		uc.abort()
	}
}

// isIdempotent reports whether a request with method m may be sent twice
// (RFC 9110 §9.2.2), for the methods that carry no body here.
func isIdempotent(m string) bool {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	return false
}

// errorHandler answers 502 when the upstream refused, reset or failed the
// request, 504 when it timed out, and nothing when the client went away.
func (h *Handler) errorHandler(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() != nil {
		return // the client is gone: nobody to answer
	}
	if errors.Is(err, errBodyTimeout) {
		h.respond(w, http.StatusRequestTimeout, "lameduck: request body timed out\n")
		return // the client's fault, not the upstream's
	}
	h.upErrs.Add(1)
	code, msg := http.StatusBadGateway, "lameduck: upstream unavailable\n"
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
		code, msg = http.StatusGatewayTimeout, "lameduck: upstream timed out\n"
	}
	h.logger().Warn("upstream error", "method", r.Method, "path", r.URL.Path, "status", code, "err", err)
	h.respond(w, code, msg)
}
