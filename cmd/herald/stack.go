package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/labstack/echo/v4"
	"github.com/redis/go-redis/v9"
	"go.temporal.io/sdk/client"
	sdkotel "go.temporal.io/sdk/contrib/opentelemetry"
	sdktally "go.temporal.io/sdk/contrib/tally"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/heraldhq/herald/activities"
	"github.com/heraldhq/herald/api"
	"github.com/heraldhq/herald/api/admin"
	"github.com/heraldhq/herald/api/admin/messages"
	"github.com/heraldhq/herald/api/admin/resources"
	"github.com/heraldhq/herald/api/admin/stats"
	"github.com/heraldhq/herald/api/admin/traffic"
	"github.com/heraldhq/herald/internal/accounttest"
	"github.com/heraldhq/herald/internal/admission"
	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/console"
	"github.com/heraldhq/herald/internal/devtemporal"
	"github.com/heraldhq/herald/internal/payloadcodec"
	"github.com/heraldhq/herald/internal/redrive"
	"github.com/heraldhq/herald/internal/retention"
	"github.com/heraldhq/herald/internal/tracing"
	"github.com/heraldhq/herald/providers"
	"github.com/heraldhq/herald/providers/aliyun"
	"github.com/heraldhq/herald/providers/dingtalk"
	"github.com/heraldhq/herald/providers/feishu"
	"github.com/heraldhq/herald/providers/sandbox"
	"github.com/heraldhq/herald/providers/smtp"
	"github.com/heraldhq/herald/providers/tencent"
	"github.com/heraldhq/herald/providers/webhook"
	"github.com/heraldhq/herald/providers/wechatwork"
	"github.com/heraldhq/herald/providers/zrwinfo"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/web"
	"github.com/heraldhq/herald/workflows"
)

// stack is one Herald process: whatever parts its mode runs, opened in
// order and closed in reverse.
type stack struct {
	cfg  config.Config
	mode config.Mode
	log  *zap.Logger

	closers []closer

	db *store.DB
	// outcomes counts send outcomes and receipts for the breakers.
	outcomes *activities.OutcomeAggregator
	// cached is db with configuration reads cached, for the send path.
	cached    *store.Cached
	redis     *redis.Client
	temporal  client.Client
	devServer *devtemporal.Server
	registry  *providers.Registry
	acts      *activities.Activities
	// receiverKeys keys receivers for counters and opt-outs.
	receiverKeys *store.ReceiverKeyer
	// apiAddr is the API listener's address once it listens.
	apiAddr string
	// masterKey is the decoded master key, for subkeys (admin tokens).
	masterKey []byte
	// codec seals every payload the Temporal client writes; set by
	// openTemporal.
	codec *payloadcodec.Codec

	// tel holds the process's metrics registries; nil until openCore.
	tel *telemetry
	// tracing is off (records nothing) unless an OTLP endpoint is set.
	tracing *tracing.Provider

	apiURL string
	// adminURL is the base URL of the operators' API and the console:
	// apiURL, or the admin listener's when admin.addr is set.
	adminURL string
	uiURL    string
	// opsURL is the operations listener's base URL, when it runs.
	opsURL string
}

type closer struct {
	name string
	fn   func() error
}

func (s *stack) onClose(name string, fn func() error) {
	s.closers = append(s.closers, closer{name, fn})
}

// Close shuts everything down in reverse order of opening.
func (s *stack) Close() error {
	var errs []error
	for i := len(s.closers) - 1; i >= 0; i-- {
		c := s.closers[i]
		if err := c.fn(); err != nil {
			s.log.Warn("shutdown step failed", zap.String("step", c.name), zap.Error(err))
			errs = append(errs, fmt.Errorf("close %s: %w", c.name, err))
		}
	}
	s.closers = nil
	_ = s.log.Sync()
	return errors.Join(errs...)
}

