package proxy

import (
	"bufio"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

func TestReadHead(t *testing.T) {
	for _, tc := range []struct {
		name   string
		raw    string
		want   resHead
		header http.Header
		err    error
	}{
		{name: "plain",
			raw:    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello",
			want:   resHead{code: 200, minor: 1, length: 5},
			header: http.Header{"Content-Type": {"text/plain"}, "Content-Length": {"5"}}},
		{name: "no reason phrase, bare LF, lower-case keys",
			raw:    "HTTP/1.1 204\nx-request-id: abc\nset-cookie: a=1\nSET-COOKIE: b=2\n\n",
			want:   resHead{code: 204, minor: 1, length: -1},
			header: http.Header{"X-Request-Id": {"abc"}, "Set-Cookie": {"a=1", "b=2"}}},
		{name: "hop-by-hop fields and those Connection lists are dropped",
			raw: "HTTP/1.1 200 OK\r\nConnection: keep-alive, X-Secret\r\nKeep-Alive: timeout=5\r\nX-Secret: s\r\n" +
				"Transfer-Encoding: chunked\r\nProxy-Connection: x\r\nTe: trailers\r\nUpgrade: h2c\r\nX-Kept: k\r\n\r\n",
			want:   resHead{code: 200, minor: 1, length: -1, chunked: true, upgrade: "h2c"},
			header: http.Header{"X-Kept": {"k"}}},
		{name: "Connection close",
			raw:    "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n",
			want:   resHead{code: 200, minor: 1, length: -1, close: true},
			header: http.Header{}},
		{name: "HTTP/1.0 closes unless keep-alive",
			raw:    "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n",
			want:   resHead{code: 200, length: 0, close: true},
			header: http.Header{"Content-Length": {"0"}}},
		{name: "HTTP/1.0 keep-alive",
			raw:    "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n",
			want:   resHead{code: 200, length: 0},
			header: http.Header{"Content-Length": {"0"}}},
		{name: "chunked wins over Content-Length and ends the connection",
			raw:    "HTTP/1.1 200 OK\r\nContent-Length: 10\r\nTransfer-Encoding: chunked\r\n\r\n",
			want:   resHead{code: 200, minor: 1, length: -1, chunked: true, close: true},
			header: http.Header{}},
		{name: "repeated equal Content-Length",
			raw:    "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n",
			want:   resHead{code: 200, minor: 1, length: 3},
			header: http.Header{"Content-Length": {"3"}}},
		{name: "obsolete line folding becomes a space",
			raw:    "HTTP/1.1 200 OK\r\nX-Folded: a\r\n  b\r\n\tc\r\n\r\n",
			want:   resHead{code: 200, minor: 1, length: -1},
			header: http.Header{"X-Folded": {"a b c"}}},
		{name: "trailer announced",
			raw:    "HTTP/1.1 200 OK\r\nTrailer: X-Sum\r\nTransfer-Encoding: chunked\r\n\r\n",
			want:   resHead{code: 200, minor: 1, length: -1, chunked: true},
			header: http.Header{"Trailer": {"X-Sum"}}},
		{name: "interim", raw: "HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n",
			want: resHead{code: 103, minor: 1, length: -1}, header: http.Header{"Link": {"</a.css>"}}},
		{name: "differing Content-Lengths", raw: "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", err: errContentLength},
		{name: "signed Content-Length", raw: "HTTP/1.1 200 OK\r\nContent-Length: +3\r\n\r\n", err: errContentLength},
		{name: "list in Content-Length", raw: "HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\n\r\n", err: errContentLength},
		{name: "gzip transfer coding", raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", err: errTransferCoding},
		{name: "two Transfer-Encodings", raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", err: errTransferCoding},
		{name: "space before colon", raw: "HTTP/1.1 200 OK\r\nContent-Length : 3\r\n\r\n", err: errMalformedHead},
		{name: "no colon", raw: "HTTP/1.1 200 OK\r\nbogus\r\n\r\n", err: errMalformedHead},
		{name: "CR in a value", raw: "HTTP/1.1 200 OK\r\nX-A: a\rb\r\n\r\n", err: errMalformedHead},
		{name: "NUL in a value", raw: "HTTP/1.1 200 OK\r\nX-A: a\x00b\r\n\r\n", err: errMalformedHead},
		{name: "fold first", raw: "HTTP/1.1 200 OK\r\n x\r\n\r\n", err: errMalformedHead},
		{name: "HTTP/2 status line", raw: "HTTP/2 200 OK\r\n\r\n", err: errMalformedHead},
		{name: "two-digit status", raw: "HTTP/1.1 20 OK\r\n\r\n", err: errMalformedHead},
		{name: "status below 100", raw: "HTTP/1.1 099 OK\r\n\r\n", err: errMalformedHead},
		{name: "no space after status", raw: "HTTP/1.1 200OK\r\n\r\n", err: errMalformedHead},
		{name: "cut before the blank line", raw: "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n", err: io.EOF},
	} {
		t.Run(tc.name, func(t *testing.T) {
			br := bufio.NewReaderSize(strings.NewReader(tc.raw), 64)
			got := http.Header{}
			h, _, err := readHead(br, got)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("readHead(%q) error = %v, want %v", tc.raw, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("readHead(%q) error = %v", tc.raw, err)
			}
			if h != tc.want {
				t.Errorf("readHead(%q) = %+v, want %+v", tc.raw, h, tc.want)
			}
			if !reflect.DeepEqual(got, tc.header) {
				t.Errorf("readHead(%q) fields = %v, want %v", tc.raw, got, tc.header)
			}
		})
	}
}

// TestReadHeadLarge: a head larger than the read buffer is read too, and
// one larger than maxResponseHead is refused.
func TestReadHeadLarge(t *testing.T) {
	big := strings.Repeat("v", 100)
	var b strings.Builder
	b.WriteString("HTTP/1.1 200 OK\r\n")
	for range 50 {
		b.WriteString("X-Big: " + big + "\r\n")
	}
	b.WriteString("\r\nbody")
	br := bufio.NewReaderSize(strings.NewReader(b.String()), 256)
	hdr := http.Header{}
	if _, _, err := readHead(br, hdr); err != nil {
		t.Fatalf("readHead of a 5 KiB head through a 256-byte buffer: %v", err)
	}
	if n := len(hdr["X-Big"]); n != 50 {
		t.Fatalf("got %d X-Big fields, want 50", n)
	}
	if rest, _ := io.ReadAll(br); string(rest) != "body" {
		t.Fatalf("after the head, the reader holds %q, want the body", rest)
	}
	huge := "HTTP/1.1 200 OK\r\nX-Huge: " + strings.Repeat("h", maxResponseHead) + "\r\n\r\n"
	if _, _, err := readHead(bufio.NewReaderSize(strings.NewReader(huge), 4096), http.Header{}); !errors.Is(err, errHeadTooLarge) {
		t.Fatalf("readHead of a head over 1 MiB: error = %v, want %v", err, errHeadTooLarge)
	}
}

func TestReadHeadAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector")
	}
	const raw = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 24\r\nDate: Tue, 01 Dec 2026 20:00:00 GMT\r\n" +
		"Connection: keep-alive\r\nKeep-Alive: timeout=5\r\n\r\n"
	sr := strings.NewReader(raw)
	br := bufio.NewReader(sr)
	hdr := make(http.Header, 8)
	got := testing.AllocsPerRun(100, func() {
		sr.Reset(raw)
		br.Reset(sr)
		clear(hdr)
		readHead(br, hdr)
	})
	// One string holds the whole head, one slice all the values.
	if got > 2 {
		t.Errorf("readHead allocations = %v, want at most 2", got)
	}
}

func TestReadChunkSize(t *testing.T) {
	for _, tc := range []struct {
		line string
		want int64
		ok   bool
	}{
		{"5\r\n", 5, true},
		{"1aF\r\n", 0x1af, true},
		{"10;name=value\r\n", 16, true},
		{"10 \r\n", 16, true},
		{"10 ;ext\r\n", 0, false},
		{"0\r\n", 0, true},
		{"7fffffffffffffff\r\n", 0, false}, // 16 digits: refused before it overflows
		{"zz\r\n", 0, false},
		{"\r\n", 0, false},
		{"-1\r\n", 0, false},
	} {
		got, err := readChunkSize(bufio.NewReader(strings.NewReader(tc.line)))
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("readChunkSize(%q) = %d, %v; want %d, ok=%v", tc.line, got, err, tc.want, tc.ok)
		}
	}
}

