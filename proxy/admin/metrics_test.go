package admin

import (
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/lameduck/lameduck/drain"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// failOnError is a Logger that fails the test on any error line, such as a
// collector panic that promhttp recovered from and logged.
func failOnError(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelError}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Errorf("unexpected error logged: %s", p)
	return len(p), nil
}

// scrape fetches /metrics from h and parses the text format.
func scrape(t *testing.T, h http.Handler) map[string]*dto.MetricFamily {
	t.Helper()
	rec := serve(h, "GET", "/metrics", nil)
	if rec.Code != 200 {
		t.Fatalf("GET /metrics: code = %d, want 200; body:\n%s", rec.Code, rec.Body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	return families
}

// samples renders the samples of family name as "label=value,... value"
// lines, sorted, so they compare as plain strings.
func samples(t *testing.T, families map[string]*dto.MetricFamily, name string, typ dto.MetricType) []string {
	t.Helper()
	mf, ok := families[name]
	if !ok {
		t.Errorf("/metrics lacks %s", name)
		return nil
	}
	if mf.GetType() != typ {
		t.Errorf("%s type = %v, want %v", name, mf.GetType(), typ)
	}
	if mf.GetHelp() == "" {
		t.Errorf("%s has no help text", name)
	}
	var out []string
	for _, m := range mf.GetMetric() {
		var labels []string
		for _, l := range m.GetLabel() {
			labels = append(labels, l.GetName()+"="+l.GetValue())
		}
		v := m.GetGauge().GetValue()
		if typ == dto.MetricType_COUNTER {
			v = m.GetCounter().GetValue()
		}
		out = append(out, strings.TrimSpace(strings.Join(labels, ",")+" "+fmt.Sprint(v)))
	}
	sort.Strings(out)
	return out
}

// allSet returns Metrics with every function set to a distinct value.
func allSet() Metrics {
	return Metrics{
		InFlight:       func() (int, int) { return 7, 2 },
		Requests:       func(class int) uint64 { return uint64(class * 100) },
		UpstreamErrors: func() uint64 { return 4 },
		ConnectionsCut: func() uint64 { return 3 },
		Phase:          func() drain.Phase { return drain.Draining },
		DrainDuration:  func() time.Duration { return 1204 * time.Millisecond },
		UpstreamReady:  func() bool { return true },
	}
}

func TestMetricsValues(t *testing.T) {
	families := scrape(t, New(Options{Metrics: allSet(), Logger: failOnError(t)}))
	tests := []struct {
		name string
		typ  dto.MetricType
		want []string
	}{
		{"lameduck_requests_in_flight", dto.MetricType_GAUGE, []string{"7"}},
		{"lameduck_upgrades_in_flight", dto.MetricType_GAUGE, []string{"2"}},
		{"lameduck_requests_total", dto.MetricType_COUNTER, []string{
			"code=1xx 100", "code=2xx 200", "code=3xx 300", "code=4xx 400", "code=5xx 500",
		}},
		{"lameduck_upstream_errors_total", dto.MetricType_COUNTER, []string{"4"}},
		{"lameduck_connections_cut_total", dto.MetricType_COUNTER, []string{"3"}},
		{"lameduck_drain_phase", dto.MetricType_GAUGE, []string{
			"phase=delaying 0", "phase=done 0", "phase=draining 1", "phase=serving 0", "phase=stopping 0",
		}},
		{"lameduck_drain_duration_seconds", dto.MetricType_GAUGE, []string{"1.204"}},
		{"lameduck_upstream_ready", dto.MetricType_GAUGE, []string{"1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := samples(t, families, tt.name, tt.typ)
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("%s = %q, want %q", tt.name, got, tt.want)
			}
		})
	}
	for _, name := range []string{"go_goroutines", "process_cpu_seconds_total"} {
		if _, ok := families[name]; !ok {
			t.Errorf("/metrics lacks %s (Go and process collectors)", name)
		}
	}
}

func TestMetricsReadAtScrapeTime(t *testing.T) {
	var ready bool
	h := New(Options{Metrics: Metrics{UpstreamReady: func() bool { return ready }}, Logger: failOnError(t)})
	for _, want := range []string{"0", "1"} {
		got := samples(t, scrape(t, h), "lameduck_upstream_ready", dto.MetricType_GAUGE)
		if len(got) != 1 || got[0] != want {
			t.Errorf("lameduck_upstream_ready with ready=%v = %q, want %q", ready, got, want)
		}
		ready = true
	}
}

func TestMetricsPhaseOneHot(t *testing.T) {
	for _, current := range phases {
		t.Run(current.String(), func(t *testing.T) {
			h := New(Options{Metrics: Metrics{Phase: func() drain.Phase { return current }}, Logger: failOnError(t)})
			got := samples(t, scrape(t, h), "lameduck_drain_phase", dto.MetricType_GAUGE)
			var hot []string
			for _, s := range got {
				if strings.HasSuffix(s, " 1") {
					hot = append(hot, s)
				}
			}
			if want := "phase=" + current.String() + " 1"; len(got) != len(phases) || len(hot) != 1 || hot[0] != want {
				t.Errorf("lameduck_drain_phase in %v = %q, want %d samples with only %q at 1", current, got, len(phases), want)
			}
		})
	}
}

func TestMetricsNilOmitted(t *testing.T) {
	// What each function contributes; setting only that function must
	// yield exactly these lameduck families.
	tests := []struct {
		name string
		set  func(*Metrics)
		want []string
	}{
		{"none", func(*Metrics) {}, nil},
		{"InFlight", func(m *Metrics) { m.InFlight = allSet().InFlight },
			[]string{"lameduck_requests_in_flight", "lameduck_upgrades_in_flight"}},
		{"Requests", func(m *Metrics) { m.Requests = allSet().Requests }, []string{"lameduck_requests_total"}},
		{"UpstreamErrors", func(m *Metrics) { m.UpstreamErrors = allSet().UpstreamErrors }, []string{"lameduck_upstream_errors_total"}},
		{"ConnectionsCut", func(m *Metrics) { m.ConnectionsCut = allSet().ConnectionsCut }, []string{"lameduck_connections_cut_total"}},
		{"Phase", func(m *Metrics) { m.Phase = allSet().Phase }, []string{"lameduck_drain_phase"}},
		{"DrainDuration", func(m *Metrics) { m.DrainDuration = allSet().DrainDuration }, []string{"lameduck_drain_duration_seconds"}},
		{"UpstreamReady", func(m *Metrics) { m.UpstreamReady = allSet().UpstreamReady }, []string{"lameduck_upstream_ready"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m Metrics
			tt.set(&m)
			families := scrape(t, New(Options{Metrics: m, Logger: failOnError(t)}))
			var got []string
			for name := range families {
				if strings.HasPrefix(name, "lameduck_") {
					got = append(got, name)
				}
			}
			sort.Strings(got)
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("lameduck metrics with only %s set = %q, want %q", tt.name, got, tt.want)
			}
			if _, ok := families["go_goroutines"]; !ok {
				t.Errorf("/metrics lacks go_goroutines with only %s set", tt.name)
			}
		})
	}
}

// TestMetricsRegistryConsistent runs the collector through a pedantic
// registry, which checks that what Collect sends matches what Describe
// announced.
func TestMetricsRegistryConsistent(t *testing.T) {
	tests := []struct {
		name string
		m    Metrics
	}{
		{"all set", allSet()},
		{"none set", Metrics{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := prometheus.NewPedanticRegistry()
			if err := reg.Register(collector{tt.m}); err != nil {
				t.Fatalf("Register(collector) = %v, want nil", err)
			}
			if _, err := reg.Gather(); err != nil {
				t.Errorf("Gather() = %v, want nil", err)
			}
		})
	}
}
