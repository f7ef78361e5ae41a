package proxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// wsEcho is an upstream WebSocket server that echoes messages and reports
// the close status it received from its client.
func wsEcho(closed chan<- websocket.StatusCode) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		ctx := r.Context()
		for {
			typ, msg, err := c.Read(ctx)
			if err != nil {
				closed <- websocket.CloseStatus(err)
				return
			}
			if err := c.Write(ctx, typ, msg); err != nil {
				return
			}
		}
	})
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestWebSocketGoodbye: a WebSocket tunnelled through the proxy works, and
// at drain the client gets a 1001 close frame from lameduck, the app sees
// the client's close, and the tunnel ends so the drain completes.
func TestWebSocketGoodbye(t *testing.T) {
	closed := make(chan websocket.StatusCode, 1)
	p := startProxy(t, wsEcho(closed), nil)
	ctx := testCtx(t)
	c, _, err := websocket.Dial(ctx, "ws://"+p.addr+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	if err := c.Write(ctx, websocket.MessageText, []byte("hi")); err != nil {
		t.Fatal(err)
	}
	if _, msg, err := c.Read(ctx); err != nil || string(msg) != "hi" {
		t.Fatalf("echo = %q, %v", msg, err)
	}
	if r, u := p.srv.Handler.InFlight(); r != 0 || u != 1 {
		t.Fatalf("InFlight() = %d, %d, want 0, 1", r, u)
	}
	idle := p.srv.Close()
	_, _, err = c.Read(ctx) // the library answers the close frame itself
	if got := websocket.CloseStatus(err); got != websocket.StatusGoingAway {
		t.Fatalf("client read after drain: status %d (%v), want 1001", got, err)
	}
	select {
	case got := <-closed:
		if got != websocket.StatusGoingAway {
			t.Fatalf("app saw close status %d, want the client's echo of 1001", got)
		}
	case <-ctx.Done():
		t.Fatal("app never saw the WebSocket close")
	}
	select {
	case <-idle:
	case <-ctx.Done():
		t.Fatal("drain not idle after the WebSocket closed")
	}
}

// TestWebSocketGoodbyeBetweenMessages: while the app streams fragmented
// messages, the close frame goes in between two messages: every message
// the client receives is whole.
func TestWebSocketGoodbyeBetweenMessages(t *testing.T) {
	started := make(chan struct{})
	p := startProxy(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{CompressionMode: websocket.CompressionDisabled})
		if err != nil {
			return
		}
		defer c.CloseNow()
		ctx := r.Context()
		close(started)
		for i := 0; ; i++ {
			wr, err := c.Writer(ctx, websocket.MessageText)
			if err != nil {
				return
			}
			// Several writes make several frames of one message.
			for _, part := range strings.SplitAfter(message(i), "x|") {
				if _, err := io.WriteString(wr, part); err != nil {
					return
				}
			}
			if err := wr.Close(); err != nil {
				return
			}
		}
	}), nil)
	ctx := testCtx(t)
	c, _, err := websocket.Dial(ctx, "ws://"+p.addr+"/ws", &websocket.DialOptions{CompressionMode: websocket.CompressionDisabled})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	c.SetReadLimit(1 << 20)
	<-started
	n := 0
	for ; n < 3; n++ { // let the stream run
		if _, _, err := c.Read(ctx); err != nil {
			t.Fatal(err)
		}
	}
	p.srv.Close()
	for {
		_, msg, err := c.Read(ctx)
		if err != nil {
			if got := websocket.CloseStatus(err); got != websocket.StatusGoingAway {
				t.Fatalf("after %d messages: status %d (%v), want 1001", n, got, err)
			}
			if len(msg) != 0 {
				t.Fatalf("close frame inside message %d: %d bytes of it came first", n, len(msg))
			}
			break
		}
		if want := message(n); string(msg) != want {
			t.Fatalf("message %d is not whole: %d bytes, want %d", n, len(msg), len(want))
		}
		n++
	}
}

// message is the i-th message of the streaming test: four parts, written
// as four frames.
func message(i int) string {
	var b strings.Builder
	for j := range 4 {
		fmt.Fprintf(&b, "%d.%d:%s|", i, j, strings.Repeat("x", 3000))
	}
	return b.String()
}

// TestUpgradeRefused: an upstream that answers an upgrade request without
// switching protocols is relayed as is.
func TestUpgradeRefused(t *testing.T) {
	p := startProxy(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no websockets here", http.StatusForbidden)
	}), nil)
	_, res, err := websocket.Dial(testCtx(t), "ws://"+p.addr+"/ws", nil)
	if err == nil || res == nil || res.StatusCode != http.StatusForbidden {
		t.Fatalf("Dial() = %v, %v, want the upstream's 403", res, err)
	}
	if r, u := p.srv.Handler.InFlight(); r != 0 || u != 0 {
		t.Fatalf("InFlight() after refusal = %d, %d, want 0, 0", r, u)
	}
}

