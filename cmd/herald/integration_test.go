package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/proxy"
	"go.temporal.io/api/workflowservice/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/heraldhq/herald/activities"
	"github.com/heraldhq/herald/api/apiclient"
	"github.com/heraldhq/herald/providers/tencent/tencentfake"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/workflows"
)

func TestSandboxDeliveredWithBothSignatures(t *testing.T) {
	t.Parallel()
	h := sharedHarness(t)
	f := h.fixture(t)
	tpl := f.template("Code {{code}} for {{name}}", "code", "name")
	ch := f.channel(store.ChannelSMS, tpl)
	f.sandboxAccount(ch, 1)

	for _, tc := range []struct {
		name string
		opts []apiclient.Option
	}{
		{"GoSDK", nil},
		{"PHPSDK", []apiclient.Option{apiclient.WithPHPSigning()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, c := f.app(tc.opts...)
			// Characters the two canonical JSON forms encode differently.
			params := map[string]string{"code": "<1&2>", "name": "张三/li"}
			res, err := c.SendMessage(context.Background(), apiclient.SendMessageRequest{
				ChannelID: ch.ID, Receiver: "13800138000", TemplateParams: params,
			})
			require.NoError(t, err)
			require.Equal(t, workflows.StatusPending, res.Status)

			msg := waitFinal(t, c, res.TaskID)
			require.Equal(t, workflows.StatusSuccess, msg.Status)
			require.Equal(t, workflows.CallbackDelivered, msg.CallbackStatus)
			require.Equal(t, "+8613800138000", msg.Receiver)
			require.Equal(t, "Code <1&2> for 张三/li", msg.Content)
			require.Equal(t, "sms", msg.MessageType)
			require.Equal(t, 0, msg.RetryCount)
			require.Equal(t, 4, msg.MaxRetry)

			kinds, _ := eventKinds(t, c, res.TaskID)
			require.Equal(t, []string{"attempt", "accepted", "receipt", "finished"}, kinds)
		})
	}
}

func TestTencentDeliveredAndSearchable(t *testing.T) {
	t.Parallel()
	h := sharedHarness(t)
	f := h.fixture(t)
	fake := tencentfake.New(t, tencentfake.WithTemplate("1001", 1))
	fake.AutoReceipt(50*time.Millisecond, tencentfake.Success)
	tpl := f.template("Your code is {{code}}", "code")
	ch := f.channel(store.ChannelSMS, tpl)
	f.tencentAccount(ch, fake, 1)
	app, c := f.app()

	res, err := c.SendMessage(context.Background(), apiclient.SendMessageRequest{
		ChannelID: ch.ID, Receiver: "+8613911112222", TemplateParams: map[string]string{"code": "4321"},
	})
	require.NoError(t, err)
	msg := waitFinal(t, c, res.TaskID)
	require.Equal(t, workflows.StatusSuccess, msg.Status, msg.LastError)
	require.Equal(t, workflows.CallbackDelivered, msg.CallbackStatus)

	sent := fake.Sent()
	require.Len(t, sent, 1)
	require.Equal(t, "+8613911112222", sent[0].PhoneNumber)
	require.Equal(t, []string{"4321"}, sent[0].TemplateParams)
	require.Equal(t, res.TaskID, sent[0].SessionContext)

	// Operators find the send in the Temporal UI by app and status.
	query := fmt.Sprintf("HeraldApp = '%s' AND HeraldStatus = 'success' AND HeraldProvider = 'tencent'", app.ID)
	require.Eventually(t, func() bool {
		resp, err := h.s.temporal.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{Query: query})
		return err == nil && len(resp.Executions) == 1 && resp.Executions[0].Execution.WorkflowId == res.TaskID
	}, 20*time.Second, 200*time.Millisecond)

	recordHistory(t, h, res.TaskID, "tencent_delivered")
}

