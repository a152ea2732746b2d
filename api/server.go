package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"

	"github.com/heraldhq/herald/internal/admission"
	"github.com/heraldhq/herald/internal/breaker"
	"github.com/heraldhq/herald/internal/clientip"
	"github.com/heraldhq/herald/internal/metrics"
	"github.com/heraldhq/herald/internal/tracing"
	"github.com/heraldhq/herald/providers"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/workflows"
)

// Store is the part of the data layer the API uses. Lookups return an error
// wrapping store.ErrNotFound for missing rows; CreateMessages returns one
// wrapping store.ErrConflict when an idempotency key or task id is taken.
type Store interface {
	GetApp(ctx context.Context, id string) (*store.App, error)
	GetChannel(ctx context.Context, id int64) (*store.Channel, error)
	// ChannelGranted reports whether the app holds a grant for the
	// channel; an unknown app or channel is not granted.
	ChannelGranted(ctx context.Context, appID string, channelID int64) (bool, error)
	ListChannels(ctx context.Context, f store.ChannelFilter) ([]store.Channel, int, error)
	GetTemplate(ctx context.Context, id int64) (*store.Template, error)
	ChannelPool(ctx context.Context, channelID int64) ([]store.PoolMember, error)
	CreateMessages(ctx context.Context, msgs []*store.Message, batch *store.Batch) error
	GetMessage(ctx context.Context, taskID string) (*store.Message, error)
	GetMessageByIdempotencyKey(ctx context.Context, appID, key string) (*store.Message, error)
	GetBatchByIdempotencyKey(ctx context.Context, appID, key string) (*store.Batch, error)
	ListBatchMessages(ctx context.Context, batchID string) ([]store.Message, error)
	// CreateBatch stores a batch run by a batch workflow and its members
	// in bulk; it fails as CreateMessages does.
	CreateBatch(ctx context.Context, b *store.Batch, member *store.Message, receivers []string) error
	GetBatch(ctx context.Context, id string) (*store.Batch, error)
	// ListBatchMembers returns the task ids and receivers of a batch's
	// members in request order.
	ListBatchMembers(ctx context.Context, batchID string) ([]store.BatchMember, error)
	// CountBatchMembers counts a batch's members by status.
	CountBatchMembers(ctx context.Context, batchID string) (store.BatchCounts, error)
	// SetBatchStatus records the status a batch's workflow answered with,
	// unless the batch has finished meanwhile.
	SetBatchStatus(ctx context.Context, batchID, status string) error
	UpdateMessage(ctx context.Context, taskID string, p store.MessagePatch) error
	FindTaskByProviderMessageID(ctx context.Context, accountID int64, providerMessageID string) (string, error)
	// FindTasksByProviderMessageIDs maps each of the account's provider
	// ids it finds to its task.
	FindTasksByProviderMessageIDs(ctx context.Context, accountID int64, providerMessageIDs []string) (map[string]string, error)
	// ApplyMemberReceipts applies receipts to members of batch-workflow
	// batches in one transaction and reports each one's effect:
	// store.ReceiptNotMember, doing nothing, for other messages.
	ApplyMemberReceipts(ctx context.Context, receipts []store.TaskReceipt) ([]string, error)
	// TaskAcceptance reports what the account accepted of the task, over
	// all attempts.
	TaskAcceptance(ctx context.Context, taskID string, accountID int64) (store.Acceptance, error)
	// FindLatestMessageTo returns the latest message sent through an
	// account to any of the spellings of one receiver.
	FindLatestMessageTo(ctx context.Context, accountID int64, receivers []string) (*store.Message, error)
	GetAccount(ctx context.Context, id int64) (*store.ProviderAccount, error)
	AddEvent(ctx context.Context, e *store.MessageEvent) error
	NextEventSeq(ctx context.Context, taskID string) (int, error)
	ListEvents(ctx context.Context, taskID string) ([]store.MessageEvent, error)
	// QuotaReport returns the usage of an app's quotas in the periods
	// holding now.
	QuotaReport(ctx context.Context, appID string, now time.Time) ([]store.QuotaStatus, error)
	// QueryStats sums the statistics rollups over intervals.
	QueryStats(ctx context.Context, q store.StatsQuery) ([]store.StatsRow, error)
	Ping(ctx context.Context) error
}

// The production implementations satisfy the interfaces.
var (
	_ Store  = (*store.DB)(nil)
	_ Engine = (*workflows.Client)(nil)
)

// Admitter decides which receivers of a send are accepted
// (admission.Service).
type Admitter interface {
	// Admit returns one verdict per receiver of r, nil for accepted; an
	// error wrapping admission.ErrCache or admission.ErrStore means a
	// dependency failed.
	Admit(ctx context.Context, r admission.Request) ([]*admission.Refusal, error)
	// OptOut records that a receiver opted out of a channel type from an
	// app.
	OptOut(ctx context.Context, appID, channelType, receiver, reason, source string) error
}