// newLogger builds the process logger. Herald never logs receivers,
// contents or secrets, whatever the level.
func newLogger(cfg config.Log, out io.Writer) (*zap.Logger, error) {
	level, err := zapcore.ParseLevel(cfg.Level)
	if err != nil {
		return nil, fmt.Errorf("log level: %w", err)
	}
	encCfg := zap.NewProductionEncoderConfig()
	encCfg.EncodeTime = zapcore.ISO8601TimeEncoder
	var enc zapcore.Encoder
	if cfg.Format == "json" {
		enc = zapcore.NewJSONEncoder(encCfg)
	} else {
		encCfg.EncodeLevel = zapcore.CapitalLevelEncoder
		enc = zapcore.NewConsoleEncoder(encCfg)
	}
	return zap.New(zapcore.NewCore(enc, zapcore.AddSync(out), level)), nil
}

// prepareDev fills in dev mode's embedded defaults: the data directory, a
// master key kept in it, and the SQLite store.
func (s *stack) prepareDev() error {
	if err := os.MkdirAll(s.cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	if s.cfg.MasterKey == "" {
		key, err := devMasterKey(filepath.Join(s.cfg.DataDir, "master.key"))
		if err != nil {
			return err
		}
		s.cfg.MasterKey = key
	}
	if s.cfg.Database.URL == "" {
		abs, err := filepath.Abs(filepath.Join(s.cfg.DataDir, "herald.db"))
		if err != nil {
			return fmt.Errorf("data dir: %w", err)
		}
		s.cfg.Database.URL = "sqlite://" + abs
	}
	return nil
}

// devMasterKey reads the dev master key from path, creating it on first
// start so the dev store's secrets survive restarts.
func devMasterKey(path string) (string, error) {
	raw, err := os.ReadFile(path)
	if err == nil {
		return strings.TrimSpace(string(raw)), nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("read dev master key: %w", err)
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return "", fmt.Errorf("generate dev master key: %w", err)
	}
	enc := base64.StdEncoding.EncodeToString(key)
	if err := os.WriteFile(path, []byte(enc+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write dev master key: %w", err)
	}
	return enc, nil
}

// schemaPolicy says what opening the store does about migrations.
type schemaPolicy int

const (
	// schemaMigrate applies pending migrations (dev mode).
	schemaMigrate schemaPolicy = iota
	// schemaRequireCurrent refuses a schema with pending migrations, so a
	// new binary never runs on an old schema (serve, worker).
	schemaRequireCurrent
	// schemaAsIs leaves the schema alone (the migrate command).
	schemaAsIs
)

// openStore connects to the store and applies policy to its schema.
func (s *stack) openStore(ctx context.Context, policy schemaPolicy) error {
	key, err := store.ParseMasterKey(s.cfg.MasterKey)
	if err != nil {
		return fmt.Errorf("master key: %w", err)
	}
	var previous [][]byte
	for i, k := range s.cfg.PreviousMasterKeys {
		pk, err := store.ParseMasterKey(k)
		if err != nil {
			return fmt.Errorf("previous master key %d: %w", i+1, err)
		}
		previous = append(previous, pk)
	}
	cipher, err := store.NewCipher(key, previous...)
	if err != nil {
		return fmt.Errorf("master key: %w", err)
	}
	s.receiverKeys = store.NewReceiverKeyer(key)
	if s.cfg.ReceiverIndexKey != "" {
		ik, err := store.ParseMasterKey(s.cfg.ReceiverIndexKey)
		if err != nil {
			return fmt.Errorf("receiver index key: %w", err)
		}
		s.receiverKeys = store.NewIndexReceiverKeyer(ik)
	}
	db, err := store.Open(ctx, store.Options{URL: s.cfg.Database.URL, Cipher: cipher, Logger: s.log, ReceiverKeys: s.receiverKeys})
	if err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	s.db = db
	s.masterKey = key
	s.cached = store.NewCached(db, store.DefaultCacheTTL)
	s.onClose("store", db.Close)
	switch policy {
	case schemaAsIs:
		return nil
	case schemaMigrate:
		if _, err := db.MigrateUp(ctx); err != nil {
			return fmt.Errorf("migrate store: %w", err)
		}
		return s.sealLegacyTokens(ctx)
	}
	states, err := db.MigrationStatus(ctx)
	if err != nil {
		return fmt.Errorf("read migration status: %w", err)
	}
	var pending []string
	for _, st := range states {
		if !st.Applied {
			pending = append(pending, st.Name)
		}
	}
	if len(pending) > 0 {
		return fmt.Errorf("the database schema is not up to date (%d migrations pending: %s); run `herald migrate up` first", len(pending), strings.Join(pending, ", "))
	}
	return s.sealLegacyTokens(ctx)
}

// sealLegacyTokens encrypts callback tokens an earlier version stored in
// plain text, now that the store is open with its master key.
func (s *stack) sealLegacyTokens(ctx context.Context) error {
	n, err := s.db.SealLegacyCallbackTokens(ctx)
	if err != nil {
		return fmt.Errorf("seal legacy callback tokens: %w", err)
	}
	if n > 0 {
		s.log.Info("sealed callback tokens stored in plain text", zap.Int("accounts", n))
	}
	return nil
}

// openRedis connects to Redis, or in dev mode without a URL starts an
// in-process Redis-protocol server so the same client code runs.
func (s *stack) openRedis(ctx context.Context) error {
	url := s.cfg.Redis.URL
	if url == "" && s.mode == config.ModeDev {
		mr := miniredis.NewMiniRedis()
		// Keys expire by the clock, as in Redis: without it a key's TTL
		// only runs down when told to, and windows such as the
		// failed-authentication lockout would never end.
		mr.ClockTTL(true)
		if err := mr.StartAddr(s.cfg.Redis.EmbeddedAddr); err != nil {
			return fmt.Errorf("start embedded redis on %s: %w", s.cfg.Redis.EmbeddedAddr, err)
		}
		s.onClose("embedded redis", func() error { mr.Close(); return nil })
		url = "redis://" + mr.Addr()
	}
	opts, err := redis.ParseURL(url)
	if err != nil {
		return fmt.Errorf("redis url: %w", err)
	}
	rdb := redis.NewClient(opts)
	s.onClose("redis", rdb.Close)
	pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := rdb.Ping(pingCtx).Err(); err != nil {
		return fmt.Errorf("connect to redis: %w", err)
	}
	s.redis = rdb
	return nil
}

// openTemporal dials Temporal, or in dev mode without an address starts
// the in-process server (and its Web UI) first.
func (s *stack) openTemporal(ctx context.Context) error {
	codec, err := s.payloadCodec()
	if err != nil {
		return err
	}
	s.codec = codec
	addr := s.cfg.Temporal.Address
	ns := s.cfg.Temporal.Namespace
	if addr == "" && s.mode == config.ModeDev {
		uiPort := s.cfg.Temporal.UIPort
		if uiPort == 0 {
			uiPort = -1
		}
		dataDir := ""
		if s.cfg.DataDir != "" && s.cfg.Temporal.DatabaseURL == "" {
			dataDir = filepath.Join(s.cfg.DataDir, "temporal")
		}
		srv, err := devtemporal.Start(ctx, devtemporal.Options{
			DataDir:          dataDir,
			DatabaseURL:      s.cfg.Temporal.DatabaseURL,
			FrontendPort:     s.cfg.Temporal.Port,
			UIPort:           uiPort,
			Namespace:        ns,
			Retention:        s.cfg.Temporal.Retention,
			SearchAttributes: workflows.SearchAttributes(),
			CodecEndpoint:    s.codecEndpoint(),
			Logger:           s.log.Named("temporal"),
		})
		if err != nil {
			return fmt.Errorf("start embedded temporal: %w", err)
		}
		s.devServer = srv
		s.onClose("embedded temporal", srv.Stop)
		addr = srv.FrontendAddress()
		s.uiURL = srv.UIAddress()
	}
	opts := client.Options{
		HostPort:  addr,
		Namespace: ns,
		Logger:    sdklog.NewStructuredLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))),
		// Receivers, parameters, contents and provider error texts reach
		// Temporal only as ciphertext.
		DataConverter:    payloadcodec.DataConverter(codec),
		FailureConverter: payloadcodec.FailureConverter(codec),
	}
	if s.tel != nil {
		opts.MetricsHandler = sdktally.NewMetricsHandler(s.tel.sdkScope)
	}
	if s.tracing != nil && s.tracing.Enabled() {
		// Carries the API request's trace into the workflow and its
		// activities through workflow headers.
		ti, err := sdkotel.NewTracingInterceptor(sdkotel.TracerOptions{Tracer: s.tracing.Tracer(), TextMapPropagator: s.tracing.Propagator})
		if err != nil {
			return fmt.Errorf("temporal tracing interceptor: %w", err)
		}
		opts.Interceptors = append(opts.Interceptors, ti)
	}
	if s.devServer != nil {
		// Compressing gRPC over loopback only burns CPU the server needs.
		opts.ConnectionOptions.GrpcCompression = &client.GrpcCompressionNone{}
	}
	c, err := client.DialContext(ctx, opts)
	if err != nil {
		return fmt.Errorf("connect to temporal at %s: %w", addr, err)
	}
	s.temporal = c
	s.onClose("temporal client", func() error { c.Close(); return nil })
	return nil
}