// recordHistory writes a workflow's history to the replay test's testdata
// when HERALD_RECORD_HISTORIES is set.
func recordHistory(t *testing.T, h *harness, taskID, name string) {
	t.Helper()
	if os.Getenv("HERALD_RECORD_HISTORIES") == "" {
		return
	}
	hist := &historypb.History{Events: historyEvents(t, h, taskID)}
	// The replay tests run without the codec: record the payloads in
	// clear, as they were before encryption.
	require.NoError(t, proxy.VisitPayloads(context.Background(), hist, proxy.VisitPayloadsOptions{
		SkipSearchAttributes: true,
		Visitor: func(_ *proxy.VisitPayloadsContext, ps []*commonpb.Payload) ([]*commonpb.Payload, error) {
			return h.s.codec.Decode(ps)
		},
	}))
	raw, err := protojson.MarshalOptions{Indent: "  "}.Marshal(hist)
	require.NoError(t, err)
	// Histories recorded while sends ran as activity tasks, and while
	// receipts came as signals, keep their names and replay those
	// branches; the current code's go beside them.
	path := filepath.Join("..", "..", "workflows", "testdata", "histories", name+"_receipt_update.json")
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, raw, 0o644))
}

func TestRuleRetry(t *testing.T) {
	t.Parallel()
	h := sharedHarness(t)
	f := h.fixture(t)
	tpl := f.template("Hello {{who}}", "who")
	ch := f.channel(store.ChannelPush, tpl)
	acc := f.sandboxAccount(ch, 1)
	f.sandboxAccount(ch, 1)
	ruleName := "retry-temporary-" + randomHex8()
	f.rule(store.Rule{Name: ruleName, Scene: "send_failure", MessageType: store.ChannelPush, ErrorCodes: "SANDBOX_TEMPORARY_FAILURE",
		Action: "retry", MaxRetry: 2, DelaySeconds: 1, BackoffRate: 2})
	_, c := f.app()

	// The sandbox fails a receiver ending in 4007 on its first attempt only.
	res, err := c.SendMessage(context.Background(), apiclient.SendMessageRequest{
		ChannelID: ch.ID, Receiver: "device-4007", TemplateParams: map[string]string{"who": "Ann"},
	})
	require.NoError(t, err)
	msg := waitFinal(t, c, res.TaskID)
	require.Equal(t, workflows.StatusSuccess, msg.Status, msg.LastError)
	require.Equal(t, 1, msg.RetryCount)

	kinds, events := eventKinds(t, c, res.TaskID)
	require.Equal(t, 2, count(kinds, "attempt"))
	var decision apiclient.Event
	var accounts []int64
	for _, e := range events {
		if e.Kind == "decision" {
			decision = e
		}
		if e.Kind == "attempt" {
			accounts = append(accounts, *e.AccountID)
		}
	}
	require.Equal(t, ruleName, decision.Code)
	require.True(t, strings.HasPrefix(decision.Detail, "retry"), decision.Detail)
	// A retry stays on the same account.
	require.Equal(t, accounts[0], accounts[1])
	_ = acc
	recordHistory(t, h, res.TaskID, "sandbox_retry")
}

func TestRuleSwitch(t *testing.T) {
	t.Parallel()
	h := sharedHarness(t)
	f := h.fixture(t)
	down := tencentfake.New(t, tencentfake.WithTemplate("1001", 1))
	up := tencentfake.New(t, tencentfake.WithTemplate("1001", 1))
	down.FailNext(10, "InternalError.Timeout")
	up.AutoReceipt(50*time.Millisecond, tencentfake.Success)
	tpl := f.template("Your code is {{code}}", "code")
	ch := f.channel(store.ChannelSMS, tpl)
	// The failing account has all the weight, so it is picked first.
	f.tencentAccount(ch, down, 100)
	upAcc := f.tencentAccount(ch, up, 1)
	ruleName := "switch-on-timeout-" + randomHex8()
	f.rule(store.Rule{Name: ruleName, Scene: "send_failure", ProviderKind: "tencent", ErrorCodes: "InternalError.Timeout", Action: "switch"})
	_, c := f.app()

	res, err := c.SendMessage(context.Background(), apiclient.SendMessageRequest{
		ChannelID: ch.ID, Receiver: "+8613922223333", TemplateParams: map[string]string{"code": "1111"},
	})
	require.NoError(t, err)
	msg := waitFinal(t, c, res.TaskID)
	require.Equal(t, workflows.StatusSuccess, msg.Status, msg.LastError)
	require.Len(t, up.Sent(), 1)
	require.Empty(t, down.Sent())

	_, events := eventKinds(t, c, res.TaskID)
	var last apiclient.Event
	for _, e := range events {
		if e.Kind == "decision" {
			require.Equal(t, ruleName, e.Code)
		}
		if e.Kind == "attempt" {
			last = e
		}
	}
	require.Equal(t, upAcc.ID, *last.AccountID)
	recordHistory(t, h, res.TaskID, "tencent_switch")
}

