// Package activities holds the side effects of the send workflow: reading
// the store, calling providers, writing status, asking the rule engine and
// posting alerts and status notifications. Workflows call these methods
// through a nil *Activities; a worker registers one real instance.
package activities

import (
	"context"
	"net/http"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"go.uber.org/zap"

	"github.com/heraldhq/herald/internal/metrics"
	"github.com/heraldhq/herald/providers"
	"github.com/heraldhq/herald/store"
)

// Store is the part of the store the activities use.
type Store interface {
	GetApp(ctx context.Context, id string) (*store.App, error)
	GetMessage(ctx context.Context, taskID string) (*store.Message, error)
	// GetBatch returns a batch (its attachments, shared by its messages).
	GetBatch(ctx context.Context, id string) (*store.Batch, error)
	GetChannel(ctx context.Context, id int64) (*store.Channel, error)
	GetTemplate(ctx context.Context, id int64) (*store.Template, error)
	ChannelPool(ctx context.Context, channelID int64) ([]store.PoolMember, error)
	ListRules(ctx context.Context, scene string) ([]store.Rule, error)
	GetAccount(ctx context.Context, id int64) (*store.ProviderAccount, error)
	GetTemplateMapping(ctx context.Context, templateID, accountID int64) (*store.TemplateMapping, error)
	RecordMessage(ctx context.Context, taskID string, p store.MessagePatch, events []*store.MessageEvent) error
	RecordAccepted(ctx context.Context, taskID string, accountID int64, providerMessageID string, p store.MessagePatch, events []*store.MessageEvent) error
}

// Config holds the activities' own settings.
type Config struct {
	// CallbackBaseURL is Herald's public base URL; receipt endpoints are
	// CallbackBaseURL + "/callbacks/{kind}/{account}?token=...".
	CallbackBaseURL string
	// AlertWebhookURL receives alert events from rules; empty disables
	// alerts (they are still recorded on the timeline).
	AlertWebhookURL string
	// AlertWebhookSecret signs alert events (Standard Webhooks); optional.
	AlertWebhookSecret string
	// PerKindSendQueues routes sends to one task queue per provider kind
	// (workflows.SendTaskQueue) instead of Herald's own queue.
	PerKindSendQueues bool
}

// Activities implements every activity of the send workflow.
type Activities struct {
	cfg       Config
	store     Store
	providers *providers.Registry
	balancer  *Balancer
	pacer     Pacer
	batcher   *batcher
	breakers  BreakerStore
	// batches holds batch-workflow members (WithBatches).
	batches BatchStore
	// bounces and receiverKeys record hard bounces (WithBounces).
	bounces      BounceStore
	receiverKeys *store.ReceiverKeyer
	outcomes     *OutcomeAggregator
	http         *http.Client
	log          *zap.Logger
	now          func() time.Time
	metrics      metrics.Recorder
	tracer       trace.Tracer

	mu      sync.Mutex
	senders map[int64]cachedSender

	batchAtts attachmentCache
}

// cachedSender keeps a sender per account until its settings change, so
// SDK clients and their connection pools are reused between sends.
type cachedSender struct {
	updatedAt time.Time
	sender    providers.Sender
}

// Option configures Activities.
type Option func(*Activities)

// WithHTTPClient sets the client used for alerts and status notifications.
func WithHTTPClient(c *http.Client) Option { return func(a *Activities) { a.http = c } }

// WithPacer paces accounts that have a rate cap; without one nothing is
// paced.
func WithPacer(p Pacer) Option { return func(a *Activities) { a.pacer = p } }

// WithBatchWindow sets how long a batch message waits for others to share
// a batch request with; zero or less sends every message on its own.
func WithBatchWindow(d time.Duration) Option {
	return func(a *Activities) {
		if d <= 0 {
			a.batcher = nil
			return
		}
		a.batcher = newBatcher(d)
	}
}

// WithMetrics counts sends, finished messages, receipts' latency, breaker
// states and pacing waits into r; without it nothing is counted.
func WithMetrics(r metrics.Recorder) Option { return func(a *Activities) { a.metrics = r } }

// WithTracer puts a span around each provider call; without it no span
// is recorded.
func WithTracer(t trace.Tracer) Option { return func(a *Activities) { a.tracer = t } }

// WithClock replaces time.Now, for tests.
func WithClock(now func() time.Time) Option { return func(a *Activities) { a.now = now } }

// New returns the activities over st and reg.
func New(cfg Config, st Store, reg *providers.Registry, log *zap.Logger, opts ...Option) *Activities {
	a := &Activities{
		cfg:       cfg,
		store:     st,
		providers: reg,
		balancer:  NewBalancer(),
		// An own transport: alert and callback endpoints are the apps', and
		// their connections should not share a pool with anything else.
		http:    &http.Client{Timeout: 15 * time.Second, Transport: http.DefaultTransport.(*http.Transport).Clone()},
		log:     log,
		now:     time.Now,
		senders: make(map[int64]cachedSender),
		batcher: newBatcher(DefaultBatchWindow),
	}
	for _, o := range opts {
		o(a)
	}
	if a.log == nil {
		a.log = zap.NewNop()
	}
	a.metrics = metrics.Or(a.metrics)
	if a.tracer == nil {
		a.tracer = noop.NewTracerProvider().Tracer("")
	}
	return a
}
