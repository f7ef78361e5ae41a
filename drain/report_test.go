package drain

import (
	"bytes"
	"errors"
	"log/slog"
	"testing"
	"time"
)

func TestFinished(t *testing.T) {
	tests := []struct {
		name    string
		atStart int
		arrived uint64
		cut     int
		want    int
	}{
		{"all finished", 2, 3, 0, 5},
		{"some cut", 2, 3, 1, 4},
		{"all cut", 2, 3, 5, 0},
		{"more cut than counted", 1, 0, 3, 0},
		{"nothing", 0, 0, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := finished(tt.atStart, tt.arrived, tt.cut); got != tt.want {
				t.Errorf("finished(%d, %d, %d) = %d, want %d", tt.atStart, tt.arrived, tt.cut, got, tt.want)
			}
		})
	}
}

func TestReportLog(t *testing.T) {
	r := Report{
		Reason:          "SIGTERM",
		AtStart:         3,
		UpgradesAtStart: 2,
		Arrived:         7,
		Finished:        9,
		Cut:             1,
		UpgradesCut:     1,
		Held:            []string{"GET /ws 30.0s"},
		Delay:           5 * time.Second,
		Drain:           30*time.Second + 1500*time.Microsecond,
		Stop:            120 * time.Millisecond,
		DrainCause:      errors.New("drain timeout 30s"),
		StopErr:         errors.New("exit status 1"),
	}
	tests := []struct {
		name string
		log  func(*slog.Logger)
		want string
	}{
		{
			name: "attrs",
			log:  func(l *slog.Logger) { l.LogAttrs(t.Context(), slog.LevelInfo, "drain report", r.Attrs()...) },
			want: `level=INFO msg="drain report" reason=SIGTERM at_start=3 upgrades_at_start=2 arrived=7 finished=9 cut=1 upgrades_cut=1 held="[GET /ws 30.0s]" delay_ms=5000 drain_ms=30001 stop_ms=120 drain_cause="drain timeout 30s" stop_error="exit status 1"` + "\n",
		},
		{
			name: "log value",
			log:  func(l *slog.Logger) { l.Info("done", "report", r) },
			want: `level=INFO msg=done report.reason=SIGTERM report.at_start=3 report.upgrades_at_start=2 report.arrived=7 report.finished=9 report.cut=1 report.upgrades_cut=1 report.held="[GET /ws 30.0s]" report.delay_ms=5000 report.drain_ms=30001 report.stop_ms=120 report.drain_cause="drain timeout 30s" report.stop_error="exit status 1"` + "\n",
		},
		{
			name: "zero",
			log:  func(l *slog.Logger) { l.LogAttrs(t.Context(), slog.LevelInfo, "drain report", Report{}.Attrs()...) },
			want: `level=INFO msg="drain report" reason="" at_start=0 upgrades_at_start=0 arrived=0 finished=0 cut=0 upgrades_cut=0 held=[] delay_ms=0 drain_ms=0 stop_ms=0 drain_cause=idle stop_error=""` + "\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			tt.log(newLogger(&buf))
			if got := buf.String(); got != tt.want {
				t.Errorf("logged report = %q, want %q", got, tt.want)
			}
		})
	}
}