func TestRuleFail(t *testing.T) {
	t.Parallel()
	h := sharedHarness(t)
	f := h.fixture(t)
	fake := tencentfake.New(t, tencentfake.WithTemplate("1001", 1))
	other := tencentfake.New(t, tencentfake.WithTemplate("1001", 1))
	const phone = "+8613933334444"
	// Throttled by default; the rule says give up at once.
	fake.PerNumberCode(phone, "LimitExceeded.PhoneNumberDailyLimit")
	other.PerNumberCode(phone, "LimitExceeded.PhoneNumberDailyLimit")
	tpl := f.template("Your code is {{code}}", "code")
	ch := f.channel(store.ChannelSMS, tpl)
	f.tencentAccount(ch, fake, 1)
	f.tencentAccount(ch, other, 1)
	f.rule(store.Rule{Scene: "send_failure", ErrorKeywords: "daily limit,PhoneNumberDailyLimit", Action: "fail"})
	_, c := f.app()

	res, err := c.SendMessage(context.Background(), apiclient.SendMessageRequest{
		ChannelID: ch.ID, Receiver: phone, TemplateParams: map[string]string{"code": "2222"},
	})
	require.NoError(t, err)
	msg := waitFinal(t, c, res.TaskID)
	require.Equal(t, workflows.StatusFailed, msg.Status)
	require.Contains(t, msg.LastError, "LimitExceeded.PhoneNumberDailyLimit")
	kinds, _ := eventKinds(t, c, res.TaskID)
	require.Equal(t, 1, count(kinds, "attempt"))
}

func TestRuleAlert(t *testing.T) {
	t.Parallel()
	h := sharedHarness(t)
	f := h.fixture(t)
	tpl := f.template("Alert {{text}}", "text")
	ch := f.channel(store.ChannelWeChatWork, tpl)
	f.sandboxAccount(ch, 1)
	f.sandboxAccount(ch, 1)
	f.rule(store.Rule{Scene: "callback_failure", MessageType: store.ChannelWeChatWork, ErrorCodes: "UNDELIV",
		Action: "alert", ThenAction: "switch"})
	_, c := f.app()

	// Receivers ending in 4004 are accepted but their receipt says failed.
	res, err := c.SendMessage(context.Background(), apiclient.SendMessageRequest{
		ChannelID: ch.ID, Receiver: "zhangsan-4004", TemplateParams: map[string]string{"text": "disk full"},
	})
	require.NoError(t, err)
	msg := waitFinal(t, c, res.TaskID)
	require.Equal(t, workflows.StatusFailed, msg.Status)
	require.Equal(t, workflows.CallbackFailed, msg.CallbackStatus)

	kinds, _ := eventKinds(t, c, res.TaskID)
	require.Equal(t, 2, count(kinds, "attempt"), "alert then switch tries the second account")
	require.Equal(t, 2, count(kinds, "alert"))
	alerts, raw := h.alerts.forTask(res.TaskID)
	require.Len(t, alerts, 2)
	require.NotContains(t, raw, "zhangsan", "alerts never carry receivers")
	require.Equal(t, "UNDELIV", alerts[0]["data"].(map[string]any)["code"])
	recordHistory(t, h, res.TaskID, "sandbox_alert_switch")
}

