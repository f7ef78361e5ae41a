package drain

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// progressInterval is how often the drain wait logs a progress line. The
// progress ticker is the only periodic timer on the drain path: the end of
// the wait itself is event-driven.
const progressInterval = time.Second

// waitDelay waits for the shutdown delay, or until ctx is done.
func (s *Sequence) waitDelay(ctx context.Context, log *slog.Logger) {
	if s.Delay <= 0 {
		return
	}
	start := time.Now()
	t := time.NewTimer(s.Delay)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
		log.LogAttrs(ctx, slog.LevelInfo, "shutdown delay skipped",
			slog.String("cause", causeString(context.Cause(ctx))),
			slog.Duration("after", time.Since(start)),
		)
	}
}

// waitIdle waits until idle is closed, the drain timeout passes, or ctx is
// done, logging progress once per second. It returns nil when idle was
// reached, and otherwise the cause of the end of the wait.
func (s *Sequence) waitIdle(ctx context.Context, log *slog.Logger, idle <-chan struct{}) error {
	if isClosed(idle) {
		return nil
	}
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	timeout := max(s.Timeout, 0)
	cause := fmt.Errorf("drain timeout %s", timeout)
	if timeout == 0 {
		return cause
	}
	waitCtx, cancel := context.WithTimeoutCause(ctx, timeout, cause)
	defer cancel()
	deadline, _ := waitCtx.Deadline()

	tick := time.NewTicker(progressInterval)
	defer tick.Stop()
	for {
		select {
		case <-idle:
			return nil
		case <-waitCtx.Done():
			// Idle and the deadline can arrive together: idle wins,
			// because nothing will be cut.
			if isClosed(idle) {
				return nil
			}
			return context.Cause(waitCtx)
		case <-tick.C:
			requests, upgrades, _ := s.Traffic.Count()
			log.LogAttrs(ctx, slog.LevelInfo, "draining",
				slog.Int("in_flight", requests),
				slog.Int("upgrades", upgrades),
				slog.Duration("time_left", time.Until(deadline).Round(time.Millisecond)),
			)
		}
	}
}

// isClosed reports whether c is closed, without blocking. A nil channel is
// never closed.
func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