// payloadCodec builds the Temporal payload codec from the master key (the
// store must be open) and the previous master keys.
func (s *stack) payloadCodec() (*payloadcodec.Codec, error) {
	if s.masterKey == nil {
		return nil, errors.New("temporal payload codec: the master key is not loaded (open the store first)")
	}
	previous := make([][]byte, 0, len(s.cfg.PreviousMasterKeys))
	for i, k := range s.cfg.PreviousMasterKeys {
		key, err := store.ParseMasterKey(k)
		if err != nil {
			return nil, fmt.Errorf("previous-master-keys: key %d: %w", i+1, err)
		}
		previous = append(previous, key)
	}
	codec, err := payloadcodec.New(s.masterKey, previous...)
	if err != nil {
		return nil, fmt.Errorf("temporal payload codec: %w", err)
	}
	return codec, nil
}

// openCore opens what every role needs: the store (with policy for its
// schema), Redis, Temporal and the providers.
func (s *stack) openCore(ctx context.Context, policy schemaPolicy) error {
	if err := s.openTelemetry(); err != nil {
		return err
	}
	if err := s.openTracing(ctx); err != nil {
		return err
	}
	if err := s.openStore(ctx, policy); err != nil {
		return err
	}
	if err := s.openRedis(ctx); err != nil {
		return err
	}
	if err := s.openTemporal(ctx); err != nil {
		return err
	}
	s.buildProviders()
	return nil
}