// TestUpgradeOtherProtocolCut: a non-WebSocket upgrade is tunnelled as
// bytes, gets no goodbye, holds the drain, and is cut by Cut.
func TestUpgradeOtherProtocolCut(t *testing.T) {
	p := startProxy(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "Upgrade")
		w.Header().Set("Upgrade", "echo")
		w.WriteHeader(http.StatusSwitchingProtocols)
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		io.Copy(c, brw)
	}), nil)
	c, err := net.Dial("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprint(c, "GET /x HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
	br := bufio.NewReader(c)
	res, err := http.ReadResponse(br, nil)
	if err != nil || res.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade = %v, %v, want 101", res, err)
	}
	fmt.Fprint(c, "ping")
	buf := make([]byte, 4)
	if _, err := io.ReadFull(br, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("tunnel echo = %q, %v", buf, err)
	}
	idle := p.srv.Close()
	select {
	case <-idle:
		t.Fatal("drain idle while an upgraded connection is open")
	default:
	}
	r, u, held := p.srv.Cut(5)
	if r != 0 || u != 1 || len(held) != 1 || !strings.HasPrefix(held[0], "GET /x (echo) ") {
		t.Fatalf("Cut() = %d, %d, %q, want the echo tunnel", r, u, held)
	}
	if _, err := br.ReadByte(); !errors.Is(err, io.EOF) {
		t.Fatalf("read on a cut tunnel = %v, want EOF", err)
	}
	select {
	case <-idle:
	case <-time.After(5 * time.Second):
		t.Fatal("drain not idle after the tunnel was cut")
	}
}

// TestWebSocketClientNeverAnswers: a client that does not answer the close
// frame is left after closeWait; the app then gets a close frame from
// lameduck, as from any client, and the tunnel ends.
func TestWebSocketClientNeverAnswers(t *testing.T) {
	defer func(d time.Duration) { closeWait = d }(closeWait)
	closeWait = 100 * time.Millisecond
	closed := make(chan websocket.StatusCode, 1)
	p := startProxy(t, wsEcho(closed), nil)
	c, err := net.Dial("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprint(c, "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || res.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake = %v, %v", res, err)
	}
	// The client now reads nothing and answers nothing.
	idle := p.srv.Close()
	select {
	case got := <-closed:
		if got != websocket.StatusGoingAway {
			t.Fatalf("app saw close status %d, want 1001 from lameduck", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("app never saw the WebSocket close")
	}
	select {
	case <-idle:
	case <-time.After(10 * time.Second):
		t.Fatal("drain not idle after the unanswered WebSocket")
	}
}

// TestWebSocketGoodbyeWhileBusy: the goodbye arrives while the tunnel is
// handling data from the app. The close frame goes in after that data, and
// the tunnel must then wait for the client's close and pass it to the app,
// not end on the wake-up it arranged for itself.
func TestWebSocketGoodbyeWhileBusy(t *testing.T) {
	var once sync.Once
	testHookTunnelRead = func(tun *tunnel) { once.Do(tun.goodbye) }
	// Reset after the proxy's own cleanup has ended the tunnel.
	t.Cleanup(func() { testHookTunnelRead = nil })
	closed := make(chan websocket.StatusCode, 1)
	p := startProxy(t, wsEcho(closed), nil)
	ctx := testCtx(t)
	c, _, err := websocket.Dial(ctx, "ws://"+p.addr+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	if err := c.Write(ctx, websocket.MessageText, []byte("hi")); err != nil {
		t.Fatal(err)
	}
	// The echo is the first data from the app: the hook says goodbye
	// while the tunnel holds it.
	_, msg, err := c.Read(ctx)
	if websocket.CloseStatus(err) != websocket.StatusGoingAway {
		// The echo may come first; the close must follow.
		if err != nil || string(msg) != "hi" {
			t.Fatalf("Read() = %q, %v; want the echo or close 1001", msg, err)
		}
		if _, _, err = c.Read(ctx); websocket.CloseStatus(err) != websocket.StatusGoingAway {
			t.Fatalf("Read() after the echo = %v, want close 1001", err)
		}
	}
	select {
	case code := <-closed:
		if code != websocket.StatusGoingAway {
			t.Fatalf("app saw close status %v, want the client's 1001", code)
		}
	case <-ctx.Done():
		t.Fatal("app never saw the close")
	}
}
