package drain

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"testing"
	"testing/synctest"
	"time"
)

// oddIdle is when the fake traffic becomes idle in several cases: an instant
// no polling interval would land on, so that a Stop call at exactly this
// instant proves the drain noticed idle at once.
const oddIdle = 2*time.Second + 345678901*time.Nanosecond

var errSecondSignal = errors.New("second signal")

// drainCase configures one drain in fake time.
type drainCase struct {
	name string

	delay, timeout, stopTimeout time.Duration

	requests, upgrades int
	held               []string      // what Cut describes
	idleAfter          time.Duration // after Close; never, or zero for already idle
	noApp              bool
	exitAfter          time.Duration // how long the app takes to exit politely; never

	cancelBefore bool          // ctx is cancelled before Run
	cancelAt     time.Duration // ctx is cancelled at this instant; zero: not cancelled
}

// runDrain runs tc's drain; it must be called inside a synctest bubble.
func runDrain(t *testing.T, tc drainCase) (Report, *recorder, *bytes.Buffer) {
	t.Helper()
	var buf bytes.Buffer
	seq := &Sequence{
		Delay:       tc.delay,
		Timeout:     tc.timeout,
		StopTimeout: tc.stopTimeout,
		Logger:      newLogger(&buf),
	}
	rec := newRecorder(seq)
	seq.Traffic = &fakeTraffic{
		rec:       rec,
		idleAfter: tc.idleAfter,
		held:      tc.held,
		requests:  tc.requests,
		upgrades:  tc.upgrades,
		accepted:  100,
	}
	if !tc.noApp {
		seq.App = &fakeApp{rec: rec, exitAfter: tc.exitAfter}
	}

	ctx, cancel := context.WithCancelCause(t.Context())
	defer cancel(nil)
	if tc.cancelBefore {
		cancel(errSecondSignal)
	}
	if tc.cancelAt > 0 {
		timer := time.AfterFunc(tc.cancelAt, func() { cancel(errSecondSignal) })
		defer timer.Stop()
	}
	return seq.Run(ctx, "SIGTERM"), rec, &buf
}

// at is a call name and its fake-time instant.
type at struct {
	name string
	at   time.Duration
}

