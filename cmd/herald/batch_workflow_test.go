package main

import (
	"context"
	"fmt"
	"os/exec"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/api/apiclient"
	"github.com/heraldhq/herald/providers/aliyun/aliyunfake"
	"github.com/heraldhq/herald/providers/dingtalk/dingtalkfake"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/workflows"
)

// batchReceivers returns n distinct mainland numbers, first seq 1.
func batchReceivers(n int) []string {
	rs := make([]string, n)
	for i := range rs {
		rs[i] = batchReceiver(i + 1)
	}
	return rs
}

func batchReceiver(seq int) string { return fmt.Sprintf("+86139%08d", seq) }

// batchFake is an Aliyun fake for smsChannel's template and signature
// that reports every number delivered 50ms after it took it.
func batchFake(t *testing.T, opts ...aliyunfake.Option) *aliyunfake.Server {
	t.Helper()
	fake := aliyunfake.New(t, append([]aliyunfake.Option{
		aliyunfake.WithTemplate(aliyunTemplateCode, "您的验证码为${code}，${minutes}分钟内有效"),
		aliyunfake.WithSignName(smsAccountSig)}, opts...)...)
	fake.AutoReceipt(50*time.Millisecond, aliyunfake.Delivered)
	return fake
}

// sendBatchOf accepts a batch of receivers through the API.
func sendBatchOf(t *testing.T, c *apiclient.Client, ch *store.Channel, receivers []string) *apiclient.SendBatchResponse {
	t.Helper()
	res, err := c.SendBatch(context.Background(), apiclient.SendBatchRequest{
		ChannelID: ch.ID, Receivers: receivers, SignatureName: smsAccountSig,
		TemplateParams: map[string]string{"code": "4711", "minutes": "5"},
	})
	require.NoError(t, err)
	require.Len(t, res.Tasks, res.SuccessCount)
	return res
}

