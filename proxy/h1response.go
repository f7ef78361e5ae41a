package proxy

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http/httpguts"
)

// outBufSize is the output buffer of a client connection: a response head
// and a short body go out in one write; a large body goes out with what is
// buffered in one writev.
const outBufSize = 4 << 10

var outBufs = sync.Pool{New: func() any { b := make([]byte, 0, outBufSize); return &b }}

// A response is the http.ResponseWriter of lameduck's HTTP/1.1 loop. It
// also offers what http.ResponseController asks for: Flush, Hijack and
// read and write deadlines.
type response struct {
	hc  *h1conn
	req *http.Request
	hdr http.Header

	wroteHeader   bool
	wroteContinue bool
	hijacked      bool
	noBody        bool  // HEAD, 204, 304
	chunked       bool  // the body goes chunked
	length        int64 // declared Content-Length, or -1
	written       int64
	closeAfter    bool // the connection ends after this response
	status        int
}

func (w *response) reset(hc *h1conn) {
	clear(hc.resHdr)
	*w = response{hc: hc, req: hc.req, hdr: hc.resHdr, length: -1}
}

// Header implements http.ResponseWriter.
func (w *response) Header() http.Header { return w.hdr }

// WriteHeader implements http.ResponseWriter. An interim (1xx) status
// goes out at once with the fields set so far; the final one is buffered
// with the start of the body.
func (w *response) WriteHeader(code int) {
	if w.wroteHeader || w.hijacked {
		return
	}
	if code < 100 || code > 999 {
		panic("proxy: invalid WriteHeader code " + strconv.Itoa(code))
	}
	out := &w.hc.out
	if code < 200 && code != http.StatusSwitchingProtocols {
		if code == http.StatusContinue {
			if w.wroteContinue {
				return
			}
			w.wroteContinue = true
			w.hc.body.expect = false // the body reader must not say it again
		}
		w.writeStatus(code)
		w.writeFields()
		out.writeString("\r\n")
		out.flush()
		return
	}
	w.wroteHeader, w.status = true, code
	r := w.req
	w.noBody = r.Method == http.MethodHead || code == http.StatusNoContent || code == http.StatusNotModified
	if code == http.StatusNoContent {
		delete(w.hdr, "Content-Length")
	}
	if v := w.hdr["Content-Length"]; len(v) > 0 {
		if n, ok := parseLength(v[0]); ok {
			w.length = n
		} else {
			delete(w.hdr, "Content-Length")
		}
	}
	// A body not read to its end when the answer begins (an upstream that
	// refused an upload early) may never be: say the connection ends, as
	// net/http does, rather than close it unannounced after.
	unread := w.hc.hasBody && !w.hc.body.done.Load()
	w.closeAfter = w.closeAfter || r.Close || unread || httpguts.HeaderValuesContainsToken(w.hdr["Connection"], "close") ||
		w.hc.s.shuttingDown()
	if !w.noBody && w.length < 0 {
		if r.ProtoMinor == 0 {
			w.closeAfter = true // the close of the connection ends the body
		} else {
			w.chunked = true
		}
	}
	w.writeStatus(code)
	w.writeFields()
	if _, ok := w.hdr["Date"]; !ok {
		out.writeString("Date: ")
		out.writeString(httpDate())
		out.writeString("\r\n")
	}
	if w.chunked {
		out.writeString("Transfer-Encoding: chunked\r\n")
	}
	if w.closeAfter {
		out.writeString("Connection: close\r\n")
	}
	out.writeString("\r\n")
}

func (w *response) writeStatus(code int) {
	out := &w.hc.out
	if w.req.ProtoMinor == 0 {
		out.writeString("HTTP/1.0 ")
	} else {
		out.writeString("HTTP/1.1 ")
	}
	out.buf = strconv.AppendInt(out.buf, int64(code), 10)
	out.writeString(" ")
	if text := http.StatusText(code); text != "" {
		out.writeString(text)
	} else {
		out.writeString("status code " + strconv.Itoa(code))
	}
	out.writeString("\r\n")
}

