package main

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/api/apiclient"
	"github.com/heraldhq/herald/workflows"
)

// TestBatchUsesTheProviderBatchAPI sends a batch through an Aliyun channel:
// each receiver keeps its own task, the sends go out together through
// SendBatchSms, and every receipt still finds its task.
func TestBatchUsesTheProviderBatchAPI(t *testing.T) {
	t.Parallel()
	h := sharedHarness(t)
	f := h.fixture(t)
	fake := batchFake(t)
	ch := smsChannel(f, 30)
	f.aliyunAccount(ch, fake, 1)
	_, c := f.app()

	receivers := make([]string, 12)
	for i := range receivers {
		receivers[i] = fmt.Sprintf("+861390000%04d", i)
	}
	res, err := c.SendBatch(context.Background(), apiclient.SendBatchRequest{
		ChannelID: ch.ID, Receivers: receivers, SignatureName: smsAccountSig,
		TemplateParams: map[string]string{"code": "4711", "minutes": "5"},
	})
	require.NoError(t, err)
	require.Equal(t, 12, res.SuccessCount)
	for _, task := range res.Tasks {
		msg := waitFinal(t, c, task.TaskID)
		require.Equal(t, workflows.StatusSuccess, msg.Status, msg.LastError)
		require.Equal(t, workflows.CallbackDelivered, msg.CallbackStatus)
	}
	require.Len(t, fake.Sent(), 12, "each receiver got one message")
	batches := fake.Requests("SendBatchSms")
	require.GreaterOrEqual(t, batches, 1, "SendSms requests: %d", fake.Requests("SendSms"))
	require.Less(t, batches+fake.Requests("SendSms"), 12, "sends were coalesced")

	// A single send never waits for a batch.
	one, err := c.SendMessage(context.Background(), apiclient.SendMessageRequest{
		ChannelID: ch.ID, Receiver: "+8613900009999", SignatureName: smsAccountSig,
		TemplateParams: map[string]string{"code": "4711", "minutes": "5"},
	})
	require.NoError(t, err)
	before := fake.Requests("SendSms")
	require.Equal(t, workflows.StatusSuccess, waitFinal(t, c, one.TaskID).Status)
	require.Equal(t, before+1, fake.Requests("SendSms"))
}