func TestRun(t *testing.T) {
	held7 := []string{"GET /1 3s", "GET /2 3s", "GET /3 2s", "GET /4 2s", "GET /5 1s", "GET /6 1s", "GET /7 0s"}
	tests := []struct {
		drainCase
		wantCalls  []at
		want       Report
		drainCause string
		stopErr    string
	}{
		{
			drainCase: drainCase{
				name:  "idle before timeout ends the wait at that instant",
				delay: 5 * time.Second, timeout: 30 * time.Second, stopTimeout: 10 * time.Second,
				requests: 2, idleAfter: oddIdle, exitAfter: time.Second,
			},
			wantCalls: []at{
				{"close", 5 * time.Second},
				{"idle", 5*time.Second + oddIdle},
				{"cut", 5*time.Second + oddIdle},
				{"stop", 5*time.Second + oddIdle},
				{"stopped", 6*time.Second + oddIdle},
			},
			want:       Report{AtStart: 2, Finished: 2, Delay: 5 * time.Second, Drain: oddIdle, Stop: time.Second},
			drainCause: "idle",
		},
		{
			drainCase: drainCase{
				name:    "timeout cuts and still stops the app",
				timeout: 3 * time.Second, stopTimeout: 10 * time.Second,
				requests: 2, upgrades: 1, held: held7, idleAfter: never, exitAfter: time.Second,
			},
			wantCalls: []at{
				{"close", 0},
				{"cut", 3 * time.Second},
				{"stop", 3 * time.Second},
				{"stopped", 4 * time.Second},
			},
			want:       Report{AtStart: 3, UpgradesAtStart: 1, Cut: 3, UpgradesCut: 1, Held: held7[:5], Drain: 3 * time.Second, Stop: time.Second},
			drainCause: "drain timeout 3s",
		},
		{
			drainCase: drainCase{
				name:  "zero timeout cuts at once",
				delay: time.Second, stopTimeout: 10 * time.Second,
				requests: 1, held: held7[:1], idleAfter: never, exitAfter: time.Second,
			},
			wantCalls: []at{
				{"close", time.Second},
				{"cut", time.Second},
				{"stop", time.Second},
				{"stopped", 2 * time.Second},
			},
			want:       Report{AtStart: 1, Cut: 1, Held: held7[:1], Delay: time.Second, Stop: time.Second},
			drainCause: "drain timeout 0s",
		},
		{
			drainCase: drainCase{
				name:    "nothing in flight",
				timeout: 30 * time.Second, stopTimeout: 10 * time.Second,
				idleAfter: 0, exitAfter: time.Second,
			},
			wantCalls: []at{
				{"close", 0},
				{"cut", 0},
				{"stop", 0},
				{"stopped", time.Second},
			},
			want:       Report{Stop: time.Second},
			drainCause: "idle",
		},
		{
			drainCase: drainCase{
				name:  "cancelled before run skips every wait",
				delay: 5 * time.Second, timeout: 30 * time.Second, stopTimeout: 10 * time.Second,
				requests: 1, idleAfter: never, exitAfter: never, cancelBefore: true,
			},
			wantCalls: []at{
				{"close", 0},
				{"cut", 0},
				{"stop", 0},
				{"stopped", 0},
			},
			want:       Report{AtStart: 1, Cut: 1},
			drainCause: "second signal",
			stopErr:    "second signal",
		},
		{
			drainCase: drainCase{
				name:     "cancelled with zero timeout",
				requests: 1, idleAfter: never, exitAfter: never, cancelBefore: true,
			},
			wantCalls: []at{
				{"close", 0},
				{"cut", 0},
				{"stop", 0},
				{"stopped", 0},
			},
			want:       Report{AtStart: 1, Cut: 1},
			drainCause: "second signal",
			stopErr:    "second signal",
		},
		{
			drainCase: drainCase{
				name:  "cancelled during delay",
				delay: 10 * time.Second, timeout: 30 * time.Second, stopTimeout: 10 * time.Second,
				requests: 1, idleAfter: never, exitAfter: never, cancelAt: 3 * time.Second,
			},
			wantCalls: []at{
				{"close", 3 * time.Second},
				{"cut", 3 * time.Second},
				{"stop", 3 * time.Second},
				{"stopped", 3 * time.Second},
			},
			want:       Report{AtStart: 1, Cut: 1, Delay: 3 * time.Second},
			drainCause: "second signal",
			stopErr:    "second signal",
		},
		{
			drainCase: drainCase{
				name:  "cancelled during drain",
				delay: time.Second, timeout: 30 * time.Second, stopTimeout: 10 * time.Second,
				requests: 1, idleAfter: never, exitAfter: never, cancelAt: 4 * time.Second,
			},
			wantCalls: []at{
				{"close", time.Second},
				{"cut", 4 * time.Second},
				{"stop", 4 * time.Second},
				{"stopped", 4 * time.Second},
			},
			want:       Report{AtStart: 1, Cut: 1, Delay: time.Second, Drain: 3 * time.Second},
			drainCause: "second signal",
			stopErr:    "second signal",
		},
		{
			drainCase: drainCase{
				name:    "cancelled during stop",
				timeout: 30 * time.Second, stopTimeout: 10 * time.Second,
				requests: 1, idleAfter: time.Second, exitAfter: never, cancelAt: 3 * time.Second,
			},
			wantCalls: []at{
				{"close", 0},
				{"idle", time.Second},
				{"cut", time.Second},
				{"stop", time.Second},
				{"stopped", 3 * time.Second},
			},
			want:       Report{AtStart: 1, Finished: 1, Drain: time.Second, Stop: 2 * time.Second},
			drainCause: "idle",
			stopErr:    "second signal",
		},
		{
			drainCase: drainCase{
				name:    "stop timeout forces the app down",
				timeout: 30 * time.Second, stopTimeout: 10 * time.Second,
				idleAfter: 0, exitAfter: never,
			},
			wantCalls: []at{
				{"close", 0},
				{"cut", 0},
				{"stop", 0},
				{"stopped", 10 * time.Second},
			},
			want:       Report{Stop: 10 * time.Second},
			drainCause: "idle",
			stopErr:    "stop timeout 10s",
		},
		{
			drainCase: drainCase{
				name:      "zero stop timeout forces the app down at once",
				timeout:   30 * time.Second,
				idleAfter: 0, exitAfter: time.Second,
			},
			wantCalls: []at{
				{"close", 0},
				{"cut", 0},
				{"stop", 0},
				{"stopped", 0},
			},
			drainCause: "idle",
			stopErr:    "stop timeout 0s",
		},
		{
			drainCase: drainCase{
				name:  "no app",
				delay: 2 * time.Second, timeout: 30 * time.Second,
				requests: 1, idleAfter: time.Second, noApp: true,
			},
			wantCalls: []at{
				{"close", 2 * time.Second},
				{"idle", 3 * time.Second},
				{"cut", 3 * time.Second},
			},
			want:       Report{AtStart: 1, Finished: 1, Delay: 2 * time.Second, Drain: time.Second},
			drainCause: "idle",
		},
		{
			drainCase: drainCase{
				name:  "negative durations mean zero",
				delay: -time.Second, timeout: -time.Second, stopTimeout: -time.Second,
				requests: 1, idleAfter: never, exitAfter: time.Second,
			},
			wantCalls: []at{
				{"close", 0},
				{"cut", 0},
				{"stop", 0},
				{"stopped", 0},
			},
			want:       Report{AtStart: 1, Cut: 1},
			drainCause: "drain timeout 0s",
			stopErr:    "stop timeout 0s",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				got, rec, _ := runDrain(t, tt.drainCase)

				var calls []at
				for _, c := range rec.named("close", "idle", "cut", "stop", "stopped") {
					calls = append(calls, at{c.name, c.at})
				}
				if !slices.Equal(calls, tt.wantCalls) {
					t.Errorf("Run calls = %v, want %v", calls, tt.wantCalls)
				}

				want := tt.want
				want.Reason = "SIGTERM"
				checkReport(t, got, want, tt.drainCause, tt.stopErr)
			})
		})
	}
}

