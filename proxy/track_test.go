package proxy

import (
	"net"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

func TestTrackerIdleOnlyWhenClosing(t *testing.T) {
	tr := newTracker()
	e := tr.begin("GET", "/a")
	tr.end(e)
	select {
	case <-tr.idle:
		t.Fatal("idle closed before close(): an idle server must not look drained")
	default:
	}
	e = tr.begin("GET", "/b")
	idle := tr.close()
	select {
	case <-idle:
		t.Fatal("idle closed with a request in flight")
	default:
	}
	tr.end(e)
	select {
	case <-idle:
	default:
		t.Fatal("idle not closed by the last end()")
	}
}

func TestTrackerCloseWhenAlreadyIdle(t *testing.T) {
	tr := newTracker()
	select {
	case <-tr.close():
	default:
		t.Fatal("close() with nothing in flight: idle not closed at once")
	}
}

func TestTrackerCountAndCut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := newTracker()
		old := tr.begin("GET", "/old")
		time.Sleep(2 * time.Second) // fake time: ages the first entry
		tr.begin("POST", "/new")
		up := tr.begin("GET", "/ws")
		client, app := net.Pipe()
		tun := &tunnel{kind: "websocket", client: client, app: app}
		if tr.upgraded(up, tun) {
			t.Fatal("upgraded() reported closing before close()")
		}
		if r, u := tr.count(); r != 2 || u != 1 {
			t.Fatalf("count() = %d, %d, want 2, 1", r, u)
		}
		if got := tr.accepted.Load(); got != 3 {
			t.Fatalf("accepted = %d, want 3", got)
		}
		r, u, held := tr.cut(2)
		if r != 2 || u != 1 {
			t.Fatalf("cut() counts = %d, %d, want 2, 1", r, u)
		}
		if len(held) != 2 || held[0] != "GET /old 2s" || !strings.HasPrefix(held[1], "POST /new") && !strings.HasPrefix(held[1], "GET /ws (websocket)") {
			t.Fatalf("cut() held = %q, want the two oldest, oldest first", held)
		}
		tr.end(old)
		if r, _ := tr.count(); r != 1 {
			t.Fatalf("after end: requests = %d, want 1", r)
		}
	})
}

func TestTrackerConcurrent(t *testing.T) {
	tr := newTracker()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 1000 {
				tr.end(tr.begin("GET", "/"))
			}
		})
	}
	wg.Wait()
	if r, u := tr.count(); r != 0 || u != 0 {
		t.Fatalf("count() = %d, %d after balanced begin/end, want 0, 0", r, u)
	}
	if got := tr.accepted.Load(); got != 8000 {
		t.Fatalf("accepted = %d, want 8000", got)
	}
}

// BenchmarkTrack measures what drain tracking adds to each request. It
// must report 0 allocs/op.
func BenchmarkTrack(b *testing.B) {
	tr := newTracker()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			tr.end(tr.begin("GET", "/"))
		}
	})
}

func TestTrackZeroAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under the race detector")
	}
	tr := newTracker()
	tr.end(tr.begin("GET", "/")) // warm the pool
	if n := testing.AllocsPerRun(1000, func() { tr.end(tr.begin("GET", "/")) }); n != 0 {
		t.Fatalf("begin+end allocations = %v, want 0", n)
	}
}

func TestTrackerZero(t *testing.T) {
	tr := newTracker()
	select {
	case <-tr.zero():
	default:
		t.Fatal("zero() with nothing in flight not closed at once")
	}
	for round := range 3 { // it can be asked again once requests begin anew
		e := tr.begin("GET", "/")
		ch := tr.zero()
		select {
		case <-ch:
			t.Fatalf("round %d: zero() closed with a request in flight", round)
		default:
		}
		tr.end(e)
		select {
		case <-ch:
		default:
			t.Fatalf("round %d: zero() not closed by the last end()", round)
		}
	}
}

// TestTrackerCloseDuringTraffic: close() racing begin/end closes the idle
// channel once, after the last end.
func TestTrackerCloseDuringTraffic(t *testing.T) {
	tr := newTracker()
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range 4 {
		wg.Go(func() {
			<-start
			for range 2000 {
				tr.end(tr.begin("GET", "/"))
			}
		})
	}
	close(start)
	idle := tr.close()
	wg.Wait()
	select {
	case <-idle:
	default:
		t.Fatal("idle not closed once the traffic ended")
	}
	if r, u := tr.count(); r != 0 || u != 0 {
		t.Fatalf("count() = %d, %d, want 0, 0", r, u)
	}
}
