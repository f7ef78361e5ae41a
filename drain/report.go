package drain

import "log/slog"

// Attrs returns the report as flat log attributes, one per field, for a
// single log line:
//
//	reason at_start upgrades_at_start arrived finished cut upgrades_cut held
//	delay_ms drain_ms stop_ms drain_cause stop_error
//
// at_start and cut count requests and upgraded connections together;
// upgrades_at_start and upgrades_cut say how many of those were upgraded
// connections (issue 2: how many requests and how many connections were in
// flight, and how many were cut). drain_cause is "idle" when DrainCause is
// nil; stop_error is empty when StopErr is nil.
func (r Report) Attrs() []slog.Attr {
	return []slog.Attr{
		slog.String("reason", r.Reason),
		slog.Int("at_start", r.AtStart),
		slog.Int("upgrades_at_start", r.UpgradesAtStart),
		slog.Uint64("arrived", r.Arrived),
		slog.Int("finished", r.Finished),
		slog.Int("cut", r.Cut),
		slog.Int("upgrades_cut", r.UpgradesCut),
		slog.Any("held", r.Held),
		slog.Int64("delay_ms", r.Delay.Milliseconds()),
		slog.Int64("drain_ms", r.Drain.Milliseconds()),
		slog.Int64("stop_ms", r.Stop.Milliseconds()),
		slog.String("drain_cause", causeString(r.DrainCause)),
		slog.String("stop_error", errString(r.StopErr)),
	}
}

// LogValue implements [slog.LogValuer]: the report logged as one value is a
// group of its [Report.Attrs].
func (r Report) LogValue() slog.Value {
	return slog.GroupValue(r.Attrs()...)
}

// finished is the in-flight work that completed by itself: what was in
// flight at the start plus what arrived, minus what was cut, never negative.
func finished(atStart int, arrived uint64, cut int) int {
	n := uint64(max(atStart, 0)) + arrived
	c := uint64(max(cut, 0))
	if c >= n {
		return 0
	}
	return int(n - c)
}

// causeString describes why the drain wait ended: "idle" for nil.
func causeString(err error) string {
	if err == nil {
		return "idle"
	}
	return err.Error()
}

// errString is err's message, or empty for nil.
func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
