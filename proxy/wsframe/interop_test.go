package wsframe

// Cross-checks against github.com/coder/websocket, a complete WebSocket
// implementation: the frames it writes, and how it reads the close frames
// that AppendClose writes.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testContext returns a context that ends with the test or after 10 s.
func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// recConn records, chunk by chunk, what is read from and written to a
// net.Conn.
type recConn struct {
	net.Conn
	mu     sync.Mutex
	reads  [][]byte
	writes [][]byte
}

func (c *recConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.mu.Lock()
		c.reads = append(c.reads, slices.Clone(p[:n]))
		c.mu.Unlock()
	}
	return n, err
}

func (c *recConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.writes = append(c.writes, slices.Clone(p))
	c.mu.Unlock()
	return c.Conn.Write(p)
}

// recorded returns the chunks read and written so far.
func (c *recConn) recorded() (reads, writes [][]byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.reads), slices.Clone(c.writes)
}

// afterHTTP drops the HTTP head (request or response) from the start of
// chunks and returns the chunks of the WebSocket stream that follows it.
func afterHTTP(t *testing.T, chunks [][]byte) [][]byte {
	t.Helper()
	head := bytes.Index(bytes.Join(chunks, nil), []byte("\r\n\r\n"))
	if head < 0 {
		t.Fatal("no end of HTTP head in the recorded stream")
	}
	skip := head + 4
	for len(chunks) > 0 && skip >= len(chunks[0]) {
		skip -= len(chunks[0])
		chunks = chunks[1:]
	}
	if len(chunks) > 0 {
		chunks[0] = chunks[0][skip:]
	}
	return chunks
}

// decoded is one frame as decodeFrames sees it.
type decoded struct {
	op      byte
	fin     bool
	rsv1    bool
	payload []byte // unmasked
}

// decodeFrames cuts b at ends and decodes each frame.
func decodeFrames(b []byte, ends []int) []decoded {
	var frames []decoded
	start := 0
	for _, end := range ends {
		f := b[start:end]
		d := decoded{op: f[0] & 0xf, fin: f[0]&0x80 != 0, rsv1: f[0]&0x40 != 0}
		hl := 2
		switch f[1] & 0x7f {
		case 126:
			hl = 4
		case 127:
			hl = 10
		}
		if f[1]&0x80 != 0 {
			key := f[hl : hl+4]
			hl += 4
			for i, c := range f[hl:] {
				d.payload = append(d.payload, c^key[i%4])
			}
		} else {
			d.payload = slices.Clone(f[hl:])
		}
		frames = append(frames, d)
		start = end
	}
	return frames
}

// messages reassembles the data messages of frames and lists the opcodes
// of every frame.
func messages(frames []decoded) (msgs []string, ops []byte) {
	var cur []byte
	for _, f := range frames {
		ops = append(ops, f.op)
		if f.op >= opClose {
			continue
		}
		cur = append(cur, f.payload...)
		if f.fin {
			msgs = append(msgs, string(cur))
			cur = nil
		}
	}
	return msgs, ops
}

// checkStream scans chunks as they crossed the wire and compares the
// boundaries with the reference decoder; it returns the frames.
func checkStream(t *testing.T, name string, chunks [][]byte, m Masking, wantCode uint16, wantReason string) []decoded {
	t.Helper()
	b := bytes.Join(chunks, nil)
	ref := reference(b, m)
	if ref.errAt >= 0 || len(ref.ends) == 0 || ref.ends[len(ref.ends)-1] != len(b) {
		t.Fatalf("%s: reference decoder: error at %d, ends %v, want the %d bytes to be whole frames", name, ref.errAt, ref.ends, len(b))
	}
	for _, feed := range []struct {
		how    string
		chunks [][]byte
	}{
		{"as read from the wire", chunks},
		{"in one chunk", [][]byte{b}},
		{"byte by byte", byteChunks(b)},
	} {
		s := Scanner{Masking: m}
		got := scanChunks(&s, feed.chunks...)
		if !slices.Equal(got, ref.ends) {
			t.Errorf("%s %s: boundaries = %v, want %v", name, feed.how, got, ref.ends)
		}
		code, reason := s.CloseStatus()
		if s.Err() != nil || !s.Closed() || code != wantCode || string(reason) != wantReason {
			t.Errorf("%s %s: Err() %v, Closed() %v, CloseStatus() %d, %q, want nil, true, %d, %q",
				name, feed.how, s.Err(), s.Closed(), code, reason, wantCode, wantReason)
		}
	}
	return decodeFrames(b, ref.ends)
}

