package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/providers/aliyun/aliyunfake"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/workflows"
)

// TestBatchWorkflowSendsEveryMemberOnce runs a batch of 2,000 members as
// one batch workflow through Aliyun's batch API, with whole requests
// throttled and one number the provider refuses: every member ends final,
// the refused one failed, and no receiver gets the message twice.
func TestBatchWorkflowSendsEveryMemberOnce(t *testing.T) {
	t.Parallel()
	const n = 2000
	h := sharedHarness(t)
	f := h.fixture(t)
	fake := aliyunfake.New(t,
		aliyunfake.WithTemplate(aliyunTemplateCode, "您的验证码为${code}，${minutes}分钟内有效"),
		aliyunfake.WithSignName(smsAccountSig))
	fake.AutoReceipt(50*time.Millisecond, aliyunfake.Delivered)
	ch := smsChannel(f, 30)
	f.aliyunAccount(ch, fake, 1)
	app, _ := f.app()
	ctx := context.Background()

	batchID := "bw-" + randomHex8()
	receiver := func(seq int) string { return fmt.Sprintf("+86139%08d", seq) }
	const refused = 777
	fake.PerNumberCode(receiver(refused), "isv.MOBILE_NUMBER_ILLEGAL")
	fake.Throttle(2)

	msgs := make([]*store.Message, n)
	for i := range msgs {
		seq := i + 1
		msgs[i] = &store.Message{
			TaskID: fmt.Sprintf("%s-%d", batchID, seq), BatchID: batchID, BatchSeq: seq, AppID: app.ID, ChannelID: ch.ID,
			MessageType: store.ChannelSMS, Receiver: receiver(seq), Status: workflows.StatusPending, MaxAttempts: 5,
			TemplateParams: map[string]string{"code": "4711", "minutes": "5"}, SignatureName: smsAccountSig,
		}
	}
	batch := &store.Batch{ID: batchID, AppID: app.ID, ChannelID: ch.ID, TotalCount: n, SuccessCount: n,
		Status: store.BatchRunning, WorkflowID: workflows.BatchWorkflowID(batchID), MessageType: store.ChannelSMS, SignatureName: smsAccountSig}
	require.NoError(t, h.s.db.CreateMessages(ctx, msgs, batch))

	engine := workflows.NewClient(h.s.temporal)
	started := time.Now()
	require.NoError(t, engine.StartBatch(ctx, workflows.BatchInput{BatchID: batchID, AppID: app.ID, ChannelID: ch.ID, Members: n}))

	deadline := time.Now().Add(5 * time.Minute)
	for {
		b, err := h.s.db.GetBatch(ctx, batchID)
		require.NoError(t, err)
		if b.Status == store.BatchFinished {
			require.NotNil(t, b.FinishedAt)
			break
		}
		if time.Now().After(deadline) {
			c, err := h.s.db.CountBatchWork(ctx, batchID, time.Now(), 100)
			require.NoError(t, err)
			desc, derr := h.s.temporal.DescribeWorkflowExecution(ctx, workflows.BatchWorkflowID(batchID), "")
			require.NoError(t, derr)
			t.Logf("workflow: %s, history %d", desc.WorkflowExecutionInfo.Status, desc.WorkflowExecutionInfo.HistoryLength)
			for _, pa := range desc.PendingActivities {
				t.Logf("pending activity %s: %s attempt %d, last failure %v", pa.ActivityType.GetName(), pa.State, pa.Attempt, pa.LastFailure)
			}
			stuck, _ := h.s.db.LoadBatchMembers(ctx, store.BatchMemberFilter{BatchID: batchID, Statuses: []string{"sent"}, Limit: 1})
			for _, m := range stuck {
				evs, _ := h.s.db.ListEvents(ctx, m.TaskID)
				t.Logf("stuck member %d sent_at %v pid %s: %+v", m.BatchSeq, m.SentAt, m.ProviderMessageID, evs)
			}
			failed, _ := h.s.db.LoadBatchMembers(ctx, store.BatchMemberFilter{BatchID: batchID, Statuses: []string{"failed"}, Limit: 3})
			for _, m := range failed {
				t.Logf("failed member %d: %s", m.BatchSeq, m.LastError)
			}
			t.Fatalf("batch still %s: %+v", b.Status, c)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("%d members final in %s", n, time.Since(started))

	ms, err := h.s.db.LoadBatchMembers(ctx, store.BatchMemberFilter{BatchID: batchID})
	require.NoError(t, err)
	require.Len(t, ms, n)
	for _, m := range ms {
		if m.BatchSeq == refused {
			require.Equal(t, workflows.StatusFailed, m.Status)
			continue
		}
		require.Equal(t, workflows.StatusSuccess, m.Status, "member %d: %s", m.BatchSeq, m.LastError)
		require.Equal(t, workflows.CallbackDelivered, m.CallbackStatus, "member %d", m.BatchSeq)
	}
	sent := map[string]int{}
	for _, s := range fake.Sent() {
		sent[s.PhoneNumber]++
	}
	require.Len(t, sent, n-1)
	for phone, times := range sent {
		require.Equal(t, 1, times, "%s got the message %d times", phone, times)
	}
	// Chunks went through the batch API: about one request per hundred.
	require.Less(t, fake.Requests("SendBatchSms"), n/50)
}
