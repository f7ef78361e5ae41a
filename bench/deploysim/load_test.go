package deploysim

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/coder/websocket"
)

// The load: how many workers of each kind run at once, and their pace.
// Short requests and uploads are paced; slow requests, streams and
// WebSocket sessions run back to back.
var loadMix = []struct {
	kind    string
	workers int
	pace    time.Duration // pause between two requests of one worker
}{
	{"short", 4, 20 * time.Millisecond},
	{"upload", 2, 20 * time.Millisecond},
	{"slow", 3, 0},
	{"stream", 2, 0},
	{"websocket", 3, 0},
}

// httpCounts counts one kind of request.
type httpCounts struct {
	Sent   int            `json:"sent"`
	OK     int            `json:"ok_2xx"`  // 2xx with the whole, right body
	Failed int            `json:"failed"`  // an error status, a wrong body, or another error
	Reset  int            `json:"reset"`   // connection reset or closed mid-request or mid-body
	Status map[string]int `json:"non_2xx"` // the error statuses seen
}

// wsCounts counts WebSocket sessions.
type wsCounts struct {
	Sessions   int `json:"sessions"`    // dials attempted
	Refused    int `json:"refused"`     // dials that failed or were refused
	Closed1000 int `json:"closed_1000"` // ended by the client, normally
	Closed1001 int `json:"closed_1001"` // the server said "going away" with a close frame
	Cut        int `json:"cut"`         // ended without a close frame, or with an unexpected code
	Messages   int `json:"messages"`    // messages echoed
	Unanswered int `json:"unanswered"`  // messages whose echo the 1001 close overtook
}

// tally is what the load generator saw.
type tally struct {
	mu      sync.Mutex
	HTTP    map[string]*httpCounts `json:"http"`
	WS      wsCounts               `json:"websocket"`
	Samples []string               `json:"samples,omitempty"` // the first errors, for the report
}

func newTally() *tally { return &tally{HTTP: map[string]*httpCounts{}} }

func (t *tally) sample(format string, args ...any) {
	if len(t.Samples) < 20 {
		t.Samples = append(t.Samples, time.Now().Format("15:04:05.000 ")+fmt.Sprintf(format, args...))
	}
}

// record counts the outcome of one HTTP request of kind.
func (t *tally) record(kind string, code int, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	c := t.HTTP[kind]
	if c == nil {
		c = &httpCounts{Status: map[string]int{}}
		t.HTTP[kind] = c
	}
	c.Sent++
	switch {
	case err != nil && isReset(err):
		c.Reset++
		t.sample("%s: reset: %v", kind, err)
	case err != nil:
		c.Failed++
		t.sample("%s: %v", kind, err)
	case code/100 != 2:
		c.Failed++
		c.Status[fmt.Sprint(code)]++
		t.sample("%s: status %d", kind, code)
	default:
		c.OK++
	}
}

// totals adds up every kind of HTTP request.
func (t *tally) totals() httpCounts {
	t.mu.Lock()
	defer t.mu.Unlock()
	var s httpCounts
	for _, c := range t.HTTP {
		s.Sent += c.Sent
		s.OK += c.OK
		s.Failed += c.Failed
		s.Reset += c.Reset
	}
	return s
}

// isReset tells a connection cut by the other side from other failures.
func isReset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}

// load sends the mix through the load balancer at base until ctx ends,
// then lets every request and session under way finish.
type load struct {
	base   string // http://host:port of the load balancer
	client *http.Client
	t      *tally
}

func newLoad(base string) *load {
	tr := &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}
	return &load{base: base, client: &http.Client{Transport: tr, Timeout: 30 * time.Second}, t: newTally()}
}

// run blocks until ctx ends and every worker has returned.
func (l *load) run(ctx context.Context) {
	defer l.client.Transport.(*http.Transport).CloseIdleConnections()
	var wg sync.WaitGroup
	for _, m := range loadMix {
		for w := range m.workers {
			wg.Go(func() { l.worker(ctx, m.kind, w, m.pace) })
		}
	}
	wg.Wait()
}

// worker runs requests of one kind back to back, pace apart.
func (l *load) worker(ctx context.Context, kind string, w int, pace time.Duration) {
	for i := 0; ctx.Err() == nil; i++ {
		switch kind {
		case "short":
			l.short(w, i)
		case "upload":
			l.upload()
		case "slow":
			l.slow()
		case "stream":
			l.stream()
		case "websocket":
			l.session(ctx)
		}
		if pace > 0 {
			t := time.NewTimer(pace)
			select {
			case <-ctx.Done():
			case <-t.C:
			}
			t.Stop()
		}
	}
}