// buildProviders registers every provider kind this build supports.
func (s *stack) buildProviders() {
	sb := sandbox.New(sandbox.WithLogger(s.log.Named("sandbox")))
	s.onClose("sandbox provider", sb.Close)
	s.registry = providers.NewRegistry(
		sb,
		tencent.New(),
		aliyun.New(),
		zrwinfo.New(),
		smtp.New(),
		wechatwork.New(),
		wechatwork.NewRobot(),
		dingtalk.New(),
		feishu.New(),
		webhook.New(),
	)
}

// publicURL is the base URL providers use to reach the API.
func (s *stack) publicURL(listenAddr string) string {
	if s.cfg.HTTP.PublicURL != "" {
		return strings.TrimRight(s.cfg.HTTP.PublicURL, "/")
	}
	return listenerURL(listenAddr)
}

// listenAPI binds the API address early, so the public URL (which goes
// into receipt callback URLs) is known before the worker starts.
func (s *stack) listenAPI() (net.Listener, error) {
	ln, err := net.Listen("tcp", s.cfg.HTTP.Addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", s.cfg.HTTP.Addr, err)
	}
	s.apiAddr = ln.Addr().String()
	s.apiURL = s.publicURL(s.apiAddr)
	return ln, nil
}

// codecEndpoint is where a browser on this machine reaches the API's
// /codec, for the embedded Temporal UI: the API's loopback address, which
// is also where the operator signs in to the console, so the browser has
// the codec cookie for it. Empty before the API listens.
func (s *stack) codecEndpoint() string {
	if s.apiAddr == "" {
		return ""
	}
	host, port, err := net.SplitHostPort(s.apiAddr)
	if err != nil {
		return ""
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + admin.CodecPrefix
}

// startWorker registers the workflow and activities and starts polling
// Herald's queue, plus one queue per provider kind when configured so.
func (s *stack) startWorker(callbackBase string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	deployment, err := s.db.DeploymentID(ctx)
	cancel()
	if err != nil {
		return err
	}
	s.acts = activities.New(activities.Config{
		CallbackBaseURL:    callbackBase,
		AlertWebhookURL:    s.cfg.Alerts.WebhookURL,
		AlertWebhookSecret: s.cfg.Alerts.WebhookSecret,
		PerKindSendQueues:  s.cfg.Worker.PerKindSendQueues,
	}, s.cached, s.registry, s.log.Named("activities"), activities.WithPacer(activities.NewRedisPacer(s.redis, deployment)),
		activities.WithBreakers(s.cached, s.outcomeReports()), activities.WithMetrics(s.recorder()),
		activities.WithBounces(s.db, s.receiverKeys),
		activities.WithBatches(s.db),
		activities.WithTracer(s.tracer()))

	opts := worker.Options{WorkerStopTimeout: s.cfg.Worker.StopTimeout}
	main := worker.New(s.temporal, workflows.TaskQueue, opts)
	main.RegisterWorkflowWithOptions(workflows.SendWorkflow, workflow.RegisterOptions{Name: workflows.SendWorkflowName})
	main.RegisterWorkflowWithOptions(workflows.BreakerWorkflow, workflow.RegisterOptions{Name: workflows.BreakerWorkflowName})
	main.RegisterWorkflowWithOptions(workflows.BatchWorkflow, workflow.RegisterOptions{Name: workflows.BatchWorkflowName})
	main.RegisterActivity(s.acts)
	// Re-drives resend through the store (s.db, not the cache: a resend
	// is a write) and start send workflows like the API does.
	main.RegisterWorkflowWithOptions(workflows.RedriveWorkflow, workflow.RegisterOptions{Name: workflows.RedriveWorkflowName})
	(&redrive.Activities{DB: s.db, Engine: workflows.NewClient(s.temporal), Log: s.log.Named("redrive")}).Register(main)
	main.RegisterWorkflowWithOptions(workflows.RetentionWorkflow, workflow.RegisterOptions{Name: workflows.RetentionWorkflowName})
	(&retention.Activities{Store: s.db, Log: s.log.Named("retention")}).Register(main)
	// Batch chunks run on a queue of their own with few slots: a running
	// campaign cannot take the slots verification codes need, however
	// many chunks it has waiting.
	bulkOpts := opts
	bulkOpts.MaxConcurrentActivityExecutionSize = s.cfg.Worker.BulkSlots
	bulk := worker.New(s.temporal, workflows.BatchTaskQueue, bulkOpts)
	bulk.RegisterActivity(s.acts)
	workers := []worker.Worker{main, bulk}
	if s.cfg.Worker.PerKindSendQueues {
		for _, kind := range s.registry.Kinds() {
			w := worker.New(s.temporal, workflows.SendTaskQueue(kind), opts)
			w.RegisterActivity(s.acts)
			workers = append(workers, w)
		}
	}
	for i, w := range workers {
		if err := w.Start(); err != nil {
			for _, started := range workers[:i] {
				started.Stop()
			}
			return fmt.Errorf("start worker: %w", err)
		}
	}
	s.onClose("workers", func() error {
		for _, w := range workers {
			w.Stop()
		}
		return nil
	})
	return s.ensureRetentionSchedule()
}

// ensureRetentionSchedule creates the schedule that runs retention, or
// updates it to this worker's settings.
func (s *stack) ensureRetentionSchedule() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return retention.EnsureSchedule(ctx, s.temporal.ScheduleClient(), s.cfg.Worker.RetentionInterval,
		workflows.RetentionInput{BatchSize: s.cfg.Worker.RetentionBatchSize})
}

