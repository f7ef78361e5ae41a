package wsframe

import (
	"bytes"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// scanCase is a stream of frames and what a Scanner must make of it.
type scanCase struct {
	name    string
	masking Masking
	frames  []frame
	// extra bytes appended after the frames
	tail []byte
	// wantErr is the protocol error, or nil; wantErrAt the offset of the
	// frame it names.
	wantErr   error
	wantErrAt int
	// wantEnds are the boundaries; nil means the end of every frame.
	wantEnds   []int
	wantClosed bool
	wantCode   uint16
	wantReason string
}

var scanCases = []scanCase{
	{name: "empty text", frames: []frame{text("")}},
	{name: "small text", frames: []frame{text("hello")}},
	{name: "125 bytes", frames: []frame{binaryFrame(125)}},
	{name: "126 bytes uses 16-bit length", frames: []frame{binaryFrame(126)}},
	{name: "65535 bytes", frames: []frame{binaryFrame(65535)}},
	{name: "65536 bytes uses 64-bit length", frames: []frame{binaryFrame(65536)}},
	{name: "non-minimal 16-bit length", frames: []frame{form(text("hi"), len16), form(text(""), len16)}},
	{name: "non-minimal 64-bit length", frames: []frame{form(text("hi"), len64), form(binaryFrame(300), len64)}},
	{name: "masked frames", frames: []frame{masked(text("hello")), masked(binaryFrame(126)), masked(form(text("x"), len64)), masked(text(""))}},
	{name: "several small frames", frames: []frame{text("a"), text("bc"), binaryFrame(0), ping(""), {b0: fin(0xA)}, text("def")}},
	{
		name: "fragmented message with control frames between fragments",
		frames: []frame{
			{b0: 0x1, payload: []byte("Hel")},
			ping("p"),
			{b0: 0x0, payload: []byte("lo")},
			{b0: fin(0xA), payload: []byte("p")},
			{b0: 0x0},
			{b0: fin(0x0), payload: []byte("!")},
			text("next"),
		},
	},
	{name: "RSV1 on a compressed message", frames: []frame{{b0: 0x80 | 0x40 | 0x1, payload: []byte{0xf2, 0x48, 0xcd}}, {b0: 0x40 | 0x2, payload: []byte{1}}, {b0: fin(0)}}},
	{
		name:       "close without payload",
		frames:     []frame{text("bye"), {b0: fin(0x8)}},
		wantClosed: true, wantCode: CloseNoStatus,
	},
	{
		name:       "close with code",
		frames:     []frame{closeFrame(1001, "")},
		wantClosed: true, wantCode: 1001,
	},
	{
		name:       "masked close with code and reason",
		masking:    MaskRequired,
		frames:     []frame{masked(text("x")), masked(closeFrame(1000, "done, thank you"))},
		wantClosed: true, wantCode: 1000, wantReason: "done, thank you",
	},
	{
		name:       "close with longest reason",
		frames:     []frame{masked(closeFrame(4000, strings.Repeat("r", 123)))},
		wantClosed: true, wantCode: 4000, wantReason: strings.Repeat("r", 123),
	},
	{
		name:       "close between fragments",
		frames:     []frame{{b0: 0x2, payload: []byte("ab")}, closeFrame(1012, "restart")},
		wantClosed: true, wantCode: 1012, wantReason: "restart",
	},
	{
		name:       "invalid close code is reported as sent",
		frames:     []frame{closeFrame(1005, "")},
		wantClosed: true, wantCode: 1005,
	},
	{
		name:       "first close wins",
		frames:     []frame{closeFrame(1001, "first"), closeFrame(1000, "second")},
		wantClosed: true, wantCode: 1001, wantReason: "first",
	},
	{name: "pong with non-minimal 16-bit length", frames: []frame{form(frame{b0: fin(0xA), payload: []byte("x")}, len16)}},
	{
		name:       "close with non-minimal 64-bit length",
		frames:     []frame{form(masked(closeFrame(3000, "x")), len64)},
		wantClosed: true, wantCode: 3000, wantReason: "x",
	},
	{name: "unmasked frames where they are forbidden", masking: MaskForbidden, frames: []frame{text("a"), binaryFrame(200)}},

	{name: "reserved opcode 0x3", frames: []frame{text("ok"), {b0: fin(0x3)}}, wantErr: errReservedOpcode, wantErrAt: 4},
	{name: "reserved opcode 0x7", frames: []frame{{b0: fin(0x7), payload: []byte("x")}}, wantErr: errReservedOpcode},
	{name: "reserved control opcode 0xB", frames: []frame{{b0: fin(0xB)}}, wantErr: errReservedOpcode},
	{name: "reserved control opcode 0xF", frames: []frame{masked(frame{b0: fin(0xF)})}, wantErr: errReservedOpcode},
	{name: "fragmented ping", frames: []frame{{b0: 0x9}}, wantErr: errFragmentedControl},
	{name: "fragmented close", frames: []frame{{b0: 0x8, payload: []byte{3, 0xe8}}}, wantErr: errFragmentedControl},
	{name: "ping of 126 bytes", frames: []frame{{b0: fin(0x9), payload: filler(126)}}, wantErr: errControlTooLong},
	{name: "pong with 16-bit length of 200", frames: []frame{form(frame{b0: fin(0xA), payload: filler(200)}, len16)}, wantErr: errControlTooLong},
	{name: "close with 64-bit length of 2^32", tail: []byte{0x88, 127, 0, 0, 0, 1, 0, 0, 0, 0}, wantErr: errControlTooLong},
	{name: "close of 1 byte", frames: []frame{text("a"), {b0: fin(0x8), payload: []byte{3}}}, wantErr: errCloseLength, wantErrAt: 3},
	{name: "64-bit length with top bit", tail: []byte{0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 1}, wantErr: errLengthTopBit},
	{name: "continuation without a message", frames: []frame{text("a"), {b0: fin(0x0), payload: []byte("b")}}, wantErr: errContinuation, wantErrAt: 3},
	{name: "continuation after final fragment", frames: []frame{{b0: 0x1}, {b0: fin(0x0)}, {b0: 0x0}}, wantErr: errContinuation, wantErrAt: 4},
	{name: "new message inside a fragmented one", frames: []frame{{b0: 0x1, payload: []byte("a")}, ping(""), text("b")}, wantErr: errUnfinished, wantErrAt: 5},
	{name: "unmasked frame where masking is required", masking: MaskRequired, frames: []frame{masked(text("a")), text("b")}, wantErr: errUnmasked, wantErrAt: 7},
	{name: "masked frame where it is forbidden", masking: MaskForbidden, frames: []frame{text("a"), masked(text("b"))}, wantErr: errMasked, wantErrAt: 3},
	{
		name:       "close before an error is still reported",
		frames:     []frame{closeFrame(1001, ""), {b0: fin(0x4)}},
		wantErr:    errReservedOpcode,
		wantErrAt:  4,
		wantClosed: true, wantCode: 1001,
	},
	{
		name:     "frame cut short",
		frames:   []frame{text("abc")},
		tail:     []byte{0x81, 126, 0},
		wantEnds: []int{5},
	},
}

// bytes returns the stream of c and the boundaries expected in it.
func (c scanCase) bytes() ([]byte, []int) {
	b, ends := stream(c.frames...)
	b = append(b, c.tail...)
	if c.wantErr != nil {
		// The failing frame has no boundary after it, nor has what follows.
		ends = slices.DeleteFunc(ends, func(e int) bool { return e > c.wantErrAt })
	}
	if c.wantEnds != nil {
		ends = c.wantEnds
	}
	return b, ends
}

// check compares the final state of s with what c wants.
func (c scanCase) check(t *testing.T, how string, s *Scanner) {
	t.Helper()
	err := s.Err()
	if !errors.Is(err, c.wantErr) || (err == nil) != (c.wantErr == nil) {
		t.Errorf("%s: Err() = %v, want %v", how, err, c.wantErr)
	}
	if c.wantErr != nil {
		at := " at byte " + strconv.Itoa(c.wantErrAt) + " "
		if err != nil && !strings.Contains(err.Error(), at) {
			t.Errorf("%s: Err() = %q, want it to contain %q", how, err, at)
		}
		if s.AtBoundary() {
			t.Errorf("%s: AtBoundary() = true after %v, want false", how, err)
		}
	}
	if s.Closed() != c.wantClosed {
		t.Errorf("%s: Closed() = %v, want %v", how, s.Closed(), c.wantClosed)
	}
	code, reason := s.CloseStatus()
	if code != c.wantCode || string(reason) != c.wantReason {
		t.Errorf("%s: CloseStatus() = %d, %q, want %d, %q", how, code, reason, c.wantCode, c.wantReason)
	}
}

func TestScannerFrames(t *testing.T) {
	for _, c := range scanCases {
		t.Run(c.name, func(t *testing.T) {
			b, want := c.bytes()

			s := Scanner{Masking: c.masking}
			if got := scanChunks(&s, b); !slices.Equal(got, want) {
				t.Errorf("boundaries in one chunk = %v, want %v", got, want)
			}
			c.check(t, "one chunk", &s)

			s = Scanner{Masking: c.masking}
			if got := scanChunks(&s, byteChunks(b)...); !slices.Equal(got, want) {
				t.Errorf("boundaries byte by byte = %v, want %v", got, want)
			}
			c.check(t, "byte by byte", &s)

			s = Scanner{Masking: c.masking}
			s.Advance(b)
			c.check(t, "Advance", &s)
			if wantAt := len(want) > 0 && want[len(want)-1] == len(b) && c.wantErr == nil; s.AtBoundary() != wantAt {
				t.Errorf("AtBoundary() after Advance = %v, want %v", s.AtBoundary(), wantAt)
			}
		})
	}
}

// TestScannerEverySplit feeds a multi-frame stream in two and three chunks
// cut at every offset: the boundaries must not depend on the chunking.
func TestScannerEverySplit(t *testing.T) {
	for _, c := range scanCases {
		b, want := c.bytes()
		if len(b) > 400 {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			for i := 0; i <= len(b); i++ {
				s := Scanner{Masking: c.masking}
				if got := scanChunks(&s, b[:i], b[i:]); !slices.Equal(got, want) {
					t.Fatalf("boundaries split at %d = %v, want %v", i, got, want)
				}
				c.check(t, "split at "+strconv.Itoa(i), &s)
				for j := i; j <= len(b) && len(b) <= 200; j++ {
					s := Scanner{Masking: c.masking}
					if got := scanChunks(&s, b[:i], b[i:j], b[j:]); !slices.Equal(got, want) {
						t.Fatalf("boundaries split at %d and %d = %v, want %v", i, j, got, want)
					}
				}
			}
		})
	}
}

