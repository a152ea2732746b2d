package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"go.uber.org/zap"

	"github.com/heraldhq/herald/api/apiclient"
	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/workflows"
)

// Names of the benchmark's baseline workflow.
const (
	benchTaskQueue    = "herald-bench"
	benchWorkflowName = "herald.bench.baseline"
	benchSignal       = "done"
)

// Scenarios of `herald bench`.
const (
	benchScenarioSingle = "single"
	benchScenarioBatch  = "batch"
)

// benchOptions are the flags of `herald bench`.
type benchOptions struct {
	scenario    string
	count       int
	concurrency int
	warmup      int
	sample      int
	rounds      int
	keep        bool
	cpuProfile  string

	// The parts of the stack to use instead of the embedded ones.
	databaseURL         string
	redisURL            string
	temporalDatabaseURL string
	// watchPIDs are further processes whose peak RSS is reported.
	watchPIDs []int

	// Of the batch scenario.
	receivers    int
	receiptDelay time.Duration
	batchTimeout time.Duration
}

// Validate lists every bad flag.
func (o *benchOptions) Validate() error {
	var p []string
	if o.scenario != benchScenarioSingle && o.scenario != benchScenarioBatch {
		p = append(p, fmt.Sprintf("--scenario must be %s or %s", benchScenarioSingle, benchScenarioBatch))
	}
	if o.receivers < 1 || o.receivers > benchMaxReceivers {
		p = append(p, fmt.Sprintf("--receivers must be 1 to %d", benchMaxReceivers))
	}
	if o.receiptDelay < 0 {
		p = append(p, "--receipt-delay must not be negative")
	}
	if o.batchTimeout <= 0 {
		p = append(p, "--batch-timeout must be positive")
	}
	for _, pid := range o.watchPIDs {
		if pid <= 0 {
			p = append(p, fmt.Sprintf("--watch-pid %d is not a process id", pid))
		}
	}
	if o.count < 1 {
		p = append(p, "--count must be at least 1")
	}
	if o.concurrency < 1 {
		p = append(p, "--concurrency must be at least 1")
	}
	if o.warmup < 0 {
		p = append(p, "--warmup must not be negative")
	}
	if o.rounds < 1 {
		p = append(p, "--rounds must be at least 1")
	}
	if o.sample < 1 {
		p = append(p, "--sample must be at least 1")
	}
	if len(p) > 0 {
		return errors.New(strings.Join(p, "; "))
	}
	return nil
}