// waitBatchEnd waits until a batch has ended (finished or cancelled) and
// returns its last progress; on timeout it logs what the batch workflow
// is doing.
func waitBatchEnd(t *testing.T, h *harness, c *apiclient.Client, batchID string, timeout time.Duration) *apiclient.Batch {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(timeout)
	for {
		b, err := c.GetBatch(ctx, batchID)
		require.NoError(t, err)
		if (b.Status == store.BatchFinished || b.Status == store.BatchCancelled) && b.FinishedAt != nil {
			return b
		}
		if time.Now().After(deadline) {
			desc, derr := h.s.temporal.DescribeWorkflowExecution(ctx, workflows.BatchWorkflowID(batchID), "")
			if derr == nil {
				t.Logf("workflow: %s, history %d", desc.WorkflowExecutionInfo.Status, desc.WorkflowExecutionInfo.HistoryLength)
				for _, pa := range desc.PendingActivities {
					t.Logf("pending activity %s: %s attempt %d, last failure %v", pa.ActivityType.GetName(), pa.State, pa.Attempt, pa.LastFailure)
				}
			}
			stuck, _ := h.s.db.LoadBatchMembers(ctx, store.BatchMemberFilter{BatchID: batchID, Statuses: []string{"sent", "processing"}, Limit: 3})
			for _, m := range stuck {
				evs, _ := h.s.db.ListEvents(ctx, m.TaskID)
				t.Logf("stuck member %d %s sent_at %v pid %s: %+v", m.BatchSeq, m.Status, m.SentAt, m.ProviderMessageID, evs)
			}
			t.Fatalf("batch still %s: %+v", b.Status, b.Counts)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// sentOnce requires that the fake got each number at most once and
// returns how many numbers it got.
func sentOnce(t *testing.T, fake *aliyunfake.Server) map[string]int {
	t.Helper()
	sent := map[string]int{}
	for _, s := range fake.Sent() {
		sent[s.PhoneNumber]++
	}
	for phone, times := range sent {
		require.Equal(t, 1, times, "a receiver got the message %d times", times, phone)
	}
	return sent
}

// TestBatchWorkflowSendsEveryMemberOnce sends a batch of 2,000 receivers
// through the API to Aliyun's batch API, with whole requests throttled and
// one number the provider refuses: one batch workflow sends them all in
// chunks, every member ends final, the refused one failed, nobody gets the
// message twice, and the workflow's history stays far below one event per
// receiver.
func TestBatchWorkflowSendsEveryMemberOnce(t *testing.T) {
	t.Parallel()
	const n = 2000
	h := sharedHarness(t)
	f := h.fixture(t)
	fake := batchFake(t)
	ch := smsChannel(f, 30)
	f.aliyunAccount(ch, fake, 1)
	_, c := f.app()
	ctx := context.Background()

	const refused = 777
	fake.PerNumberCode(batchReceiver(refused), "isv.MOBILE_NUMBER_ILLEGAL")
	fake.Throttle(2)

	res := sendBatchOf(t, c, ch, batchReceivers(n))
	require.Equal(t, n, res.SuccessCount)
	b := waitBatchEnd(t, h, c, res.BatchID, 3*time.Minute)
	require.Equal(t, store.BatchFinished, b.Status)
	require.Equal(t, n-1, b.Counts.Success)
	require.Equal(t, 1, b.Counts.Failed)
	require.Equal(t, n, b.Finished)

	// Every member stays a task of its own, with what the batch shares.
	for i, task := range res.Tasks {
		if i%400 != 0 && task.Index != refused-1 {
			continue
		}
		msg, err := c.GetMessage(ctx, task.TaskID)
		require.NoError(t, err)
		if task.Index == refused-1 {
			require.Equal(t, workflows.StatusFailed, msg.Status)
			continue
		}
		require.Equal(t, workflows.StatusSuccess, msg.Status, msg.LastError)
		require.Equal(t, workflows.CallbackDelivered, msg.CallbackStatus)
		require.Contains(t, msg.Content, "4711")
	}
	require.Len(t, sentOnce(t, fake), n-1)
	// Chunks went through the batch API: about one request per hundred.
	require.Less(t, fake.Requests("SendBatchSms"), n/50)

	// One workflow for the batch, with a history that does not grow with
	// every receiver.
	desc, err := h.s.temporal.DescribeWorkflowExecution(ctx, workflows.BatchWorkflowID(res.BatchID), "")
	require.NoError(t, err)
	require.Less(t, desc.WorkflowExecutionInfo.HistoryLength, int64(n/5))
	_, err = h.s.temporal.DescribeWorkflowExecution(ctx, workflows.MessageWorkflowID(res.Tasks[0].TaskID), "")
	require.Error(t, err, "a batch member has no workflow of its own")
}

// TestBatchProbesItsAccountsBreaker sends a batch through the only
// account of its channel while failures open the account's breaker: with
// no single sends through the account, the batch's own probe send (one
// member) closes the breaker again, and the batch finishes instead of
// waiting for a probe nobody sends.
func TestBatchProbesItsAccountsBreaker(t *testing.T) {
	t.Parallel()
	const n = 400
	h := sharedHarness(t)
	f := h.fixture(t)
	fake := batchFake(t)
	ch := smsChannel(f, 30)
	acc := f.aliyunAccount(ch, fake, 1)
	settings := `{"min_failures":1,"failure_ratio":0.5,"window_seconds":30,"cool_down_seconds":2,"probes":1,"close_after":1}`
	require.NoError(t, h.db.UpdateAccount(context.Background(), acc.ID, store.AccountPatch{Breaker: &settings}))
	_, c := f.app()
	// Let the workers' configuration cache see the breaker settings.
	time.Sleep(store.DefaultCacheTTL + 200*time.Millisecond)
	fake.FailNext(2, "isp.SYSTEM_ERROR")

	res := sendBatchOf(t, c, ch, batchReceivers(n))
	waitBreaker(t, h, acc.ID, "open", time.Minute)
	b := waitBatchEnd(t, h, c, res.BatchID, 3*time.Minute)
	require.Equal(t, store.BatchFinished, b.Status)
	require.Equal(t, n, b.Counts.Success, "%+v", b.Counts)
	require.Len(t, sentOnce(t, fake), n)
	// Send outcomes reach the breaker in each worker's next flush (about
	// once a second), so the probe's success may close it just after the
	// batch's last receipt.
	waitBreaker(t, h, acc.ID, "closed", 30*time.Second)
}

// TestBatchSurvivesAWorkerKilledMidBatch kills the only worker while a
// batch of 10,000 is being sent, with some requests failing, and starts
// another: every member ends delivered and nobody gets the message twice,
// even the members whose chunk was on its way when the worker died.
//
// It runs on its own, not in parallel with the rest: among them its
// worker process made next to no progress on the shared cores.
func TestBatchSurvivesAWorkerKilledMidBatch(t *testing.T) {
	const n = 10000
	h, err := startHarness(harnessOptions{worker: false})
	require.NoError(t, err)
	t.Cleanup(h.close)
	f := h.fixture(t)
	// Receipt pushes wait for an API busy with 10,000 members.
	fake := batchFake(t, aliyunfake.WithPushTimeout(time.Minute))
	ch := smsChannel(f, 60)
	f.aliyunAccount(ch, fake, 1)
	_, c := f.app()

	startWorker := func() *exec.Cmd { return startWorkerProcess(t, h, "--log-level", "error") }

	first := startWorker()
	fake.Throttle(3)
	fake.FailNext(2, "isp.SYSTEM_ERROR")
	res := sendBatchOf(t, c, ch, batchReceivers(n))
	require.Equal(t, n, res.SuccessCount)
	require.Eventually(t, func() bool { return fake.SentCount() >= n/10 }, 6*time.Minute, 20*time.Millisecond)
	require.NoError(t, first.Process.Kill())
	_, _ = first.Process.Wait()
	atKill := fake.SentCount()
	require.Less(t, atKill, n, "the worker died before the batch was sent")

	startWorker()
	b := waitBatchEnd(t, h, c, res.BatchID, 10*time.Minute)
	require.Equal(t, store.BatchFinished, b.Status)
	require.Equal(t, n, b.Counts.Success, "%+v", b.Counts)
	require.Len(t, sentOnce(t, fake), n)
	t.Logf("%d of %d sent when the worker was killed", atKill, n)
}

// TestBatchPauseResumeCancelAndVerificationCodesFirst runs a paced batch
// of 10,000 through one account: a verification code accepted while it
// runs is sent before the batch's remaining chunks; pausing stops new
// chunks, resuming starts them again, and cancelling ends every member not
// yet on its way cancelled, without anybody getting the message twice.
func TestBatchPauseResumeCancelAndVerificationCodesFirst(t *testing.T) {
	t.Parallel()
	const n = 10000
	h := sharedHarness(t)
	f := h.fixture(t)
	fake := batchFake(t)
	ch := smsChannel(f, 30)
	acc := f.aliyunAccount(ch, fake, 1)
	rate := 1200
	require.NoError(t, h.db.UpdateAccount(context.Background(), acc.ID, store.AccountPatch{RateLimitPerMinute: &rate}))
	_, c := f.app()
	ctx := context.Background()

	res := sendBatchOf(t, c, ch, batchReceivers(n))
	require.Eventually(t, func() bool { return fake.SentCount() >= 40 }, time.Minute, 20*time.Millisecond)

	// A verification code through the same account, accepted mid-batch:
	// it books the account's next free slot, which no chunk takes.
	otp, err := c.SendMessage(ctx, apiclient.SendMessageRequest{
		ChannelID: ch.ID, Receiver: "+8613800001111", SignatureName: smsAccountSig,
		TemplateParams: map[string]string{"code": "9999", "minutes": "5"},
	})
	require.NoError(t, err)
	otpAccepted := fake.SentCount()
	require.Equal(t, workflows.StatusSuccess, waitFinal(t, c, otp.TaskID).Status)
	otpAt := -1
	for i, s := range fake.Sent() {
		if s.PhoneNumber == "8613800001111" || s.PhoneNumber == "13800001111" {
			otpAt = i
		}
	}
	require.GreaterOrEqual(t, otpAt, 0, "the code was sent")
	t.Logf("the code was number %d out, %d members were out when it was accepted", otpAt+1, otpAccepted)
	require.Less(t, otpAt, otpAccepted+120, "the code went out before the batch's remaining chunks, %d members sent when it was accepted", otpAccepted)

	// Pause: chunks already running finish, then nothing more is sent.
	b, err := c.PauseBatch(ctx, res.BatchID)
	require.NoError(t, err)
	require.Equal(t, store.BatchPaused, b.Status)
	require.Eventually(t, func() bool {
		b, err := c.GetBatch(ctx, res.BatchID)
		return err == nil && b.Counts.Processing == 0
	}, 30*time.Second, 50*time.Millisecond, "the chunks on their way finish")
	settled := stableSentCount(t, fake)
	time.Sleep(3 * time.Second)
	require.Equal(t, settled, fake.SentCount(), "a paused batch sends nothing")

	_, err = c.ResumeBatch(ctx, res.BatchID)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return fake.SentCount() > settled+20 }, time.Minute, 50*time.Millisecond)

	b, err = c.CancelBatch(ctx, res.BatchID)
	require.NoError(t, err)
	require.Equal(t, store.BatchCancelled, b.Status)
	b = waitBatchEnd(t, h, c, res.BatchID, 2*time.Minute)
	require.Equal(t, store.BatchCancelled, b.Status)
	require.Positive(t, b.Counts.Cancelled)
	require.Equal(t, n, b.Counts.Success+b.Counts.Cancelled, "%+v", b.Counts)
	sent := sentOnce(t, fake)
	require.Len(t, sent, b.Counts.Success+1, "the members delivered and the code")

	_, err = c.PauseBatch(ctx, res.BatchID)
	var apiErr *apiclient.APIError
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, 409, apiErr.HTTPStatus)
}

