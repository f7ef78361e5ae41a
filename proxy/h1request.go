package proxy

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/net/http/httpguts"
)

// A requestError is a request lameduck's HTTP/1.1 loop refuses before any
// handler sees it, with the status it answers.
type requestError struct {
	code int
	msg  string
}

func (e *requestError) Error() string { return e.msg }

func badRequest(msg string) error { return &requestError{http.StatusBadRequest, msg} }

// errBodyTimeout is a request body whose client paused for longer than the
// idle timeout; the client gets 408.
var errBodyTimeout = errors.New("request body timed out: the client sent nothing for the idle timeout")

var (
	errHeadFields  = &requestError{http.StatusRequestHeaderFieldsTooLarge, "request head too large"}
	errTECoding    = &requestError{http.StatusNotImplemented, "unsupported transfer encoding"}
	errExpectation = &requestError{http.StatusExpectationFailed, "unsupported Expect"}
	errVersion     = &requestError{http.StatusHTTPVersionNotSupported, "unsupported protocol version"}
)

// methods interns the common methods.
var methods = map[string]string{
	"GET": "GET", "HEAD": "HEAD", "POST": "POST", "PUT": "PUT", "PATCH": "PATCH",
	"DELETE": "DELETE", "OPTIONS": "OPTIONS", "TRACE": "TRACE",
}

// readRequest reads a request head from hc.br into hc.req, framed and
// checked as Go's own server does it, so that what the handler sees, and
// what the hop then writes for the app, is what net/http would have given
// it: the same refusals (400, 431, 501, 505, 417), the same normalisation
// (a Content-Length that came with chunked is dropped; HTTP/1.0 ignores
// Transfer-Encoding; obsolete folding becomes a space; a bare LF ends a
// line).
func (hc *h1conn) readRequest() error {
	head, discard, err := hc.peekRequestHead()
	if err != nil {
		return err
	}
	defer hc.br.Discard(discard)
	line, rest := nextLine(head)
	sp1 := bytes.IndexByte(line, ' ')
	sp2 := bytes.IndexByte(line[sp1+1:], ' ') + sp1 + 1
	if sp1 <= 0 || sp2 <= sp1 {
		return badRequest("malformed request line")
	}
	r := hc.req
	clear(hc.reqHdr)
	*r = hc.reqTmpl
	r.Header = hc.reqHdr
	switch proto := line[sp2+1:]; string(proto) {
	case "HTTP/1.1":
		r.Proto, r.ProtoMajor, r.ProtoMinor = "HTTP/1.1", 1, 1
	case "HTTP/1.0":
		r.Proto, r.ProtoMajor, r.ProtoMinor = "HTTP/1.0", 1, 0
	default:
		if bytes.HasPrefix(proto, []byte("HTTP/")) {
			return errVersion
		}
		return badRequest("malformed HTTP version")
	}
	hdr := r.Header
	var host, expect string
	hosts, lengths := 0, 0
	var length int64 = -1
	chunked, badTE := false, false
	whole, err := scanFields(head, len(head)-len(rest), hdr, func(k, v string) (bool, error) {
		switch k {
		case "Host":
			hosts++
			host = v
			return false, nil
		case "Content-Length":
			n, ok := parseLength(v)
			if !ok || lengths > 0 && n != length {
				return false, badRequest("invalid Content-Length")
			}
			lengths++
			length = n
			return lengths == 1, nil
		case "Transfer-Encoding":
			badTE = badTE || chunked || !strings.EqualFold(v, "chunked")
			chunked = true
			return false, nil
		case "Expect":
			expect = v
		}
		return true, nil
	})
	if err == errMalformedHead {
		return badRequest("malformed header field")
	}
	if err != nil {
		return err
	}
	method, target := whole[:sp1], whole[sp1+1:sp2]
	if m, ok := methods[method]; ok {
		method = m
	} else if !validMethod(method) {
		return badRequest("invalid method")
	}
	r.Method, r.RequestURI = method, target
	if err := hc.parseTarget(target); err != nil {
		return err
	}
	switch {
	case hosts > 1:
		return badRequest("too many Host fields")
	case hosts == 0 && r.ProtoMinor == 1:
		return badRequest("missing required Host field")
	case !httpguts.ValidHostHeader(host):
		return badRequest("malformed Host field")
	}
	if r.URL.Host != "" {
		host = r.URL.Host // an absolute target names the host (RFC 9112 §3.2.2)
	}
	r.Host = host
	r.ContentLength, r.TransferEncoding = 0, nil
	hc.body.reset(hc)
	if chunked && r.ProtoMinor == 1 {
		if badTE {
			return errTECoding
		}
		delete(hdr, "Content-Length")
		r.ContentLength, r.TransferEncoding = -1, chunkedTE
		hc.body.chunked = true
	} else if length > 0 {
		r.ContentLength = length
		hc.body.left = length
	}
	switch {
	case expect == "" || r.ProtoMinor == 0: // HTTP/1.0 knows no Expect: ignored, as Go does
	case httpguts.HeaderValuesContainsToken(hdr["Expect"], "100-continue"):
		hc.body.expect = r.ContentLength != 0
	default:
		return errExpectation
	}
	r.Close = r.ProtoMinor == 0 || httpguts.HeaderValuesContainsToken(hdr["Connection"], "close")
	hc.hasBody = r.ContentLength != 0
	if hc.hasBody {
		r.Body = &hc.body
	} else {
		r.Body = http.NoBody
	}
	return nil
}

