package proxy

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// nshards spreads in-flight bookkeeping over several locks so that no
// request takes a process-wide lock to be counted.
const nshards = 16

// A tracker counts the work in flight: requests whose handler has not
// returned, including upgraded connections, whose handler returns only when
// the tunnel ends. Once closing, it closes its idle channel the moment the
// count reaches zero: the drain waits on that channel, never on a poll.
type tracker struct {
	inflight atomic.Int64  // requests in flight, upgrades included
	upgrades atomic.Int64  // of which upgraded connections
	accepted atomic.Uint64 // requests begun since start
	closing  atomic.Bool

	idleOnce sync.Once
	idle     chan struct{}

	// zeroWanted is set while someone waits in zero(); zeroCh is closed
	// the next time nothing is in flight.
	zeroWanted atomic.Bool
	zeroMu     sync.Mutex
	zeroCh     chan struct{}

	shards [nshards]shard
}

type shard struct {
	mu   sync.Mutex
	head entry // sentinel of a circular list of live entries
	_    [40]byte
}

// An entry is one request in flight. Entries are pooled, so tracking adds
// no allocation to the request path.
type entry struct {
	prev, next *entry
	shard      *shard
	method     string
	path       string
	start      time.Time
	tun        *tunnel // set once the request became an upgraded connection
}

var entryPool = sync.Pool{New: func() any { return new(entry) }}

func newTracker() *tracker {
	t := &tracker{idle: make(chan struct{})}
	for i := range t.shards {
		s := &t.shards[i]
		s.head.next, s.head.prev = &s.head, &s.head
	}
	return t
}

// begin records a request as in flight.
func (t *tracker) begin(method, path string) *entry {
	e := entryPool.Get().(*entry)
	e.method, e.path, e.start = method, path, time.Now()
	s := &t.shards[rand.Uint32()%nshards]
	e.shard = s
	t.inflight.Add(1)
	t.accepted.Add(1)
	s.mu.Lock()
	e.prev, e.next = s.head.prev, &s.head
	s.head.prev.next = e
	s.head.prev = e
	s.mu.Unlock()
	return e
}

// end records that the request of e is finished and recycles e.
func (t *tracker) end(e *entry) {
	s := e.shard
	s.mu.Lock()
	e.prev.next, e.next.prev = e.next, e.prev
	if e.tun != nil {
		t.upgrades.Add(-1)
	}
	s.mu.Unlock()
	*e = entry{}
	entryPool.Put(e)
	if t.inflight.Add(-1) == 0 {
		if t.closing.Load() {
			t.idleOnce.Do(func() { close(t.idle) })
		}
		if t.zeroWanted.Load() {
			t.signalZero()
		}
	}
}

// zero returns a channel closed as soon as nothing is in flight: at once
// if nothing is, else when the count next reaches zero. Unlike the idle
// channel, it can be asked again after requests began anew.
func (t *tracker) zero() <-chan struct{} {
	t.zeroWanted.Store(true)
	t.zeroMu.Lock()
	defer t.zeroMu.Unlock()
	if t.zeroCh == nil {
		t.zeroCh = make(chan struct{})
	}
	ch := t.zeroCh
	if t.inflight.Load() == 0 {
		close(ch)
		t.zeroCh = nil
	}
	return ch
}

func (t *tracker) signalZero() {
	t.zeroMu.Lock()
	defer t.zeroMu.Unlock()
	if t.zeroCh != nil && t.inflight.Load() == 0 {
		close(t.zeroCh)
		t.zeroCh = nil
	}
}

// upgraded marks e as an upgraded connection carried by tun. It reports
// whether the tracker is already closing, in which case the caller says
// goodbye on the tunnel itself: close may have walked the entries before tun
// was registered.
func (t *tracker) upgraded(e *entry, tun *tunnel) (closing bool) {
	e.shard.mu.Lock()
	e.tun = tun
	t.upgrades.Add(1)
	e.shard.mu.Unlock()
	return t.closing.Load()
}

// close starts the drain: from now on the idle channel closes when nothing
// is in flight, and every upgraded connection is asked to say goodbye.
func (t *tracker) close() <-chan struct{} {
	t.closing.Store(true)
	t.each(func(e *entry) {
		if e.tun != nil {
			e.tun.goodbye()
		}
	})
	if t.inflight.Load() == 0 {
		t.idleOnce.Do(func() { close(t.idle) })
	}
	return t.idle
}

// count reports plain requests and upgraded connections in flight.
func (t *tracker) count() (requests, upgrades int) {
	u := int(t.upgrades.Load())
	// Two loads: a tunnel ending between them would make the difference
	// negative for a moment.
	return max(int(t.inflight.Load())-u, 0), u
}

// cut closes every upgraded connection and describes the oldest entries
// still in flight, up to limit of them. Plain requests are cut by closing
// their connections, which the server does.
func (t *tracker) cut(limit int) (requests, upgrades int, held []string) {
	type item struct {
		start time.Time
		desc  string
	}
	var items []item
	now := time.Now()
	t.each(func(e *entry) {
		kind := ""
		if e.tun != nil {
			upgrades++
			kind = " (" + e.tun.kind + ")"
			e.tun.cut()
		} else {
			requests++
		}
		items = append(items, item{e.start, fmt.Sprintf("%s %s%s %s", e.method, e.path, kind, now.Sub(e.start).Round(time.Millisecond))})
	})
	slices.SortFunc(items, func(a, b item) int { return a.start.Compare(b.start) })
	for i := 0; i < len(items) && i < limit; i++ {
		held = append(held, items[i].desc)
	}
	return requests, upgrades, held
}

// each calls f for every entry in flight, holding that entry's shard lock.
func (t *tracker) each(f func(*entry)) {
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		for e := s.head.next; e != &s.head; e = e.next {
			f(e)
		}
		s.mu.Unlock()
	}
}