// stableSentCount waits until the fake's sent count stops growing for
// three seconds, longer than a chunk waits for a paced slot, and returns
// it.
func stableSentCount(t *testing.T, fake *aliyunfake.Server) int {
	t.Helper()
	last, since := fake.SentCount(), time.Now()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		if cur := fake.SentCount(); cur != last {
			last, since = cur, time.Now()
			continue
		}
		if time.Since(since) >= 3*time.Second {
			return last
		}
	}
	t.Fatalf("sends did not stop: %d", last)
	return last
}

// TestPacedBatchSpacesSends checks that a batch through a paced account
// whose provider takes one request per message reaches the provider at
// the account's pace, each member as its slot comes: the DingTalk robot
// refuses (and then blocks) a second message within 150ms, so members
// gathered into a burst would fail.
func TestPacedBatchSpacesSends(t *testing.T) {
	t.Parallel()
	h := sharedHarness(t)
	f := h.fixture(t)
	fake := dingtalkfake.New(t, dingtalkfake.WithRateLimit(1, 150*time.Millisecond, time.Minute))
	ch := f.channel(store.ChannelDingTalk, f.template("Campaign {{n}}", "n"))
	acc := f.dingTalkAccount(ch, fake, 1)
	const (
		receivers = 5
		perMinute = 120 // a slot every half second
		interval  = time.Minute / perMinute
		tolerance = 200 * time.Millisecond
	)
	rate := perMinute
	require.NoError(t, h.db.UpdateAccount(context.Background(), acc.ID, store.AccountPatch{RateLimitPerMinute: &rate}))
	_, c := f.app()

	mentions := make([]string, receivers)
	for i := range mentions {
		mentions[i] = fmt.Sprintf("@1380000%04d", i)
	}
	res, err := c.SendBatch(context.Background(), apiclient.SendBatchRequest{
		ChannelID: ch.ID, Receivers: mentions, TemplateParams: map[string]string{"n": "1"},
	})
	require.NoError(t, err)
	require.Equal(t, receivers, res.SuccessCount, "%+v", res.Rejected)
	b := waitBatchEnd(t, h, c, res.BatchID, time.Minute)
	require.Equal(t, receivers, b.Counts.Success, "%+v", b.Counts)
	sent := fake.Sent()
	at := make([]time.Time, len(sent))
	for i, m := range sent {
		at[i] = m.At
	}
	requireSpaced(t, at, receivers, interval, tolerance)
	// A chunk takes the slots that come within its own wait and hands a
	// later one back to the workflow, which sleeps until it: no more
	// chunks or timers than members, none longer than the rate's span.
	id := workflows.BatchWorkflowID(res.BatchID)
	chunks := 0
	for _, ev := range historyEvents(t, h, id) {
		if a := ev.GetActivityTaskScheduledEventAttributes(); a != nil && a.ActivityType.GetName() == "SendChunk" {
			chunks++
		}
	}
	require.LessOrEqual(t, chunks, receivers)
	// The settle interval's own timer (5 s) is not a pacing wait.
	requireWaitsForItsSlot(t, timerDurations(t, h, id, 5*time.Second), receivers, time.Duration(receivers-1)*interval+tolerance)
}
