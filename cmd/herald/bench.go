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

// benchOptions are the flags of `herald bench`.
type benchOptions struct {
	count       int
	concurrency int
	warmup      int
	sample      int
	rounds      int
	keep        bool
	cpuProfile  string
}

// Validate lists every bad flag.
func (o *benchOptions) Validate() error {
	var p []string
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
		Short: "Measure Herald's send path against a bare Temporal workflow in one process",
		Long: `Start an embedded Herald (SQLite store, in-process Redis, in-process Temporal)
in a temporary directory and measure, in the same run:

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
of the traffic checks).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.Validate(); err != nil {
				return err
			}
			return runBench(cmd.Context(), stdout, cmd.ErrOrStderr(), o)
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.count, "count", 300, "messages per scenario")
	f.IntVar(&o.concurrency, "concurrency", 30, "sends in flight at once")
	f.IntVar(&o.warmup, "warmup", 20, "unmeasured sends per scenario before measuring")
	f.IntVar(&o.sample, "sample", 50, "workflows described per scenario for transition and event counts")
	f.IntVar(&o.rounds, "rounds", 3, "alternating rounds of both scenarios; sends/s is the median round")
	f.BoolVar(&o.keep, "keep", false, "keep the temporary data directory")
	f.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the measured scenarios to this file")
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

func runBench(ctx context.Context, out, errOut io.Writer, o *benchOptions) error {
	dir, err := os.MkdirTemp("", "herald-bench-")
	if err != nil {
		return err
	}
	if !o.keep {
		defer os.RemoveAll(dir)
	}
	cfg := config.Defaults()
	cfg.DataDir = dir
	cfg.Database.URL = "sqlite://" + filepath.Join(dir, "herald.db")
	cfg.Redis.EmbeddedAddr = "127.0.0.1:0"
	cfg.Temporal.Port = 0
	cfg.Temporal.UIPort = 0
	cfg.HTTP.Addr = "127.0.0.1:0"
	cfg.HTTP.HealthAddr = ""
	cfg.API.DefaultRateLimit = 100000
	cfg.Log.Level = "error"
	if err := cfg.Validate(config.ModeDev); err != nil {
		return err
	}
	log, err := newLogger(cfg.Log, errOut)
	if err != nil {
		return err
	}
	s := &stack{cfg: cfg, mode: config.ModeDev, log: log}
	defer s.Close()
	if err := s.prepareDev(); err != nil {
		return err
	}
	if err := s.startAll(ctx); err != nil {
		return err
	}

	w := worker.New(s.temporal, benchTaskQueue, worker.Options{})
	w.RegisterWorkflowWithOptions(baselineWorkflow, workflow.RegisterOptions{Name: benchWorkflowName})
	w.RegisterActivity(baselineStep)
	if err := w.Start(); err != nil {
		return fmt.Errorf("start bench worker: %w", err)
	}
	defer w.Stop()

	c, chID, err := benchFixtures(ctx, s, false)
	if err != nil {
		return err
	}
	tc, tchID, err := benchFixtures(ctx, s, true)
	if err != nil {
		return err
	}
	var receivers atomic.Int64
	fmt.Fprintf(out, "herald bench: %d rounds of %d sends per scenario, %d in flight, embedded Temporal on SQLite\n\n", o.rounds, o.count, o.concurrency)

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

	if o.cpuProfile != "" {
		pf, err := os.Create(o.cpuProfile)
		if err != nil {
			return err
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
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
	return nil
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
func benchFixtures(ctx context.Context, s *stack, traffic bool) (*apiclient.Client, int64, error) {
	secret, err := randomHex(32)
	if err != nil {
		return nil, 0, err
	}
	suffix := ""
	if traffic {
		suffix = "-traffic"
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