// TestRulesEndWithTheirTest checks that a rule a test installs is gone
// once the test ends, so the shared harness never hands it to another test
// or to the next run under -count.
func TestRulesEndWithTheirTest(t *testing.T) {
	t.Parallel()
	h := sharedHarness(t)
	name := "scoped-" + randomHex8()
	ruleNames := func() []string {
		all, err := h.db.ListAllRules(context.Background())
		require.NoError(t, err)
		var names []string
		for _, r := range all {
			names = append(names, r.Name)
		}
		return names
	}
	t.Run("Installs", func(t *testing.T) {
		h.fixture(t).rule(store.Rule{Name: name, Scene: "send_failure", ProviderKind: "no-such-kind", Action: "fail"})
		require.Contains(t, ruleNames(), name)
	})
	require.NotContains(t, ruleNames(), name)
}

func TestBatchAcceptsValidReceivers(t *testing.T) {
	t.Parallel()
	h := sharedHarness(t)
	f := h.fixture(t)
	tpl := f.template("Notice {{n}}", "n")
	ch := f.channel(store.ChannelSMS, tpl)
	f.sandboxAccount(ch, 1)
	_, c := f.app()

	res, err := c.SendBatch(context.Background(), apiclient.SendBatchRequest{
		ChannelID:      ch.ID,
		Receivers:      []string{"+8613800000001", "not-a-phone", "+8613800000002", "+8613800000001"},
		TemplateParams: map[string]string{"n": "1"},
	})
	require.NoError(t, err)
	require.Equal(t, 4, res.TotalCount)
	require.Equal(t, 2, res.SuccessCount)
	require.Equal(t, 2, res.FailedCount)
	require.Len(t, res.Tasks, 2)
	require.Len(t, res.Rejected, 2)
	require.Equal(t, 1, res.Rejected[0].Index)
	require.Equal(t, 10005, res.Rejected[0].Code)
	for _, task := range res.Tasks {
		msg := waitFinal(t, c, task.TaskID)
		require.Equal(t, workflows.StatusSuccess, msg.Status)
		require.Equal(t, res.BatchID, msg.BatchID)
	}
}

func TestScheduledMessages(t *testing.T) {
	t.Parallel()
	h := sharedHarness(t)
	f := h.fixture(t)
	tpl := f.template("Later {{x}}", "x")
	ch := f.channel(store.ChannelSMS, tpl)
	f.sandboxAccount(ch, 1)
	_, c := f.app()
	ctx := context.Background()

	t.Run("CancelledBeforeItsTime", func(t *testing.T) {
		at := time.Now().Add(time.Hour)
		res, err := c.SendMessage(ctx, apiclient.SendMessageRequest{ChannelID: ch.ID, Receiver: "+8613800000003", TemplateParams: map[string]string{"x": "1"}, ScheduledAt: &at})
		require.NoError(t, err)
		require.Eventually(t, func() bool {
			kinds, _ := eventKinds(t, c, res.TaskID)
			return count(kinds, "scheduled") == 1
		}, 20*time.Second, 100*time.Millisecond)
		cres, err := c.CancelMessage(ctx, res.TaskID)
		require.NoError(t, err)
		require.Equal(t, workflows.StatusCancelled, cres.Status)
		msg := waitFinal(t, c, res.TaskID)
		require.Equal(t, workflows.StatusCancelled, msg.Status)
		kinds, _ := eventKinds(t, c, res.TaskID)
		require.Zero(t, count(kinds, "attempt"))
		recordHistory(t, h, res.TaskID, "scheduled_cancelled")

		// Cancelling again answers as the first time.
		again, err := c.CancelMessage(ctx, res.TaskID)
		require.NoError(t, err)
		require.Equal(t, workflows.StatusCancelled, again.Status)
	})
	t.Run("SentAtItsTime", func(t *testing.T) {
		at := time.Now().Add(2 * time.Second)
		res, err := c.SendMessage(ctx, apiclient.SendMessageRequest{ChannelID: ch.ID, Receiver: "+8613800000004", TemplateParams: map[string]string{"x": "2"}, ScheduledAt: &at})
		require.NoError(t, err)
		msg := waitFinal(t, c, res.TaskID)
		require.Equal(t, workflows.StatusSuccess, msg.Status)
		_, events := eventKinds(t, c, res.TaskID)
		var attemptAt time.Time
		for _, e := range events {
			if e.Kind == "attempt" {
				attemptAt = e.CreatedAt
			}
		}
		require.False(t, attemptAt.Before(at.Truncate(time.Second)), "sent at %s, scheduled for %s", attemptAt, at)

		// A message already sent cannot be cancelled.
		_, err = c.CancelMessage(ctx, res.TaskID)
		var apiErr *apiclient.APIError
		require.True(t, errors.As(err, &apiErr), "%v", err)
		require.Equal(t, 409, apiErr.HTTPStatus)
	})
}