// checkReport compares every field of got with want, and the errors by
// their message (drainCause "idle" for nil, stopErr "" for nil).
func checkReport(t *testing.T, got, want Report, drainCause, stopErr string) {
	t.Helper()
	if got.Reason != want.Reason {
		t.Errorf("Run().Reason = %q, want %q", got.Reason, want.Reason)
	}
	if got.AtStart != want.AtStart {
		t.Errorf("Run().AtStart = %d, want %d", got.AtStart, want.AtStart)
	}
	if got.UpgradesAtStart != want.UpgradesAtStart {
		t.Errorf("Run().UpgradesAtStart = %d, want %d", got.UpgradesAtStart, want.UpgradesAtStart)
	}
	if got.Arrived != want.Arrived {
		t.Errorf("Run().Arrived = %d, want %d", got.Arrived, want.Arrived)
	}
	if got.Finished != want.Finished {
		t.Errorf("Run().Finished = %d, want %d", got.Finished, want.Finished)
	}
	if got.Cut != want.Cut {
		t.Errorf("Run().Cut = %d, want %d", got.Cut, want.Cut)
	}
	if got.UpgradesCut != want.UpgradesCut {
		t.Errorf("Run().UpgradesCut = %d, want %d", got.UpgradesCut, want.UpgradesCut)
	}
	if !slices.Equal(got.Held, want.Held) {
		t.Errorf("Run().Held = %q, want %q", got.Held, want.Held)
	}
	if got.Delay != want.Delay {
		t.Errorf("Run().Delay = %v, want %v", got.Delay, want.Delay)
	}
	if got.Drain != want.Drain {
		t.Errorf("Run().Drain = %v, want %v", got.Drain, want.Drain)
	}
	if got.Stop != want.Stop {
		t.Errorf("Run().Stop = %v, want %v", got.Stop, want.Stop)
	}
	if got := causeString(got.DrainCause); got != drainCause {
		t.Errorf("Run().DrainCause = %q, want %q", got, drainCause)
	}
	if got := errString(got.StopErr); got != stopErr {
		t.Errorf("Run().StopErr = %q, want %q", got, stopErr)
	}
}

