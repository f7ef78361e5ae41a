package main

import (
	"context"
	"fmt"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// TestWebSocketsBusyAtDrain: WebSockets exchanging messages when the drain
// starts each get 1001, and the app sees each close handshake (a close
// frame, then the end of the connection), so it can exit on its own rather
// than be killed at the stop timeout.
func TestWebSocketsBusyAtDrain(t *testing.T) {
	t.Parallel()
	const n = 20
	in := start(t, nil, "--stop-timeout", "5s", "--", "node", testApp).ready()
	ctx, cancel := context.WithCancel(testContext(t))
	defer cancel()
	var wg sync.WaitGroup
	codes := make(chan websocket.StatusCode, n)
	opened := make(chan struct{}, n)
	failed := make(chan struct{}, n)
	for i := range n {
		wg.Go(func() {
			ws, _, err := websocket.Dial(ctx, "ws://"+in.addr+"/ws", nil)
			if err != nil {
				t.Error(err)
				failed <- struct{}{}
				return
			}
			defer ws.CloseNow()
			opened <- struct{}{}
			for j := 0; ; j++ {
				msg := fmt.Sprintf("%d-%d", i, j)
				if err := ws.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
					codes <- websocket.CloseStatus(err)
					return
				}
				if _, _, err := ws.Read(ctx); err != nil {
					codes <- websocket.CloseStatus(err)
					return
				}
			}
		})
	}
	// Stop the clients before failing, so that none outlives the test.
	stop := func() { cancel(); wg.Wait() }
	deadline := time.After(wait)
	for open := 0; open < n; {
		select {
		case <-opened:
			open++
		case <-failed:
			stop()
			t.FailNow()
		case <-deadline:
			stop()
			t.Fatalf("%d of %d WebSockets open after %v", open, n, wait)
		}
	}
	in.waitApp("ws-open", n)
	in.signal(syscall.SIGTERM)
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != websocket.StatusGoingAway {
			t.Errorf("client saw close %v, want 1001", c)
		}
	}
	if code := in.wait(); code != 0 {
		t.Fatalf("exit status = %d, want 0 (the app exits by itself once every WebSocket has closed)", code)
	}
	for i := 1; i <= n; i++ {
		if m := in.waitApp("ws-close", i); num(m, "code") != 1001 {
			t.Errorf("app saw close %v, want 1001", m["code"])
		}
	}
}
