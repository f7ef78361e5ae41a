package wsframe

import (
	"encoding/binary"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// FuzzScanner feeds arbitrary bytes, cut into chunks of arbitrary sizes, to
// Scanners and checks that they never panic, that they agree with each
// other whatever the chunking and whichever of Next and Advance is used,
// and that they agree with reference, a plain decoder of whole buffers.
//
// Each byte of cuts is the size of the next chunk (0 makes an empty chunk);
// what remains of data is the last chunk. masking selects Scanner.Masking.
func FuzzScanner(f *testing.F) {
	for _, c := range scanCases {
		b, _ := c.bytes()
		if len(b) < 1000 {
			f.Add(b, []byte{1, 2, 3, 0, 5, 8, 13}, byte(c.masking))
		}
	}
	f.Fuzz(func(t *testing.T, data, cuts []byte, masking byte) {
		m := Masking(masking % 3)
		chunks := cut(data, cuts)

		var whole Scanner
		whole.Masking = m
		wantEnds := scanChunks(&whole, data)
		want := stateOf(&whole)

		ref := reference(data, m)
		if !slices.Equal(wantEnds, ref.ends) {
			t.Fatalf("boundaries = %v, reference %v", wantEnds, ref.ends)
		}
		if got := ref.state(len(data)); !got.matches(want) {
			t.Fatalf("state = %+v, reference %+v", want, got)
		}

		byByte := Scanner{Masking: m}
		if got := scanChunks(&byByte, byteChunks(data)...); !slices.Equal(got, wantEnds) {
			t.Fatalf("boundaries byte by byte = %v, in one chunk %v", got, wantEnds)
		}
		if got := stateOf(&byByte); got != want {
			t.Fatalf("state byte by byte = %+v, in one chunk %+v", got, want)
		}

		chunked := Scanner{Masking: m}
		if got := scanChunks(&chunked, chunks...); !slices.Equal(got, wantEnds) {
			t.Fatalf("boundaries in chunks %v = %v, in one chunk %v", sizes(chunks), got, wantEnds)
		}
		if got := stateOf(&chunked); got != want {
			t.Fatalf("state in chunks %v = %+v, in one chunk %+v", sizes(chunks), got, want)
		}

		advanced := Scanner{Masking: m}
		for _, c := range chunks {
			advanced.Advance(c)
		}
		if got := stateOf(&advanced); got != want {
			t.Fatalf("state after Advance in chunks %v = %+v, after Next %+v", sizes(chunks), got, want)
		}
	})
}

// scanState is what a Scanner exposes, in comparable form.
type scanState struct {
	atBoundary bool
	err        string
	closed     bool
	code       uint16
	reason     string
}

func stateOf(s *Scanner) scanState {
	st := scanState{atBoundary: s.AtBoundary(), closed: s.Closed()}
	if s.Err() != nil {
		st.err = s.Err().Error()
	}
	code, reason := s.CloseStatus()
	st.code, st.reason = code, string(reason)
	return st
}

// cut splits data into chunks whose sizes are the bytes of cuts, then the rest.
func cut(data, cuts []byte) [][]byte {
	var chunks [][]byte
	for _, c := range cuts {
		n := min(int(c), len(data))
		chunks = append(chunks, data[:n])
		data = data[n:]
	}
	return append(chunks, data)
}

func sizes(chunks [][]byte) []int {
	var n []int
	for _, c := range chunks {
		n = append(n, len(c))
	}
	return n
}

// refResult is what reference finds in a buffer.
type refResult struct {
	ends   []int
	errAt  int // offset of the invalid frame, or -1
	closed bool
	code   uint16
	reason string
}

// state converts r to the scanState a Scanner should end in after n bytes.
func (r refResult) state(n int) scanState {
	st := scanState{closed: r.closed, code: r.code, reason: r.reason}
	if r.errAt >= 0 {
		st.err = "wsframe: frame at byte " + strconv.Itoa(r.errAt) + " "
	}
	st.atBoundary = r.errAt < 0 && (n == 0 || len(r.ends) > 0 && r.ends[len(r.ends)-1] == n)
	return st
}

// matches reports whether the Scanner state s agrees with r, the state
// from reference, whose error message is only the start of the Scanner's.
func (r scanState) matches(s scanState) bool {
	if !strings.HasPrefix(s.err, r.err) || (s.err == "") != (r.err == "") {
		return false
	}
	s.err = r.err
	return s == r
}

// reference decodes the frames in b as a reader with the whole stream in
// hand would, in the plainest way, following RFC 6455 §5.2 to the letter.
func reference(b []byte, m Masking) refResult {
	r := refResult{errAt: -1}
	inMessage := false
	for i := 0; ; {
		h := b[i:]
		if len(h) < 2 {
			return r
		}
		final := h[0]&0x80 != 0
		op := h[0] & 0x0f
		isMasked := h[1]&0x80 != 0
		length := uint64(h[1] & 0x7f)
		hl := 2
		if length == 126 {
			hl = 4
		} else if length == 127 {
			hl = 10
		}
		if isMasked {
			hl += 4
		}
		if len(h) < hl {
			return r
		}
		if length == 126 {
			length = uint64(binary.BigEndian.Uint16(h[2:]))
		} else if length == 127 {
			length = binary.BigEndian.Uint64(h[2:])
		}
		control := op >= 8
		valid := true
		switch op {
		case 0:
			valid = inMessage
		case 1, 2:
			valid = !inMessage
		case 8, 9, 10:
		default:
			valid = false
		}
		if control && (!final || length > 125) || op == 8 && length == 1 || length >= 1<<63 ||
			m == MaskRequired && !isMasked || m == MaskForbidden && isMasked {
			valid = false
		}
		if !valid {
			r.errAt = i
			return r
		}
		if !control {
			inMessage = !final
		}
		if uint64(len(h)-hl) < length {
			return r
		}
		payload := slices.Clone(h[hl : hl+int(length)])
		if isMasked {
			for j := range payload {
				payload[j] ^= h[hl-4+j%4]
			}
		}
		if op == 8 && !r.closed {
			r.closed = true
			r.code = CloseNoStatus
			if len(payload) >= 2 {
				r.code = binary.BigEndian.Uint16(payload)
				r.reason = string(payload[2:])
			}
		}
		i += hl + int(length)
		r.ends = append(r.ends, i)
	}
}

// TestReferenceAgrees keeps the reference decoder honest on the table.
func TestReferenceAgrees(t *testing.T) {
	for _, c := range scanCases {
		t.Run(c.name, func(t *testing.T) {
			b, want := c.bytes()
			r := reference(b, c.masking)
			if !slices.Equal(r.ends, want) || r.closed != c.wantClosed || r.code != c.wantCode || r.reason != c.wantReason {
				t.Errorf("reference = %+v, want ends %v, close %v %d %q", r, want, c.wantClosed, c.wantCode, c.wantReason)
			}
			if (r.errAt >= 0) != (c.wantErr != nil) || c.wantErr != nil && r.errAt != c.wantErrAt {
				t.Errorf("reference error at %d, want error %v at %d", r.errAt, c.wantErr, c.wantErrAt)
			}
		})
	}
}
