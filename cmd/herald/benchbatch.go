package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sort"
	"strings"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"go.temporal.io/api/workflowservice/v1"

	"github.com/heraldhq/herald/activities"
	"github.com/heraldhq/herald/api/apiclient"
	"github.com/heraldhq/herald/providers/aliyun/aliyunfake"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/workflows"
)

// The batch scenario's template, as Herald and the provider fake know it.
const (
	benchSignName     = "Herald"
	benchTemplateCode = "SMS_900000001"
	// benchBatchPoll is how often the scenario reads the batch's counts by
	// status while it runs.
	benchBatchPoll = 250 * time.Millisecond
	// benchSingleReceiptDelay is when the fake reports a single send
	// delivered. A receipt pushed at the very moment of the provider's
	// answer can still miss its task and leave the send to its receipt
	// timeout, which would measure the timeout.
	benchSingleReceiptDelay = 100 * time.Millisecond
	// benchPollFailures is how long reading the batch's progress may keep
	// failing before the run gives up.
	benchPollFailures = time.Minute
	// benchProgressEvery is how often it reports progress on stderr.
	benchProgressEvery = 10 * time.Second
)

// batchBenchResult is what the batch scenario measured.
type batchBenchResult struct {
	accepted, rejected int
	// accept is the HTTP round trip of the batch request; complete runs
	// from the start of that request until every member was final.
	accept, complete time.Duration
	statuses         map[string]int
	// workflowPath says how the members were sent: through a batch
	// workflow or through a workflow each.
	workflowPath string
	// runs is how many workflow executions the counts below cover.
	runs                            int
	transitionsPer, eventsPerMember float64
}

func (r batchBenchResult) perSecond() float64 { return float64(r.accepted) / r.complete.Seconds() }

// runBatchBench measures one batch against single sends through the same
// batch-API provider.
func runBatchBench(ctx context.Context, out, errOut io.Writer, o *benchOptions, s *stack, run string) error {
	fake := aliyunfake.Start(
		aliyunfake.WithTemplate(benchTemplateCode, "Your code is ${code}"),
		aliyunfake.WithSignName(benchSignName),
		aliyunfake.WithBatchedReports(),
		// A push of 100 reports is applied in one transaction, which on
		// SQLite queues behind the chunks' writes: give it longer than the
		// fake's default wait.
		aliyunfake.WithPushTimeout(time.Minute))
	defer fake.Close()
	// Single sends carry their task id as OutId, so a receipt that beats
	// the provider's answer to the worker by a little still finds its
	// task: theirs come soon, and the single-send rate is the send path's,
	// not the receipt delay's.
	fake.AutoReceipt(benchSingleReceiptDelay, aliyunfake.Delivered)
	c, chID, err := batchBenchFixtures(ctx, s, fake, run, o.batchTimeout)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "herald bench --scenario batch: %d receivers through Aliyun SendBatchSms (in-process fake, receipts after %s), %s\n\n",
		o.receivers, o.receiptDelay, benchSetting(o))

	// Single sends through the same channel, numbers apart from the
	// batch's: 138 here, 139 there.
	var n atomic.Int64
	single := func(ctx context.Context) (string, time.Duration, func() error, error) {
		return benchSend(ctx, s, c, chID, fmt.Sprintf("+86138%08d", n.Add(1)))
	}
	if _, err := benchScenario(ctx, s, "single", single, o.warmup, o.concurrency, o.sample); err != nil {
		return fmt.Errorf("single sends warm-up: %w", err)
	}
	one, err := benchScenario(ctx, s, "single", single, o.count, o.concurrency, o.sample)
	if err != nil {
		return fmt.Errorf("single sends: %w", err)
	}
	fmt.Fprintf(errOut, "single sends: %.1f/s; sending the batch\n", one.perSecond())

	// A SendBatchSms request has one OutId for all its numbers, so it
	// carries none, and a member's receipt finds its task only once the
	// worker has recorded the provider's answer: members get theirs later,
	// as from the real service.
	fake.AutoReceipt(o.receiptDelay, aliyunfake.Delivered)

	stopProfile, err := startCPUProfile(o.cpuProfile)
	if err != nil {
		return err
	}
	b, err := benchBatch(ctx, errOut, s, c, chID, o.receivers, o.batchTimeout)
	stopProfile()
	if err != nil {
		return err
	}
	return printBatchBench(out, o, one, b)
}

