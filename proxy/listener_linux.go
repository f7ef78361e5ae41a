package proxy

import (
	"net"
	"os"
	"syscall"
)

// takeQueued accepts, without blocking, every connection waiting in ln's
// listen queue. The socket is non-blocking (the runtime's poller owns it),
// so accept4 reports EAGAIN once the queue is empty.
func takeQueued(ln net.Listener) []net.Conn {
	sc, ok := ln.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	var conns []net.Conn
	rc.Control(func(fd uintptr) {
		for {
			nfd, _, err := syscall.Accept4(int(fd), syscall.SOCK_CLOEXEC)
			if err == syscall.EINTR || err == syscall.ECONNABORTED {
				continue
			}
			if err != nil {
				return // EAGAIN: the queue is empty
			}
			f := os.NewFile(uintptr(nfd), "")
			c, err := net.FileConn(f) // a duplicate, in the runtime's poller
			f.Close()
			if err == nil {
				conns = append(conns, c)
			}
		}
	})
	return conns
}