// TestRunCauseIsContextCause checks that the causes in the report are the
// very errors given to the cancel function, usable with errors.Is.
func TestRunCauseIsContextCause(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		got, _, _ := runDrain(t, drainCase{
			delay: 5 * time.Second, timeout: 30 * time.Second, stopTimeout: 10 * time.Second,
			requests: 1, idleAfter: never, exitAfter: never, cancelAt: time.Second,
		})
		if !errors.Is(got.DrainCause, errSecondSignal) {
			t.Errorf("Run().DrainCause = %v, want %v", got.DrainCause, errSecondSignal)
		}
		if !errors.Is(got.StopErr, errSecondSignal) {
			t.Errorf("Run().StopErr = %v, want %v", got.StopErr, errSecondSignal)
		}
	})
}

func TestRunPhases(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seq := &Sequence{Delay: time.Second, Timeout: 30 * time.Second, StopTimeout: 10 * time.Second}
		rec := newRecorder(seq)
		seq.Traffic = &fakeTraffic{rec: rec, requests: 1, idleAfter: oddIdle}
		seq.App = &fakeApp{rec: rec, exitAfter: time.Second}

		if got := seq.Phase(); got != Serving {
			t.Fatalf("Phase() before Run = %v, want %v", got, Serving)
		}
		done := make(chan Report)
		go func() { done <- seq.Run(t.Context(), "SIGTERM") }()
		synctest.Wait() // Run is in the shutdown delay
		if got := seq.Phase(); got != Delaying {
			t.Errorf("Phase() during the delay = %v, want %v", got, Delaying)
		}
		<-done
		if got := seq.Phase(); got != Done {
			t.Errorf("Phase() after Run = %v, want %v", got, Done)
		}

		var got []string
		for _, c := range rec.named("count", "close", "idle", "cut", "stop", "stopped") {
			got = append(got, c.name+" "+c.phase.String())
		}
		want := []string{
			"count delaying",
			"close draining",
			"count draining",
			"count draining", // progress line at 1s
			"count draining", // progress line at 2s
			"idle draining",
			"cut draining",
			"count draining",
			"stop stopping",
			"stopped stopping",
		}
		if !slices.Equal(got, want) {
			t.Errorf("phases seen by the calls = %v, want %v", got, want)
		}
	})
}

func TestDrained(t *testing.T) {
	for _, noApp := range []bool{false, true} {
		name := "app"
		if noApp {
			name = "no app"
		}
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				seq := &Sequence{Delay: time.Second, Timeout: 30 * time.Second}
				rec := newRecorder(seq)
				seq.Traffic = &fakeTraffic{rec: rec, requests: 1, idleAfter: time.Second}
				if !noApp {
					seq.App = &fakeApp{rec: rec, exitAfter: time.Second}
				}

				drained := seq.Drained() // before Run
				if isClosed(drained) {
					t.Fatal("Drained() is closed before Run")
				}
				seq.Run(t.Context(), "SIGTERM")
				if !isClosed(drained) {
					t.Error("Drained() from before Run is open after Run")
				}
				if seq.Drained() != drained {
					t.Error("Drained() returned a different channel after Run")
				}
				for _, c := range rec.calls {
					if want := c.name == "stop" || c.name == "stopped"; c.drained != want {
						t.Errorf("Drained() closed at %s = %v, want %v", c.name, c.drained, want)
					}
				}
			})
		})
	}
}

