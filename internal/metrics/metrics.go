// Package metrics defines every Prometheus series Herald exports and the
// Recorder interface the API and the activities count through.
//
// Label values are configuration (app ids, channel ids, account ids,
// provider kinds) or small fixed sets (statuses, failure classes, route
// patterns, vendor error codes); never a receiver, a content, a task id
// or an error message, so every series set stays bounded and no personal
// data reaches the metrics backend.
//
// A nil Recorder is valid wherever one is accepted: Or(nil) is Nop.
package metrics

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Namespace prefixes every Herald series.
const Namespace = "herald"

// Series names, as exported (histograms add _bucket, _sum and _count).
const (
	MessagesAccepted   = "herald_messages_accepted_total"
	MessagesFinished   = "herald_messages_finished_total"
	FinalLatency       = "herald_message_final_latency_seconds"
	SendDuration       = "herald_send_duration_seconds"
	ProviderErrors     = "herald_provider_errors_total"
	Receipts           = "herald_receipts_total"
	ReceiptLatency     = "herald_receipt_latency_seconds"
	BreakerState       = "herald_breaker_state"
	QuotaLimit         = "herald_quota_limit"
	QuotaUsed          = "herald_quota_used"
	QuotaRefusals      = "herald_quota_refusals_total"
	PacingWaits        = "herald_pacing_waits_total"
	PacingWaitSeconds  = "herald_pacing_wait_seconds"
	APIRequests        = "herald_api_requests_total"
	APIRequestDuration = "herald_api_request_duration_seconds"
	BuildInfo          = "herald_build_info"
	TemporalSDKPrefix  = "temporal_"
	unknownLabelValue  = "unknown"
)

// Names lists every series Herald itself defines (not the Temporal SDK's,
// which start with TemporalSDKPrefix), for dashboards and alert rules to
// be checked against.
func Names() []string {
	return []string{
		MessagesAccepted, MessagesFinished, FinalLatency, SendDuration, ProviderErrors,
		Receipts, ReceiptLatency, BreakerState, QuotaLimit, QuotaUsed, QuotaRefusals,
		PacingWaits, PacingWaitSeconds, APIRequests, APIRequestDuration, BuildInfo,
	}
}

// BreakerStates are the values of the state label of BreakerState; the
// series of the current state is 1, the others 0.
var BreakerStates = []string{"closed", "open", "half_open"}

// Recorder is what the API and the activities count through.
type Recorder interface {
	// MessageAccepted counts n messages accepted by the API.
	MessageAccepted(appID string, channelID int64, n int)
	// MessageFinished counts a message reaching a final status, sinceAccept
	// after it was accepted. providerKind is empty when no account was
	// tried.
	MessageFinished(appID string, channelID int64, providerKind, status string, sinceAccept time.Duration)
	// SendAttempt observes one provider call; class is empty when the
	// provider accepted, else the failure class and the vendor's code.
	SendAttempt(providerKind, class, code string, took time.Duration)
	// Receipt counts a delivery receipt the API took in.
	Receipt(providerKind, status string)
	// ReceiptLatency observes accept → receipt of a message whose final
	// status came from a receipt.
	ReceiptLatency(providerKind, status string, sinceAccept time.Duration)
	// BreakerState sets an account breaker's current state.
	BreakerState(accountID int64, providerKind, state string)
	// QuotaUsage sets a quota's limit and units used in its current period.
	QuotaUsage(appID string, channelID int64, period string, limit, used int64)
	// QuotaRefused counts a send refused because a quota is spent.
	QuotaRefused(appID string)
	// PacingWait counts a send held back by an account's pace.
	PacingWait(accountID int64, wait time.Duration)
	// APIRequest observes an API request by its route pattern (never the
	// path: paths carry task ids).
	APIRequest(method, route string, code int, took time.Duration)
}

// Or returns r, or Nop when r is nil.
func Or(r Recorder) Recorder {
	if r == nil {
		return Nop{}
	}
	return r
}

// Nop records nothing.
type Nop struct{}

var _ Recorder = Nop{}

