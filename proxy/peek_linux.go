package proxy

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// peekSocket looks at the next byte waiting on the socket fd without
// taking it or waiting for it: n is 0 at the end of the stream, and err is
// EAGAIN when nothing has arrived. unix.Recvfrom would do, but allocates
// the peer address it never gets on a connected socket.
func peekSocket(fd uintptr, b *[1]byte) (n int, err error) {
	r, _, e := unix.Syscall6(unix.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&b[0])), 1,
		unix.MSG_PEEK|unix.MSG_DONTWAIT, 0, 0)
	if e != 0 {
		return int(r), syscall.Errno(e)
	}
	return int(r), nil
}