// batchBenchFixtures creates an app, an SMS channel and an Aliyun account
// at fake for the batch scenario. Nothing bounds the batch but the
// provider: the app sets no message rate, the template no receiver caps.
// The client waits for answers up to timeout.
func batchBenchFixtures(ctx context.Context, s *stack, fake *aliyunfake.Server, run string, timeout time.Duration) (*apiclient.Client, int64, error) {
	secret, err := randomHex(32)
	if err != nil {
		return nil, 0, err
	}
	app := &store.App{ID: "bench-batch-" + run, Name: "Benchmark batch " + run, Secret: secret, Enabled: true, RateLimitPerSecond: 100000}
	if err := s.db.CreateApp(ctx, app); err != nil {
		return nil, 0, err
	}
	tpl := &store.Template{Name: "bench-batch-" + run, ContentType: "text", Content: "Your code is {{code}}", Variables: []string{"code"}}
	if err := s.db.CreateTemplate(ctx, tpl); err != nil {
		return nil, 0, err
	}
	ch := &store.Channel{Name: "bench-batch-" + run, Type: store.ChannelSMS, TemplateID: &tpl.ID, SignatureNames: []string{benchSignName},
		Enabled: true, ReceiptTimeoutSeconds: 60, MaxAttempts: 3}
	if err := s.db.CreateChannel(ctx, ch); err != nil {
		return nil, 0, err
	}
	if err := s.db.GrantChannel(ctx, app.ID, ch.ID); err != nil {
		return nil, 0, err
	}
	cfg, err := json.Marshal(map[string]any{
		"access_key_id":     aliyunfake.DefaultAccessKeyID,
		"access_key_secret": aliyunfake.DefaultAccessKeySecret,
		"sign_name":         benchSignName,
		"endpoint":          fake.Endpoint(),
		"protocol":          "http",
		"timeout_seconds":   30,
	})
	if err != nil {
		return nil, 0, err
	}
	token, err := randomHex(16)
	if err != nil {
		return nil, 0, err
	}
	acc := &store.ProviderAccount{Name: "bench-aliyun-" + run, Kind: "aliyun", Config: cfg, Weight: 1, Enabled: true, CallbackToken: token}
	if err := s.db.CreateAccount(ctx, acc); err != nil {
		return nil, 0, err
	}
	if err := s.db.SetPoolMember(ctx, ch.ID, acc.ID, 1); err != nil {
		return nil, 0, err
	}
	if err := s.db.UpsertTemplateMapping(ctx, &store.TemplateMapping{TemplateID: tpl.ID, AccountID: acc.ID, ProviderCode: benchTemplateCode}); err != nil {
		return nil, 0, err
	}
	fake.SetCallback(activities.CallbackURL(s.apiURL, acc.Kind, acc.ID, acc.CallbackToken))
	return apiclient.New(s.apiURL, app.ID, secret, apiclient.WithHTTPClient(&http.Client{Timeout: timeout})), ch.ID, nil
}

// benchReceivers returns n distinct mainland mobile numbers, +86 139
// followed by eight digits from a random start, so that runs against one
// store do not repeat each other's receivers.
func benchReceivers(n int) []string {
	// Not a secret: the start only spreads receivers between runs.
	start := rand.IntN(100_000_000 - n + 1)
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("+86139%08d", start+i)
	}
	return out
}