func newBenchCommand(stdout io.Writer) *cobra.Command {
	o := &benchOptions{}
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure Herald's send paths (single sends, batches) in one process",
		Long: `Start an embedded Herald (SQLite store, in-process Redis, in-process Temporal)
in a temporary directory and measure one scenario. --database-url,
--redis-url and --temporal-database-url put the store, Redis and the
embedded Temporal server's data on PostgreSQL and Redis instead, as in
production; the benchmark's apps, channels and accounts are then created
there under names of their own.

--scenario single (the default) measures, in the same run:

  baseline  a bare workflow: one local activity, then wait for a signal
  herald    signed POST /api/v1/messages -> send workflow -> sandbox provider
            -> receipt callback -> success, through an app and channel with
            no traffic settings
  traffic   the same through an app and channel with every traffic check
            on: daily and monthly quotas (app and channel), a message rate,
            receiver caps, allowed countries on the channel and its account,
            quiet hours (outside their window) and a channel expiry

The scenarios alternate for --rounds rounds so that all see the same
machine. Each send goes to a receiver of its own, so receiver caps count
as they would in production. For each scenario it prints sends per second
(the median round), p50/p99 accept latency (start call or HTTP request,
over all rounds), and state transitions and history events per send,
then the throughput ratios herald/baseline and traffic/herald (the cost
of the traffic checks). Last, the herald scenario runs once more with its
sends offered at half the rate it sustained (an open loop: each starts on
time whatever the others are doing) and prints the p50/p99 accept latency
away from saturation.

--scenario batch sends one batch of --receivers distinct mainland numbers
(signed POST /api/v1/messages/batch) through an SMS channel whose account
is an in-process Aliyun fake: it takes up to 100 numbers per SendBatchSms
request and reports every number delivered after --receipt-delay, in one
receipt push per request. (SendBatchSms carries no OutId, so a member's
receipt finds its task only once the worker has recorded the provider's
answer; single sends, which do carry one, get theirs after 100ms.) The
benchmark owns its stack, so it raises the batch and body limits to fit
the batch; the app has no message rate and the template no receiver caps. Before the batch, --count single sends
(after --warmup) through the same channel give the single-send rate of the
same run. It prints the accept time (the HTTP round trip of the batch
request), the completion rate (accepted receivers per second from the
request until every member is final, read from the store's counts by
status), the ratio of that rate to the single-send rate, state transitions
and history events per receiver (of the batch workflow's runs, or of the
members' own workflows for batches without one) and per single send.

Both scenarios end with the peak resident memory (VmHWM) of this process,
which runs the API, the worker, Temporal and the fakes, and of every
--watch-pid process (PostgreSQL, Redis, other Herald processes).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.Validate(); err != nil {
				return err
			}
			return runBench(cmd.Context(), stdout, cmd.ErrOrStderr(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.scenario, "scenario", benchScenarioSingle, "single (single sends against a bare workflow) or batch (one batch against single sends)")
	f.IntVar(&o.count, "count", 300, "messages per scenario (batch scenario: single sends measured before the batch)")
	f.IntVar(&o.concurrency, "concurrency", 30, "sends in flight at once")
	f.IntVar(&o.warmup, "warmup", 20, "unmeasured sends per scenario before measuring")
	f.IntVar(&o.sample, "sample", 50, "workflows described per scenario for transition and event counts")
	f.IntVar(&o.rounds, "rounds", 3, "alternating rounds of both scenarios; sends/s is the median round")
	f.BoolVar(&o.keep, "keep", false, "keep the temporary data directory")
	f.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the measured scenarios (batch scenario: of the batch, from its request until it is final) to this file")
	f.StringVar(&o.databaseURL, "database-url", "", "store the benchmark's data in this postgres:// database instead of a temporary SQLite file")
	f.StringVar(&o.redisURL, "redis-url", "", "use this Redis (redis://host:6379/0) instead of the in-process server")
	f.StringVar(&o.temporalDatabaseURL, "temporal-database-url", "", "keep the embedded Temporal server's data in this postgres:// database (visibility in <database>_visibility) instead of SQLite")
	f.IntSliceVar(&o.watchPIDs, "watch-pid", nil, "also report the peak RSS of this process (repeatable)")
	f.IntVar(&o.receivers, "receivers", 1000, "batch scenario: receivers of the batch (at most 100000)")
	f.DurationVar(&o.receiptDelay, "receipt-delay", 2*time.Second, "batch scenario: how long after a batch request the provider fake reports its numbers delivered (single sends: 100ms)")
	f.DurationVar(&o.batchTimeout, "batch-timeout", 2*time.Hour, "batch scenario: give up when the batch is not accepted and final within this time")
	return cmd
}

// benchResult is one scenario's figures.
type benchResult struct {
	name        string
	sends       int
	elapsed     time.Duration
	accept      []time.Duration
	transitions float64
	events      float64
}

func (r benchResult) perSecond() float64 { return float64(r.sends) / r.elapsed.Seconds() }

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(p * float64(len(s)-1))
	return s[i]
}

// benchMaxReceivers is the largest batch the benchmark sends: the most
// api.batch-max-size allows.
const benchMaxReceivers = 100_000

// benchBodyBytesPerReceiver is the request body limit the batch scenario
// sets per receiver: a receiver takes about 18 bytes of the body, but the
// API also bounds what a batch writes to the store by a multiple of the
// body limit, and each member row takes a few hundred bytes.
const benchBodyBytesPerReceiver = 256

func runBench(ctx context.Context, out, errOut io.Writer, o *benchOptions) error {
	dir, err := os.MkdirTemp("", "herald-bench-")
	if err != nil {
		return err
	}
	if !o.keep {
		defer os.RemoveAll(dir)
	}
	s, err := startBenchStack(ctx, errOut, o, dir)
	if s != nil {
		defer s.Close()
	}
	if err != nil {
		return err
	}
	run, err := randomHex(4)
	if err != nil {
		return err
	}
	if o.scenario == benchScenarioBatch {
		return runBatchBench(ctx, out, errOut, o, s, run)
	}
	return runSingleBench(ctx, out, o, s, run)
}

// startBenchStack starts the whole of Herald in this process, as dev mode
// does, on the embedded parts or the ones the flags name. The returned
// stack, when not nil, must be closed even on error.
func startBenchStack(ctx context.Context, errOut io.Writer, o *benchOptions, dir string) (*stack, error) {
	cfg := config.Defaults()
	cfg.DataDir = dir
	cfg.Database.URL = "sqlite://" + filepath.Join(dir, "herald.db")
	if o.databaseURL != "" {
		cfg.Database.URL = o.databaseURL
	}
	cfg.Redis.URL = o.redisURL
	cfg.Redis.EmbeddedAddr = "127.0.0.1:0"
	cfg.Temporal.DatabaseURL = o.temporalDatabaseURL
	cfg.Temporal.Port = 0
	cfg.Temporal.UIPort = 0
	cfg.HTTP.Addr = "127.0.0.1:0"
	cfg.HTTP.HealthAddr = ""
	cfg.API.DefaultRateLimit = 100000
	if o.scenario == benchScenarioBatch {
		// The benchmark owns this stack: its limits fit the batch it sends.
		cfg.API.BatchMaxSize = max(cfg.API.BatchMaxSize, o.receivers)
		cfg.API.MaxBodyBytes = max(cfg.API.MaxBodyBytes, int64(o.receivers)*benchBodyBytesPerReceiver)
	}
	cfg.Log.Level = "error"
	if err := cfg.Validate(config.ModeDev); err != nil {
		return nil, err
	}
	log, err := newLogger(cfg.Log, errOut)
	if err != nil {
		return nil, err
	}
	s := &stack{cfg: cfg, mode: config.ModeDev, log: log}
	if err := s.prepareDev(); err != nil {
		return s, err
	}
	err = s.startAll(ctx)
	return s, err
}

// benchSetting describes the parts of the stack a benchmark ran on.
func benchSetting(o *benchOptions) string {
	st, rd, tp := "SQLite store", "in-process Redis", "embedded Temporal on SQLite"
	if o.databaseURL != "" {
		st = "PostgreSQL store"
	}
	if o.redisURL != "" {
		rd = "Redis"
	}
	if o.temporalDatabaseURL != "" {
		tp = "embedded Temporal on PostgreSQL"
	}
	return st + ", " + rd + ", " + tp
}

// runSingleBench measures single sends against the bare workflow.
func runSingleBench(ctx context.Context, out io.Writer, o *benchOptions, s *stack, run string) error {
	w := worker.New(s.temporal, benchTaskQueue, worker.Options{})
	w.RegisterWorkflowWithOptions(baselineWorkflow, workflow.RegisterOptions{Name: benchWorkflowName})
	w.RegisterActivity(baselineStep)
	if err := w.Start(); err != nil {
		return fmt.Errorf("start bench worker: %w", err)
	}
	defer w.Stop()

	c, chID, err := benchFixtures(ctx, s, false, run)
	if err != nil {
		return err
	}
	tc, tchID, err := benchFixtures(ctx, s, true, run)
	if err != nil {
		return err
	}
	var receivers atomic.Int64
	fmt.Fprintf(out, "herald bench: %d rounds of %d sends per scenario, %d in flight, %s\n\n", o.rounds, o.count, o.concurrency, benchSetting(o))

	baseline := func(ctx context.Context) (string, time.Duration, func() error, error) {
		id := "bench-" + uuid.NewString()
		start := time.Now()
		run, err := s.temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: benchTaskQueue}, benchWorkflowName)
		accept := time.Since(start)
		if err != nil {
			return "", 0, nil, err
		}
		if err := s.temporal.SignalWorkflow(ctx, id, "", benchSignal, nil); err != nil {
			return "", 0, nil, err
		}
		return id, accept, func() error { return run.Get(ctx, nil) }, nil
	}
	heraldVia := func(c *apiclient.Client, chID int64) func(context.Context) (string, time.Duration, func() error, error) {
		return func(ctx context.Context) (string, time.Duration, func() error, error) {
			return benchSend(ctx, s, c, chID, fmt.Sprintf("+861380%07d", receivers.Add(1)))
		}
	}
	herald, traffic := heraldVia(c, chID), heraldVia(tc, tchID)

	stopProfile, err := startCPUProfile(o.cpuProfile)
	if err != nil {
		return err
	}
	defer stopProfile()
	scenarios := []struct {
		name string
		send func(context.Context) (string, time.Duration, func() error, error)
	}{{"baseline", baseline}, {"herald", herald}, {"traffic", traffic}}
	for _, sc := range scenarios {
		if _, err := benchScenario(ctx, s, sc.name, sc.send, o.warmup, o.concurrency, o.sample); err != nil {
			return fmt.Errorf("%s warm-up: %w", sc.name, err)
		}
	}
	rounds := make([][]benchResult, len(scenarios))
	for round := 0; round < o.rounds; round++ {
		for i, sc := range scenarios {
			r, err := benchScenario(ctx, s, sc.name, sc.send, o.count, o.concurrency, o.sample)
			if err != nil {
				return fmt.Errorf("%s: %w", sc.name, err)
			}
			rounds[i] = append(rounds[i], r)
		}
	}
	results := make([]benchResult, len(scenarios))
	for i := range scenarios {
		results[i] = medianRound(rounds[i])
	}

	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\tsends/s\tp50 accept\tp99 accept\ttransitions/send\tevents/send\t")
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%.1f\t%s\t%s\t%.1f\t%.1f\t\n", r.name, r.perSecond(),
			percentile(r.accept, 0.5).Round(100*time.Microsecond), percentile(r.accept, 0.99).Round(100*time.Microsecond),
			r.transitions, r.events)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(out, "\nratio herald/baseline (sends/s): %.2f\n", results[1].perSecond()/results[0].perSecond())
	fmt.Fprintf(out, "ratio traffic/herald (sends/s): %.2f; transitions/send added by the traffic checks: %+.1f\n",
		results[2].perSecond()/results[1].perSecond(), results[2].transitions-results[1].transitions)

	// Accept latency away from saturation: the herald scenario again, its
	// sends offered at half the rate it just sustained.
	half := results[1].perSecond() / 2
	r, err := benchPaced(ctx, s, "herald", herald, o.count, o.count, o.sample, time.Duration(float64(time.Second)/half))
	if err != nil {
		return fmt.Errorf("herald at half load: %w", err)
	}
	fmt.Fprintf(out, "herald at half its rate (%.1f sends/s offered, %d sends): p50 accept %s, p99 accept %s\n", half, o.count,
		percentile(r.accept, 0.5).Round(100*time.Microsecond), percentile(r.accept, 0.99).Round(100*time.Microsecond))
	return printPeakRSS(out, o.watchPIDs)
}

// medianRound returns the round with the median throughput, carrying the
// accept latencies of every round.
func medianRound(rs []benchResult) benchResult {
	sorted := append([]benchResult(nil), rs...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].perSecond() < sorted[j].perSecond() })
	m := sorted[len(sorted)/2]
	m.accept = nil
	for _, r := range rs {
		m.accept = append(m.accept, r.accept...)
	}
	return m
}

// benchScenario runs n sends, at most conc at once, waits for every one to
// finish, and describes up to sample of them.
func benchScenario(ctx context.Context, s *stack, name string, send func(context.Context) (string, time.Duration, func() error, error), n, conc, sample int) (benchResult, error) {
	return benchPaced(ctx, s, name, send, n, conc, sample, 0)
}

// benchPaced is benchScenario with the sends started every spacing (an
// open loop: a send starts on time whatever the ones before it are
// doing, within conc) when spacing is positive.
func benchPaced(ctx context.Context, s *stack, name string, send func(context.Context) (string, time.Duration, func() error, error), n, conc, sample int, spacing time.Duration) (benchResult, error) {
	r := benchResult{name: name, sends: n}
	if n == 0 {
		return r, nil
	}
	var (
		mu    sync.Mutex
		ids   []string
		first error
		wg    sync.WaitGroup
	)
	sem := make(chan struct{}, conc)
	start := time.Now()
	for i := 0; i < n; i++ {
		if spacing > 0 {
			if err := sleepCtx(ctx, time.Until(start.Add(time.Duration(i)*spacing))); err != nil {
				return r, err
			}
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			id, accept, wait, err := send(ctx)
			if err == nil {
				err = wait()
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if first == nil {
					first = err
				}
				return
			}
			ids = append(ids, id)
			r.accept = append(r.accept, accept)
		}()
	}
	wg.Wait()
	r.elapsed = time.Since(start)
	if first != nil {
		return r, first
	}
	if len(ids) > sample {
		ids = ids[:sample]
	}
	var transitions, events int64
	for _, id := range ids {
		d, err := s.temporal.DescribeWorkflowExecution(ctx, id, "")
		if err != nil {
			return r, fmt.Errorf("describe %s: %w", id, err)
		}
		transitions += d.WorkflowExecutionInfo.StateTransitionCount
		events += d.WorkflowExecutionInfo.HistoryLength
	}
	r.transitions = float64(transitions) / float64(len(ids))
	r.events = float64(events) / float64(len(ids))
	return r, nil
}

// benchSend sends one message through the API and returns its task id,
// the accept latency and a wait for its workflow to succeed.
func benchSend(ctx context.Context, s *stack, c *apiclient.Client, chID int64, receiver string) (string, time.Duration, func() error, error) {
	start := time.Now()
	res, err := c.SendMessage(ctx, apiclient.SendMessageRequest{
		ChannelID: chID, Receiver: receiver, TemplateParams: map[string]string{"code": "123456"},
	})
	accept := time.Since(start)
	if err != nil {
		return "", 0, nil, err
	}
	return res.TaskID, accept, func() error {
		var r workflows.SendResult
		if err := s.temporal.GetWorkflow(ctx, res.TaskID, "").Get(ctx, &r); err != nil {
			return err
		}
		if r.Status != workflows.StatusSuccess {
			return fmt.Errorf("task %s ended %s: %s", res.TaskID, r.Status, r.LastError)
		}
		return nil
	}, nil
}

// benchFixtures creates an app and a sandbox channel a herald scenario
// sends through, with no simulated latency. With traffic, every traffic
// check is on, set so that none refuses or holds a benchmark send: the
// cost measured is the checks', not their refusals'.
func benchFixtures(ctx context.Context, s *stack, traffic bool, run string) (*apiclient.Client, int64, error) {
	secret, err := randomHex(32)
	if err != nil {
		return nil, 0, err
	}
	// Names carry the run, so runs can share a PostgreSQL store.
	suffix := "-" + run
	if traffic {
		suffix += "-traffic"
	}
	app := &store.App{ID: "bench-app" + suffix, Name: "Benchmark" + suffix, Secret: secret, Enabled: true, RateLimitPerSecond: 100000}
	if traffic {
		app.MessagesPerMinute = 1_000_000
	}
	if err := s.db.CreateApp(ctx, app); err != nil {
		return nil, 0, err
	}
	tpl := &store.Template{Name: "bench" + suffix, ContentType: "text", Content: "Code {{code}}", Variables: []string{"code"}}
	if err := s.db.CreateTemplate(ctx, tpl); err != nil {
		return nil, 0, err
	}
	ch := &store.Channel{Name: "bench-sms" + suffix, Type: store.ChannelSMS, TemplateID: &tpl.ID, Enabled: true, ReceiptTimeoutSeconds: 120, MaxAttempts: 3}
	var countries []string
	if traffic {
		// Each receiver is new, so the usual one-time-code caps hold.
		ch.ReceiverCaps = &store.ReceiverCaps{PerMinute: 1, PerHour: 5, PerDay: 10}
		ch.AllowedCountries = []string{"CN"}
		countries = []string{"CN"}
		ch.DefaultTTLSeconds = 600
		// Quiet hours that start two hours from now: checked, never met.
		now := time.Now().UTC()
		ch.QuietHours = &store.QuietHours{Start: now.Add(2 * time.Hour).Format("15:04"), End: now.Add(3 * time.Hour).Format("15:04"), TimeZone: "UTC"}
	}
	if err := s.db.CreateChannel(ctx, ch); err != nil {
		return nil, 0, err
	}
	if traffic {
		for _, q := range []store.Quota{{AppID: app.ID, Daily: 10_000_000, Monthly: 100_000_000}, {AppID: app.ID, ChannelID: ch.ID, Daily: 10_000_000}} {
			if err := s.db.SetQuota(ctx, &q); err != nil {
				return nil, 0, err
			}
		}
	}
	if err := s.db.GrantChannel(ctx, app.ID, ch.ID); err != nil {
		return nil, 0, err
	}
	cfg, _ := json.Marshal(map[string]any{"latency_ms": 0, "receipt_delay_ms": 0})
	token, err := randomHex(16)
	if err != nil {
		return nil, 0, err
	}
	acc := &store.ProviderAccount{Name: "bench-sandbox" + suffix, Kind: "sandbox", Config: cfg, Weight: 1, Enabled: true, CallbackToken: token, Countries: countries}
	if err := s.db.CreateAccount(ctx, acc); err != nil {
		return nil, 0, err
	}
	if err := s.db.SetPoolMember(ctx, ch.ID, acc.ID, 1); err != nil {
		return nil, 0, err
	}
	s.log.Debug("bench fixtures ready", zap.Int64("channel", ch.ID))
	return apiclient.New(s.apiURL, app.ID, secret), ch.ID, nil
}

// baselineWorkflow is the bare shape of a send: one local activity, then a
// signal.
func baselineWorkflow(ctx workflow.Context) error {
	ctx = workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{StartToCloseTimeout: 10 * time.Second})
	if err := workflow.ExecuteLocalActivity(ctx, baselineStep).Get(ctx, nil); err != nil {
		return err
	}
	workflow.GetSignalChannel(ctx, benchSignal).Receive(ctx, nil)
	return nil
}

// baselineStep stands in for the bookkeeping a real send does.
func baselineStep(context.Context) error { return nil }

// sleepCtx waits d, or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// startCPUProfile profiles the process into path until stop is called; an
// empty path profiles nothing.
func startCPUProfile(path string) (stop func(), _ error) {
	if path == "" {
		return func() {}, nil
	}
	pf, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(pf); err != nil {
		pf.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		pf.Close()
	}, nil
}
