package proxy

import (
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// TestDrainListenerKeepsQueued: connections the kernel completed before
// Close, but that no Accept took yet, are accepted and served, not reset;
// after Close new connections are refused.
func TestDrainListenerKeepsQueued(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := newDrainListener(raw)
	addr := raw.Addr().String()
	const queued = 5
	var clients []net.Conn
	for range queued {
		c, err := net.Dial("tcp", addr) // completes in the kernel's queue
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		clients = append(clients, c)
	}
	// The drain closes the listener before the accept loop, busy as a
	// loaded server's can be, took the queued connections.
	if err := ln.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	accepted := 0
	for {
		c, err := ln.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				t.Fatalf("Accept() = %v, want net.ErrClosed once the queue is empty", err)
			}
			break
		}
		accepted++
		c.Write([]byte("x"))
		c.Close()
	}
	if accepted != queued {
		t.Fatalf("accepted %d queued connections, want %d", accepted, queued)
	}
	for i, c := range clients {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		b := make([]byte, 1)
		if _, err := io.ReadFull(c, b); err != nil {
			t.Fatalf("queued connection %d: %v, want it served", i, err)
		}
	}
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
		t.Fatal("new connection accepted after Close")
	}
}

// TestDrainListenerCloseWithoutAccept: with no accept loop, Close still
// closes the socket; queued connections wait for an Accept that may come.
func TestDrainListenerCloseWithoutAccept(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := newDrainListener(raw)
	if err := ln.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	if c, err := net.Dial("tcp", raw.Addr().String()); err == nil {
		c.Close()
		t.Fatal("listener still open after Close")
	}
	if err := ln.Close(); err != nil {
		t.Fatalf("second Close() = %v", err)
	}
	if _, err := ln.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept() after Close = %v, want net.ErrClosed", err)
	}
}