// benchBatch sends one batch of receivers and waits until every accepted
// member is final.
func benchBatch(ctx context.Context, errOut io.Writer, s *stack, c *apiclient.Client, chID int64, receivers int, timeout time.Duration) (batchBenchResult, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var r batchBenchResult
	start := time.Now()
	res, err := c.SendBatch(ctx, apiclient.SendBatchRequest{
		ChannelID: chID, Receivers: benchReceivers(receivers), SignatureName: benchSignName,
		TemplateParams: map[string]string{"code": "123456"},
	})
	r.accept = time.Since(start)
	if err != nil {
		return r, fmt.Errorf("send the batch: %w", err)
	}
	r.accepted, r.rejected = res.SuccessCount, res.FailedCount
	if r.rejected > 0 {
		// Codes only: a rejection names its receiver.
		codes := map[int]int{}
		for _, rj := range res.Rejected {
			codes[rj.Code]++
		}
		fmt.Fprintf(errOut, "batch: %d receivers rejected (by code: %v)\n", r.rejected, codes)
	}
	fmt.Fprintf(errOut, "batch %s: %d accepted in %s; waiting until every member is final\n", res.BatchID, r.accepted, r.accept.Round(time.Millisecond))

	t := time.NewTicker(benchBatchPoll)
	defer t.Stop()
	lastReport := time.Now()
	var failingSince time.Time
	for {
		counts, err := s.db.CountBatchMembers(ctx, res.BatchID)
		if err != nil {
			// A busy database may refuse a poll now and then (too many
			// clients); only one that keeps failing ends the run.
			if failingSince.IsZero() {
				failingSince = time.Now()
			}
			if time.Since(failingSince) > benchPollFailures {
				return r, err
			}
			fmt.Fprintf(errOut, "batch: reading progress failed, trying again: %v\n", err)
			select {
			case <-ctx.Done():
				return r, fmt.Errorf("batch %s: %w", res.BatchID, ctx.Err())
			case <-t.C:
			}
			continue
		}
		failingSince = time.Time{}
		final := 0
		for st, n := range counts {
			if workflows.IsFinal(st) {
				final += n
			}
		}
		if final >= r.accepted {
			r.complete = time.Since(start)
			r.statuses = counts
			break
		}
		if time.Since(lastReport) >= benchProgressEvery {
			fmt.Fprintf(errOut, "batch: %d of %d final after %s %s\n", final, r.accepted, time.Since(start).Round(time.Second), formatCounts(counts))
			lastReport = time.Now()
		}
		select {
		case <-ctx.Done():
			return r, fmt.Errorf("batch %s: %d of %d members final when giving up: %w", res.BatchID, final, r.accepted, ctx.Err())
		case <-t.C:
		}
	}
	err = batchTransitions(ctx, s, res, &r)
	return r, err
}

// batchTransitions counts the state transitions and history events the
// batch cost per receiver: every run of its batch workflow when it has
// one, else the workflows of a sample of its members.
func batchTransitions(ctx context.Context, s *stack, res *apiclient.SendBatchResponse, r *batchBenchResult) error {
	b, err := s.db.GetBatch(ctx, res.BatchID)
	if err != nil {
		return fmt.Errorf("load batch %s: %w", res.BatchID, err)
	}
	if b.WorkflowID == "" {
		r.workflowPath = "a workflow per member"
		const sample = 100
		var transitions, events int64
		for i, task := range res.Tasks {
			if i == sample {
				break
			}
			d, err := s.temporal.DescribeWorkflowExecution(ctx, task.TaskID, "")
			if err != nil {
				return fmt.Errorf("describe member workflow: %w", err)
			}
			transitions += d.WorkflowExecutionInfo.StateTransitionCount
			events += d.WorkflowExecutionInfo.HistoryLength
			r.runs++
		}
		if r.runs > 0 {
			r.transitionsPer = float64(transitions) / float64(r.runs)
			r.eventsPerMember = float64(events) / float64(r.runs)
		}
		return nil
	}
	r.workflowPath = "batch workflow " + b.WorkflowID
	// Its last run may still be closing the batch after the last member
	// became final; Get follows continue-as-new to the end.
	if err := s.temporal.GetWorkflow(ctx, b.WorkflowID, "").Get(ctx, nil); err != nil {
		return fmt.Errorf("wait for batch workflow %s: %w", b.WorkflowID, err)
	}
	transitions, events, runs, err := workflowRuns(ctx, s, b.WorkflowID)
	if err != nil {
		return err
	}
	r.runs = runs
	r.transitionsPer = float64(transitions) / float64(r.accepted)
	r.eventsPerMember = float64(events) / float64(r.accepted)
	return nil
}