func TestRunArrived(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var buf bytes.Buffer
		seq := &Sequence{Delay: 4 * time.Second, Timeout: 3 * time.Second, Logger: newLogger(&buf)}
		rec := newRecorder(seq)
		tr := &fakeTraffic{rec: rec, requests: 2, accepted: 100, idleAfter: never}
		seq.Traffic = tr
		during := time.AfterFunc(time.Second, func() { tr.arrive(3) }) // in the delay
		defer during.Stop()
		after := time.AfterFunc(5*time.Second, func() { tr.arrive(1) }) // on a kept-alive connection
		defer after.Stop()

		got := seq.Run(t.Context(), "SIGTERM")

		lines := linesWith(&buf, "listeners closed")
		want := `level=INFO msg="listeners closed" arrived=3 in_flight=5 upgrades=0`
		if len(lines) != 1 || lines[0] != want {
			t.Errorf("listeners closed log = %q, want %q", lines, want)
		}
		if got.Arrived != 4 || got.AtStart != 2 || got.Cut != 6 || got.Finished != 0 {
			t.Errorf("Run() arrived, at start, cut, finished = %d, %d, %d, %d, want 4, 2, 6, 0",
				got.Arrived, got.AtStart, got.Cut, got.Finished)
		}
	})
}

func TestRunProgress(t *testing.T) {
	tests := []struct {
		name      string
		timeout   time.Duration
		idleAfter time.Duration
		want      []string
	}{
		{
			name:      "until the timeout",
			timeout:   3500 * time.Millisecond,
			idleAfter: never,
			want: []string{
				"level=INFO msg=draining in_flight=2 upgrades=1 time_left=2.5s",
				"level=INFO msg=draining in_flight=2 upgrades=1 time_left=1.5s",
				"level=INFO msg=draining in_flight=2 upgrades=1 time_left=500ms",
			},
		},
		{
			name:      "until idle",
			timeout:   30 * time.Second,
			idleAfter: oddIdle,
			want: []string{
				"level=INFO msg=draining in_flight=2 upgrades=1 time_left=29s",
				"level=INFO msg=draining in_flight=2 upgrades=1 time_left=28s",
			},
		},
		{
			name:      "none when idle at once",
			timeout:   30 * time.Second,
			idleAfter: 0,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				_, _, buf := runDrain(t, drainCase{
					timeout: tt.timeout, requests: 2, upgrades: 1,
					idleAfter: tt.idleAfter, noApp: true,
				})
				if got := linesWith(buf, "draining"); !slices.Equal(got, tt.want) {
					t.Errorf("progress lines = %q, want %q", got, tt.want)
				}
			})
		})
	}
}

func TestRunLogs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, _, buf := runDrain(t, drainCase{
			delay: 5 * time.Second, timeout: 1500 * time.Millisecond, stopTimeout: 10 * time.Second,
			requests: 1, upgrades: 1, held: []string{"GET /ws 6.5s", "GET /slow 2.0s"},
			idleAfter: never, exitAfter: 250 * time.Millisecond,
		})
		gotMsgs := messages(buf)
		wantMsgs := []string{
			"drain started", "listeners closed", "draining", "cut in-flight work",
			"app stopping", "app stopped", "drain report",
		}
		if !slices.Equal(gotMsgs, wantMsgs) {
			t.Errorf("log messages = %q, want %q", gotMsgs, wantMsgs)
		}

		for _, tt := range []struct{ msg, want string }{
			{"drain started", `level=INFO msg="drain started" reason=SIGTERM in_flight=1 upgrades=1 delay=5s timeout=1.5s stop_timeout=10s`},
			{"cut in-flight work", `level=WARN msg="cut in-flight work" requests=1 upgrades=1 held="[GET /ws 6.5s GET /slow 2.0s]" cause="drain timeout 1.5s"`},
			{"app stopping", `level=INFO msg="app stopping" stop_timeout=10s`},
			{"app stopped", `level=INFO msg="app stopped" duration_ms=250 error=""`},
			{"drain report", `level=INFO msg="drain report" reason=SIGTERM at_start=2 upgrades_at_start=1 arrived=0 finished=0 cut=2 upgrades_cut=1 held="[GET /ws 6.5s GET /slow 2.0s]" delay_ms=5000 drain_ms=1500 stop_ms=250 drain_cause="drain timeout 1.5s" stop_error=""`},
		} {
			if got := linesWith(buf, tt.msg); len(got) != 1 || got[0] != tt.want {
				t.Errorf("%s log = %q, want %q", tt.msg, got, tt.want)
			}
		}
	})
}

