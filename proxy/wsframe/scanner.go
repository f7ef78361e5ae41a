package wsframe

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Opcodes of RFC 6455 §5.2 that the Scanner tells apart.
const (
	opContinuation = 0x0
	opBinary       = 0x2
	opClose        = 0x8
	opPong         = 0xA

	// maxHeader is the longest frame header: 2 bytes, 8 bytes of extended
	// payload length and a 4-byte masking key.
	maxHeader = 14
	// maxControlPayload is the largest payload of a control frame (RFC 6455 §5.5).
	maxControlPayload = 125
)

// Protocol errors the Scanner reports, wrapped with the offset of the frame.
var (
	errReservedOpcode    = errors.New("reserved opcode")
	errFragmentedControl = errors.New("fragmented control frame")
	errControlTooLong    = errors.New("control frame payload longer than 125 bytes")
	errLengthTopBit      = errors.New("64-bit payload length with the most significant bit set")
	errCloseLength       = errors.New("close frame with a 1-byte payload")
	errContinuation      = errors.New("continuation frame outside a fragmented message")
	errUnfinished        = errors.New("data frame inside an unfinished fragmented message")
	errUnmasked          = errors.New("unmasked frame where every frame must be masked")
	errMasked            = errors.New("masked frame where no frame may be masked")
)

// Masking says which value of the MASK bit a Scanner accepts (RFC 6455 §5.1).
type Masking uint8

const (
	// MaskAny accepts masked and unmasked frames. It is the zero value.
	MaskAny Masking = iota
	// MaskRequired reports unmasked frames as a protocol error. A client
	// masks every frame it sends, so use it on the client-to-app stream.
	MaskRequired
	// MaskForbidden reports masked frames as a protocol error. A server
	// never masks, so use it on the app-to-client stream.
	MaskForbidden
)

// Scanner follows the frames of one direction of a WebSocket connection as
// the bytes go by, without buffering or copying them. It knows whether the
// stream is between two frames, finds the frame boundaries inside a chunk,
// and remembers the first close frame that passes.
//
// A Scanner keeps at most one partial frame header (up to 14 bytes) and the
// payload of one close frame (up to 125 bytes, unmasked); it never keeps a
// reference to the chunks it is given and never allocates, except once to
// build the error that stops it.
//
// The zero value is ready to use on a stream that starts with a frame
// header, that is, on the bytes that follow the HTTP upgrade. A Scanner is
// not safe for concurrent use: the copy loop of its direction owns it.
type Scanner struct {
	// Masking says which frames are accepted with respect to the MASK bit.
	// The zero value, MaskAny, accepts both masked and unmasked frames.
	Masking Masking

	pos       int64  // bytes consumed since the start of the stream
	remain    uint64 // payload bytes left in the current frame, when inPayload
	err       error  // the protocol error that stopped the scanner, or nil
	key       [4]byte
	hdr       [maxHeader]byte // header bytes split across chunks
	hdrN      uint8           // bytes held in hdr
	inPayload bool            // the header of the current frame has passed, not all its payload
	inMessage bool            // the last data frame had FIN clear (RFC 6455 §5.4)
	capture   bool            // the current frame's payload goes into closeBuf
	closed    bool            // a complete close frame has passed
	closeN    uint8           // bytes held in closeBuf
	closeBuf  [maxControlPayload]byte
}

// AtBoundary reports whether the bytes consumed so far end exactly between
// two frames (or before the first one), so that a frame written now would
// not split another. It is false once the Scanner has found a protocol
// error: it then no longer knows where frames start.
func (s *Scanner) AtBoundary() bool {
	return !s.inPayload && s.hdrN == 0 && s.err == nil
}

// InMessage reports whether a fragmented data message has started and not
// finished: a text or binary frame with FIN clear has passed, and the final
// continuation frame has not. At a boundary where InMessage is false, the
// stream is between two messages. A tunnel may prefer such a boundary for
// its close frame because some peers mishandle a close frame between the
// fragments of a compressed message, though RFC 6455 §5.4 allows it.
func (s *Scanner) InMessage() bool {
	return s.inMessage
}

// Advance consumes all of p, as calls to Next until p is empty would, but
// without stopping at each boundary. Use it on chunks in which no boundary
// is needed.
func (s *Scanner) Advance(p []byte) {
	for len(p) > 0 && s.err == nil {
		p = p[s.step(p):]
	}
}

// Next consumes p up to the end of the first frame that ends within p and
// returns the number of bytes consumed, n: AtBoundary is then true, and
// p[:n] ends that frame. When no frame ends within p, or once the Scanner
// has found a protocol error, Next consumes all of p and AtBoundary is
// false. A frame ends within p when its last byte (of the header, for an
// empty payload, or of the payload) is in p. An empty p returns 0.
//
// Calling Next until p is empty visits every frame boundary in p.
func (s *Scanner) Next(p []byte) int {
	n := 0
	for n < len(p) {
		if s.err != nil {
			return len(p)
		}
		n += s.step(p[n:])
		if s.AtBoundary() {
			return n
		}
	}
	return n
}

// Err returns the protocol error that stopped the Scanner, or nil. Once it
// is set the Scanner consumes everything without looking at it, and the
// caller should stop injecting frames and only pipe the bytes.
//
// The checks are those that keep frame boundaries meaningful: reserved
// opcodes, control frames that are fragmented or longer than 125 bytes, a
// 1-byte close payload, a 64-bit length with its top bit set, continuation
// frames outside a fragmented message and data frames inside one, and the
// MASK bit against Masking. RSV bits are not checked, because extensions
// negotiated in the handshake define them (permessage-deflate sets RSV1),
// and non-minimal length encodings are accepted.
func (s *Scanner) Err() error {
	return s.err
}

