package drain

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// never is a duration meaning "does not happen".
const never time.Duration = -1

// call is one call into a fake, with the fake-time instant it happened at
// (measured from the start of the test) and what the sequence looked like.
type call struct {
	name    string
	at      time.Duration
	phase   Phase
	drained bool // Drained was closed at the time of the call
}

// recorder keeps the calls made into the fakes, in order.
type recorder struct {
	start time.Time
	seq   *Sequence

	mu    sync.Mutex
	calls []call
}

func newRecorder(seq *Sequence) *recorder {
	return &recorder{start: time.Now(), seq: seq}
}

func (r *recorder) record(name string) {
	c := call{
		name:    name,
		at:      time.Since(r.start),
		phase:   r.seq.Phase(),
		drained: isClosed(r.seq.Drained()),
	}
	r.mu.Lock()
	r.calls = append(r.calls, c)
	r.mu.Unlock()
}

// named returns the calls with one of the given names, in order.
func (r *recorder) named(names ...string) []call {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []call
	for _, c := range r.calls {
		for _, n := range names {
			if c.name == n {
				out = append(out, c)
			}
		}
	}
	return out
}

// fakeTraffic is a Traffic whose in-flight work finishes idleAfter the
// listeners are closed (never: it does not finish by itself; zero: nothing
// is in flight by then).
type fakeTraffic struct {
	rec       *recorder
	idleAfter time.Duration
	held      []string // what Cut describes

	mu       sync.Mutex
	requests int
	upgrades int
	accepted uint64
	idle     chan struct{}
	closed   int // calls to Close
}

// arrive accepts n new requests, which stay in flight.
func (f *fakeTraffic) arrive(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests += n
	f.accepted += uint64(n)
}

func (f *fakeTraffic) Count() (requests, upgrades int, accepted uint64) {
	f.rec.record("count")
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests, f.upgrades, f.accepted
}

func (f *fakeTraffic) Close() <-chan struct{} {
	f.rec.record("close")
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed++
	f.idle = make(chan struct{})
	switch {
	case f.idleAfter == 0:
		f.finishLocked()
	case f.idleAfter > 0:
		time.AfterFunc(f.idleAfter, f.finish)
	}
	return f.idle
}

// finish completes everything in flight and closes the idle channel.
func (f *fakeTraffic) finish() {
	f.rec.record("idle")
	f.mu.Lock()
	defer f.mu.Unlock()
	f.finishLocked()
}

func (f *fakeTraffic) finishLocked() {
	f.requests, f.upgrades = 0, 0
	if !isClosed(f.idle) {
		close(f.idle)
	}
}

func (f *fakeTraffic) Cut(limit int) (requests, upgrades int, held []string) {
	f.rec.record("cut")
	f.mu.Lock()
	defer f.mu.Unlock()
	requests, upgrades = f.requests, f.upgrades
	f.requests, f.upgrades = 0, 0
	if requests+upgrades > 0 {
		held = f.held[:min(limit, len(f.held))]
	}
	if f.idle != nil && !isClosed(f.idle) {
		close(f.idle)
	}
	return requests, upgrades, held
}

// fakeApp is an App that exits exitAfter it is asked to stop (never: only
// when forced), and returns the cause of its context when it is forced.
type fakeApp struct {
	rec       *recorder
	exitAfter time.Duration
}

func (a *fakeApp) Stop(ctx context.Context) error {
	a.rec.record("stop")
	defer a.rec.record("stopped")
	var exited <-chan time.Time
	if a.exitAfter >= 0 {
		t := time.NewTimer(a.exitAfter)
		defer t.Stop()
		exited = t.C
	}
	select {
	case <-exited:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// newLogger returns a logger writing text lines without the time to buf.
func newLogger(buf *bytes.Buffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
}

// linesWith returns the log lines containing msg=<msg>.
func linesWith(buf *bytes.Buffer, msg string) []string {
	want := "msg=" + msg
	if strings.Contains(msg, " ") {
		want = `msg="` + msg + `"`
	}
	var out []string
	for line := range strings.Lines(buf.String()) {
		line = strings.TrimSuffix(line, "\n")
		if strings.Contains(line, want+" ") || strings.HasSuffix(line, want) {
			out = append(out, line)
		}
	}
	return out
}

// messages returns the msg of every log line, in order.
func messages(buf *bytes.Buffer) []string {
	var out []string
	for line := range strings.Lines(buf.String()) {
		_, rest, ok := strings.Cut(line, "msg=")
		if !ok {
			continue
		}
		if strings.HasPrefix(rest, `"`) {
			msg, _, _ := strings.Cut(rest[1:], `"`)
			out = append(out, msg)
			continue
		}
		msg, _, _ := strings.Cut(strings.TrimSuffix(rest, "\n"), " ")
		out = append(out, msg)
	}
	return out
}
