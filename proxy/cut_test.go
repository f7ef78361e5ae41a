package proxy

import (
	"io"
	"net/http"
	"testing"
	"time"
)

// TestCutAfterIdleKeepsLastResponses: when the drain ends idle, Cut comes
// right after the last handler returned, while the server may still be
// writing that response (HTTP/1.1 flushes after the handler; HTTP/2 writes
// from the connection's goroutine). Cut must let those bytes out.
func TestCutAfterIdleKeepsLastResponses(t *testing.T) {
	body := "the last words"
	for _, proto := range []string{"HTTP/1.1", "HTTP/2"} {
		t.Run(proto, func(t *testing.T) {
			for range 20 {
				arrived, release := make(chan struct{}, 1), make(chan struct{})
				p := startProxy(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					arrived <- struct{}{}
					<-release
					io.WriteString(w, body)
				}), func(s *Server) { s.H2C = true })
				tr := &http.Transport{Protocols: new(http.Protocols)}
				if proto == "HTTP/2" {
					tr.Protocols.SetUnencryptedHTTP2(true)
				} else {
					tr.Protocols.SetHTTP1(true)
				}
				t.Cleanup(tr.CloseIdleConnections)
				c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
				got := make(chan string, 1)
				go func() {
					res, err := c.Get(p.url("/last"))
					if err != nil {
						got <- err.Error()
						return
					}
					b, err := io.ReadAll(res.Body)
					res.Body.Close()
					if err != nil {
						got <- err.Error()
						return
					}
					got <- string(b)
				}()
				<-arrived
				idle := p.srv.Close()
				close(release)
				<-idle
				p.srv.Cut(0)
				if r := <-got; r != body {
					t.Fatalf("last response over %s cut at the end of the drain: got %.60q (%d bytes), want %d bytes", proto, r, len(r), len(body))
				}
			}
		})
	}
}
