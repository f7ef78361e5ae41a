package proxy

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lameduck/lameduck/proxy/wsframe"
)

// closeWait is how long a WebSocket client has to answer lameduck's close
// frame; a client that does not is left, and the app gets a close frame of
// its own and as long to answer, before the tunnel is cut. A variable for
// tests.
var closeWait = 3 * time.Second

// tunnel takes over an exchange whose upstream switched protocols: it
// relays the 101 response to the client and then carries bytes both ways
// until either side ends. The request stays in flight, and so holds a
// drain, until the tunnel ends. An error before the client's connection
// was taken over is answered 502; after, there is nobody to answer.
func (x *exchange) tunnel(uc *upConn, head resHead) error {
	proto := x.out.upgrade
	if !strings.EqualFold(head.upgrade, proto) {
		clear(x.w.Header())
		return fmt.Errorf("upgrade handshake: asked for %q, upstream switched to %q", proto, head.upgrade)
	}
	client, clientrw, err := http.NewResponseController(x.w).Hijack()
	if err != nil {
		clear(x.w.Header())
		return fmt.Errorf("hijack client connection: %w", err)
	}
	x.h.countStatus(http.StatusSwitchingProtocols)
	if err := writeSwitch(client, proto, x.w.Header()); err != nil {
		client.Close()
		return nil
	}
	// What the upstream sent after its 101 is the start of the tunnel.
	var app io.Reader = uc.br
	if uc.br.Buffered() == 0 {
		app = uc.c
		uc.release()
	}
	tun := &tunnel{
		kind:   strings.ToLower(proto),
		ws:     strings.EqualFold(proto, "websocket"),
		client: client,
		app:    uc.c,
		code:   x.h.closeCode(),
		up:     wsframe.Scanner{Masking: wsframe.MaskRequired},
	}
	if x.h.track.upgraded(x.e, tun) {
		tun.goodbye()
	}
	tun.run(clientrw.Reader, app)
	return nil
}

func (h *Handler) closeCode() uint16 {
	if h.CloseCode != 0 {
		return h.CloseCode
	}
	return wsframe.CloseGoingAway
}

// writeSwitch sends the upstream's 101 response to the client.
func writeSwitch(c net.Conn, proto string, hdr http.Header) error {
	c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	defer c.SetWriteDeadline(time.Time{})
	bw := bufio.NewWriter(c)
	bw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: ")
	bw.WriteString(proto)
	bw.WriteString("\r\n")
	writeFields(bw, hdr)
	bw.WriteString("\r\n")
	return bw.Flush()
}

// A tunnel carries an upgraded connection: client to app and back, as raw
// bytes. For a WebSocket it follows the frames from the app so that, when
// the drain starts, it can send the client a close frame between two
// messages, then give the client closeWait to answer before cutting.
type tunnel struct {
	kind   string // the upgrade protocol, such as "websocket"
	ws     bool
	client net.Conn
	app    net.Conn
	code   uint16

	bye     atomic.Bool // the drain has asked for a goodbye
	cutOnce sync.Once
	mu      sync.Mutex
	timer   *time.Timer    // runs closeApp, then cut, closeWait after the goodbye
	ended   bool           // run is returning: no timer may be armed
	pending sync.WaitGroup // timer callbacks armed and not done; run waits for them

	// toApp serialises writes to the app between the client-to-app copy
	// and closeApp, and guards up, which follows the client's frames.
	toApp sync.Mutex
	up    wsframe.Scanner
}

// goodbye asks the tunnel to close: for a WebSocket, with a close frame at
// the next message boundary. It does not block: it wakes the app-to-client
// copy, which does the work.
func (t *tunnel) goodbye() {
	if !t.ws || t.bye.Swap(true) {
		return
	}
	t.app.SetReadDeadline(time.Now())
}

// cut closes both connections. It is safe to call more than once.
func (t *tunnel) cut() {
	t.cutOnce.Do(func() {
		t.client.Close()
		t.app.Close()
	})
}

// run copies both ways until either side ends, then closes both.
func (t *tunnel) run(client, app io.Reader) {
	var wg sync.WaitGroup
	wg.Go(func() { t.copyToApp(client) })
	t.copyToClient(app)
	t.cut()
	wg.Wait()
	t.mu.Lock()
	t.ended = true
	if t.timer != nil && t.timer.Stop() {
		t.pending.Done() // stopped before it ran
	}
	t.mu.Unlock()
	t.pending.Wait()
}