// do sends req and checks the body with check, reading it all.
func (l *load) do(kind string, req *http.Request, check func([]byte) error) {
	res, err := l.client.Do(req)
	if err != nil {
		l.t.record(kind, 0, err)
		return
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err == nil && res.StatusCode/100 == 2 {
		err = check(body)
	}
	l.t.record(kind, res.StatusCode, err)
}

func (l *load) short(w, i int) {
	req, _ := http.NewRequest("GET", fmt.Sprintf("%s/?w=%d&i=%d", l.base, w, i), nil)
	l.do("short", req, func(b []byte) error { return want(b, "hello") })
}

func (l *load) upload() {
	body := make([]byte, 1024+rand.IntN(7*1024))
	for i := range body {
		body[i] = byte('a' + rand.IntN(26))
	}
	req, _ := http.NewRequest("POST", l.base+"/echo", bytes.NewReader(body))
	req.Header.Set("Content-Type", "text/plain")
	l.do("upload", req, func(b []byte) error { return want(b, string(body)) })
}

func (l *load) slow() {
	ms := 200 + rand.IntN(600)
	req, _ := http.NewRequest("GET", fmt.Sprintf("%s/slow?ms=%d", l.base, ms), nil)
	l.do("slow", req, func(b []byte) error { return want(b, fmt.Sprintf("slow %d", ms)) })
}

// stream reads a chunked response of 10 pieces, 60 ms apart.
func (l *load) stream() {
	req, _ := http.NewRequest("GET", l.base+"/chunks?n=10&ms=60", nil)
	l.do("stream", req, func(b []byte) error {
		var w strings.Builder
		for i := 1; i <= 10; i++ {
			fmt.Fprintf(&w, "chunk %d\n", i)
		}
		if string(b) != w.String() {
			return fmt.Errorf("stream got %d of 10 chunks: %w", bytes.Count(b, []byte("\n")), io.ErrUnexpectedEOF)
		}
		return nil
	})
}

func want(got []byte, want string) error {
	if string(got) != want {
		return fmt.Errorf("body %.40q, want %.40q", got, want)
	}
	return nil
}

// session runs one WebSocket session: messages 50 ms apart, each echoed,
// for half a second to 2.5 s, then a normal close. A server's "going away"
// ends it early: the client would reconnect, which the next session does.
func (l *load) session(ctx context.Context) {
	l.t.mu.Lock()
	l.t.WS.Sessions++
	l.t.mu.Unlock()
	dctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, res, err := websocket.Dial(dctx, "ws"+strings.TrimPrefix(l.base, "http")+"/ws", &websocket.DialOptions{HTTPClient: l.client})
	if err != nil {
		code := 0
		if res != nil {
			code = res.StatusCode
		}
		l.t.mu.Lock()
		l.t.WS.Refused++
		l.t.sample("websocket dial: %d %v", code, err)
		l.t.mu.Unlock()
		return
	}
	defer c.CloseNow()
	end := time.Now().Add(500*time.Millisecond + rand.N(2*time.Second))
	var echoed int
	outcome := func(err error) {
		l.t.mu.Lock()
		defer l.t.mu.Unlock()
		l.t.WS.Messages += echoed
		switch st := websocket.CloseStatus(err); {
		case err == nil:
			l.t.WS.Closed1000++
		case st == websocket.StatusGoingAway:
			l.t.WS.Closed1001++
		default:
			l.t.WS.Cut++
			l.t.sample("websocket cut after %d messages: %v", echoed, err)
		}
	}
	for i := 0; time.Now().Before(end) && ctx.Err() == nil; i++ {
		msg := fmt.Sprintf("m%d", i)
		rctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := c.Write(rctx, websocket.MessageText, []byte(msg))
		var got []byte
		if err == nil {
			_, got, err = c.Read(rctx)
		}
		cancel()
		if err != nil {
			if websocket.CloseStatus(err) == websocket.StatusGoingAway {
				l.t.mu.Lock()
				l.t.WS.Unanswered++
				l.t.mu.Unlock()
			}
			outcome(err)
			return
		}
		if string(got) != msg {
			outcome(fmt.Errorf("echo %q, want %q", got, msg))
			return
		}
		echoed++
		t := time.NewTimer(50 * time.Millisecond)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
	}
	outcome(c.Close(websocket.StatusNormalClosure, "done"))
}