func TestIdempotencyKeyNeverSendsTwice(t *testing.T) {
	t.Parallel()
	h := sharedHarness(t)
	f := h.fixture(t)
	fake := tencentfake.New(t, tencentfake.WithTemplate("1001", 1))
	fake.AutoReceipt(20*time.Millisecond, tencentfake.Success)
	tpl := f.template("Your code is {{code}}", "code")
	ch := f.channel(store.ChannelSMS, tpl)
	f.tencentAccount(ch, fake, 1)
	_, c := f.app()
	ctx := context.Background()
	req := apiclient.SendMessageRequest{ChannelID: ch.ID, Receiver: "+8613944445555", TemplateParams: map[string]string{"code": "9"}}

	first, err := c.SendMessage(ctx, req, apiclient.WithIdempotencyKey("order-42"))
	require.NoError(t, err)
	second, err := c.SendMessage(ctx, req, apiclient.WithIdempotencyKey("order-42"))
	require.NoError(t, err)
	require.Equal(t, first.TaskID, second.TaskID)
	waitFinal(t, c, first.TaskID)
	third, err := c.SendMessage(ctx, req, apiclient.WithIdempotencyKey("order-42"))
	require.NoError(t, err)
	require.Equal(t, first.TaskID, third.TaskID)

	req.TemplateParams = map[string]string{"code": "10"}
	_, err = c.SendMessage(ctx, req, apiclient.WithIdempotencyKey("order-42"))
	var apiErr *apiclient.APIError
	require.True(t, errors.As(err, &apiErr), "%v", err)
	require.Equal(t, 409, apiErr.HTTPStatus)
	require.Len(t, fake.Sent(), 1)
}

func TestLateReceiptNeverRegressesFinalState(t *testing.T) {
	t.Parallel()
	h := sharedHarness(t)
	f := h.fixture(t)
	fake := tencentfake.New(t, tencentfake.WithTemplate("1001", 1))
	fake.AutoReceipt(20*time.Millisecond, tencentfake.Success)
	tpl := f.template("Your code is {{code}}", "code")
	ch := f.channel(store.ChannelSMS, tpl)
	f.tencentAccount(ch, fake, 1)
	_, c := f.app()

	res, err := c.SendMessage(context.Background(), apiclient.SendMessageRequest{ChannelID: ch.ID, Receiver: "+8613955556666", TemplateParams: map[string]string{"code": "7"}})
	require.NoError(t, err)
	require.Equal(t, workflows.StatusSuccess, waitFinal(t, c, res.TaskID).Status)

	// Tencent pushes a contradicting receipt after the workflow finished.
	waitClosed(t, h, res.TaskID)
	sent := fake.Sent()
	require.Len(t, sent, 1)
	require.NoError(t, fake.PushReceipt(sent[0].SerialNo, tencentfake.Fail))
	require.Eventually(t, func() bool {
		kinds, _ := eventKinds(t, c, res.TaskID)
		return count(kinds, "late_receipt") == 1
	}, 10*time.Second, 100*time.Millisecond)
	msg, err := c.GetMessage(context.Background(), res.TaskID)
	require.NoError(t, err)
	require.Equal(t, workflows.StatusSuccess, msg.Status)
	require.Equal(t, workflows.CallbackDelivered, msg.CallbackStatus)
}

