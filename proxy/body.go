package proxy

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"strconv"
	"sync"
)

// bufSize is the copy buffer for request bodies and tunnels: large enough
// that a 64 KiB body goes out in a couple of writes.
const bufSize = 32 << 10

var buffers = sync.Pool{New: func() any { b := make([]byte, bufSize); return &b }}

var (
	errChunk        = errors.New("malformed chunked encoding in response")
	errShortBody    = errors.New("request body shorter than its Content-Length")
	errResponseBody = errors.New("upstream response body cut")
)

// writeBody sends a request body to the upstream: as it comes, framed by
// its length, or chunked when the length is unknown (length < 0), with
// the request's trailers. It flushes after each piece the client sent, so
// that a streamed upload streams on. It reports a failure to read the
// client's body apart from a failure to write to the upstream.
func writeBody(bw *bufio.Writer, r *http.Request, length int64) (readErr, writeErr error) {
	bp := buffers.Get().(*[]byte)
	defer buffers.Put(bp)
	buf := *bp
	var sent int64
	for {
		n, err := r.Body.Read(buf)
		if n > 0 {
			if length < 0 {
				bw.Write(strconv.AppendInt(bw.AvailableBuffer(), int64(n), 16))
				bw.WriteString("\r\n")
			}
			bw.Write(buf[:n])
			if length < 0 {
				bw.WriteString("\r\n")
			}
			sent += int64(n)
			if ferr := bw.Flush(); ferr != nil {
				return nil, ferr
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return err, nil
		}
	}
	if length >= 0 {
		if sent != length {
			return errShortBody, nil
		}
		return nil, nil
	}
	bw.WriteString("0\r\n")
	writeFields(bw, r.Trailer)
	bw.WriteString("\r\n")
	return nil, bw.Flush()
}

// A relay copies a response body from the upstream's buffered reader to
// the client. It writes straight from the reader's buffer, and flushes
// the client's connection whenever it is about to wait for the upstream,
// so that a stream (server-sent events, a slow download) reaches the
// client as it comes, while a response that is already here goes out in
// as few writes as possible.
type relay struct {
	w       http.ResponseWriter
	br      *bufio.Reader
	rc      *http.ResponseController // made on the first flush
	pending bool                     // written since the last flush
	werr    error                    // writing to the client failed
}

// fill makes sure br holds at least one byte, flushing what the client
// has not been sent yet before it waits for the upstream.
func (rl *relay) fill() error {
	if rl.br.Buffered() > 0 {
		return nil
	}
	if rl.pending {
		if rl.rc == nil {
			rl.rc = http.NewResponseController(rl.w)
		}
		if err := rl.rc.Flush(); err != nil {
			rl.werr = err
			return err
		}
		rl.pending = false
	}
	_, err := rl.br.Peek(1)
	return err
}

// pass writes up to n buffered bytes to the client and reports how many
// it wrote.
func (rl *relay) pass(n int64) (int64, error) {
	p, _ := rl.br.Peek(int(min(n, int64(rl.br.Buffered()))))
	k, err := rl.w.Write(p)
	rl.br.Discard(k)
	rl.pending = true
	if err != nil {
		rl.werr = err
	}
	return int64(k), err
}

// fixed relays exactly n bytes.
func (rl *relay) fixed(n int64) error {
	for n > 0 {
		if err := rl.fill(); err != nil {
			return rl.upstreamErr(err)
		}
		k, err := rl.pass(n)
		if err != nil {
			return err
		}
		n -= k
	}
	return nil
}

// untilEOF relays everything until the upstream closes the connection.
func (rl *relay) untilEOF() error {
	for {
		if err := rl.fill(); err == io.EOF {
			return nil
		} else if err != nil {
			return rl.upstreamErr(err)
		}
		if _, err := rl.pass(int64(rl.br.Buffered())); err != nil {
			return err
		}
	}
}

// chunked relays a chunked body (RFC 9112 §7.1), decoding it: the
// client's server frames the response anew. It returns the trailer
// fields, if any.
func (rl *relay) chunked() (http.Header, error) {
	for {
		if err := rl.fill(); err != nil {
			return nil, rl.upstreamErr(err)
		}
		size, err := readChunkSize(rl.br)
		if err != nil {
			return nil, rl.upstreamErr(err)
		}
		if size == 0 {
			return rl.trailers()
		}
		if err := rl.fixed(size); err != nil {
			return nil, err
		}
		if err := rl.fill(); err != nil {
			return nil, rl.upstreamErr(err)
		}
		if crlf, err := rl.br.Peek(2); err != nil || crlf[0] != '\r' || crlf[1] != '\n' {
			return nil, errChunk
		}
		rl.br.Discard(2)
	}
}

// trailers reads the trailer section after the last chunk.
func (rl *relay) trailers() (http.Header, error) {
	if end, err := rl.br.Peek(2); err == nil && end[0] == '\r' && end[1] == '\n' {
		rl.br.Discard(2)
		return nil, nil // no trailers: the usual case
	}
	// Parse the trailer section as a head: put a status line before it.
	buf, err := readLines(rl.br, []byte("HTTP/1.1 200 OK\r\n"), maxResponseHead, errHeadTooLarge)
	if err != nil {
		return nil, rl.upstreamErr(err)
	}
	tr := http.Header{}
	if _, err := parseHead(buf, tr); err != nil {
		return nil, err
	}
	return tr, nil
}

// upstreamErr describes a failure to read the upstream's body: a close
// before the end is a cut.
func (rl *relay) upstreamErr(err error) error {
	if err == io.EOF {
		return errResponseBody
	}
	return err
}

// readChunkSize reads a chunk-size line, ignoring chunk extensions. Like
// Go's own decoder it wants the line to end in CRLF, and takes whitespace
// at the end of the line but not before a ";".
func readChunkSize(br *bufio.Reader) (int64, error) {
	line, err := br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		return 0, errChunk
	}
	if err != nil {
		return 0, err
	}
	if !bytes.HasSuffix(line, []byte("\r\n")) {
		return 0, errChunk
	}
	if line = line[:len(line)-2]; bytes.IndexByte(line, '\r') >= 0 {
		return 0, errChunk
	}
	line = bytes.TrimRight(line, " \t")
	if i := bytes.IndexByte(line, ';'); i >= 0 {
		line = line[:i]
	}
	if len(line) == 0 || len(line) > 15 {
		return 0, errChunk
	}
	var n int64
	for _, c := range line {
		var d byte
		switch {
		case '0' <= c && c <= '9':
			d = c - '0'
		case 'a' <= c && c <= 'f':
			d = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, errChunk
		}
		n = n<<4 | int64(d)
	}
	return n, nil
}
