package admin

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeDrain stands for the drain sequence the program wires in. Like the
// real one, it starts the drain once and lets later calls join it.
type fakeDrain struct {
	summary string // returned when the drain wait ends; set before closing release
	err     error  // returned with summary

	calls  atomic.Int32 // calls of the Drain function
	starts atomic.Int32 // drains started: must never exceed 1
	once   sync.Once

	entered chan struct{} // blocking: gets one value per call, once the drain is under way
	release chan struct{} // blocking: closed when the drain wait ends
	aborted chan struct{} // blocking: closed when the test ends, so a failing test cannot hang
}

// newBlockingDrain returns a fake for Drain: blocking. It serves through a
// test server it starts and closes when the test ends.
func newBlockingDrain(t *testing.T, h func(*fakeDrain) http.Handler) (*fakeDrain, *httptest.Server) {
	fd := &fakeDrain{
		entered: make(chan struct{}, 16),
		release: make(chan struct{}),
		aborted: make(chan struct{}),
	}
	srv := httptest.NewServer(h(fd))
	// Cleanups run last-in first-out: first free any handler still in
	// Drain, then close the server, which waits for the handlers.
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(fd.aborted) })
	return fd, srv
}

func (f *fakeDrain) start() {
	f.calls.Add(1)
	f.once.Do(func() { f.starts.Add(1) })
}

// instant is a Drain whose wait has already ended.
func (f *fakeDrain) instant(context.Context) (string, error) {
	f.start()
	return f.summary, f.err
}

// blocking is a Drain that waits for release or for ctx, as the real one
// does.
func (f *fakeDrain) blocking(ctx context.Context) (string, error) {
	f.start()
	f.entered <- struct{}{}
	select {
	case <-f.release:
		return f.summary, f.err
	case <-ctx.Done():
		return "", context.Cause(ctx)
	case <-f.aborted:
		return "", errors.New("test ended")
	}
}

// finish ends the drain wait with the given summary.
func (f *fakeDrain) finish(summary string) {
	f.summary = summary
	close(f.release)
}

// wait is the longest any event in these tests may take; reaching it means
// the code under test is stuck.
const wait = 10 * time.Second

// recv waits for a value from ch, failing the test after wait.
func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(wait):
		t.Fatalf("timed out after %v waiting for %s", wait, what)
		panic("unreachable")
	}
}

type result struct {
	code int
	body string
	err  error
}

// request sends one request to srv and delivers the outcome on the
// returned channel. The caller owns the goroutine: it must receive.
func request(t *testing.T, ctx context.Context, srv *httptest.Server, method, path string) <-chan result {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	out := make(chan result, 1)
	go func() {
		resp, err := srv.Client().Do(req)
		if err != nil {
			out <- result{err: err}
			return
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		out <- result{code: resp.StatusCode, body: string(body), err: err}
	}()
	return out
}

func TestDrainBlocksUntilDrainEnds(t *testing.T) {
	for _, method := range []string{"GET", "POST"} {
		t.Run(method, func(t *testing.T) {
			fd, srv := newBlockingDrain(t, func(fd *fakeDrain) http.Handler {
				return New(Options{Drain: fd.blocking, Logger: quiet})
			})

			res := request(t, context.Background(), srv, method, "/drain")
			recv(t, fd.entered, "the drain to start")
			select {
			case r := <-res:
				t.Fatalf("%s /drain answered %d %q before the drain ended", method, r.code, r.body)
			default:
			}
			// The summary exists only once the drain has ended, so an
			// answer carrying it proves the handler waited.
			fd.finish("drained: 3 finished, 0 cut in 1.204s")
			r := recv(t, res, "the /drain answer")
			if r.err != nil {
				t.Fatalf("%s /drain: %v", method, r.err)
			}
			if want := "drained: 3 finished, 0 cut in 1.204s\n"; r.code != 200 || r.body != want {
				t.Errorf("%s /drain = %d %q, want 200 %q", method, r.code, r.body, want)
			}
		})
	}
}

func TestDrainReturnsWhenClientGoesAway(t *testing.T) {
	handlerDone := make(chan struct{})
	fd, srv := newBlockingDrain(t, func(fd *fakeDrain) http.Handler {
		h := New(Options{Drain: fd.blocking, Logger: quiet})
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer close(handlerDone)
			h.ServeHTTP(w, r)
		})
	})

	ctx, cancel := context.WithCancel(context.Background())
	res := request(t, ctx, srv, "POST", "/drain")
	recv(t, fd.entered, "the drain to start")
	cancel()
	if r := recv(t, res, "the client to give up"); !errors.Is(r.err, context.Canceled) {
		t.Errorf("client error = %v, want %v", r.err, context.Canceled)
	}
	recv(t, handlerDone, "the /drain handler to return after the client went away")
	if n := fd.starts.Load(); n != 1 {
		t.Errorf("drains started = %d, want 1", n)
	}
}

func TestConcurrentDrainsJoinOne(t *testing.T) {
	fd, srv := newBlockingDrain(t, func(fd *fakeDrain) http.Handler {
		return New(Options{Drain: fd.blocking, Logger: quiet})
	})

	first := request(t, context.Background(), srv, "POST", "/drain")
	second := request(t, context.Background(), srv, "GET", "/drain")
	recv(t, fd.entered, "the first /drain to reach the drain")
	recv(t, fd.entered, "the second /drain to reach the drain")

	fd.finish("drained: 1 finished, 0 cut in 0.5s")
	for i, res := range []<-chan result{first, second} {
		r := recv(t, res, "a /drain answer")
		if r.err != nil {
			t.Fatalf("/drain #%d: %v", i+1, r.err)
		}
		if want := "drained: 1 finished, 0 cut in 0.5s\n"; r.code != 200 || r.body != want {
			t.Errorf("/drain #%d = %d %q, want 200 %q", i+1, r.code, r.body, want)
		}
	}
	if calls, starts := fd.calls.Load(), fd.starts.Load(); calls != 2 || starts != 1 {
		t.Errorf("Drain calls, drains started = %d, %d, want 2, 1", calls, starts)
	}
}

func TestDrainError(t *testing.T) {
	fd := &fakeDrain{err: errors.New("drain timeout 30s\nwhile stopping")}
	h := New(Options{Drain: fd.instant, Logger: quiet})
	rec := serve(h, "POST", "/drain", nil)
	if want := "drain: drain timeout 30s; while stopping\n"; rec.Code != 500 || rec.Body.String() != want {
		t.Errorf("POST /drain with failing Drain = %d %q, want 500 %q", rec.Code, rec.Body.String(), want)
	}
}
