package wsframe

import (
	"encoding/binary"
	"fmt"
)

// Helpers that build frames by hand, byte by byte, so that the tests do not
// depend on the code under test.

// Length encodings a test frame can force (RFC 6455 §5.2).
const (
	lenAuto = iota // the minimal encoding
	len7           // 7-bit length
	len16          // 126, then a 16-bit length
	len64          // 127, then a 64-bit length
)

// frame describes one frame to build.
type frame struct {
	b0      byte     // FIN, RSV and opcode
	key     *[4]byte // masking key; nil for an unmasked frame
	lenForm int
	payload []byte // unmasked payload
}

// bytes encodes f.
func (f frame) bytes() []byte {
	n := len(f.payload)
	form := f.lenForm
	if form == lenAuto {
		switch {
		case n < 126:
			form = len7
		case n < 1<<16:
			form = len16
		default:
			form = len64
		}
	}
	var maskBit byte
	if f.key != nil {
		maskBit = 0x80
	}
	b := []byte{f.b0}
	switch form {
	case len7:
		b = append(b, maskBit|byte(n))
	case len16:
		b = append(b, maskBit|126)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	case len64:
		b = append(b, maskBit|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	if f.key == nil {
		return append(b, f.payload...)
	}
	b = append(b, f.key[:]...)
	for i, c := range f.payload {
		b = append(b, c^f.key[i%4])
	}
	return b
}

var testKey = &[4]byte{0x37, 0xfa, 0x21, 0x3d}

// Frame constructors for the common shapes. fin adds the FIN bit to an opcode.
func fin(op byte) byte { return 0x80 | op }

func text(s string) frame             { return frame{b0: fin(0x1), payload: []byte(s)} }
func binaryFrame(n int) frame         { return frame{b0: fin(0x2), payload: filler(n)} }
func ping(s string) frame             { return frame{b0: fin(0x9), payload: []byte(s)} }
func masked(f frame) frame            { f.key = testKey; return f }
func form(f frame, lenForm int) frame { f.lenForm = lenForm; return f }

func closeFrame(code uint16, reason string) frame {
	p := binary.BigEndian.AppendUint16(nil, code)
	return frame{b0: fin(0x8), payload: append(p, reason...)}
}

// filler returns n bytes of a recognisable pattern.
func filler(n int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(i*7 + i>>8)
	}
	return p
}

// stream concatenates frames and returns the bytes and the offset at which
// each frame ends.
func stream(frames ...frame) (b []byte, ends []int) {
	for _, f := range frames {
		b = append(b, f.bytes()...)
		ends = append(ends, len(b))
	}
	return b, ends
}

// scanChunks feeds chunks to s with Next and returns the stream offsets of
// every boundary it reports.
func scanChunks(s *Scanner, chunks ...[]byte) []int {
	var got []int
	pos := 0
	for _, p := range chunks {
		for len(p) > 0 {
			n := s.Next(p)
			if n <= 0 || n > len(p) {
				panic(fmt.Sprintf("Next(%d bytes) = %d", len(p), n))
			}
			pos += n
			p = p[n:]
			if s.AtBoundary() {
				got = append(got, pos)
			}
		}
	}
	return got
}

// byteChunks splits b into 1-byte chunks.
func byteChunks(b []byte) [][]byte {
	c := make([][]byte, len(b))
	for i := range b {
		c[i] = b[i : i+1]
	}
	return c
}