var _ Admitter = (*admission.Service)(nil)

// Engine starts and steers send workflows (workflows.Client).
type Engine interface {
	// StartSend starts the send workflow of one task; starting one that
	// already runs is not an error.
	StartSend(ctx context.Context, in workflows.SendInput) error
	// CancelSend cancels a task not yet handed to a provider. It returns
	// workflows.ErrNotCancellable when that is too late.
	CancelSend(ctx context.Context, taskID string) error
	// StartBatch starts the workflow of a batch stored with its members;
	// starting one already started is not an error.
	StartBatch(ctx context.Context, in workflows.BatchInput) error
	// UpdateBatch pauses, resumes or cancels a batch (the update is one
	// of workflows.BatchPauseUpdate, BatchResumeUpdate, BatchCancelUpdate)
	// and returns its status after. It returns workflows.ErrWorkflowClosed
	// when the batch has finished.
	UpdateBatch(ctx context.Context, batchID, update string) (string, error)
	// CancelBatchMember cancels one member of a batch through its
	// workflow. It returns workflows.ErrNotCancellable when the member is
	// on its way or final, workflows.ErrWorkflowClosed when the batch has
	// finished.
	CancelBatchMember(ctx context.Context, batchID, taskID string) error
	// DeliverReceipt delivers a receipt to a task's workflow. It returns
	// workflows.ErrWorkflowClosed when the workflow has finished.
	DeliverReceipt(ctx context.Context, taskID string, r workflows.Receipt) error
	// Check reports whether the engine is reachable.
	Check(ctx context.Context) error
}

// Deps are the collaborators of the server. Store, Engine, Redis and
// Admission are required; the rest have defaults.
type Deps struct {
	Store  Store
	Engine Engine
	// Admission runs the per-receiver checks of every send.
	Admission Admitter
	// Redis holds nonces and rate-limit state shared by all replicas.
	Redis *redis.Client
	// Providers resolves the receipt and reply handlers of provider
	// callbacks; nil means no provider accepts callbacks.
	Providers *providers.Registry
	// Logger defaults to a no-op logger.
	Logger *zap.Logger
	// Now defaults to time.Now.
	Now func() time.Time
	// NewID makes task and batch ids; defaults to random UUIDs (v4).
	NewID func() string
	// Receipts, when set, counts delivery receipts per account for the
	// accounts' circuit breakers.
	Receipts ReceiptCounter
	// Metrics counts requests, accepted messages, receipts and quota
	// refusals; nil counts nothing.
	Metrics metrics.Recorder
	// Tracing records a span per request, continuing the client's W3C
	// traceparent; nil records nothing.
	Tracing *tracing.Provider
}

// ReceiptCounter counts delivery receipts of an account for its circuit
// breaker (activities.OutcomeAggregator).
type ReceiptCounter interface {
	Add(accountID int64, c breaker.Counts)
}

// Server is the HTTP API: the /api/v1 surface of the wire contract, /health
// and the provider receipt and reply callbacks.
type Server struct {
	// memberSlots bounds the receipts of batch members applied at once: a
	// provider pushes a whole chunk's receipts together, and each holds a
	// database transaction.
	memberSlots chan struct{}
	cfg         Config
	store       Store
	engine      Engine
	admission   Admitter
	receipts    ReceiptCounter
	redis       *redis.Client
	limiter     *redis_rate.Limiter
	providers   *providers.Registry
	log         *zap.Logger
	now         func() time.Time
	newID       func() string
	trusted     []netip.Prefix
	metrics     metrics.Recorder
	tracing     *tracing.Provider
	echo        *echo.Echo
}

// New builds a server. It validates cfg (zero fields take defaults) and
// checks that the required dependencies are present.
func New(cfg Config, deps Deps) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	var missing []error
	if deps.Store == nil {
		missing = append(missing, errors.New("Store is required"))
	}
	if deps.Engine == nil {
		missing = append(missing, errors.New("Engine is required"))
	}
	if deps.Redis == nil {
		missing = append(missing, errors.New("Redis is required"))
	}
	if deps.Admission == nil {
		missing = append(missing, errors.New("Admission is required"))
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("new api server: %w", errors.Join(missing...))
	}
	trusted, err := parsePrefixes(cfg.TrustedProxies)
	if err != nil {
		return nil, fmt.Errorf("new api server: trusted proxies: %w", err)
	}
	s := &Server{
		memberSlots: make(chan struct{}, memberReceiptSlots),
		cfg:         cfg,
		store:       deps.Store,
		engine:      deps.Engine,
		admission:   deps.Admission,
		receipts:    deps.Receipts,
		redis:       deps.Redis,
		limiter:     redis_rate.NewLimiter(deps.Redis),
		providers:   deps.Providers,
		log:         deps.Logger,
		now:         deps.Now,
		newID:       deps.NewID,
		trusted:     trusted,
		metrics:     metrics.Or(deps.Metrics),
		tracing:     deps.Tracing,
	}
	if s.tracing == nil {
		s.tracing = tracing.Off()
	}
	if s.providers == nil {
		s.providers = providers.NewRegistry()
	}
	if s.log == nil {
		s.log = zap.NewNop()
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.newID == nil {
		s.newID = uuid.NewString
	}
	s.echo = s.routes()
	return s, nil
}