// workflowRuns sums the state transitions and history events of every run
// of a workflow id, continue-as-new included. Visibility lags behind the
// closing of a run, so it lists until every listed run is closed and the
// count stays the same twice.
func workflowRuns(ctx context.Context, s *stack, workflowID string) (transitions, events int64, runs int, err error) {
	query := fmt.Sprintf("WorkflowId = '%s'", strings.ReplaceAll(workflowID, "'", "\\'"))
	prev := -1
	for attempt := 0; ; attempt++ {
		var ids []string
		open := false
		var token []byte
		for {
			resp, err := s.temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: query, NextPageToken: token})
			if err != nil {
				return 0, 0, 0, fmt.Errorf("list runs of %s: %w", workflowID, err)
			}
			for _, e := range resp.Executions {
				ids = append(ids, e.Execution.RunId)
				open = open || e.CloseTime == nil
			}
			if token = resp.NextPageToken; len(token) == 0 {
				break
			}
		}
		if !open && len(ids) > 0 && len(ids) == prev {
			break
		}
		if attempt == 50 {
			return 0, 0, 0, fmt.Errorf("list runs of %s: visibility did not settle", workflowID)
		}
		prev = len(ids)
		select {
		case <-ctx.Done():
			return 0, 0, 0, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	transitions, events, runs = 0, 0, 0
	var token []byte
	for {
		resp, err := s.temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: query, NextPageToken: token})
		if err != nil {
			return 0, 0, 0, fmt.Errorf("list runs of %s: %w", workflowID, err)
		}
		for _, e := range resp.Executions {
			d, err := s.temporal.DescribeWorkflowExecution(ctx, workflowID, e.Execution.RunId)
			if err != nil {
				return 0, 0, 0, fmt.Errorf("describe run of %s: %w", workflowID, err)
			}
			transitions += d.WorkflowExecutionInfo.StateTransitionCount
			events += d.WorkflowExecutionInfo.HistoryLength
			runs++
		}
		if token = resp.NextPageToken; len(token) == 0 {
			return transitions, events, runs, nil
		}
	}
}

// formatCounts prints counts by status in a stable order.
func formatCounts(counts map[string]int) string {
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, counts[k])
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

func printBatchBench(out io.Writer, o *benchOptions, one benchResult, b batchBenchResult) error {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "batch accept\t%s\tHTTP round trip of the batch request: %d accepted, %d rejected\n",
		b.accept.Round(time.Millisecond), b.accepted, b.rejected)
	fmt.Fprintf(tw, "batch completion\t%s\tfrom the request until every member was final %s\n",
		b.complete.Round(time.Millisecond), formatCounts(b.statuses))
	fmt.Fprintf(tw, "batch rate\t%.1f receivers/s\t\n", b.perSecond())
	fmt.Fprintf(tw, "single-send rate\t%.1f sends/s\t%d sends, %d in flight, p50 accept %s, p99 accept %s\n",
		one.perSecond(), one.sends, o.concurrency,
		percentile(one.accept, 0.5).Round(100*time.Microsecond), percentile(one.accept, 0.99).Round(100*time.Microsecond))
	fmt.Fprintf(tw, "ratio batch/single\t%.2f\treceivers/s of the batch per sends/s of single sends\n", b.perSecond()/one.perSecond())
	fmt.Fprintf(tw, "transitions/receiver\t%.2f\t%.2f history events/receiver; %s, %d runs counted\n",
		b.transitionsPer, b.eventsPerMember, b.workflowPath, b.runs)
	fmt.Fprintf(tw, "transitions/send\t%.1f\t%.1f history events/send, single sends\n", one.transitions, one.events)
	if err := tw.Flush(); err != nil {
		return err
	}
	return printPeakRSS(out, o.watchPIDs)
}