func TestChannelsAndHealth(t *testing.T) {
	t.Parallel()
	h := sharedHarness(t)
	f := h.fixture(t)
	tpl := f.template("Hi {{a}}", "a")
	ch := f.channel(store.ChannelEmail, tpl)
	f.sandboxAccount(ch, 1)
	_, c := f.app()
	ctx := context.Background()

	detail, err := c.GetChannel(ctx, ch.ID)
	require.NoError(t, err)
	require.Equal(t, ch.Name, detail.Name)
	require.Equal(t, "ready", detail.Readiness.State)
	require.Equal(t, []string{}, detail.Readiness.BlockerCodes)
	require.Equal(t, []string{"a"}, detail.Template.Variables)

	page, err := c.ListChannels(ctx, apiclient.ListChannelsParams{Type: store.ChannelEmail, PageSize: 100})
	require.NoError(t, err)
	found := false
	for _, item := range page.Items {
		found = found || item.ID == ch.ID
	}
	require.True(t, found)

	health, err := c.Health(ctx)
	require.NoError(t, err)
	require.Equal(t, "UP", health.Status)
	for _, name := range []string{"database", "redis", "temporal"} {
		require.Equal(t, "UP", health.Services[name].Status, name)
	}
}

// TestWorkerCrashCompletesOnce kills a worker process while a send is in
// flight and starts another: the message must complete, and the provider
// must have been asked exactly once. Sends run as local activities by
// default and as activity tasks on per-kind send queues; both recover.
func TestWorkerCrashCompletesOnce(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		flags []string
	}{
		{"LocalActivity", nil},
		{"PerKindSendQueues", []string{"--worker-per-kind-send-queues"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h, err := startHarness(harnessOptions{worker: false})
			require.NoError(t, err)
			t.Cleanup(h.close)
			f := h.fixture(t)
			fake := tencentfake.New(t, tencentfake.WithTemplate("1001", 1))
			fake.AutoReceipt(100*time.Millisecond, tencentfake.Success)
			// The first send is held without an answer, as if the worker
			// died right after the provider took the message.
			fake.Hang(1)
			tpl := f.template("Your code is {{code}}", "code")
			ch := f.channel(store.ChannelSMS, tpl)
			f.tencentAccount(ch, fake, 1)
			_, c := f.app()

			startWorker := func() *exec.Cmd { return startWorkerProcess(t, h, tc.flags...) }

			first := startWorker()
			res, err := c.SendMessage(context.Background(), apiclient.SendMessageRequest{ChannelID: ch.ID, Receiver: "+8613966667777", TemplateParams: map[string]string{"code": "5"}})
			require.NoError(t, err)
			require.Eventually(t, func() bool { return len(fake.Sent()) == 1 }, 30*time.Second, 50*time.Millisecond)
			require.NoError(t, first.Process.Kill())
			_, _ = first.Process.Wait()

			startWorker()
			msg := waitFinal(t, c, res.TaskID)
			require.Equal(t, workflows.StatusSuccess, msg.Status, msg.LastError)
			require.Len(t, fake.Sent(), 1, "the provider must receive the message once")
			kinds, _ := eventKinds(t, c, res.TaskID)
			require.Equal(t, 1, count(kinds, "attempt"))
		})
	}
}

// startWorkerProcess starts `herald worker` as a process of its own against
// h's store, Redis and Temporal server, with extra flags (a later flag wins
// over an earlier one); the test kills it at the end if it still runs.
func startWorkerProcess(t *testing.T, h *harness, extra ...string) *exec.Cmd {
	t.Helper()
	args := append([]string{"worker",
		"--database-url", h.cfg.Database.URL,
		"--temporal-address", h.s.devServer.FrontendAddress(),
		"--master-key", h.cfg.MasterKey,
		"--redis-url", "redis://" + h.s.redis.Options().Addr,
		"--public-url", h.apiURL,
		"--health-addr", "127.0.0.1:0",
		"--worker-sweep-interval", "1s",
		"--log-level", "warn",
	}, extra...)
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), runMainEnv+"=1")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
	return cmd
}