// Handler returns the server's HTTP handler.
func (s *Server) Handler() http.Handler { return s.echo }

func (s *Server) routes() *echo.Echo {
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = s.handleError
	e.IPExtractor = s.ipExtractor()

	e.Use(s.traceRequests, s.logRequests, s.recoverPanics)

	e.GET("/health", s.health)
	e.GET(OpenAPIPath, s.openAPI)
	e.POST("/callbacks/:provider/:account_id", s.callback)
	e.POST("/callbacks/:provider/:account_id/replies", s.replyCallback)

	// Every /api/v1 request, the channel catalogue included, counts
	// against the app's request rate.
	v1 := e.Group("/api/v1", s.authenticate, s.rateLimit)
	v1.POST("/messages", s.sendMessage)
	v1.POST("/messages/batch", s.sendBatch)
	v1.GET("/messages/:task_id", s.getMessage)
	v1.GET("/messages/:task_id/events", s.listEvents)
	v1.DELETE("/messages/:task_id", s.cancelMessage)
	v1.GET("/batches/:batch_id", s.getBatch)
	v1.POST("/batches/:batch_id/pause", s.pauseBatch)
	v1.POST("/batches/:batch_id/resume", s.resumeBatch)
	v1.DELETE("/batches/:batch_id", s.cancelBatch)
	v1.GET("/quota", s.getQuota)
	v1.GET("/stats", s.getStats)
	v1.GET("/channels", s.listChannels)
	v1.GET("/channels/:id", s.getChannel)
	return e
}

// ipExtractor takes the peer address, or the X-Forwarded-For chain when the
// peer is a trusted proxy.
func (s *Server) ipExtractor() echo.IPExtractor { return clientip.Extractor(s.trusted) }

// logRequests writes one line per request. It never logs bodies, query
// strings (callback tokens travel there), receivers or secrets.
func (s *Server) logRequests(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		if err := next(c); err != nil {
			// Resolve the error now so the logged status is the one sent.
			c.Error(err)
		}
		// The route pattern, never the path: paths carry task ids.
		s.metrics.APIRequest(c.Request().Method, c.Path(), c.Response().Status, time.Since(start))
		fields := []zap.Field{
			zap.String("method", c.Request().Method),
			zap.String("path", c.Request().URL.Path),
			zap.Int("status", c.Response().Status),
			zap.Duration("latency", time.Since(start)),
		}
		if app := appFrom(c); app != nil {
			fields = append(fields, zap.String("app_id", app.ID))
		}
		s.log.Info("request", fields...)
		return nil
	}
}

// traceRequests starts the request's span, named after its route pattern
// (paths carry task ids), as the parent of the workflow it starts.
func (s *Server) traceRequests(next echo.HandlerFunc) echo.HandlerFunc {
	if !s.tracing.Enabled() {
		return next
	}
	tracer := s.tracing.Tracer()
	return func(c echo.Context) error {
		req := c.Request()
		route := c.Path()
		if route == "" {
			route = "unmatched"
		}
		ctx := s.tracing.Propagator.Extract(req.Context(), propagation.HeaderCarrier(req.Header))
		ctx, span := tracer.Start(ctx, req.Method+" "+route, trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(attribute.String("http.request.method", req.Method), attribute.String("http.route", route)))
		defer span.End()
		c.SetRequest(req.WithContext(ctx))
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		status := c.Response().Status
		span.SetAttributes(attribute.Int("http.response.status_code", status))
		if app := appFrom(c); app != nil {
			span.SetAttributes(tracing.AttrApp.String(app.ID))
		}
		if status >= 500 {
			span.SetStatus(codes.Error, http.StatusText(status))
		}
		return nil
	}
}

// recoverPanics turns a panic in a handler into a 500 with the internal
// error code; the panic value is logged by the error handler.
func (s *Server) recoverPanics(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if r := recover(); r != nil {
				if r == http.ErrAbortHandler { //nolint:errorlint // recover returns the panic value itself, and net/http panics with this very sentinel
					panic(r)
				}
				err = &Error{Status: http.StatusInternalServerError, Code: CodeInternal, Message: "internal error", Err: fmt.Errorf("panic: %v", r)}
			}
		}()
		return next(c)
	}
}
