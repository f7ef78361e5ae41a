package wsframe

// An end-to-end run of the copy loop in the package documentation: a
// coder/websocket server streams messages through a small raw-byte tunnel
// that drains at some point, and a coder/websocket client must receive
// whole messages, then close status 1001.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// goodbyeCopy is the app-to-client copy loop of the package documentation.
// With whole set, it waits for a boundary between messages rather than
// between frames. It returns whether it sent goodbye. A read timeout is the
// drain waking the loop: it clears the deadline and reads again.
func goodbyeCopy(client io.Writer, app net.Conn, br io.Reader, draining func() bool, whole bool, goodbye []byte) (sent bool, err error) {
	s := Scanner{Masking: MaskForbidden}
	ready := func() bool { return s.AtBoundary() && !(whole && s.InMessage()) }
	buf := make([]byte, 32<<10)
	for {
		n, rerr := br.Read(buf)
		p := buf[:n]
		k := 0
		if draining() && !s.Closed() {
			for !ready() && k < len(p) {
				k += s.Next(p[k:])
			}
			if ready() && !s.Closed() {
				if _, err := client.Write(p[:k]); err != nil {
					return false, err
				}
				_, err := client.Write(goodbye)
				return err == nil, err
			}
		}
		s.Advance(p[k:])
		if _, err := client.Write(p); err != nil {
			return false, err
		}
		if errors.Is(rerr, os.ErrDeadlineExceeded) {
			if err := app.SetReadDeadline(time.Time{}); err != nil {
				return false, err
			}
			continue
		}
		if rerr != nil {
			return false, rerr
		}
	}
}

// copyHead copies an HTTP head, up to and including its empty line.
func copyHead(dst io.Writer, br *bufio.Reader) error {
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return err
		}
		if _, err := dst.Write(line); err != nil {
			return err
		}
		if string(line) == "\r\n" {
			return nil
		}
	}
}

// tunnel is a one-connection WebSocket proxy that pipes raw bytes.
type tunnel struct {
	ln       net.Listener
	backend  string
	goodbye  []byte
	draining func() bool
	whole    bool // inject between messages, not only between frames

	appConn  chan net.Conn // the app side, once dialled
	read     atomic.Int64  // bytes read from the app after the HTTP head
	toClient bytes.Buffer  // what went to the client after the HTTP head
	sent     bool
	err      error
}

// serve handles one connection. The test waits for it to return.
func (tn *tunnel) serve() {
	client, err := tn.ln.Accept()
	if err != nil {
		tn.err = err
		return
	}
	defer client.Close()
	app, err := net.Dial("tcp", tn.backend)
	if err != nil {
		tn.err = err
		return
	}
	defer app.Close()
	tn.appConn <- app

	cbr := bufio.NewReader(client)
	abr := bufio.NewReader(app)
	if err := copyHead(app, cbr); err != nil {
		tn.err = err
		return
	}
	if err := copyHead(client, abr); err != nil {
		tn.err = err
		return
	}

	var wg sync.WaitGroup
	wg.Go(func() {
		_, _ = io.Copy(app, cbr) // the client's frames, from its first byte
		_ = app.(*net.TCPConn).CloseWrite()
	})
	// abr may hold frames read along with the 101 response.
	w := io.MultiWriter(client, &tn.toClient)
	tn.sent, tn.err = goodbyeCopy(w, app, countingReader{abr, &tn.read}, tn.draining, tn.whole, tn.goodbye)
	// After a close frame no data frame may follow: stop reading the app.
	_ = app.Close()
	wg.Wait()
}

// countingReader adds the bytes it reads to n.
type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// liveMessages are the messages the server streams: random sizes up to
// 100 KB, some sent in fragments.
func liveMessages(seed uint64, n int) [][]byte {
	r := rand.New(rand.NewPCG(seed, 1))
	msgs := make([][]byte, n)
	for i := range msgs {
		size := r.IntN(100_000)
		if i%3 == 0 {
			size = r.IntN(200)
		}
		m := make([]byte, size)
		for j := range m {
			m[j] = byte(r.IntN(10)) + '0' // compressible
		}
		msgs[i] = m
	}
	return msgs
}