// waitClosed waits until a task's workflow has closed.
func waitClosed(t *testing.T, h *harness, taskID string) {
	t.Helper()
	require.Eventually(t, func() bool {
		d, err := h.s.temporal.DescribeWorkflowExecution(context.Background(), taskID, "")
		return err == nil && d.WorkflowExecutionInfo.Status != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING
	}, 20*time.Second, 50*time.Millisecond)
}

// TestPacedAccountSpacesSends checks that sends over an account's rate
// wait for a slot instead of failing, and that the provider sees them
// spaced by the rate, not in a burst.
func TestPacedAccountSpacesSends(t *testing.T) {
	t.Parallel()
	h := sharedHarness(t)
	f := h.fixture(t)
	fake := tencentfake.New(t, tencentfake.WithTemplate("1001", 1))
	fake.AutoReceipt(20*time.Millisecond, tencentfake.Success)
	tpl := f.template("Paced {{n}}", "n")
	ch := f.channel(store.ChannelSMS, tpl)
	acc := f.tencentAccount(ch, fake, 1)
	const (
		sends     = 6
		perMinute = 60 // one slot a second
		interval  = time.Minute / perMinute
		// Between its slot and the fake, a send goes through the worker's
		// activity dispatch and an HTTP round trip, which on a busy machine
		// can delay one send more than the next.
		tolerance = 250 * time.Millisecond
	)
	rate := perMinute
	require.NoError(t, h.db.UpdateAccount(context.Background(), acc.ID, store.AccountPatch{RateLimitPerMinute: &rate}))
	_, c := f.app()

	var tasks []string
	for i := range sends {
		res, err := c.SendMessage(context.Background(), apiclient.SendMessageRequest{
			ChannelID: ch.ID, Receiver: fmt.Sprintf("+86138000001%02d", i), TemplateParams: map[string]string{"n": fmt.Sprint(i)},
		})
		require.NoError(t, err)
		tasks = append(tasks, res.TaskID)
	}
	paced, waits := 0, 0
	for _, id := range tasks {
		msg := waitFinal(t, c, id)
		require.Equal(t, workflows.StatusSuccess, msg.Status, msg.LastError)
		kinds, _ := eventKinds(t, c, id)
		require.Equal(t, 1, count(kinds, "attempt"), "waiting for a slot is not a failed attempt")
		if count(kinds, "paced") > 0 {
			recordHistory(t, h, id, "paced")
		}
		paced += count(kinds, "paced")
		// The channel's receipt timeout (30 s) is not a pacing wait.
		timers := timerDurations(t, h, id, 30*time.Second)
		requireWaitsForItsSlot(t, timers, 3, time.Duration(sends-1)*interval+tolerance)
		waits += len(timers)
	}
	// Six sends in one burst against one slot a second: at least five had
	// to wait, none failed. Each sleeps until its booked slot, once, and
	// a second time only behind a send that woke late: asking again at
	// each slot until one is free would take 1+2+3+4+5 = 15 waits.
	require.GreaterOrEqual(t, paced, sends-1)
	require.LessOrEqual(t, waits, sends-1+sends/2, "pacing polls instead of sleeping until its slot")

	sent := fake.Sent()
	at := make([]time.Time, len(sent))
	for i, m := range sent {
		at[i] = m.At
	}
	requireSpaced(t, at, sends, interval, tolerance)
}