// after arms f to run once d has passed, unless run is returning; run
// waits for it. It replaces the timer of a callback that already ran.
func (t *tunnel) after(d time.Duration, f func()) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ended {
		return
	}
	t.pending.Add(1)
	t.timer = time.AfterFunc(d, func() {
		defer t.pending.Done()
		f()
	})
}

// copyToApp forwards the client's bytes to the app, following the frames
// of a WebSocket so that closeApp can speak between two of them.
func (t *tunnel) copyToApp(client io.Reader) {
	defer t.cut()
	bp := buffers.Get().(*[]byte)
	defer buffers.Put(bp)
	buf := *bp
	for {
		n, err := client.Read(buf)
		if n > 0 {
			t.toApp.Lock()
			if t.ws {
				t.up.Advance(buf[:n])
			}
			_, werr := t.app.Write(buf[:n])
			t.toApp.Unlock()
			if werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// closeApp runs when the client has not answered lameduck's close frame in
// time. lameduck is the app's client, so it closes the session toward the
// app the way a client would, with a masked close frame, and gives the app
// closeWait to answer and close before the tunnel is cut. When it cannot
// speak between two frames at once, it cuts.
func (t *tunnel) closeApp() {
	if !t.toApp.TryLock() {
		t.cut() // a write to the app is blocked: the app is not reading
		return
	}
	ok := t.up.AtBoundary() && !t.up.InMessage() && !t.up.Closed()
	if ok {
		frame, _ := wsframe.AppendClose(nil, t.code, "", true)
		t.app.SetWriteDeadline(time.Now().Add(closeWait))
		_, err := t.app.Write(frame)
		ok = err == nil
	}
	t.toApp.Unlock()
	if !ok {
		t.cut()
		return
	}
	t.after(closeWait, t.cut)
}

// copyToClient forwards the app's bytes to the client, watching the
// WebSocket frames so that the goodbye goes in at a message boundary.
// After the goodbye it discards what the app still sends (no data may
// follow a close frame) until the app closes or the tunnel is cut.
func (t *tunnel) copyToClient(app io.Reader) {
	bp := buffers.Get().(*[]byte)
	defer buffers.Put(bp)
	buf := *bp
	s := wsframe.Scanner{Masking: wsframe.MaskForbidden}
	said := false // the goodbye has been sent, or cannot be
	for {
		n, err := app.Read(buf)
		p := buf[:n]
		if n > 0 && testHookTunnelRead != nil {
			testHookTunnelRead(t)
		}
		if err != nil && errors.Is(err, os.ErrDeadlineExceeded) && t.bye.Load() {
			// goodbye woke this loop; look again with no deadline. This
			// holds after the close frame went out too: when goodbye came
			// while this loop was busy with data, the close frame went in
			// after that data and the deadline fired only on the next
			// read. Ending the copy then would cut the tunnel before the
			// client's close reached the app.
			t.app.SetReadDeadline(time.Time{})
			err = nil
		}
		if !t.ws || said {
			if !said {
				if _, werr := t.client.Write(p); werr != nil {
					return
				}
			}
		} else if t.bye.Load() {
			k := 0
			for s.Err() == nil && k < len(p) && !(s.AtBoundary() && !s.InMessage()) {
				k += s.Next(p[k:])
			}
			switch {
			case s.Err() != nil || s.Closed():
				// The stream is unreadable, or the app said goodbye
				// itself: pass the bytes on untouched.
				said = true
				s.Advance(p[k:])
				if _, werr := t.client.Write(p); werr != nil {
					return
				}
			case s.AtBoundary() && !s.InMessage():
				said = true
				// What follows the boundary is dropped: no data may follow a
				// close frame.
				out, _ := wsframe.AppendClose(p[:k], t.code, "", false)
				if _, werr := t.client.Write(out); werr != nil {
					return
				}
				t.after(closeWait, t.closeApp)
			default:
				if _, werr := t.client.Write(p); werr != nil {
					return
				}
			}
		} else {
			s.Advance(p)
			if _, werr := t.client.Write(p); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// testHookTunnelRead, when set by a test, runs after each read of app data
// in copyToClient, before the data is handled.
var testHookTunnelRead func(*tunnel)
