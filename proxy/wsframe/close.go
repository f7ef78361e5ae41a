package wsframe

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"unicode/utf8"
)

// Status codes of close frames (RFC 6455 §7.4.1 and the IANA registry).
const (
	// CloseNormalClosure says the purpose of the connection is fulfilled.
	CloseNormalClosure uint16 = 1000
	// CloseGoingAway says an endpoint is going away, such as a server going
	// down. It is what a draining proxy sends.
	CloseGoingAway uint16 = 1001
	// CloseNoStatus stands for a close frame without a status code. It is
	// never sent.
	CloseNoStatus uint16 = 1005
	// CloseServiceRestart says the service is restarting: clients may
	// reconnect, ideally after a randomised delay.
	CloseServiceRestart uint16 = 1012
	// CloseTryAgainLater says the service is overloaded; clients should try
	// again later.
	CloseTryAgainLater uint16 = 1013
)

// MaxCloseReason is the longest reason a close frame can carry: a control
// frame payload holds 125 bytes, two of which are the status code.
const MaxCloseReason = maxControlPayload - 2

// ValidCloseCode reports whether code may be sent in a close frame:
// 1000–1003 and 1007–1014 (defined by RFC 6455 §7.4.1 and registered with
// IANA), and 3000–4999 (for libraries, frameworks and applications, §7.4.2).
// 1004 is reserved, and 1005, 1006 and 1015 stand for conditions that are
// never sent on the wire.
func ValidCloseCode(code uint16) bool {
	switch {
	case code >= 1000 && code <= 1003:
		return true
	case code >= 1007 && code <= 1014:
		return true
	case code >= 3000 && code <= 4999:
		return true
	}
	return false
}

// ParseCloseCode returns the status code of an unmasked close frame
// payload. An empty payload yields CloseNoStatus and true (RFC 6455
// §7.1.5). ok is false when the payload is 1 byte long or carries a code
// that ValidCloseCode rejects. The reason that follows the code is not
// examined.
func ParseCloseCode(payload []byte) (code uint16, ok bool) {
	switch len(payload) {
	case 0:
		return CloseNoStatus, true
	case 1:
		return 0, false
	}
	code = binary.BigEndian.Uint16(payload)
	return code, ValidCloseCode(code)
}

// AppendClose appends to dst a close frame (RFC 6455 §5.5.1) carrying code
// and reason, and returns the extended buffer.
//
// With mask set, the payload is masked with a fresh key from crypto/rand,
// as a client must do (§5.3): use it for frames sent toward the app, where
// the proxy stands in for the client. Without it the frame is unmasked, as
// a server must send it: use it for frames sent toward the client.
//
// It returns dst unchanged and an error when ValidCloseCode rejects code, or
// when reason is longer than MaxCloseReason bytes or is not valid UTF-8
// (receivers fail the connection on such a reason, §8.1).
func AppendClose(dst []byte, code uint16, reason string, mask bool) ([]byte, error) {
	if err := checkClose(code, reason); err != nil {
		return dst, err
	}
	var key [4]byte
	if mask {
		_, _ = rand.Read(key[:]) // never fails (see crypto/rand.Read)
	}
	return appendClose(dst, code, reason, mask, key), nil
}

func checkClose(code uint16, reason string) error {
	switch {
	case !ValidCloseCode(code):
		return fmt.Errorf("wsframe: close code %d cannot be sent", code)
	case len(reason) > MaxCloseReason:
		return fmt.Errorf("wsframe: close reason is %d bytes, longer than %d", len(reason), MaxCloseReason)
	case !utf8.ValidString(reason):
		return errors.New("wsframe: close reason is not valid UTF-8")
	}
	return nil
}

// appendClose appends a close frame with a checked code and reason, masked
// with key when mask is set.
func appendClose(dst []byte, code uint16, reason string, mask bool, key [4]byte) []byte {
	b1 := byte(2 + len(reason))
	if mask {
		b1 |= 0x80
	}
	dst = append(dst, 0x80|opClose, b1)
	if mask {
		dst = append(dst, key[:]...)
	}
	start := len(dst)
	dst = binary.BigEndian.AppendUint16(dst, code)
	dst = append(dst, reason...)
	if mask {
		payload := dst[start:]
		for i := range payload {
			payload[i] ^= key[i&3]
		}
	}
	return dst
}
