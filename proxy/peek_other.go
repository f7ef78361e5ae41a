//go:build unix && !linux

package proxy

import "golang.org/x/sys/unix"

// peekSocket looks at the next byte waiting on the socket fd without
// taking it or waiting for it: n is 0 at the end of the stream, and err is
// EAGAIN when nothing has arrived.
func peekSocket(fd uintptr, b *[1]byte) (n int, err error) {
	n, _, err = unix.Recvfrom(int(fd), b[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
	return n, err
}