var chunkedTE = []string{"chunked"}

// peekRequestHead returns the request head at the start of hc.br, as
// peekHead does, within the server's head limit.
func (hc *h1conn) peekRequestHead() (head []byte, discard int, err error) {
	limit := hc.s.maxHeaderBytes() + 4096 // Go's server allows as much
	for {
		if n := hc.br.Buffered(); n > 0 {
			b, _ := hc.br.Peek(n)
			if end := headEnd(b); end > 0 {
				if end > limit {
					return nil, 0, errHeadFields
				}
				return b[:end], end, nil
			}
			if n >= limit {
				return nil, 0, errHeadFields
			}
			if n == hc.br.Size() {
				return hc.copyRequestHead(limit)
			}
		}
		if _, err := hc.br.Peek(hc.br.Buffered() + 1); err != nil {
			return nil, 0, err
		}
	}
}

// copyRequestHead reads a head larger than the read buffer line by line.
func (hc *h1conn) copyRequestHead(limit int) (head []byte, discard int, err error) {
	head, err = readLines(hc.br, nil, limit, errHeadFields)
	return head, 0, err
}

// parseTarget sets hc.req.URL from the request target. The usual target,
// a path and query of printable ASCII without escapes, is taken as it is;
// anything else goes through url.ParseRequestURI, as in Go's server.
func (hc *h1conn) parseTarget(target string) error {
	r := hc.req
	if plainTarget(target) && strings.IndexByte(target, '%') < 0 {
		u := &hc.url
		*u = url.URL{Path: target}
		if i := strings.IndexByte(target, '?'); i >= 0 {
			u.Path, u.RawQuery = target[:i], target[i+1:]
			u.ForceQuery = u.RawQuery == ""
		}
		r.URL = u
		return nil
	}
	if target == "*" && r.Method == http.MethodOptions {
		r.URL = &url.URL{Path: "*"}
		return nil
	}
	u, err := url.ParseRequestURI(target)
	if err != nil || u.Scheme != "" && u.Scheme != "http" && u.Scheme != "https" || u.Scheme == "" && !strings.HasPrefix(target, "/") {
		return badRequest("invalid request target")
	}
	r.URL = u
	return nil
}

func validMethod(m string) bool {
	if m == "" {
		return false
	}
	for i := 0; i < len(m); i++ {
		if !httpguts.IsTokenRune(rune(m[i])) {
			return false
		}
	}
	return true
}

// A bodyReader reads a request body from the client's connection: framed
// by Content-Length, or chunked. It answers "Expect: 100-continue" on the
// first read, unless the handler already has, and once at the end of the
// body it starts the watch for the client leaving.
type bodyReader struct {
	hc      *h1conn
	left    int64 // bytes left: of the body, or of the current chunk
	chunked bool
	expect  bool // say 100 Continue before reading
	timed   bool // read set the connection's read deadline
	eof     bool
	done    atomic.Bool // eof, for the response head on another goroutine
	err     error
}