// breakerReportInterval is how often a worker tells each account's breaker
// what its sends through the account did.
const breakerReportInterval = time.Second

// outcomeReports returns the aggregator the send activity and the receipt
// callbacks count into, starting on first use the loop that signals the
// counts to the accounts' breaker workflows; one per process, whatever
// roles it runs. The loop's last flush runs at close.
func (s *stack) outcomeReports() *activities.OutcomeAggregator {
	if s.outcomes != nil {
		return s.outcomes
	}
	agg := activities.NewOutcomeAggregator()
	s.outcomes = agg
	engine := workflows.NewClient(s.temporal)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		agg.Run(ctx, breakerReportInterval, engine.ReportBreakerOutcomes, s.log.Named("breakers"))
	}()
	s.onClose("breaker reports", func() error { cancel(); <-done; return nil })
	return agg
}

// startSweeper starts the loop that finds accepted messages whose workflow
// never started (the API process died between the two) and starts them,
// then reconciles the quota ledger and compacts the statistics rollups.
func (s *stack) startSweeper(ctx context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	engine := workflows.NewClient(s.temporal)
	go func() {
		defer close(done)
		t := time.NewTicker(s.cfg.Worker.SweepInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				s.sweep(ctx, engine)
				s.reconcileQuotas(ctx)
				s.compactStats(ctx)
			}
		}
	}()
	s.onClose("sweeper", func() error { cancel(); <-done; return nil })
}

