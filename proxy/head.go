package proxy

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// maxResponseHead bounds the head of an upstream response. Heads that do
// not fit the connection's read buffer are copied aside, up to this size.
const maxResponseHead = 1 << 20

// Errors of an upstream response that lameduck refuses to relay; each
// makes a 502.
var (
	errHeadTooLarge   = errors.New("response head larger than 1 MiB")
	errMalformedHead  = errors.New("malformed response head")
	errTransferCoding = errors.New("unsupported transfer coding in response")
	errContentLength  = errors.New("invalid or conflicting Content-Length in response")
)

// A resHead is what lameduck needs to know of an upstream response head.
// The header fields themselves go straight into the client's header map.
type resHead struct {
	code    int
	minor   int   // HTTP/1.minor
	length  int64 // from Content-Length; -1 when absent
	chunked bool
	close   bool // the upstream ends the connection after this response
	trailer bool // a Trailer field announces trailers
	upgrade string
}

// readHead reads a response head from br and adds its end-to-end fields to
// dst, with canonical keys. Hop-by-hop fields are left out: the ones of RFC
// 9110 §7.6.1 and those that Connection lists. Obsolete line folding is
// replaced by a space, as RFC 9112 §5.2 asks of a recipient that keeps the
// field. got reports whether any byte of a response arrived, for the retry
// rules.
func readHead(br *bufio.Reader, dst http.Header) (h resHead, got bool, err error) {
	head, discard, err := peekHead(br)
	if err != nil {
		return h, br.Buffered() > 0 || discard < 0, err
	}
	h, err = parseHead(head, dst)
	br.Discard(discard)
	return h, true, err
}

// peekHead returns the response head at the start of br, through its blank
// line, and how many bytes of br it takes. A head that fits the buffer is
// not copied; a larger one is (and discard is then 0, or -1 on an error
// after part of it was read).
func peekHead(br *bufio.Reader) (head []byte, discard int, err error) {
	for {
		if n := br.Buffered(); n > 0 {
			b, _ := br.Peek(n)
			if end := headEnd(b); end > 0 {
				return b[:end], end, nil
			}
			if n == br.Size() {
				return copyHead(br)
			}
		}
		// Ask for one byte more than is buffered: bufio reads as much as
		// the socket has.
		if _, err := br.Peek(br.Buffered() + 1); err != nil {
			return nil, 0, err
		}
	}
}

// copyHead reads a head larger than the read buffer line by line.
func copyHead(br *bufio.Reader) (head []byte, discard int, err error) {
	var buf []byte
	for {
		line, err := br.ReadSlice('\n')
		buf = append(buf, line...)
		switch {
		case len(buf) > maxResponseHead:
			return nil, -1, errHeadTooLarge
		case err == bufio.ErrBufferFull:
			continue
		case err != nil:
			return nil, -1, err
		}
		if headEnd(buf) > 0 {
			return buf, 0, nil
		}
	}
}

// headEnd returns the length of the head at the start of b, through its
// blank line ("\r\n" or a bare "\n"), or 0 when b holds no whole head.
func headEnd(b []byte) int {
	for i := 0; ; {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return 0
		}
		blank := j == 0 || j == 1 && b[i] == '\r'
		i += j + 1
		if blank {
			return i
		}
	}
}

// parseHead parses a whole head: the status line, then the fields, whose
// keys it canonicalises in place in head.
func parseHead(head []byte, dst http.Header) (h resHead, err error) {
	line, rest := nextLine(head)
	if h, err = parseStatus(line); err != nil {
		return h, err
	}
	// First pass: check every line, canonicalise the keys, count fields.
	fields := 0
	for b := rest; len(b) > 0; {
		line, b = nextLine(b)
		if len(line) == 0 {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			if fields == 0 {
				return h, errMalformedHead
			}
			if !validValue(bytes.TrimLeft(line, " \t")) {
				return h, errMalformedHead
			}
			continue
		}
		k, v, ok := bytes.Cut(line, []byte(":"))
		if !ok || len(k) == 0 || !canonicalKey(k) || !validValue(v) {
			return h, errMalformedHead
		}
		fields++
	}
	// Second pass, on one string for the whole head: the values and the
	// keys not interned are substrings of it.
	h.length = -1
	var s string
	var vals []string
	if fields > 0 {
		s = string(rest)
		vals = make([]string, fields)
	}
	used := 0
	keepAlive := false
	var listed []string // other fields that Connection lists
	for len(s) > 0 {
		var line string
		line, s = nextLineString(s)
		if len(line) == 0 {
			break
		}
		k, v, _ := strings.Cut(line, ":")
		v = trimOWS(v)
		for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
			var cont string
			cont, s = nextLineString(s)
			// Joined as Go's own parser joins them.
			v = strings.TrimLeft(v+" "+trimOWS(cont), " \t")
		}
		if ck, ok := commonKeys[k]; ok {
			k = ck
		}
		switch k {
		case "Content-Length":
			n, ok := parseLength(v)
			if !ok || h.length >= 0 && n != h.length {
				return h, errContentLength
			}
			if h.length >= 0 {
				continue // a repeat of the same length
			}
			h.length = n
		case "Transfer-Encoding":
			if h.chunked || !strings.EqualFold(v, "chunked") {
				return h, errTransferCoding
			}
			h.chunked = true
			continue
		case "Connection":
			for tok := range strings.SplitSeq(v, ",") {
				switch tok = trimOWS(tok); {
				case strings.EqualFold(tok, "close"):
					h.close = true
				case strings.EqualFold(tok, "keep-alive"):
					keepAlive = true
				case tok != "":
					listed = append(listed, tok)
				}
			}
			continue
		case "Upgrade":
			h.upgrade = v
			continue
		case "Keep-Alive", "Proxy-Connection", "Te", "Proxy-Authenticate":
			continue
		case "Trailer":
			h.trailer = true
		}
		if old, ok := dst[k]; ok {
			dst[k] = append(old, v)
			continue
		}
		vals[used] = v
		dst[k] = vals[used : used+1 : used+1]
		used++
	}
	if h.minor == 0 && !keepAlive {
		h.close = true
	}
	for _, tok := range listed {
		delete(dst, http.CanonicalHeaderKey(tok))
	}
	if h.chunked && h.length >= 0 {
		// RFC 9112 §6.3: chunked wins, and the connection must not be
		// reused after such a message.
		delete(dst, "Content-Length")
		h.length, h.close = -1, true
	}
	return h, nil
}