// serverScript is what the server sends in TestScannerOnLibraryStream.
var serverScript = []struct {
	typ  websocket.MessageType
	size int
}{
	{websocket.MessageText, 5},
	{websocket.MessageBinary, 0},
	{websocket.MessageBinary, 125},
	{websocket.MessageBinary, 126},
	{websocket.MessageBinary, 65535},
	{websocket.MessageBinary, 65536},
	{websocket.MessageText, 200000},
}

func scriptMessage(i, size int) []byte {
	return bytes.Repeat([]byte{byte('a' + i)}, size)
}

// TestScannerOnLibraryStream has coder/websocket exchange a script of
// messages of every length form, a fragmented message with a ping between
// its fragments, and the close handshake, and checks that the Scanner finds
// every frame boundary and the close frame in both directions.
func TestScannerOnLibraryStream(t *testing.T) {
	modes := []struct {
		name string
		mode websocket.CompressionMode
	}{
		{"uncompressed", websocket.CompressionDisabled},
		{"permessage-deflate", websocket.CompressionContextTakeover},
	}
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			ctx := testContext(t)
			serverErr := make(chan error, 1)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				serverErr <- runServerScript(ctx, w, r, mode.mode)
			}))
			defer srv.Close()

			var rec *recConn
			client := &http.Client{Transport: &http.Transport{
				DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
					c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
					if err != nil {
						return nil, err
					}
					rec = &recConn{Conn: c}
					return rec, nil
				},
			}}
			c, _, err := websocket.Dial(ctx, srv.URL, &websocket.DialOptions{HTTPClient: client, CompressionMode: mode.mode})
			if err != nil {
				t.Fatalf("Dial: %v", err)
			}
			defer c.CloseNow()
			c.SetReadLimit(-1)
			clientMsgs := []string{"from the client", strings.Repeat("z", 300)}
			for _, m := range clientMsgs {
				if err := c.Write(ctx, websocket.MessageText, []byte(m)); err != nil {
					t.Fatalf("client Write: %v", err)
				}
			}
			var got []string
			for {
				_, p, err := c.Read(ctx)
				if err != nil {
					if code := websocket.CloseStatus(err); code != 4001 {
						t.Fatalf("client Read: %v, want close status 4001", err)
					}
					break
				}
				got = append(got, string(p))
			}
			if err := <-serverErr; err != nil {
				t.Fatalf("server: %v", err)
			}

			var want []string
			for i, m := range serverScript {
				want = append(want, string(scriptMessage(i, m.size)))
			}
			want = append(want, "frag-1-frag-2-")
			if !slices.Equal(got, want) {
				t.Fatalf("client received %d messages, want %d", len(got), len(want))
			}

			reads, writes := rec.recorded()
			toClient := checkStream(t, "server to client", afterHTTP(t, reads), MaskForbidden, 4001, "script done")
			toServer := checkStream(t, "client to server", afterHTTP(t, writes), MaskRequired, 4001, "script done")

			compressed := slices.ContainsFunc(toClient, func(d decoded) bool { return d.rsv1 })
			if compressed != (mode.mode != websocket.CompressionDisabled) {
				t.Errorf("server to client: RSV1 set on some frame = %v, want %v", compressed, !compressed)
			}
			if mode.mode != websocket.CompressionDisabled {
				return // the payloads are deflated
			}
			msgs, ops := messages(toClient)
			if !slices.Equal(msgs, want) {
				t.Errorf("server to client: frames reassemble into %d messages, want the %d sent", len(msgs), len(want))
			}
			// The fragmented message: first fragment, ping, 3 continuations.
			wantOps := []byte{1, 2, 2, 2, 2, 2, 1, 1, 9, 0, 0, 0, 8}
			if !slices.Equal(ops, wantOps) {
				t.Errorf("server to client: opcodes %v, want %v", ops, wantOps)
			}
			msgs, ops = messages(toServer)
			if !slices.Equal(msgs, clientMsgs) || !slices.Equal(ops, []byte{1, 1, 0xA, 8}) {
				t.Errorf("client to server: messages %.20q, opcodes %v, want %.20q, [1 1 10 8]", msgs, ops, clientMsgs)
			}
		})
	}
}

// runServerScript accepts the connection, reads the client's messages,
// sends serverScript and a fragmented message with a ping inside, and
// closes with 4001.
func runServerScript(ctx context.Context, w http.ResponseWriter, r *http.Request, mode websocket.CompressionMode) error {
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{CompressionMode: mode})
	if err != nil {
		return err
	}
	defer c.CloseNow()

	// The reader answers pings and delivers pongs; it stops when the
	// close handshake, which it also completes, ends the connection.
	readDone := make(chan error, 1)
	go func() { readDone <- readAll(ctx, c, 2) }()

	for i, m := range serverScript {
		if err := c.Write(ctx, m.typ, scriptMessage(i, m.size)); err != nil {
			return err
		}
	}
	mw, err := c.Writer(ctx, websocket.MessageText)
	if err != nil {
		return err
	}
	for _, p := range []string{"frag-1-", "", "frag-2-"} {
		if _, err := mw.Write([]byte(p)); err != nil {
			return err
		}
		if p == "frag-1-" {
			if err := c.Ping(ctx); err != nil {
				return err
			}
		}
	}
	if err := mw.Close(); err != nil {
		return err
	}
	closeErr := c.Close(4001, "script done")
	if err := <-readDone; err != nil {
		return err
	}
	return closeErr
}

