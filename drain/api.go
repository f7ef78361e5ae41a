package drain

import (
	"context"
	"time"
)

// Traffic is the serving side of a drain: listeners, connections and the
// requests in flight on them. The proxy implements it; tests use fakes.
type Traffic interface {
	// Count reports the requests and upgraded connections in flight, and
	// the number of requests accepted since start.
	Count() (requests, upgrades int, accepted uint64)

	// Close stops accepting new connections and asks open ones to finish
	// (Connection: close, GOAWAY, WebSocket close frames). It returns a
	// channel that is closed once nothing is in flight. Close is called
	// once.
	Close() (idle <-chan struct{})

	// Cut closes every remaining connection, idle or not, and reports the
	// requests and upgraded connections it interrupted. held describes up
	// to limit of them, oldest first, such as "GET /slow 12.3s".
	Cut(limit int) (requests, upgrades int, held []string)
}

// App is what is stopped once the traffic is gone: the supervised process
// group, a process named by PID, a URL, or nothing.
type App interface {
	// Stop asks the app to exit and waits until it has. When ctx is done
	// it stops waiting politely and forces the app down (SIGKILL), then
	// returns after a short bounded wait.
	Stop(ctx context.Context) error
}

// Phase is a step of the lifecycle, as reported by readiness and metrics.
type Phase int32

// The phases, in order. A Sequence moves only forward.
const (
	Serving  Phase = iota // normal operation
	Delaying              // shutdown delay: still serving, readiness failing
	Draining              // listeners closed, waiting for in-flight work
	Stopping              // traffic gone, app being stopped
	Done                  // the app is stopped
)

// Report is the account of one drain, logged as a single line at the end.
type Report struct {
	Reason string // what started the drain, such as "SIGTERM"

	AtStart         int      // requests and upgrades in flight when the drain started
	UpgradesAtStart int      // of AtStart, the upgraded connections (WebSockets)
	Arrived         uint64   // requests accepted after the drain started
	Finished        int      // in-flight work that completed by itself
	Cut             int      // requests and upgrades cut at the end
	UpgradesCut     int      // of Cut, the upgraded connections
	Held            []string // up to five of the cut items, oldest first, as Traffic.Cut describes them

	Delay time.Duration // time spent in the shutdown delay
	Drain time.Duration // time from closing the listeners to idle or cut
	Stop  time.Duration // time the app took to stop

	DrainCause error // why the drain wait ended: nil when idle, else context.Cause
	StopErr    error // what App.Stop returned
}