// FuzzReadHead compares readHead with Go's own response parser: whatever
// readHead accepts, Go accepts with the same status and the same
// end-to-end fields, so lameduck never relays a head that a strict client
// would read differently.
func FuzzReadHead(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
		"HTTP/1.0 301 Moved\nLocation: /x\n\n",
		"HTTP/1.1 204 No Content\r\nConnection: x-a, close\r\nX-A: 1\r\nX-B: 2\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX-F: a\r\n b\r\n\r\n",
		"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got := http.Header{}
		h, _, err := readHead(bufio.NewReader(strings.NewReader(raw)), got)
		if err != nil {
			return
		}
		res, gerr := http.ReadResponse(bufio.NewReader(strings.NewReader(raw)), nil)
		if gerr != nil {
			t.Fatalf("readHead accepted %q (%+v), Go's parser refuses it: %v", raw, h, gerr)
		}
		if res.StatusCode != h.code {
			t.Fatalf("readHead(%q) status = %d, Go's parser %d", raw, h.code, res.StatusCode)
		}
		for k, v := range got {
			if k == "Content-Length" {
				continue // Go's parser keeps it in ContentLength
			}
			if gv := res.Header[k]; !reflect.DeepEqual(v, gv) {
				t.Fatalf("readHead(%q) field %s = %q, Go's parser %q", raw, k, v, gv)
			}
		}
		bodied := h.code >= 200 && h.code != 204 && h.code != 304 // Go's parser says 0 for the others
		if bodied && h.length >= 0 && !h.chunked && res.ContentLength != h.length {
			t.Fatalf("readHead(%q) length = %d, Go's parser %d", raw, h.length, res.ContentLength)
		}
	})
}