func (Nop) MessageAccepted(string, int64, int)                           {}
func (Nop) MessageFinished(string, int64, string, string, time.Duration) {}
func (Nop) SendAttempt(string, string, string, time.Duration)            {}
func (Nop) Receipt(string, string)                                       {}
func (Nop) ReceiptLatency(string, string, time.Duration)                 {}
func (Nop) BreakerState(int64, string, string)                           {}
func (Nop) QuotaUsage(string, int64, string, int64, int64)               {}
func (Nop) QuotaRefused(string)                                          {}
func (Nop) PacingWait(int64, time.Duration)                              {}
func (Nop) APIRequest(string, string, int, time.Duration)                {}

// latencyBuckets span a provider call or an HTTP request: 5ms to 1m.
var latencyBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}

// deliveryBuckets span accept → final or receipt: 100ms to 1 day, as
// receipts and retries after rules can take hours.
var deliveryBuckets = []float64{.1, .5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 4 * 3600, 24 * 3600}

// Prometheus is the Recorder over Prometheus collectors.
type Prometheus struct {
	accepted       *prometheus.CounterVec
	finished       *prometheus.CounterVec
	finalLatency   *prometheus.HistogramVec
	sendDuration   *prometheus.HistogramVec
	providerErrors *prometheus.CounterVec
	receipts       *prometheus.CounterVec
	receiptLatency *prometheus.HistogramVec
	breaker        *prometheus.GaugeVec
	quotaLimit     *prometheus.GaugeVec
	quotaUsed      *prometheus.GaugeVec
	quotaRefusals  *prometheus.CounterVec
	pacingWaits    *prometheus.CounterVec
	pacingSeconds  *prometheus.CounterVec
	apiRequests    *prometheus.CounterVec
	apiDuration    *prometheus.HistogramVec
}

var _ Recorder = (*Prometheus)(nil)

