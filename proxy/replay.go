package proxy

import (
	"errors"
	"io"
)

// maxReplay bounds how much of a request body is remembered for a retry. It
// equals the upstream transport's write buffer: a request that failed before
// any byte reached the upstream cannot have consumed more than one buffer.
const maxReplay = 32 << 10

var errNoReplay = errors.New("request body partly sent to the upstream; not retried")

// replayBody lets the transport retry a request whose first attempt failed
// on a reused connection before any byte was written. The transport reads
// the body into its write buffer before flushing it, so a failed flush has
// consumed bytes that never left: replayBody remembers them and GetBody
// hands back a body that replays them, then continues with the rest.
//
// Closing it does not close the client's body: the transport closes the
// body of a failed attempt before asking GetBody for a new one, and the
// server closes the client's body when the handler returns.
type replayBody struct {
	src  io.Reader
	seen []byte // bytes read so far, while they fit in maxReplay
	full bool   // more than maxReplay was read: no replay possible
}

func (b *replayBody) Read(p []byte) (int, error) {
	n, err := b.src.Read(p)
	if !b.full {
		if len(b.seen)+n <= maxReplay {
			b.seen = append(b.seen, p[:n]...)
		} else {
			b.full, b.seen = true, nil
		}
	}
	return n, err
}

func (b *replayBody) Close() error { return nil }

// getBody returns a body for a retry: the bytes already read, then the
// rest of the client's body.
func (b *replayBody) getBody() (io.ReadCloser, error) {
	if b.full {
		return nil, errNoReplay
	}
	next := &replayBody{src: io.MultiReader(&sliceReader{b.seen}, b.src), full: true}
	return next, nil
}

// sliceReader reads from a byte slice (bytes.Reader without the seeking).
type sliceReader struct{ b []byte }

func (r *sliceReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}