// readAll reads want data messages from c, then waits for the read that
// ends with the close handshake.
func readAll(ctx context.Context, c *websocket.Conn, want int) error {
	for i := 0; ; i++ {
		_, _, err := c.Read(ctx)
		switch {
		case err == nil && i < want:
		case err == nil:
			return fmt.Errorf("server read message %d, want %d", i+1, want)
		case i < want:
			return fmt.Errorf("server read %d messages, want %d: %w", i, want, err)
		default:
			return nil
		}
	}
}

// acceptKey computes Sec-WebSocket-Accept (RFC 6455 §4.2.2).
func acceptKey(key string) string {
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h[:])
}

// readClose reads r through a Scanner until a close frame has passed.
func readClose(r io.Reader, m Masking) (code uint16, reason string, err error) {
	s := Scanner{Masking: m}
	buf := make([]byte, 512)
	for !s.Closed() {
		n, err := r.Read(buf)
		s.Advance(buf[:n])
		if s.Err() != nil {
			return 0, "", s.Err()
		}
		if err != nil && !s.Closed() {
			return 0, "", err
		}
	}
	c, rs := s.CloseStatus()
	return c, string(rs), nil
}

// TestLibraryClientSeesGoingAway sends a library client a message and an
// unmasked AppendClose(1001) frame from a hand-made server, and checks the
// status the client reports and the close frame it echoes.
func TestLibraryClientSeesGoingAway(t *testing.T) {
	ctx := testContext(t)
	type echo struct {
		code   uint16
		reason string
		err    error
	}
	echoed := make(chan echo, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			echoed <- echo{err: err}
			return
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
		out := []byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
			"Sec-WebSocket-Accept: " + acceptKey(r.Header.Get("Sec-WebSocket-Key")) + "\r\n\r\n")
		out = append(out, 0x81, 5, 'h', 'e', 'l', 'l', 'o')
		out, err = AppendClose(out, CloseGoingAway, "going away", false)
		if err == nil {
			_, err = conn.Write(out)
		}
		if err != nil {
			echoed <- echo{err: err}
			return
		}
		code, reason, err := readClose(brw.Reader, MaskRequired)
		echoed <- echo{code, reason, err}
	}))
	defer srv.Close()

	c, _, err := websocket.Dial(ctx, srv.URL, nil)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer c.CloseNow()
	if _, p, err := c.Read(ctx); err != nil || string(p) != "hello" {
		t.Fatalf("client Read = %q, %v, want \"hello\", nil", p, err)
	}
	_, _, err = c.Read(ctx)
	var ce websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.StatusGoingAway || ce.Reason != "going away" {
		t.Errorf("client Read after AppendClose(1001) = %v, want close status 1001 \"going away\"", err)
	}
	if e := <-echoed; e.err != nil || e.code != 1001 || e.reason != "going away" {
		t.Errorf("client echoed close %d, %q (error %v), want 1001, \"going away\"", e.code, e.reason, e.err)
	}
}

// TestLibraryServerSeesGoingAway sends a library server a masked
// AppendClose(1001) frame from a hand-made client, as lameduck does toward
// the app.
func TestLibraryServerSeesGoingAway(t *testing.T) {
	ctx := testContext(t)
	serverGot := make(chan error, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			serverGot <- err
			return
		}
		defer c.CloseNow()
		_, _, err = c.Read(ctx)
		serverGot <- err
	}))
	defer srv.Close()

	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	key := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef"))
	req := "GET / HTTP/1.1\r\nHost: " + srv.Listener.Addr().String() + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + key + "\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Sec-WebSocket-Accept") != acceptKey(key) {
		t.Fatalf("handshake response = %v, %v, want 101 with the right accept key", resp, err)
	}
	frame, err := AppendClose(nil, CloseGoingAway, "going away", true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Write(frame); err != nil {
		t.Fatal(err)
	}
	err = <-serverGot
	var ce websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.StatusGoingAway || ce.Reason != "going away" {
		t.Errorf("server Read after masked AppendClose(1001) = %v, want close status 1001 \"going away\"", err)
	}
	if code, reason, err := readClose(br, MaskForbidden); err != nil || code != 1001 || reason != "going away" {
		t.Errorf("server echoed close %d, %q (error %v), want 1001, \"going away\"", code, reason, err)
	}
}