// New registers Herald's collectors, and the Go runtime's and process's,
// on reg, labelling the build info series with version.
func New(reg prometheus.Registerer, version string) (*Prometheus, error) {
	p := &Prometheus{
		accepted: prometheus.NewCounterVec(prometheus.CounterOpts{Name: MessagesAccepted,
			Help: "Messages accepted by the API, by app and channel."}, []string{"app", "channel"}),
		finished: prometheus.NewCounterVec(prometheus.CounterOpts{Name: MessagesFinished,
			Help: "Messages that reached a final status, by app, channel, provider kind of the last account tried, and status."},
			[]string{"app", "channel", "provider_kind", "status"}),
		finalLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: FinalLatency,
			Help: "Time from acceptance to final status, by channel and status.", Buckets: deliveryBuckets},
			[]string{"app", "channel", "status"}),
		sendDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: SendDuration,
			Help: "Duration of provider send calls, by provider kind and result (accepted or the failure class).", Buckets: latencyBuckets},
			[]string{"provider_kind", "result"}),
		providerErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: ProviderErrors,
			Help: "Provider send failures, by provider kind, failure class and vendor code."},
			[]string{"provider_kind", "class", "code"}),
		receipts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: Receipts,
			Help: "Delivery receipts taken in by the API, by provider kind and status."}, []string{"provider_kind", "status"}),
		receiptLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: ReceiptLatency,
			Help: "Time from acceptance to the delivery receipt that settled the message, by provider kind and receipt status.", Buckets: deliveryBuckets},
			[]string{"provider_kind", "status"}),
		breaker: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: BreakerState,
			Help: "Account circuit breaker state: 1 for the current state, 0 for the others."}, []string{"account", "provider_kind", "state"}),
		quotaLimit: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: QuotaLimit,
			Help: "Quota limit of the current period, by app, channel (0 for the app's own quota) and period."}, []string{"app", "channel", "period"}),
		quotaUsed: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: QuotaUsed,
			Help: "Quota units reserved or committed in the current period."}, []string{"app", "channel", "period"}),
		quotaRefusals: prometheus.NewCounterVec(prometheus.CounterOpts{Name: QuotaRefusals,
			Help: "Sends refused because a quota is spent, by app."}, []string{"app"}),
		pacingWaits: prometheus.NewCounterVec(prometheus.CounterOpts{Name: PacingWaits,
			Help: "Sends held back by an account's pace, by account."}, []string{"account"}),
		pacingSeconds: prometheus.NewCounterVec(prometheus.CounterOpts{Name: PacingWaitSeconds,
			Help: "Seconds sends were told to wait for an account's pace, by account."}, []string{"account"}),
		apiRequests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: APIRequests,
			Help: "API requests by method, route pattern and status code."}, []string{"method", "route", "code"}),
		apiDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: APIRequestDuration,
			Help: "API request duration by method and route pattern.", Buckets: latencyBuckets}, []string{"method", "route"}),
	}
	build := prometheus.NewGauge(prometheus.GaugeOpts{Name: BuildInfo, Help: "Always 1; the version label names the build.",
		ConstLabels: prometheus.Labels{"version": version}})
	build.Set(1)
	for _, c := range []prometheus.Collector{
		p.accepted, p.finished, p.finalLatency, p.sendDuration, p.providerErrors, p.receipts, p.receiptLatency,
		p.breaker, p.quotaLimit, p.quotaUsed, p.quotaRefusals, p.pacingWaits, p.pacingSeconds, p.apiRequests, p.apiDuration,
		build, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func id(n int64) string { return strconv.FormatInt(n, 10) }

func orUnknown(s string) string {
	if s == "" {
		return unknownLabelValue
	}
	return s
}

// MessageAccepted implements Recorder.
func (p *Prometheus) MessageAccepted(appID string, channelID int64, n int) {
	p.accepted.WithLabelValues(appID, id(channelID)).Add(float64(n))
}

// MessageFinished implements Recorder.
func (p *Prometheus) MessageFinished(appID string, channelID int64, providerKind, status string, sinceAccept time.Duration) {
	p.finished.WithLabelValues(appID, id(channelID), orUnknown(providerKind), status).Inc()
	p.finalLatency.WithLabelValues(appID, id(channelID), status).Observe(sinceAccept.Seconds())
}

// SendAttempt implements Recorder.
func (p *Prometheus) SendAttempt(providerKind, class, code string, took time.Duration) {
	result := "accepted"
	if class != "" {
		result = class
		p.providerErrors.WithLabelValues(providerKind, class, orUnknown(code)).Inc()
	}
	p.sendDuration.WithLabelValues(providerKind, result).Observe(took.Seconds())
}

// Receipt implements Recorder.
func (p *Prometheus) Receipt(providerKind, status string) {
	p.receipts.WithLabelValues(providerKind, status).Inc()
}

// ReceiptLatency implements Recorder.
func (p *Prometheus) ReceiptLatency(providerKind, status string, sinceAccept time.Duration) {
	p.receiptLatency.WithLabelValues(orUnknown(providerKind), status).Observe(sinceAccept.Seconds())
}

// BreakerState implements Recorder.
func (p *Prometheus) BreakerState(accountID int64, providerKind, state string) {
	for _, s := range BreakerStates {
		v := 0.0
		if s == state {
			v = 1
		}
		p.breaker.WithLabelValues(id(accountID), providerKind, s).Set(v)
	}
}

// QuotaUsage implements Recorder.
func (p *Prometheus) QuotaUsage(appID string, channelID int64, period string, limit, used int64) {
	p.quotaLimit.WithLabelValues(appID, id(channelID), period).Set(float64(limit))
	p.quotaUsed.WithLabelValues(appID, id(channelID), period).Set(float64(used))
}

// QuotaRefused implements Recorder.
func (p *Prometheus) QuotaRefused(appID string) { p.quotaRefusals.WithLabelValues(appID).Inc() }

// PacingWait implements Recorder.
func (p *Prometheus) PacingWait(accountID int64, wait time.Duration) {
	p.pacingWaits.WithLabelValues(id(accountID)).Inc()
	p.pacingSeconds.WithLabelValues(id(accountID)).Add(wait.Seconds())
}

// APIRequest implements Recorder.
func (p *Prometheus) APIRequest(method, route string, code int, took time.Duration) {
	if route == "" {
		// Unmatched paths (404s) are not routes; their paths are anything
		// a client sent.
		route = "unmatched"
	}
	switch method {
	case "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS":
	default:
		method = "other"
	}
	p.apiRequests.WithLabelValues(method, route, strconv.Itoa(code)).Inc()
	p.apiDuration.WithLabelValues(method, route).Observe(took.Seconds())
}