func (s *stack) sweep(ctx context.Context, engine *workflows.Client) {
	now := time.Now()
	stale, err := s.db.ListStaleMessages(ctx, workflows.StatusPending, now.Add(-2*s.cfg.Worker.SweepInterval), 500)
	if err != nil {
		s.log.Warn("sweep: list pending messages", zap.Error(err))
		return
	}
	started := 0
	for _, m := range stale {
		in := workflows.SendInput{TaskID: m.TaskID, AppID: m.AppID, ChannelID: m.ChannelID}
		if m.ScheduledAt != nil {
			if m.ScheduledAt.After(now) {
				continue
			}
			in.ScheduledAt = *m.ScheduledAt
		}
		if m.ExpiresAt != nil {
			in.ExpiresAt = *m.ExpiresAt
		}
		if err := engine.StartSend(ctx, in); err != nil {
			s.log.Warn("sweep: start workflow", zap.String("task_id", m.TaskID), zap.Error(err))
			continue
		}
		started++
	}
	if started > 0 {
		s.log.Info("sweep: ensured workflows of pending messages", zap.Int("count", started))
	}
	s.sweepBatches(ctx, engine, now.Add(-2*s.cfg.Worker.SweepInterval))
}

// sweepBatches starts the workflow of every running or paused batch
// accepted before olderThan. The members of a batch are its workflow's to
// send (ListStaleMessages leaves them out), so a batch whose start was
// lost, the accepting process having stopped between storing it and
// starting it, would otherwise never be sent. Starting a batch whose
// workflow runs, or has finished, changes nothing.
func (s *stack) sweepBatches(ctx context.Context, engine *workflows.Client, olderThan time.Time) {
	const page = 500
	after := ""
	for {
		bs, err := s.db.ListBatchesToStart(ctx, olderThan, after, page)
		if err != nil {
			s.log.Warn("sweep: list running batches", zap.Error(err))
			return
		}
		for _, b := range bs {
			if err := engine.StartBatch(ctx, batchInput(b)); err != nil {
				s.log.Warn("sweep: start batch workflow", zap.String("batch_id", b.ID), zap.Error(err))
			}
		}
		if len(bs) < page {
			return
		}
		after = bs[len(bs)-1].ID
	}
}

// batchInput is the start input of a stored batch's workflow.
func batchInput(b store.BatchToStart) workflows.BatchInput {
	in := workflows.BatchInput{BatchID: b.ID, AppID: b.AppID, ChannelID: b.ChannelID, Members: b.SuccessCount,
		Paused: b.Status == store.BatchPaused}
	if b.ScheduledAt != nil {
		in.ScheduledAt = *b.ScheduledAt
	}
	if b.ExpiresAt != nil {
		in.ExpiresAt = *b.ExpiresAt
	}
	return in
}

// newHTTPServer bounds how long a client may hold a connection without
// completing its request: headers, then the whole request, body included,
// so a client trickling its body cannot keep a connection (and the
// goroutine reading it) open. Idle keep-alive connections are closed too.
// There is deliberately no WriteTimeout: it would cut off streaming
// responses (exports, live tails), which set their own deadline per
// request with http.ResponseController instead.
func newHTTPServer(h http.Handler, cfg config.HTTP) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout,
		IdleTimeout:       cfg.IdleTimeout,
	}
}

