// Package wsframe follows WebSocket frame boundaries (RFC 6455 §5.2) in a
// byte stream and writes close frames (§5.5.1), so that a proxy which
// tunnels a WebSocket connection as raw bytes can say goodbye with a close
// frame (1001, "going away") without cutting a frame in half, and can notice
// the close frame of either peer.
//
// A Scanner watches one direction of the tunnel. It never buffers or copies
// the stream: the copy loop hands it each chunk it reads, before or after
// writing it on, and asks where the frames end. Control frames may come
// between the fragments of a data message (§5.4), so a boundary is the end
// of any frame, not of a message, and a close frame may go in there.
// Compression (permessage-deflate, RFC 7692) only sets RSV1 on data frames
// and leaves framing alone, so the Scanner ignores it.
//
// # Typical use
//
// The app-to-client copy loop scans every chunk. Once the proxy drains, it
// writes the chunk up to the first frame boundary, then the close frame,
// and stops forwarding: no data frame may follow a close frame (§5.5.1).
// If the app has already sent its own close frame, or the stream stopped
// making sense, it sends nothing.
//
//	goodbye, err := wsframe.AppendClose(nil, wsframe.CloseGoingAway, "server shutting down", false)
//	if err != nil {
//		return err
//	}
//	s := wsframe.Scanner{Masking: wsframe.MaskForbidden}
//	for {
//		n, rerr := app.Read(buf)
//		p := buf[:n]
//		k := 0
//		if draining() && !s.Closed() {
//			if !s.AtBoundary() {
//				k = s.Next(p) // p[:k] ends the frame in progress, if it ends in p
//			}
//			if s.AtBoundary() && !s.Closed() {
//				if _, err := client.Write(p[:k]); err != nil {
//					return err
//				}
//				_, err := client.Write(goodbye)
//				return err // the proxy now waits for the client's close frame
//			}
//		}
//		s.Advance(p[k:])
//		if _, err := client.Write(p); err != nil {
//			return err
//		}
//		if rerr != nil {
//			return rerr
//		}
//	}
//
// When the drain starts while that loop is blocked in Read on an idle
// connection, app.SetReadDeadline(time.Now()) wakes it: Read returns no
// bytes and os.ErrDeadlineExceeded, and if the Scanner is at a boundary the
// close frame goes out at once. If it is not, the loop must clear the
// deadline and read on rather than return that error.
//
// A frame boundary inside a fragmented message is a valid place for the
// close frame, but some peers mishandle it when the message is compressed
// (coder/websocket v1.8.15 panics on it). A tunnel that would rather wait
// for the end of the message steps with Next while InMessage is true.
//
// The client-to-app loop watches for the client's close frame. Its Scanner
// also finds the boundaries where a masked close frame toward the app may
// go, in the same way as above.
//
//	s := wsframe.Scanner{Masking: wsframe.MaskRequired}
//	...
//	s.Advance(p)
//	if s.Closed() {
//		code, _ := s.CloseStatus() // e.g. 1001 echoed back by the client
//	}
//
// # Limits
//
// The Scanner must see the stream from its first frame: bytes of the app's
// stream already read past the HTTP 101 response (in a bufio.Reader) must
// go through it too. It checks only what keeps the framing meaningful
// (see Scanner.Err); it does not validate UTF-8, decompress, or check that
// nothing follows a close frame. After a protocol error it no longer reports
// boundaries, and a proxy should pipe the bytes untouched and close the
// connection without a close frame.
package wsframe