// Closed reports whether a complete close frame (opcode 0x8) has passed.
func (s *Scanner) Closed() bool {
	return s.closed
}

// CloseStatus returns the status code and reason of the first close frame
// that has completely passed. The code is CloseNoStatus (1005) when that
// frame had no payload, as RFC 6455 §7.1.5 says, and otherwise whatever the
// peer sent: check it with ValidCloseCode. The reason is unmasked and not
// checked for UTF-8; it aliases the Scanner's memory and stays valid until
// Reset. Before a close frame has passed, CloseStatus returns 0 and nil.
func (s *Scanner) CloseStatus() (code uint16, reason []byte) {
	switch {
	case !s.closed:
		return 0, nil
	case s.closeN == 0:
		return CloseNoStatus, nil
	}
	return binary.BigEndian.Uint16(s.closeBuf[:2]), s.closeBuf[2:s.closeN:s.closeN]
}

// Reset returns the Scanner to the start of a new stream, keeping Masking.
func (s *Scanner) Reset() {
	*s = Scanner{Masking: s.Masking}
}

// step consumes p (not empty) up to the end of the current frame's header
// or payload, whichever comes first, and returns the number of bytes
// consumed.
func (s *Scanner) step(p []byte) int {
	if s.inPayload {
		n := len(p)
		if uint64(n) >= s.remain {
			n = int(s.remain)
		}
		if s.capture {
			s.keep(p[:n])
		}
		s.remain -= uint64(n)
		s.pos += int64(n)
		if s.remain == 0 {
			s.endFrame()
		}
		return n
	}
	if s.hdrN == 0 && len(p) >= 2 {
		// The usual case: the whole header is in p.
		if n := headerLen(p[1]); len(p) >= n {
			start := s.pos
			s.pos += int64(n)
			s.header(p[:n], start)
			return n
		}
	}
	return s.partialHeader(p)
}

// partialHeader gathers header bytes split across chunks into s.hdr and
// decodes the header once it is whole.
func (s *Scanner) partialHeader(p []byte) int {
	start := s.pos - int64(s.hdrN)
	n := 0
	need := 2
	for {
		if s.hdrN >= 2 {
			need = headerLen(s.hdr[1])
		}
		c := copy(s.hdr[s.hdrN:need], p[n:])
		s.hdrN += uint8(c)
		n += c
		if int(s.hdrN) < need {
			s.pos += int64(n)
			return n // p is exhausted
		}
		if need == headerLen(s.hdr[1]) {
			break
		}
	}
	s.pos += int64(n)
	s.hdrN = 0
	s.header(s.hdr[:need], start)
	return n
}

// headerLen returns the length of a frame header from its second byte, which
// holds the MASK bit and the 7-bit payload length (RFC 6455 §5.2).
func headerLen(b1 byte) int {
	n := 2
	switch b1 & 0x7f {
	case 126:
		n += 2
	case 127:
		n += 8
	}
	if b1&0x80 != 0 {
		n += 4
	}
	return n
}

// header decodes and checks the complete frame header h, which started at
// stream offset start, and prepares for the payload.
func (s *Scanner) header(h []byte, start int64) {
	fin := h[0]&0x80 != 0
	op := h[0] & 0x0f
	masked := h[1]&0x80 != 0
	length := uint64(h[1] & 0x7f)
	i := 2
	switch length {
	case 126:
		length = uint64(binary.BigEndian.Uint16(h[2:4]))
		i = 4
	case 127:
		length = binary.BigEndian.Uint64(h[2:10])
		i = 10
	}
	var err error
	switch {
	case op > opPong || (op > opBinary && op < opClose):
		err = errReservedOpcode
	case op >= opClose && !fin:
		err = errFragmentedControl
	case op >= opClose && length > maxControlPayload:
		err = errControlTooLong
	case length>>63 != 0:
		err = errLengthTopBit
	case op == opClose && length == 1:
		err = errCloseLength
	case op == opContinuation && !s.inMessage:
		err = errContinuation
	case op != opContinuation && op < opClose && s.inMessage:
		err = errUnfinished
	case !masked && s.Masking == MaskRequired:
		err = errUnmasked
	case masked && s.Masking == MaskForbidden:
		err = errMasked
	}
	if err != nil {
		s.err = fmt.Errorf("wsframe: frame at byte %d (opcode %#x): %w", start, op, err)
		return
	}
	if op < opClose {
		s.inMessage = !fin
	}
	s.key = [4]byte{}
	if masked {
		copy(s.key[:], h[i:i+4])
	}
	s.capture = op == opClose && !s.closed
	s.remain = length
	if length == 0 {
		s.endFrame()
		return
	}
	s.inPayload = true
}

// keep unmasks p, a piece of the payload of the close frame being captured,
// into closeBuf. The header check bounds that payload to 125 bytes.
func (s *Scanner) keep(p []byte) {
	for _, b := range p {
		s.closeBuf[s.closeN] = b ^ s.key[s.closeN&3]
		s.closeN++
	}
}

// endFrame records that the current frame has passed completely.
func (s *Scanner) endFrame() {
	s.inPayload = false
	if s.capture {
		s.capture = false
		s.closed = true
	}
}