// authFailureLimit maps the setting, where 0 disables the per-IP limit, to
// the api's, where 0 means the default and a negative value disables it.
func authFailureLimit(n int) int {
	if n == 0 {
		return -1
	}
	return n
}

// buildAdmin builds the operators' API. Its client IPs follow the client
// API's trusted proxies.
func (s *stack) buildAdmin() (*admin.Server, error) {
	adm, err := admin.New(admin.Config{
		MasterKey:      s.masterKey,
		TrustedProxies: s.cfg.API.TrustedProxies,
		AccessTokenTTL: s.cfg.Admin.AccessTokenTTL,
		RefreshIdleTTL: s.cfg.Admin.SessionIdleTimeout,
		RefreshMaxTTL:  s.cfg.Admin.SessionMaxAge,
		CodecOrigins:   s.codecOrigins(),
	}, admin.Deps{
		Store:  s.db,
		Logger: s.log.Named("admin"),
		Routes: s.adminRoutes(),
		Codec:  s.codec,
		OpenAPIFragments: [][]byte{
			resources.OpenAPIFragment(), messages.OpenAPI, stats.OpenAPI, traffic.OpenAPI,
		},
	})
	if err != nil {
		return nil, fmt.Errorf("build admin api: %w", err)
	}
	return adm, nil
}

// temporalUIURL is the Temporal Web UI operators use: the configured one,
// else dev mode's embedded one.
func (s *stack) temporalUIURL() string {
	if s.cfg.Admin.TemporalUIURL != "" {
		return s.cfg.Admin.TemporalUIURL
	}
	return s.uiURL
}

// codecOrigins are the browser origins allowed to call /codec: the
// Temporal UI's and the configured extra ones.
func (s *stack) codecOrigins() []string {
	var out []string
	if u, err := url.Parse(s.temporalUIURL()); err == nil && u.Scheme != "" && u.Host != "" {
		out = append(out, u.Scheme+"://"+u.Host)
	}
	return append(out, s.cfg.Admin.CodecOrigins...)
}

// adminRoutes are the route groups of the operators' API beyond users,
// sessions and the audit log; each registers on the authenticated
// /admin/api/v1 group and declares a role on every route.
func (s *stack) adminRoutes() []func(g *echo.Group) {
	engine := workflows.NewClient(s.temporal)
	uiURL := s.temporalUIURL()
	return []func(g *echo.Group){
		// First, so it wraps every route registered after it.
		func(g *echo.Group) { g.Use(invalidateAfterWrite(s.cached)) },
		func(g *echo.Group) {
			resources.Register(g, resources.Deps{
				Store: s.db, Providers: s.registry, PublicURL: s.cfg.HTTP.PublicURL,
				AccountTester: accounttest.New(accounttest.Deps{Store: s.db, Engine: engine, Log: s.log.Named("account-test")}),
			})
		},
		func(g *echo.Group) {
			messages.Register(g, messages.Deps{
				Store: s.db, Engine: engine, Redrives: engine, Keys: s.receiverKeys,
				TemporalUIURL: uiURL, Namespace: s.cfg.Temporal.Namespace, Logger: s.log,
			})
		},
		func(g *echo.Group) { stats.Register(g, stats.Deps{Store: s.db}) },
		func(g *echo.Group) { traffic.Register(g, traffic.Deps{Store: s.db, Engine: engine}) },
	}
}

// invalidateAfterWrite drops the send path's configuration cache after
// every write through the operators' API, whether it succeeded or not (a
// failed write may still have changed rows): the worker in this process
// must not send through a pool it was just told changed — a re-drive
// forced onto an account added to the pool a moment ago would otherwise
// fail its resends. Other processes see the change within the cache TTL.
func invalidateAfterWrite(c *store.Cached) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(ctx echo.Context) error {
			err := next(ctx)
			switch ctx.Request().Method {
			case http.MethodGet, http.MethodHead, http.MethodOptions:
			default:
				c.Invalidate()
			}
			return err
		}
	}
}

