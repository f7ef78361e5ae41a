package admin

import (
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/lameduck/lameduck/drain"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics holds the functions /metrics reads at scrape time. Nothing is
// recorded on the request path: each function returns a value its owner
// already keeps (an atomic counter, the current phase). Every function must
// be safe for concurrent use and must not block. A nil function leaves its
// metrics out of /metrics altogether; the zero value exposes none of them.
type Metrics struct {
	// InFlight reports the requests and the upgraded (WebSocket) connections
	// in flight, exposed as the gauges lameduck_requests_in_flight and
	// lameduck_upgrades_in_flight. Nil omits both.
	InFlight func() (requests, upgrades int)

	// Requests reports how many responses of one status class (1 for 1xx
	// through 5 for 5xx) were sent since start, exposed as the counter
	// lameduck_requests_total{code="1xx"|…|"5xx"}. Nil omits it.
	Requests func(class int) uint64

	// UpstreamErrors reports how many requests failed to reach the upstream
	// or to get its answer since start, exposed as the counter
	// lameduck_upstream_errors_total. Nil omits it.
	UpstreamErrors func() uint64

	// ConnectionsCut reports how many requests and upgraded connections
	// were cut at the drain timeout since start, exposed as the counter
	// lameduck_connections_cut_total. Nil omits it.
	ConnectionsCut func() uint64

	// Phase reports the current lifecycle phase, exposed as the one-hot
	// gauge lameduck_drain_phase{phase="serving"|"delaying"|"draining"|
	// "stopping"|"done"}. Nil omits it.
	Phase func() drain.Phase

	// DrainDuration reports how long the last drain wait took (from closing
	// the listeners to idle or cut), or 0 before any drain, exposed as the
	// gauge lameduck_drain_duration_seconds. Nil omits it.
	DrainDuration func() time.Duration

	// UpstreamReady reports whether the upstream accepts connections,
	// exposed as the gauge lameduck_upstream_ready (1 or 0). Nil omits it.
	UpstreamReady func() bool

	// Certificates reports the TLS certificates lameduck serves, exposed
	// as the gauges lameduck_tls_certificate_ready{name} (1 once served, 0
	// while being obtained) and
	// lameduck_tls_certificate_expiry_timestamp_seconds{name} (left out
	// while the expiry is unknown). Nil omits both.
	Certificates func() []Certificate
}

// Certificate is the state of one TLS certificate, for
// Metrics.Certificates.
type Certificate struct {
	// Name is the domain the certificate is for.
	Name string

	// Ready reports whether the certificate is served. False means it is
	// still being obtained.
	Ready bool

	// NotAfter is when the certificate expires. Zero means unknown.
	NotAfter time.Time
}

// phases lists every drain.Phase, in order, for the one-hot phase gauge.
var phases = []drain.Phase{drain.Serving, drain.Delaying, drain.Draining, drain.Stopping, drain.Done}

// The metric descriptions. Their names are part of lameduck's interface:
// dashboards and alerts use them.
var (
	descRequestsInFlight = prometheus.NewDesc("lameduck_requests_in_flight",
		"HTTP requests being forwarded to the upstream right now, upgraded connections excluded.", nil, nil)
	descUpgradesInFlight = prometheus.NewDesc("lameduck_upgrades_in_flight",
		"Upgraded connections (such as WebSockets) open through the proxy right now.", nil, nil)
	descRequestsTotal = prometheus.NewDesc("lameduck_requests_total",
		"Responses sent to clients since start, by status class.", []string{"code"}, nil)
	descUpstreamErrors = prometheus.NewDesc("lameduck_upstream_errors_total",
		"Requests that failed to reach the upstream or to get its answer since start.", nil, nil)
	descConnectionsCut = prometheus.NewDesc("lameduck_connections_cut_total",
		"Requests and upgraded connections cut at the drain timeout since start.", nil, nil)
	descDrainPhase = prometheus.NewDesc("lameduck_drain_phase",
		"Current lifecycle phase: 1 for the current one, 0 for the others.", []string{"phase"}, nil)
	descDrainDuration = prometheus.NewDesc("lameduck_drain_duration_seconds",
		"Duration of the last drain wait, from closing the listeners to idle or cut; 0 before any drain.", nil, nil)
	descUpstreamReady = prometheus.NewDesc("lameduck_upstream_ready",
		"Whether the upstream accepts connections (1) or not (0).", nil, nil)
	descCertReady = prometheus.NewDesc("lameduck_tls_certificate_ready",
		"Whether the TLS certificate for a name is served (1) or still being obtained (0).", []string{"name"}, nil)
	descCertExpiry = prometheus.NewDesc("lameduck_tls_certificate_expiry_timestamp_seconds",
		"When the TLS certificate for a name expires, in Unix seconds.", []string{"name"}, nil)
)

// newRegistry returns a registry holding the lameduck metrics from m and
// the Go runtime and process collectors.
func newRegistry(m Metrics) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collector{m},
	)
	return reg
}