// TestScannerMultiFrameSplits is the long mixed stream of the package
// documentation's use: every form, masked and not, a fragmented message
// with control frames inside, and a close at the end.
func TestScannerMultiFrameSplits(t *testing.T) {
	b, want := stream(
		text("hello"),
		binaryFrame(130),
		form(text("tiny"), len64),
		frame{b0: 0x1, payload: []byte("frag")},
		ping("are you there"),
		frame{b0: 0x0, payload: filler(126)},
		frame{b0: fin(0xA)},
		frame{b0: fin(0x0), payload: []byte("end")},
		masked(binaryFrame(3)),
		closeFrame(1001, "going away"),
	)
	for i := 0; i <= len(b); i++ {
		var s Scanner
		if got := scanChunks(&s, b[:i], b[i:]); !slices.Equal(got, want) {
			t.Fatalf("boundaries split at %d = %v, want %v", i, got, want)
		}
		if code, reason := s.CloseStatus(); code != 1001 || string(reason) != "going away" {
			t.Fatalf("split at %d: CloseStatus() = %d, %q, want 1001, \"going away\"", i, code, reason)
		}
	}
}

// TestScannerAtBoundary follows AtBoundary byte by byte through two frames.
func TestScannerAtBoundary(t *testing.T) {
	b, _ := stream(text("ab"), form(binaryFrame(1), len16))
	// After 0 bytes: at the start. Then "81 02 'a' 'b'" and "82 7e 00 01 x".
	want := []bool{true, false, false, false, true, false, false, false, false, true}
	var s Scanner
	got := []bool{s.AtBoundary()}
	for i := range b {
		s.Advance(b[i : i+1])
		got = append(got, s.AtBoundary())
	}
	if !slices.Equal(got, want) {
		t.Errorf("AtBoundary() byte by byte = %v, want %v", got, want)
	}
}