// writeFields writes the header fields, less those the framing decides
// (Connection, Transfer-Encoding) and trailers set before their time.
func (w *response) writeFields() {
	out := &w.hc.out
	for k, vv := range w.hdr {
		switch {
		case k == "Connection" || k == "Transfer-Encoding" || strings.HasPrefix(k, http.TrailerPrefix):
			continue
		case !httpguts.ValidHeaderFieldName(k):
			continue
		}
		for _, v := range vv {
			if !validValueString(v) {
				continue
			}
			out.writeString(k)
			out.writeString(": ")
			out.writeString(v)
			out.writeString("\r\n")
		}
	}
}

// Write implements http.ResponseWriter.
func (w *response) Write(p []byte) (int, error) {
	if w.hijacked {
		return 0, http.ErrHijacked
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if w.noBody {
		if w.status == http.StatusNoContent || w.status == http.StatusNotModified {
			return 0, http.ErrBodyNotAllowed
		}
		return len(p), nil // HEAD: the body is not sent
	}
	var err error
	if w.length >= 0 && w.written+int64(len(p)) > w.length {
		p, err = p[:w.length-w.written], http.ErrContentLength
	}
	if len(p) == 0 {
		return 0, err
	}
	var werr error
	if w.chunked {
		werr = w.hc.out.writeChunk(p)
	} else {
		werr = w.hc.out.write(p)
	}
	if werr != nil {
		return 0, werr
	}
	w.written += int64(len(p))
	return len(p), err
}

// WriteString is Write for a string.
func (w *response) WriteString(s string) (int, error) { return w.Write([]byte(s)) }

// sayContinue answers "Expect: 100-continue", when the handler first reads
// the body without having answered it.
func (w *response) sayContinue() {
	if w.wroteContinue || w.wroteHeader {
		return
	}
	w.wroteContinue = true
	out := &w.hc.out
	out.writeString("HTTP/1.1 100 Continue\r\n\r\n")
	out.flush()
}

// Flush sends what is buffered to the client.
func (w *response) Flush() { w.FlushError() }

// FlushError sends what is buffered to the client, and reports a failure.
func (w *response) FlushError() error {
	if w.hijacked {
		return http.ErrHijacked
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	return w.hc.out.flush()
}

// Hijack hands the connection to the handler, for a tunnel. What the
// client sent after the request is in the reader.
func (w *response) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if w.wroteHeader || w.hijacked {
		return nil, nil, errors.New("proxy: cannot hijack after the response began")
	}
	w.hc.unwatch()
	if err := w.hc.out.flush(); err != nil {
		return nil, nil, err
	}
	w.hc.out.release()
	w.hijacked = true
	w.hc.hijacked()
	return w.hc.c, bufio.NewReadWriter(w.hc.br, bufio.NewWriterSize(w.hc.c, 256)), nil
}

// SetReadDeadline sets the client connection's read deadline. The body's
// own deadline between two reads no longer applies to this request.
func (w *response) SetReadDeadline(t time.Time) error {
	var at int64
	if !t.IsZero() {
		at = t.UnixNano()
	}
	w.hc.handlerDeadlineAt.Store(at)
	w.hc.handlerDeadline.Store(true)
	return w.hc.c.SetReadDeadline(t)
}

// SetWriteDeadline sets the client connection's write deadline.
func (w *response) SetWriteDeadline(t time.Time) error { return w.hc.c.SetWriteDeadline(t) }

// finish ends the response after the handler returned: the head if none
// went out, the end of a chunked body with its trailers, and the flush. It
// reports whether the connection can carry another response.
func (w *response) finish() bool {
	if w.hijacked {
		return false
	}
	if !w.wroteHeader {
		if w.hdr["Content-Length"] == nil {
			w.hdr["Content-Length"] = zeroLength
		}
		w.WriteHeader(http.StatusOK)
	}
	out := &w.hc.out
	if w.chunked {
		out.writeString("0\r\n")
		w.writeTrailers()
		out.writeString("\r\n")
	}
	if out.flush() != nil {
		return false
	}
	// A body shorter than it said it would be: the client must see the
	// connection end, not take the next response for the rest of it.
	return !w.closeAfter && (w.noBody || w.length < 0 || w.written == w.length)
}

var zeroLength = []string{"0"}

// writeTrailers writes the trailers: fields announced in Trailer and set
// after the body, and fields named with http.TrailerPrefix.
func (w *response) writeTrailers() {
	out := &w.hc.out
	line := func(k string, vv []string) {
		if !httpguts.ValidHeaderFieldName(k) {
			return
		}
		for _, v := range vv {
			if validValueString(v) {
				out.writeString(k + ": " + v + "\r\n")
			}
		}
	}
	for _, list := range w.hdr["Trailer"] {
		for k := range strings.SplitSeq(list, ",") {
			k = http.CanonicalHeaderKey(trimOWS(k))
			line(k, w.hdr[k])
		}
	}
	for k, vv := range w.hdr {
		if name, ok := strings.CutPrefix(k, http.TrailerPrefix); ok {
			line(http.CanonicalHeaderKey(name), vv)
		}
	}
}

// An outBuf buffers what goes to a client connection. Large writes go out
// at once, together with what is buffered, in one writev.
type outBuf struct {
	c    net.Conn
	buf  []byte // pooled, while a response is written
	pool *[]byte
	vec  [3][]byte
	bufs net.Buffers
	err  error
}

func (o *outBuf) take() {
	if o.pool == nil {
		o.pool = outBufs.Get().(*[]byte)
		o.buf = (*o.pool)[:0]
	}
}

func (o *outBuf) release() {
	if o.pool != nil {
		*o.pool = o.buf[:0]
		outBufs.Put(o.pool)
		o.pool, o.buf = nil, nil
	}
}

func (o *outBuf) writeString(s string) {
	if len(o.buf)+len(s) > cap(o.buf) && len(o.buf) > 0 {
		o.flush()
	}
	o.buf = append(o.buf, s...)
}

// write buffers p, or sends it with what is buffered when it is large.
func (o *outBuf) write(p []byte) error {
	if o.err != nil {
		return o.err
	}
	if len(o.buf)+len(p) <= cap(o.buf) {
		o.buf = append(o.buf, p...)
		return nil
	}
	o.vec[0], o.vec[1] = o.buf, p
	return o.writev(2)
}

// writeChunk writes p as one chunk of a chunked body.
func (o *outBuf) writeChunk(p []byte) error {
	if o.err != nil {
		return o.err
	}
	if len(o.buf)+len(p)+20 <= cap(o.buf) {
		o.buf = strconv.AppendInt(o.buf, int64(len(p)), 16)
		o.buf = append(o.buf, "\r\n"...)
		o.buf = append(o.buf, p...)
		o.buf = append(o.buf, "\r\n"...)
		return nil
	}
	o.buf = strconv.AppendInt(o.buf, int64(len(p)), 16)
	o.buf = append(o.buf, "\r\n"...)
	o.vec[0], o.vec[1], o.vec[2] = o.buf, p, crlf
	return o.writev(3)
}

var crlf = []byte("\r\n")

func (o *outBuf) writev(n int) error {
	o.bufs = o.vec[:n]
	_, o.err = o.bufs.WriteTo(o.c)
	o.vec = [3][]byte{}
	o.buf = o.buf[:0]
	return o.err
}

func (o *outBuf) flush() error {
	if o.err != nil || len(o.buf) == 0 {
		return o.err
	}
	_, o.err = o.c.Write(o.buf)
	o.buf = o.buf[:0]
	return o.err
}

// httpDate returns the current time as an HTTP date, formatted once a
// second.
func httpDate() string {
	now := time.Now()
	if d := cachedDate.Load(); d != nil && d.sec == now.Unix() {
		return d.text
	}
	d := &dateText{now.Unix(), now.UTC().Format(http.TimeFormat)}
	cachedDate.Store(d)
	return d.text
}

type dateText struct {
	sec  int64
	text string
}

var cachedDate atomic.Pointer[dateText]
