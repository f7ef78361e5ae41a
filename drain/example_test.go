package drain_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/lameduck/lameduck/drain"
)

// traffic is a stand-in for the proxy: one request is in flight, and it
// finishes as soon as the listeners are closed.
type traffic struct{}

func (traffic) Count() (requests, upgrades int, accepted uint64) { return 1, 0, 42 }

func (traffic) Close() <-chan struct{} {
	idle := make(chan struct{})
	close(idle)
	return idle
}

func (traffic) Cut(limit int) (requests, upgrades int, held []string) { return 0, 0, nil }

// app is a stand-in for the supervised process.
type app struct{}

func (app) Stop(ctx context.Context) error {
	fmt.Println("app: stop requested")
	return nil
}

func Example() {
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			switch a.Key {
			case slog.TimeKey, "delay_ms", "drain_ms", "stop_ms", "duration_ms":
				return slog.Attr{} // vary from run to run
			}
			return a
		},
	}))
	seq := &drain.Sequence{
		Timeout:     30 * time.Second,
		StopTimeout: 10 * time.Second,
		Traffic:     traffic{},
		App:         app{},
		Logger:      logger,
	}

	// A second signal would cancel ctx with its cause, skipping the waits.
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(errors.New("second signal"))

	report := seq.Run(ctx, "SIGTERM")
	fmt.Println(seq.Phase(), report.Finished, report.Cut, report.DrainCause)
	// Output:
	// level=INFO msg="drain started" reason=SIGTERM in_flight=1 upgrades=0 delay=0s timeout=30s stop_timeout=10s
	// level=INFO msg="listeners closed" arrived=0 in_flight=1 upgrades=0
	// level=INFO msg="app stopping" stop_timeout=10s
	// app: stop requested
	// level=INFO msg="app stopped" error=""
	// level=INFO msg="drain report" reason=SIGTERM at_start=1 upgrades_at_start=0 arrived=0 finished=1 cut=0 upgrades_cut=0 held=[] drain_cause=idle stop_error=""
	// done 1 0 <nil>
}