// parseStatus parses "HTTP/1.x NNN reason".
func parseStatus(line []byte) (h resHead, err error) {
	if len(line) < 12 || string(line[:7]) != "HTTP/1." || line[7] != '0' && line[7] != '1' || line[8] != ' ' ||
		len(line) > 12 && line[12] != ' ' {
		return h, fmt.Errorf("%w: status line %q", errMalformedHead, truncate(line))
	}
	h.minor = int(line[7] - '0')
	for _, c := range line[9:12] {
		if c < '0' || c > '9' {
			return h, fmt.Errorf("%w: status line %q", errMalformedHead, truncate(line))
		}
		h.code = h.code*10 + int(c-'0')
	}
	if h.code < 100 {
		return h, fmt.Errorf("%w: status line %q", errMalformedHead, truncate(line))
	}
	return h, nil
}

// parseLength parses a Content-Length value: digits only, as RFC 9110
// §8.6 has it (strconv would take a sign).
func parseLength(v string) (int64, bool) {
	if v == "" || len(v) > 18 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

func truncate(b []byte) []byte {
	if len(b) > 40 {
		return b[:40]
	}
	return b
}

// nextLine splits off the first line of b, without its "\r\n" or "\n".
func nextLine(b []byte) (line, rest []byte) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return b, nil
	}
	line, rest = b[:i], b[i+1:]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, rest
}

func nextLineString(s string) (line, rest string) {
	i := strings.IndexByte(s, '\n')
	if i < 0 {
		return s, ""
	}
	line, rest = s[:i], s[i+1:]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, rest
}

// canonicalKey checks that k is a token and rewrites it in canonical form
// ("content-type" becomes "Content-Type").
func canonicalKey(k []byte) bool {
	upper := true
	for i, c := range k {
		if !httpguts.IsTokenRune(rune(c)) {
			return false
		}
		switch {
		case upper && 'a' <= c && c <= 'z':
			k[i] = c - ('a' - 'A')
		case !upper && 'A' <= c && c <= 'Z':
			k[i] = c + ('a' - 'A')
		}
		upper = c == '-'
	}
	return true
}

// validValue reports whether v holds no control byte other than HTAB (RFC
// 9110 §5.5). The line's "\r" is already gone, so a CR inside is caught.
func validValue(v []byte) bool {
	for _, c := range v {
		if c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// validValueString is validValue for a string.
func validValueString(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

func trimOWS(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// commonKeys interns the keys of the fields most responses carry, so that
// they cost no allocation.
var commonKeys = func() map[string]string {
	m := map[string]string{}
	for _, k := range []string{
		"Accept-Ranges", "Access-Control-Allow-Credentials", "Access-Control-Allow-Headers",
		"Access-Control-Allow-Methods", "Access-Control-Allow-Origin", "Access-Control-Expose-Headers",
		"Access-Control-Max-Age", "Age", "Cache-Control", "Connection", "Content-Disposition",
		"Content-Encoding", "Content-Language", "Content-Length", "Content-Range",
		"Content-Security-Policy", "Content-Type", "Date", "Etag", "Expires", "Keep-Alive",
		"Last-Modified", "Link", "Location", "Pragma", "Proxy-Authenticate", "Proxy-Connection",
		"Referrer-Policy", "Retry-After", "Sec-Websocket-Accept", "Sec-Websocket-Extensions",
		"Sec-Websocket-Protocol", "Server", "Set-Cookie", "Strict-Transport-Security", "Te",
		"Trailer", "Transfer-Encoding", "Upgrade", "Vary", "Www-Authenticate", "X-Content-Type-Options",
		"X-Frame-Options", "X-Powered-By", "X-Request-Id", "X-Xss-Protection",
	} {
		m[k] = k
	}
	return m
}()
