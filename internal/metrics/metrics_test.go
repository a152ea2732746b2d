package metrics_test

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/metrics"
)

func setup(t *testing.T) (*metrics.Prometheus, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	p, err := metrics.New(reg, "v1.2.3")
	require.NoError(t, err)
	return p, reg
}

func TestRecorderSeries(t *testing.T) {
	t.Parallel()
	p, reg := setup(t)

	p.MessageAccepted("app-1", 7, 3)
	p.MessageFinished("app-1", 7, "tencent", "success", 2*time.Second)
	p.MessageFinished("app-1", 7, "", "failed", time.Second)
	p.SendAttempt("tencent", "", "", 50*time.Millisecond)
	p.SendAttempt("tencent", "permanent", "InvalidPhone", 20*time.Millisecond)
	p.Receipt("tencent", "delivered")
	p.ReceiptLatency("tencent", "delivered", 5*time.Second)
	p.BreakerState(42, "tencent", "open")
	p.QuotaUsage("app-1", 0, "day", 100, 95)
	p.QuotaRefused("app-1")
	p.PacingWait(42, 300*time.Millisecond)
	p.APIRequest("POST", "/api/v1/messages", 200, 10*time.Millisecond)
	p.APIRequest("BREW", "", 404, time.Millisecond)

	require.InDelta(t, 3, testutil.ToFloat64(counterOf(t, reg, metrics.MessagesAccepted, map[string]string{"app": "app-1", "channel": "7"})), 0)
	require.InDelta(t, 1, testutil.ToFloat64(counterOf(t, reg, metrics.MessagesFinished, map[string]string{"provider_kind": "unknown", "status": "failed"})), 0)

	families, err := reg.Gather()
	require.NoError(t, err)
	got := map[string]bool{}
	for _, f := range families {
		got[f.GetName()] = true
	}
	for _, name := range metrics.Names() {
		require.True(t, got[name], "series %s is exported", name)
	}

	expected := `
# HELP herald_breaker_state Account circuit breaker state: 1 for the current state, 0 for the others.
# TYPE herald_breaker_state gauge
herald_breaker_state{account="42",provider_kind="tencent",state="closed"} 0
herald_breaker_state{account="42",provider_kind="tencent",state="half_open"} 0
herald_breaker_state{account="42",provider_kind="tencent",state="open"} 1
# HELP herald_provider_errors_total Provider send failures, by provider kind, failure class and vendor code.
# TYPE herald_provider_errors_total counter
herald_provider_errors_total{class="permanent",code="InvalidPhone",provider_kind="tencent"} 1
# HELP herald_api_requests_total API requests by method, route pattern and status code.
# TYPE herald_api_requests_total counter
herald_api_requests_total{code="200",method="POST",route="/api/v1/messages"} 1
herald_api_requests_total{code="404",method="other",route="unmatched"} 1
`
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(expected),
		metrics.BreakerState, metrics.ProviderErrors, metrics.APIRequests))
}

// counterOf finds the one series of name whose labels include want.
func counterOf(t *testing.T, reg *prometheus.Registry, name string, want map[string]string) prometheus.Collector {
	t.Helper()
	families, err := reg.Gather()
	require.NoError(t, err)
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	series:
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			for k, v := range want {
				if labels[k] != v {
					continue series
				}
			}
			c := prometheus.NewCounter(prometheus.CounterOpts{Name: "probe"})
			c.Add(m.GetCounter().GetValue())
			return c
		}
	}
	t.Fatalf("no series %s with %v", name, want)
	return nil
}

func TestNop(t *testing.T) {
	t.Parallel()
	r := metrics.Or(nil)
	require.IsType(t, metrics.Nop{}, r)
	r.MessageAccepted("a", 1, 1)
	r.APIRequest("GET", "/health", 200, time.Millisecond)

	p, _ := setup(t)
	require.Same(t, p, metrics.Or(p))
}

func TestNewRefusesDoubleRegistration(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	_, err := metrics.New(reg, "v1")
	require.NoError(t, err)
	_, err = metrics.New(reg, "v1")
	require.Error(t, err, "a second recorder on one registry is a wiring mistake")
}
