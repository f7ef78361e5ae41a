package proxy

import (
	"bufio"
	"bytes"
	"io"
	"net/http/httptest"
	"net/http/httputil"
	"strings"
	"testing"
)

// FuzzChunked compares the relay's chunked decoder with Go's own: whatever
// the relay takes as a whole body, Go's decoder reads as the same bytes.
func FuzzChunked(f *testing.F) {
	for _, s := range []string{
		"5\r\nhello\r\n0\r\n\r\n",
		"3;ext=1\r\nabc\r\n0\r\nX-Sum: 1\r\n\r\n",
		"A\r\n0123456789\r\n2\r\nab\r\n0\r\n\r\n",
		"5\r\nhel\r\n",
		"fffffffffffffff\r\nx\r\n0\r\n\r\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		rec := httptest.NewRecorder()
		rl := relay{w: rec, br: bufio.NewReaderSize(strings.NewReader(raw), 16)}
		if _, err := rl.chunked(); err != nil {
			return
		}
		want, err := io.ReadAll(httputil.NewChunkedReader(strings.NewReader(raw)))
		if err != nil {
			t.Fatalf("relay decoded %q as %q; Go's decoder refuses it: %v", raw, rec.Body.Bytes(), err)
		}
		if !bytes.Equal(rec.Body.Bytes(), want) {
			t.Fatalf("relay decoded %q as %q; Go's decoder as %q", raw, rec.Body.Bytes(), want)
		}
	})
}