func TestRunLogsSkip(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, _, buf := runDrain(t, drainCase{
			delay: 5 * time.Second, timeout: 30 * time.Second, stopTimeout: 10 * time.Second,
			idleAfter: 0, exitAfter: never, cancelAt: 2 * time.Second,
		})
		for _, tt := range []struct{ msg, want string }{
			{"shutdown delay skipped", `level=INFO msg="shutdown delay skipped" cause="second signal" after=2s`},
			{"app stopped", `level=WARN msg="app stopped" duration_ms=0 error="second signal"`},
		} {
			if got := linesWith(buf, tt.msg); len(got) != 1 || got[0] != tt.want {
				t.Errorf("%s log = %q, want %q", tt.msg, got, tt.want)
			}
		}
	})
}

func TestRunTwice(t *testing.T) {
	t.Run("during the first", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			seq := &Sequence{Delay: 5 * time.Second, Timeout: 2 * time.Second}
			rec := newRecorder(seq)
			tr := &fakeTraffic{rec: rec, requests: 1, idleAfter: never, held: []string{"GET /slow 7s"}}
			seq.Traffic = tr
			seq.App = &fakeApp{rec: rec}

			first := make(chan Report)
			go func() { first <- seq.Run(t.Context(), "SIGTERM") }()
			synctest.Wait() // the first Run is in the shutdown delay
			start := time.Now()
			second := seq.Run(t.Context(), "admin")
			if waited := time.Since(start); waited != 7*time.Second {
				t.Errorf("second Run returned after %v, want 7s (when the first ends)", waited)
			}
			got := <-first
			if second.Reason != "SIGTERM" || second.Cut != 1 || second.Drain != 2*time.Second {
				t.Errorf("second Run() = %+v, want the first report %+v", second, got)
			}
			second.Held[0] = "changed"
			if third := seq.Run(t.Context(), "admin"); third.Held[0] != "GET /slow 7s" {
				t.Errorf("third Run().Held = %q after the second's was changed, want a copy", third.Held)
			}
			if tr.closed != 1 || len(rec.named("stop")) != 1 {
				t.Errorf("Close, Stop called %d, %d times, want 1, 1", tr.closed, len(rec.named("stop")))
			}
		})
	})
	t.Run("after the first", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			seq := &Sequence{Timeout: time.Second}
			rec := newRecorder(seq)
			tr := &fakeTraffic{rec: rec, requests: 1, idleAfter: time.Second}
			seq.Traffic = tr
			first := seq.Run(t.Context(), "SIGTERM")
			start := time.Now()
			second := seq.Run(t.Context(), "SIGTERM")
			if waited := time.Since(start); waited != 0 {
				t.Errorf("second Run returned after %v, want at once", waited)
			}
			if second.Reason != first.Reason || second.Finished != first.Finished || second.Drain != first.Drain {
				t.Errorf("second Run() = %+v, want %+v", second, first)
			}
			if tr.closed != 1 {
				t.Errorf("Close called %d times, want 1", tr.closed)
			}
		})
	})
	t.Run("second context done first", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			seq := &Sequence{Delay: 5 * time.Second}
			rec := newRecorder(seq)
			seq.Traffic = &fakeTraffic{rec: rec}

			first := make(chan Report)
			go func() { first <- seq.Run(t.Context(), "SIGTERM") }()
			synctest.Wait()
			ctx, cancel := context.WithCancelCause(t.Context())
			cancel(errors.New("gave up"))
			second := seq.Run(ctx, "admin")
			if second.Reason != "admin" || errString(second.DrainCause) != "gave up" {
				t.Errorf("second Run() = %+v, want reason admin and cause %q", second, "gave up")
			}
			start := time.Now()
			got := <-first
			if waited := time.Since(start); waited != 5*time.Second || got.Delay != 5*time.Second {
				t.Errorf("first Run ended %v later with delay %v, want 5s, 5s (unaffected)", waited, got.Delay)
			}
		})
	})
}

func TestRunNilTraffic(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Run with nil Traffic did not panic")
		}
	}()
	var seq Sequence
	seq.Run(t.Context(), "SIGTERM")
}
