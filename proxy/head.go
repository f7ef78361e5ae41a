package proxy

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"strings"
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
	if head, err = readLines(br, nil, maxResponseHead, errHeadTooLarge); err != nil {
		return nil, -1, err
	}
	return head, 0, nil
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
	h.length = -1
	keepAlive := false
	var listed []string // other fields that Connection lists
	_, err = scanFields(head, len(head)-len(rest), dst, func(k, v string) (bool, error) {
		switch k {
		case "Content-Length":
			n, ok := parseLength(v)
			if !ok || h.length >= 0 && n != h.length {
				return false, errContentLength
			}
			if h.length >= 0 {
				return false, nil // a repeat of the same length
			}
			h.length = n
		case "Transfer-Encoding":
			if h.chunked || !strings.EqualFold(v, "chunked") {
				return false, errTransferCoding
			}
			h.chunked = true
			return false, nil
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
			return false, nil
		case "Upgrade":
			h.upgrade = v
			return false, nil
		case "Keep-Alive", "Proxy-Connection", "Te", "Proxy-Authenticate":
			return false, nil
		}
		return true, nil
	})
	if err != nil {
		return h, err
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

func truncate(b []byte) []byte {
	if len(b) > 40 {
		return b[:40]
	}
	return b
}