// requireSpaced checks that the provider took n messages, at times at, at least
// interval (less tolerance) apart. How long they were held back is not
// read from the clock, which a loaded machine stretches: the tests check
// the timers the workflows asked for instead (requireWaitsForItsSlot).
func requireSpaced(t *testing.T, at []time.Time, n int, interval, tolerance time.Duration) {
	t.Helper()
	require.Len(t, at, n)
	slices.SortFunc(at, time.Time.Compare)
	for i := 1; i < len(at); i++ {
		require.GreaterOrEqual(t, at[i].Sub(at[i-1]), interval-tolerance,
			"sends %d and %d reached the provider %s apart; the account allows one every %s", i-1, i, at[i].Sub(at[i-1]), interval)
	}
	require.GreaterOrEqual(t, at[len(at)-1].Sub(at[0]), time.Duration(n-1)*interval-tolerance)
}

// timerDurations lists the durations of the timers a workflow started
// other than those of the given durations (the receipt timeout, the
// batch's settle interval): what is left are waits for a pacing slot.
func timerDurations(t *testing.T, h *harness, workflowID string, except ...time.Duration) []time.Duration {
	t.Helper()
	var out []time.Duration
	for _, ev := range historyEvents(t, h, workflowID) {
		if a := ev.GetTimerStartedEventAttributes(); a != nil && !slices.Contains(except, a.StartToFireTimeout.AsDuration()) {
			out = append(out, a.StartToFireTimeout.AsDuration())
		}
	}
	return out
}

// requireWaitsForItsSlot checks that pacing waited for its slot rather
// than for a fixed long backoff or in a poll: each wait is at most the
// rate's whole span, and there are no more than most of them.
func requireWaitsForItsSlot(t *testing.T, waits []time.Duration, most int, span time.Duration) {
	t.Helper()
	require.LessOrEqual(t, len(waits), most, "waits %v: pacing polls instead of sleeping until its slot", waits)
	for _, w := range waits {
		require.LessOrEqual(t, w, span, "waits %v: held back longer than the rate requires", waits)
	}
}

// TestForgedReceiptChangesNothing pushes, with the account's valid token, a
// receipt naming a real task but a provider id the account never returned
// for it: nothing changes, while the genuine late receipt is still stored.
func TestForgedReceiptChangesNothing(t *testing.T) {
	t.Parallel()
	h := sharedHarness(t)
	f := h.fixture(t)
	fake := tencentfake.New(t, tencentfake.WithTemplate("1001", 1))
	fake.AutoReceipt(20*time.Millisecond, tencentfake.Success)
	tpl := f.template("Your code is {{code}}", "code")
	ch := f.channel(store.ChannelSMS, tpl)
	acc := f.tencentAccount(ch, fake, 1)
	_, c := f.app()
	ctx := context.Background()

	res, err := c.SendMessage(ctx, apiclient.SendMessageRequest{ChannelID: ch.ID, Receiver: "+8613955557777", TemplateParams: map[string]string{"code": "7"}})
	require.NoError(t, err)
	require.Equal(t, workflows.StatusSuccess, waitFinal(t, c, res.TaskID).Status)
	waitClosed(t, h, res.TaskID)

	forged := fmt.Sprintf(`[{"user_receive_time":"2030-01-02 15:04:09","nationcode":"86","mobile":"13955557777","report_status":"FAIL","errmsg":"MK:0001","description":"forged","sid":"made-up-sid","ext":%q}]`, res.TaskID)
	resp, err := http.Post(activities.CallbackURL(h.apiURL, acc.Kind, acc.ID, acc.CallbackToken), "application/json", strings.NewReader(forged))
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "acknowledged, so the provider stops pushing it")
	kinds, _ := eventKinds(t, c, res.TaskID)
	require.Zero(t, count(kinds, "late_receipt"), "the forged receipt is not stored")
	msg, err := c.GetMessage(ctx, res.TaskID)
	require.NoError(t, err)
	require.Equal(t, workflows.CallbackDelivered, msg.CallbackStatus)

	// The provider's own late receipt still counts.
	sent := fake.Sent()
	require.Len(t, sent, 1)
	require.NoError(t, fake.PushReceipt(sent[0].SerialNo, tencentfake.Fail))
	require.Eventually(t, func() bool {
		kinds, _ := eventKinds(t, c, res.TaskID)
		return count(kinds, "late_receipt") == 1
	}, 10*time.Second, 100*time.Millisecond)
}