// metricsHandler serves reg in the Prometheus exposition format. A failing
// collector does not hide the others: what could be gathered is served and
// the error is logged.
func metricsHandler(reg *prometheus.Registry, logger *slog.Logger) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog:      promLogger{logger},
		ErrorHandling: promhttp.ContinueOnError,
	})
}

// collector turns the functions of a Metrics into const metrics at scrape
// time.
type collector struct{ m Metrics }

// Describe sends the descriptions of the metrics whose function is set.
func (c collector) Describe(ch chan<- *prometheus.Desc) {
	m := c.m
	if m.InFlight != nil {
		ch <- descRequestsInFlight
		ch <- descUpgradesInFlight
	}
	for _, d := range []struct {
		set  bool
		desc *prometheus.Desc
	}{
		{m.Requests != nil, descRequestsTotal},
		{m.UpstreamErrors != nil, descUpstreamErrors},
		{m.ConnectionsCut != nil, descConnectionsCut},
		{m.Phase != nil, descDrainPhase},
		{m.DrainDuration != nil, descDrainDuration},
		{m.UpstreamReady != nil, descUpstreamReady},
		{m.Certificates != nil, descCertReady},
		{m.Certificates != nil, descCertExpiry},
	} {
		if d.set {
			ch <- d.desc
		}
	}
}

// Collect reads every set function once and sends the values.
func (c collector) Collect(ch chan<- prometheus.Metric) {
	m := c.m
	if m.InFlight != nil {
		requests, upgrades := m.InFlight()
		ch <- prometheus.MustNewConstMetric(descRequestsInFlight, prometheus.GaugeValue, float64(requests))
		ch <- prometheus.MustNewConstMetric(descUpgradesInFlight, prometheus.GaugeValue, float64(upgrades))
	}
	if m.Requests != nil {
		for class := 1; class <= 5; class++ {
			ch <- prometheus.MustNewConstMetric(descRequestsTotal, prometheus.CounterValue,
				float64(m.Requests(class)), strconv.Itoa(class)+"xx")
		}
	}
	if m.UpstreamErrors != nil {
		ch <- prometheus.MustNewConstMetric(descUpstreamErrors, prometheus.CounterValue, float64(m.UpstreamErrors()))
	}
	if m.ConnectionsCut != nil {
		ch <- prometheus.MustNewConstMetric(descConnectionsCut, prometheus.CounterValue, float64(m.ConnectionsCut()))
	}
	if m.Phase != nil {
		current := m.Phase()
		for _, p := range phases {
			ch <- prometheus.MustNewConstMetric(descDrainPhase, prometheus.GaugeValue, oneIf(p == current), p.String())
		}
	}
	if m.DrainDuration != nil {
		ch <- prometheus.MustNewConstMetric(descDrainDuration, prometheus.GaugeValue, m.DrainDuration().Seconds())
	}
	if m.UpstreamReady != nil {
		ch <- prometheus.MustNewConstMetric(descUpstreamReady, prometheus.GaugeValue, oneIf(m.UpstreamReady()))
	}
	if m.Certificates != nil {
		for _, c := range m.Certificates() {
			ch <- prometheus.MustNewConstMetric(descCertReady, prometheus.GaugeValue, oneIf(c.Ready), c.Name)
			if !c.NotAfter.IsZero() {
				ch <- prometheus.MustNewConstMetric(descCertExpiry, prometheus.GaugeValue, float64(c.NotAfter.Unix()), c.Name)
			}
		}
	}
}

// oneIf returns 1 if b is true, else 0.
func oneIf(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// promLogger adapts a slog.Logger to promhttp's Println logger.
type promLogger struct{ l *slog.Logger }

// Println logs its arguments as one error line.
func (p promLogger) Println(v ...any) {
	p.l.Error("metrics: " + fmt.Sprint(v...))
}