// serveHTTP serves h on ln until Close, under the server settings every
// Herald listener of clients shares.
func (s *stack) serveHTTP(name string, ln net.Listener, h http.Handler) {
	hs := newHTTPServer(h, s.cfg.HTTP)
	errc := make(chan error, 1)
	go func() {
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- err
		}
		close(errc)
	}()
	s.onClose(name, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err := hs.Shutdown(ctx)
		if serveErr := <-errc; serveErr != nil {
			err = errors.Join(err, serveErr)
		}
		return err
	})
}

// listenerURL is the http URL of a listener's address, with a wildcard
// host replaced by the loopback address.
func listenerURL(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://" + addr
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// serveAPI serves the API on ln, and the operators' API and the console
// on ln or the admin listener, until Close.
func (s *stack) serveAPI(ln net.Listener) error {
	admit, err := admission.New(admission.Config{}, admission.Deps{
		Store: s.db, Redis: s.redis, Keys: s.receiverKeys, Providers: s.registry,
	})
	if err != nil {
		return fmt.Errorf("build admission: %w", err)
	}
	srv, err := api.New(api.Config{
		MaxBodyBytes:      s.cfg.API.MaxBodyBytes,
		TimestampWindow:   s.cfg.API.TimestampWindow,
		DefaultRateLimit:  s.cfg.API.DefaultRateLimit,
		BatchMaxSize:      s.cfg.API.BatchMaxSize,
		BatchMaxBodyBytes: s.cfg.API.BatchMaxBodyBytes,
		MaxScheduleAhead:  s.cfg.API.MaxScheduleAhead,
		TrustedProxies:    s.cfg.API.TrustedProxies,

		DefaultMessagesPerMinute: s.cfg.API.DefaultMessagesPerMinute,
		AuthFailureLimit:         authFailureLimit(s.cfg.API.AuthFailureLimit),
		AuthFailureWindow:        s.cfg.API.AuthFailureWindow,
		// Attachments travel base64-encoded: 3 bytes in 4 of the body.
		MaxAttachmentBytes: min(s.cfg.API.MaxAttachmentBytes, s.cfg.API.MaxBodyBytes*3/4),
	}, api.Deps{
		Store:     s.cached,
		Engine:    workflows.NewClient(s.temporal),
		Admission: admit,
		Redis:     s.redis,
		Providers: s.registry,
		Logger:    s.log.Named("api"),
		Receipts:  s.outcomeReports(),
		Metrics:   s.recorder(),
		Tracing:   s.tracing,
	})
	if err != nil {
		return fmt.Errorf("build api: %w", err)
	}
	adm, err := s.buildAdmin()
	if err != nil {
		return err
	}
	// The operators' API and the console share a listener: the client
	// API's, or one of their own (admin.addr) that can stay on a private
	// network while clients and providers reach the API.
	operators := http.NewServeMux()
	operators.Handle(admin.Prefix+"/", adm.Handler())
	// The codec server sits beside the operators' API: the cookie that
	// lets the Temporal UI call it is set by that API's sign-in.
	operators.Handle(admin.CodecPrefix+"/", adm.Handler())
	console.Mount(operators, web.Dist())
	mux := http.NewServeMux()
	mux.Handle("/", srv.Handler())
	s.adminURL = s.apiURL
	if s.cfg.Admin.Addr == "" {
		mux.Handle(admin.Prefix+"/", operators)
		mux.Handle(admin.CodecPrefix+"/", operators)
		mux.Handle(console.Prefix, operators)
		mux.Handle(strings.TrimSuffix(console.Prefix, "/"), operators)
	} else {
		adminLn, err := net.Listen("tcp", s.cfg.Admin.Addr)
		if err != nil {
			return fmt.Errorf("listen for the operators' API on %s (admin.addr): %w", s.cfg.Admin.Addr, err)
		}
		// Not http.public-url: that names the API listener.
		s.adminURL = listenerURL(adminLn.Addr().String())
		s.serveHTTP("operators' api", adminLn, operators)
	}
	s.serveHTTP("api", ln, mux)
	return nil
}
