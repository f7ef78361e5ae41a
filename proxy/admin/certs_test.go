package admin

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

func certificates() []Certificate {
	return []Certificate{
		{Name: "example.com", Ready: true, NotAfter: time.Unix(1900000000, 0)},
		{Name: "www.example.com"}, // still being obtained
	}
}

func TestMetricsCertificates(t *testing.T) {
	families := scrape(t, New(Options{Metrics: Metrics{Certificates: certificates}, Logger: failOnError(t)}))
	for _, tt := range []struct {
		name string
		want []string
	}{
		{"lameduck_tls_certificate_ready", []string{"name=example.com 1", "name=www.example.com 0"}},
		{"lameduck_tls_certificate_expiry_timestamp_seconds", []string{"name=example.com 1.9e+09"}},
	} {
		got := samples(t, families, tt.name, dto.MetricType_GAUGE)
		if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
			t.Errorf("%s = %q, want %q", tt.name, got, tt.want)
		}
	}
	var lameduck []string
	for name := range families {
		if strings.HasPrefix(name, "lameduck_") {
			lameduck = append(lameduck, name)
		}
	}
	if len(lameduck) != 2 {
		t.Errorf("lameduck metrics with only Certificates set = %q, want the two certificate gauges", lameduck)
	}
	if none := scrape(t, New(Options{Logger: failOnError(t)})); none["lameduck_tls_certificate_ready"] != nil {
		t.Error("lameduck_tls_certificate_ready present with Certificates nil")
	}
}

// TestMetricsCertificatesConsistent runs the certificate metrics through a
// pedantic registry, which checks them against their descriptions.
func TestMetricsCertificatesConsistent(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(collector{Metrics{Certificates: certificates}}); err != nil {
		t.Fatalf("Register(collector) = %v, want nil", err)
	}
	if _, err := reg.Gather(); err != nil {
		t.Errorf("Gather() = %v, want nil", err)
	}
}