// TestScannerNext checks what Next returns when no frame ends in the chunk,
// when one ends at its last byte and for an empty chunk.
func TestScannerNext(t *testing.T) {
	b, _ := stream(text("hello"), text("world")) // 7 + 7 bytes
	tests := []struct {
		name   string
		chunks [][]byte // fed with Advance before the last one
		last   []byte
		want   int
		wantAt bool
	}{
		{name: "empty chunk at start", last: nil, want: 0, wantAt: true},
		{name: "first frame ends inside", last: b, want: 7, wantAt: true},
		{name: "frame ends at the last byte", last: b[:7], want: 7, wantAt: true},
		{name: "no frame ends", last: b[:6], want: 6, wantAt: false},
		{name: "header split", chunks: [][]byte{b[:1]}, last: b[1:], want: 6, wantAt: true},
		{name: "continues a frame", chunks: [][]byte{b[:3]}, last: b[3:9], want: 4, wantAt: true},
		{name: "empty chunk inside a frame", chunks: [][]byte{b[:3]}, last: []byte{}, want: 0, wantAt: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s Scanner
			for _, c := range tt.chunks {
				s.Advance(c)
			}
			if got := s.Next(tt.last); got != tt.want || s.AtBoundary() != tt.wantAt {
				t.Errorf("Next(% x) = %d, AtBoundary() %v, want %d, %v", tt.last, got, s.AtBoundary(), tt.want, tt.wantAt)
			}
		})
	}
}

