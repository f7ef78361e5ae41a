package proxy

import (
	"bufio"
	"bytes"
	"net/http"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// scanFields parses the field lines of a head, those from byte from
// through the blank line, into dst with canonical keys; it rewrites the
// keys in place in head. For each field, keep decides whether it goes into
// dst (and may note it); an error from keep ends the scan. Obsolete line
// folding is replaced by a space, as Go's own parser does (RFC 9112 §5.2).
// It returns the head as a string, of which the values and the keys that
// are not interned are substrings: whatever the head, it costs two
// allocations, that string and one slice for the values.
func scanFields(head []byte, from int, dst http.Header, keep func(k, v string) (bool, error)) (string, error) {
	rest := head[from:]
	// First pass: check every line, canonicalise the keys, count fields.
	fields := 0
	for b := rest; len(b) > 0; {
		var line []byte
		line, b = nextLine(b)
		if len(line) == 0 {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			if fields == 0 || !validValue(bytes.TrimLeft(line, " \t")) {
				return "", errMalformedHead
			}
			continue
		}
		k, v, ok := bytes.Cut(line, []byte(":"))
		if !ok || len(k) == 0 || !canonicalKey(k) || !validValue(v) {
			return "", errMalformedHead
		}
		fields++
	}
	whole := string(head)
	if fields == 0 {
		return whole, nil
	}
	// Second pass, on the string.
	s := whole[from:]
	vals := make([]string, fields)
	used := 0
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
		if ok, err := keep(k, v); err != nil {
			return "", err
		} else if !ok {
			continue
		}
		if old, ok := dst[k]; ok {
			dst[k] = append(old, v)
			continue
		}
		vals[used] = v
		dst[k] = vals[used : used+1 : used+1]
		used++
	}
	return whole, nil
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
		// Request fields.
		"Accept", "Accept-Encoding", "Accept-Language", "Authorization", "Cookie", "Dnt", "Expect",
		"Forwarded", "Host", "If-Match", "If-Modified-Since", "If-None-Match", "Origin", "Priority",
		"Range", "Referer", "Sec-Ch-Ua", "Sec-Ch-Ua-Mobile", "Sec-Ch-Ua-Platform", "Sec-Fetch-Dest",
		"Sec-Fetch-Mode", "Sec-Fetch-Site", "Sec-Fetch-User", "Sec-Websocket-Key", "Sec-Websocket-Version",
		"Traceparent", "Upgrade-Insecure-Requests", "User-Agent", "X-Forwarded-For", "X-Forwarded-Host",
		"X-Forwarded-Proto", "X-Real-Ip", "X-Requested-With",
	} {
		m[k] = k
	}
	return m
}()

// writeFields writes the fields of h, leaving out any with a name or value
// not valid in HTTP/1.1, so that nothing can end a line early.
func writeFields(bw *bufio.Writer, h http.Header) {
	for k, vv := range h {
		if !httpguts.ValidHeaderFieldName(k) {
			continue
		}
		for _, v := range vv {
			if !validValueString(v) {
				continue
			}
			bw.WriteString(k)
			bw.WriteString(": ")
			bw.WriteString(v)
			bw.WriteString("\r\n")
		}
	}
}

// readLines reads lines from br onto buf through a blank line, for a head
// or trailer section that does not fit br's buffer. Each line is looked at
// once, so the work is linear in the size of the section. It fails with
// tooLarge past limit bytes.
func readLines(br *bufio.Reader, buf []byte, limit int, tooLarge error) ([]byte, error) {
	start := len(buf) // where the line being read began
	for {
		line, err := br.ReadSlice('\n')
		buf = append(buf, line...)
		switch {
		case len(buf) > limit:
			return nil, tooLarge
		case err == bufio.ErrBufferFull:
			continue // the rest of a long line
		case err != nil:
			return nil, err
		}
		if l := buf[start:]; len(l) == 1 || len(l) == 2 && l[0] == '\r' {
			return buf, nil
		}
		start = len(buf)
	}
}
