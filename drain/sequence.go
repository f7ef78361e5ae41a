package drain

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// heldLimit is how many of the interrupted requests and upgrades the report
// names, oldest first.
const heldLimit = 5

// Sequence is one drain: shutdown delay, close, wait for idle or timeout,
// cut, stop the app.
//
// The zero Sequence with Traffic set is ready to use. A Sequence drains once
// and must not be copied after first use.
type Sequence struct {
	// Delay is the shutdown delay: how long to keep serving, with readiness
	// failing, before the listeners are closed, so that load balancers stop
	// sending new requests first. Zero or negative means no delay.
	Delay time.Duration

	// Timeout is the longest wait for in-flight work after the listeners are
	// closed; what is still in flight then is cut. Zero or negative means do
	// not wait: cut at once.
	Timeout time.Duration

	// StopTimeout is how long App.Stop may wait politely before the app is
	// forced down. Zero or negative means the app is forced down at once.
	StopTimeout time.Duration

	// Traffic is the serving side to drain. It is required: Run panics when
	// it is nil.
	Traffic Traffic

	// App is stopped once the traffic is gone. Nil means there is nothing
	// to stop.
	App App

	// Logger receives the progress lines and the final report. Nil means
	// discard.
	Logger *slog.Logger

	phase   atomic.Int32 // a Phase
	started atomic.Bool  // Run has been called

	initOnce sync.Once
	drained  chan struct{} // closed once the drain wait has ended and Cut has run
	finished chan struct{} // closed when the first Run returns
	report   Report        // the first Run's report; read only after finished is closed
}

// lazyInit makes the channels, so that Drained works before Run is called.
func (s *Sequence) lazyInit() {
	s.initOnce.Do(func() {
		s.drained = make(chan struct{})
		s.finished = make(chan struct{})
	})
}

// Phase reports the step the sequence is in: Serving before Run is called,
// Done once it has returned. It is safe for concurrent use.
func (s *Sequence) Phase() Phase {
	return Phase(s.phase.Load())
}

// Drained returns a channel that is closed when the drain wait has ended
// (idle, timeout or skipped) and the remaining traffic has been cut, before
// the app is stopped. It may be called before Run.
func (s *Sequence) Drained() <-chan struct{} {
	s.lazyInit()
	return s.drained
}

func (s *Sequence) setPhase(p Phase) {
	s.phase.Store(int32(p))
}

func (s *Sequence) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}

// Run drains and returns the report, which it has also logged as a single
// "drain report" line. In order, it:
//
//  1. enters Delaying and waits for Delay;
//  2. enters Draining and closes the listeners (Traffic.Close);
//  3. waits until nothing is in flight, or for Timeout, logging progress
//     once per second;
//  4. cuts what remains (Traffic.Cut, which also closes idle keep-alive
//     connections) and closes the Drained channel;
//  5. enters Stopping and stops the app within StopTimeout;
//  6. enters Done.
//
// When ctx is done, every remaining wait ends at once but the actions still
// happen in order, and App.Stop gets a context that is already done so the
// app is forced down at once. The report records context.Cause(ctx) as the
// cause, so callers should cancel with context.WithCancelCause.
//
// A Sequence drains only once. A later call to Run does not start a second
// drain: it waits for the first to end and returns a copy of its report. If
// its own ctx is done first, it returns at once a Report holding only its
// reason and context.Cause(ctx) as DrainCause; the drain in progress carries
// on unaffected.
func (s *Sequence) Run(ctx context.Context, reason string) Report {
	if s.Traffic == nil {
		panic("drain: Sequence.Traffic is nil")
	}
	s.lazyInit()
	if !s.started.CompareAndSwap(false, true) {
		select {
		case <-s.finished:
			r := s.report
			r.Held = slices.Clone(r.Held)
			return r
		case <-ctx.Done():
			return Report{Reason: reason, DrainCause: context.Cause(ctx)}
		}
	}
	defer close(s.finished)

	log := s.logger()
	r := Report{Reason: reason}

	// 1. Shutdown delay.
	start := time.Now()
	s.setPhase(Delaying)
	requests, upgrades, acceptedAtStart := s.Traffic.Count()
	r.AtStart, r.UpgradesAtStart = requests+upgrades, upgrades
	log.LogAttrs(ctx, slog.LevelInfo, "drain started",
		slog.String("reason", reason),
		slog.Int("in_flight", requests),
		slog.Int("upgrades", upgrades),
		slog.Duration("delay", max(s.Delay, 0)),
		slog.Duration("timeout", max(s.Timeout, 0)),
		slog.Duration("stop_timeout", max(s.StopTimeout, 0)),
	)
	s.waitDelay(ctx, log)
	r.Delay = time.Since(start)

	// 2. Close the listeners.
	s.setPhase(Draining)
	drainStart := time.Now()
	idle := s.Traffic.Close()
	requests, upgrades, accepted := s.Traffic.Count()
	log.LogAttrs(ctx, slog.LevelInfo, "listeners closed",
		slog.Uint64("arrived", since(accepted, acceptedAtStart)),
		slog.Int("in_flight", requests),
		slog.Int("upgrades", upgrades),
	)

	// 3. Wait for idle, the timeout or ctx.
	r.DrainCause = s.waitIdle(ctx, log, idle)

	// 4. Cut what remains.
	cutRequests, cutUpgrades, held := s.Traffic.Cut(heldLimit)
	r.Drain = time.Since(drainStart)
	r.Cut, r.UpgradesCut = cutRequests+cutUpgrades, cutUpgrades
	r.Held = held
	if r.Cut > 0 {
		log.LogAttrs(ctx, slog.LevelWarn, "cut in-flight work",
			slog.Int("requests", cutRequests),
			slog.Int("upgrades", cutUpgrades),
			slog.Any("held", held),
			slog.String("cause", causeString(r.DrainCause)),
		)
	}
	_, _, accepted = s.Traffic.Count()
	r.Arrived = since(accepted, acceptedAtStart)
	r.Finished = finished(r.AtStart, r.Arrived, r.Cut)
	close(s.drained)

	// 5. Stop the app.
	s.setPhase(Stopping)
	r.Stop, r.StopErr = s.stopApp(ctx, log)

	// 6. Report.
	s.setPhase(Done)
	log.LogAttrs(ctx, slog.LevelInfo, "drain report", r.Attrs()...)
	s.report = r
	r.Held = slices.Clone(r.Held)
	return r
}

// stopApp stops the app, if there is one, within StopTimeout, and reports how
// long it took and what Stop returned.
func (s *Sequence) stopApp(ctx context.Context, log *slog.Logger) (time.Duration, error) {
	if s.App == nil {
		return 0, nil
	}
	timeout := max(s.StopTimeout, 0)
	// A deadline already passed (zero timeout) gives a context that is done
	// at once, with the cause set: the app is forced down immediately.
	stopCtx, cancel := context.WithTimeoutCause(ctx, timeout, fmt.Errorf("stop timeout %s", timeout))
	defer cancel()

	log.LogAttrs(ctx, slog.LevelInfo, "app stopping", slog.Duration("stop_timeout", timeout))
	start := time.Now()
	err := s.App.Stop(stopCtx)
	took := time.Since(start)
	level := slog.LevelInfo
	if err != nil {
		level = slog.LevelWarn
	}
	log.LogAttrs(ctx, level, "app stopped",
		slog.Int64("duration_ms", took.Milliseconds()),
		slog.String("error", errString(err)),
	)
	return took, err
}

// since returns now-then, or zero if the counter went backwards.
func since(now, then uint64) uint64 {
	if now < then {
		return 0
	}
	return now - then
}