// TestScannerAfterError checks that a stopped Scanner swallows everything.
func TestScannerAfterError(t *testing.T) {
	var s Scanner
	bad := []byte{0x83, 0x00}
	good, _ := stream(text("a"), text("b"))
	if n := s.Next(append(bad, good...)); n != len(bad)+len(good) {
		t.Errorf("Next(bad frame, good frames) = %d, want %d", n, len(bad)+len(good))
	}
	if n := s.Next(good); n != len(good) || s.AtBoundary() || s.Err() == nil {
		t.Errorf("Next after error = %d, AtBoundary() %v, Err() %v, want %d, false, non-nil", n, s.AtBoundary(), s.Err(), len(good))
	}
	s.Reset()
	if got := scanChunks(&s, good); !slices.Equal(got, []int{3, 6}) || s.Err() != nil {
		t.Errorf("after Reset, boundaries = %v, Err() %v, want [3 6], nil", got, s.Err())
	}
}

// TestScannerResetKeepsMasking checks Reset against a MaskRequired Scanner.
func TestScannerResetKeepsMasking(t *testing.T) {
	s := Scanner{Masking: MaskRequired}
	s.Advance(closeFrame(1000, "").bytes()) // unmasked: an error
	s.Reset()
	if s.Err() != nil || s.Closed() || !s.AtBoundary() || s.Masking != MaskRequired {
		t.Fatalf("after Reset: Err() %v, Closed() %v, AtBoundary() %v, Masking %v, want nil, false, true, MaskRequired", s.Err(), s.Closed(), s.AtBoundary(), s.Masking)
	}
	s.Advance(text("a").bytes())
	if !errors.Is(s.Err(), errUnmasked) {
		t.Errorf("after Reset, Err() on unmasked frame = %v, want %v", s.Err(), errUnmasked)
	}
}

// TestScannerLargeFrame runs a frame of 2^40 bytes through in 64 KiB
// chunks without sending the payload itself: only the count matters.
func TestScannerLargeFrame(t *testing.T) {
	var s Scanner
	hdr := []byte{0x82, 127, 0, 0, 1, 0, 0, 0, 0, 0} // 2^40 bytes
	s.Advance(hdr)
	if s.AtBoundary() || s.remain != 1<<40 {
		t.Fatalf("after header: AtBoundary() %v, remain %d, want false, %d", s.AtBoundary(), s.remain, uint64(1)<<40)
	}
	chunk := make([]byte, 64<<10)
	s.remain = uint64(len(chunk)) + 1 // skip most of it
	if n := s.Next(chunk); n != len(chunk) || s.AtBoundary() {
		t.Fatalf("Next(64 KiB) = %d, AtBoundary() %v, want %d, false", n, s.AtBoundary(), len(chunk))
	}
	if n := s.Next(append([]byte{0}, text("x").bytes()...)); n != 1 || !s.AtBoundary() {
		t.Fatalf("Next(last byte, frame) = %d, AtBoundary() %v, want 1, true", n, s.AtBoundary())
	}
	if !bytes.Equal(hdr[:2], []byte{0x82, 127}) {
		t.Fatal("Scanner modified its input")
	}
}

// TestScannerInMessage follows InMessage through a fragmented message with
// a ping between its fragments.
func TestScannerInMessage(t *testing.T) {
	frames := []frame{
		text("whole"),
		{b0: 0x2, payload: []byte("a")},
		ping(""),
		{b0: 0x0, payload: []byte("b")},
		{b0: fin(0x0), payload: []byte("c")},
		text("next"),
	}
	want := []bool{false, true, true, true, false, false}
	var s Scanner
	for i, f := range frames {
		if s.Advance(f.bytes()); s.InMessage() != want[i] || !s.AtBoundary() {
			t.Errorf("after frame %d: InMessage() = %v, AtBoundary() %v, want %v, true", i, s.InMessage(), s.AtBoundary(), want[i])
		}
	}
}