func TestInjectIntoLiveStream(t *testing.T) {
	const total = 40
	tests := []struct {
		name  string
		mode  websocket.CompressionMode
		after int64 // drain once the tunnel has read this many bytes; -1: once idle
		whole bool  // inject between messages
	}{
		{name: "at once", after: 0},
		{name: "after 40000 bytes", after: 40_000},
		{name: "after 5000 bytes", after: 5000},
		{name: "after 70000 bytes", after: 70_000},
		{name: "after 600000 bytes", after: 600_000},
		{name: "between messages after 70000 bytes", after: 70_000, whole: true},
		// coder/websocket v1.8.15 panics (nil slidingWindow in
		// msgReader.Read) on a close frame between the fragments of a
		// compressed message with context takeover, so these wait for the
		// end of the message.
		{name: "compressed after 3000 bytes", mode: websocket.CompressionContextTakeover, after: 3000, whole: true},
		{name: "compressed after 200000 bytes", mode: websocket.CompressionContextTakeover, after: 200_000, whole: true},
		{name: "idle", after: -1},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := testContext(t)
			msgs := liveMessages(uint64(i), total)
			sendN := total
			if tt.after < 0 {
				sendN = 3
			}

			serverDone := make(chan struct{})
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				defer close(serverDone)
				streamMessages(ctx, w, r, tt.mode, msgs[:sendN])
			}))
			defer srv.Close()

			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			goodbye, err := AppendClose(nil, CloseGoingAway, "server shutting down", false)
			if err != nil {
				t.Fatal(err)
			}
			var drainNow atomic.Bool
			tn := &tunnel{
				ln:      ln,
				backend: srv.Listener.Addr().String(),
				goodbye: goodbye,
				appConn: make(chan net.Conn, 1),
				whole:   tt.whole,
			}
			tn.draining = func() bool {
				return drainNow.Load() || tt.after >= 0 && tn.read.Load() >= tt.after
			}
			tunnelDone := make(chan struct{})
			go func() {
				defer close(tunnelDone)
				tn.serve()
			}()
			defer func() { <-tunnelDone }()

			c, _, err := websocket.Dial(ctx, "ws://"+ln.Addr().String(), &websocket.DialOptions{CompressionMode: tt.mode})
			if err != nil {
				t.Fatalf("Dial through the tunnel: %v", err)
			}
			defer c.CloseNow()
			c.SetReadLimit(-1)
			var app net.Conn // the tunnel owns it; the idle case wakes its reader
			select {
			case app = <-tn.appConn:
			case <-tunnelDone:
				t.Fatalf("tunnel: %v", tn.err)
			}

			got := 0
			for {
				if tt.after < 0 && got == sendN {
					drainNow.Store(true)
					if err := app.SetReadDeadline(time.Now()); err != nil {
						t.Fatal(err)
					}
				}
				_, p, err := c.Read(ctx)
				if err != nil {
					var ce websocket.CloseError
					if !errors.As(err, &ce) || ce.Code != websocket.StatusGoingAway || ce.Reason != "server shutting down" {
						t.Fatalf("client Read after %d messages = %v, want close status 1001", got, err)
					}
					break
				}
				if got >= sendN || !bytes.Equal(p, msgs[got]) {
					t.Fatalf("client message %d is %d bytes, not the %d bytes sent", got, len(p), len(msgs[min(got, sendN-1)]))
				}
				got++
			}
			<-tunnelDone
			if !tn.sent {
				t.Fatalf("tunnel did not send its close frame: %v", tn.err)
			}
			// What went to the client is whole frames, the last one ours.
			out := tn.toClient.Bytes()
			ref := reference(out, MaskForbidden)
			n := len(ref.ends)
			if ref.errAt >= 0 || n == 0 || ref.ends[n-1] != len(out) || !bytes.HasSuffix(out, goodbye) ||
				(n > 1 && ref.ends[n-2] != len(out)-len(goodbye)) {
				t.Errorf("bytes sent to the client (%d) are not whole frames ending with the close frame: ends %v, error at %d", len(out), ref.ends[max(0, n-3):], ref.errAt)
			}
			// Whether the close frame went between the fragments of a message.
			inMessage := false
			for _, d := range decodeFrames(out, ref.ends) {
				if d.op < opClose {
					inMessage = !d.fin
				}
			}
			if tt.whole && inMessage {
				t.Errorf("close frame went inside a fragmented message, want it between messages")
			}
			if tt.after >= 0 && got == total {
				t.Errorf("client received all %d messages: the drain came too late to test anything", got)
			}
			t.Logf("client received %d of %d messages before 1001 (close inside a fragmented message: %v)", got, sendN, inMessage)
			<-serverDone
		})
	}
}

// streamMessages sends msgs, splitting every other one in three
// fragments, then waits for the connection to end.
func streamMessages(ctx context.Context, w http.ResponseWriter, r *http.Request, mode websocket.CompressionMode, msgs [][]byte) {
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{CompressionMode: mode})
	if err != nil {
		return
	}
	defer c.CloseNow()
	ctx = c.CloseRead(ctx)
	for i, m := range msgs {
		if i%2 == 0 {
			if c.Write(ctx, websocket.MessageBinary, m) != nil {
				return
			}
			continue
		}
		mw, err := c.Writer(ctx, websocket.MessageText)
		if err != nil {
			return
		}
		third := len(m) / 3
		for _, part := range [][]byte{m[:third], m[third : 2*third], m[2*third:]} {
			if _, err := mw.Write(part); err != nil {
				return
			}
		}
		if mw.Close() != nil {
			return
		}
	}
	<-ctx.Done()
}