func (b *bodyReader) reset(hc *h1conn) {
	b.hc, b.left, b.chunked, b.expect, b.timed, b.eof, b.err = hc, 0, false, false, false, false, nil
	b.done.Store(false)
}

// Read implements io.Reader.
func (b *bodyReader) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if b.expect {
		b.expect = false
		b.hc.res.sayContinue()
	}
	n, err := b.read(p)
	if err != nil {
		b.err = err
		if err == io.EOF {
			b.eof = true
			b.done.Store(true)
			b.hc.watchSoon() // the body is read: the connection is free to watch
		}
	}
	return n, err
}

func (b *bodyReader) read(p []byte) (int, error) {
	br := b.hc.br
	if br.Buffered() == 0 && !b.hc.handlerDeadline.Load() {
		// A client may pause between two pieces of its body for no
		// longer than it may sit idle between requests.
		b.hc.c.SetReadDeadline(time.Now().Add(b.hc.s.idleTimeout()))
		b.timed = true
		if b.hc.handlerDeadline.Load() {
			// The handler set its own meanwhile: put it back.
			b.hc.c.SetReadDeadline(time.Unix(0, b.hc.handlerDeadlineAt.Load()))
		}
	}
	n, err := b.readFramed(br, p)
	if b.timed && errors.Is(err, os.ErrDeadlineExceeded) && !b.hc.handlerDeadline.Load() {
		err = errBodyTimeout
	}
	if b.timed && err == io.EOF {
		b.hc.c.SetReadDeadline(time.Time{})
		b.timed = false
	}
	return n, err
}

func (b *bodyReader) readFramed(br *bufio.Reader, p []byte) (int, error) {
	if !b.chunked {
		if b.left == 0 {
			return 0, io.EOF
		}
		n, err := br.Read(p[:min(int64(len(p)), b.left)])
		b.left -= int64(n)
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		if err == nil && b.left == 0 {
			err = io.EOF
		}
		return n, err
	}
	if b.left == 0 {
		size, err := readChunkSize(br)
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return 0, err
		}
		if size == 0 {
			return 0, b.trailers()
		}
		b.left = size
	}
	n, err := br.Read(p[:min(int64(len(p)), b.left)])
	b.left -= int64(n)
	if err == io.EOF {
		return n, io.ErrUnexpectedEOF
	}
	if err == nil && b.left == 0 {
		crlf, perr := br.Peek(2)
		if perr != nil || crlf[0] != '\r' || crlf[1] != '\n' {
			return n, errors.New("malformed chunked encoding")
		}
		br.Discard(2)
	}
	return n, err
}

// trailers reads the trailer section into the request's Trailer, and
// reports io.EOF: the body is done.
func (b *bodyReader) trailers() error {
	br := b.hc.br
	if end, err := br.Peek(2); err == nil && end[0] == '\r' && end[1] == '\n' {
		br.Discard(2)
		return io.EOF // no trailers: the usual case
	}
	buf, err := readLines(br, nil, b.hc.s.maxHeaderBytes(), errors.New("request trailers too large"))
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	tr := http.Header{}
	if _, err := scanFields(buf, 0, tr, func(string, string) (bool, error) { return true, nil }); err != nil {
		return errors.New("malformed request trailers")
	}
	b.hc.req.Trailer = tr
	return io.EOF
}

// Close implements io.Closer. The loop reads what the handler left of the
// body after it returns.
func (b *bodyReader) Close() error { return nil }

// discard reads what is left of the body, up to max bytes, and reports
// whether the connection can carry another request. A client that asked
// "Expect: 100-continue" and was never told to go on sends no body: the
// connection cannot go on either.
func (b *bodyReader) discard(max int64) bool {
	switch {
	case b.eof:
		return true
	case b.err != nil || b.expect:
		return false
	}
	io.CopyN(io.Discard, b, max)
	return b.eof
}
