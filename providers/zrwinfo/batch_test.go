package zrwinfo

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/providers"
	"github.com/heraldhq/herald/providers/zrwinfo/zrwinfofake"
)

func batchOf(receivers ...string) []providers.Message {
	msgs := make([]providers.Message, len(receivers))
	for i, r := range receivers {
		m := message()
		m.TaskID = fmt.Sprintf("task-%d", i)
		m.Receiver = r
		m.Params = []providers.Param{{Name: "code", Value: "4711"}}
		msgs[i] = m
	}
	return msgs
}

func TestSendBatch(t *testing.T) {
	t.Parallel()

	t.Run("SameContent", func(t *testing.T) {
		t.Parallel()
		fake, s := setup(t, zrwinfofake.WithTemplate("44341", 1))
		outcomes, err := s.SendBatch(context.Background(), batchOf("+8613711112222", "13722223333", "+86 137 3333 4444"))
		require.NoError(t, err)
		require.Len(t, outcomes, 3)
		sent := fake.Sent()
		require.Len(t, sent, 3)
		batchID := sent[0].BatchID
		require.NotEmpty(t, batchID)
		for i, m := range []string{"13711112222", "13722223333", "13733334444"} {
			require.NoError(t, outcomes[i].Err)
			require.Equal(t, BatchMessageID(batchID, m), outcomes[i].Result.ProviderMessageID)
			require.Equal(t, m, sent[i].Mobile)
			require.Equal(t, batchID, sent[i].BatchID)
			require.Equal(t, "4711", sent[i].Content)
			require.Equal(t, "【Herald】", sent[i].Sign)
		}
		require.Equal(t, batchID+":13711112222", outcomes[0].Result.ProviderMessageID)
	})

	t.Run("PerNumberContent", func(t *testing.T) {
		t.Parallel()
		fake, s := setup(t, zrwinfofake.WithTemplate("44341", 2))
		msgs := batchOf("13722223333", "13711112222")
		msgs[0].Params = []providers.Param{{Name: "name", Value: "女士"}, {Name: "time", Value: "10:10"}}
		msgs[1].Params = []providers.Param{{Name: "name", Value: "先生"}, {Name: "time", Value: "9:40"}}
		outcomes, err := s.SendBatch(context.Background(), msgs)
		require.NoError(t, err)
		sent := fake.Sent()
		require.Len(t, sent, 2)
		byMobile := map[string]zrwinfofake.SentMessage{}
		for _, m := range sent {
			byMobile[m.Mobile] = m
		}
		require.Equal(t, "女士##10:10", byMobile["13722223333"].Content)
		require.Equal(t, "先生##9:40", byMobile["13711112222"].Content)
		require.Equal(t, BatchMessageID(sent[0].BatchID, "13722223333"), outcomes[0].Result.ProviderMessageID)
		require.Equal(t, BatchMessageID(sent[0].BatchID, "13711112222"), outcomes[1].Result.ProviderMessageID)
	})

	t.Run("ItemsRefusedOnTheirOwn", func(t *testing.T) {
		t.Parallel()
		fake, s := setup(t)
		msgs := batchOf("13711112222", "not a number", "13722223333", "13711112222", "13733334444", "13744445555")
		msgs[4].TemplateCode = "other"
		msgs[5].Signature = "Other"
		outcomes, err := s.SendBatch(context.Background(), msgs)
		require.NoError(t, err)
		require.NoError(t, outcomes[0].Err)
		requireClass(t, outcomes[1].Err, providers.ClassPermanent, CodeInvalidReceiver)
		require.NoError(t, outcomes[2].Err)
		requireClass(t, outcomes[3].Err, providers.ClassTransient, CodeDuplicateReceiver)
		requireClass(t, outcomes[4].Err, providers.ClassTransient, CodeBatchMixed)
		requireClass(t, outcomes[5].Err, providers.ClassTransient, CodeBatchMixed)
		require.Len(t, fake.Sent(), 2)
	})

	t.Run("NothingToSend", func(t *testing.T) {
		t.Parallel()
		fake, s := setup(t)
		outcomes, err := s.SendBatch(context.Background(), batchOf("x", "y"))
		require.NoError(t, err)
		requireClass(t, outcomes[0].Err, providers.ClassPermanent, CodeInvalidReceiver)
		requireClass(t, outcomes[1].Err, providers.ClassPermanent, CodeInvalidReceiver)
		require.Empty(t, fake.Sent())

		outcomes, err = s.SendBatch(context.Background(), nil)
		require.NoError(t, err)
		require.Empty(t, outcomes)
	})

	t.Run("TooLarge", func(t *testing.T) {
		t.Parallel()
		fake := zrwinfofake.New(t)
		s := senderWith(t, fake, func(c *Config) { c.BatchSize = 2 })
		require.Equal(t, 2, s.MaxBatch())
		_, err := s.SendBatch(context.Background(), batchOf("13711112222", "13722223333", "13733334444"))
		requireClass(t, err, providers.ClassTransient, CodeBatchTooLarge)
		require.Empty(t, fake.Sent())
	})

	t.Run("RequestFailureIsWholeCallError", func(t *testing.T) {
		t.Parallel()
		fake, s := setup(t)
		fake.Throttle(1)
		outcomes, err := s.SendBatch(context.Background(), batchOf("13711112222", "13722223333"))
		requireClass(t, err, providers.ClassThrottled, CodeTooFrequent)
		require.Nil(t, outcomes)
	})

	t.Run("RequestFailureKeepsItemRefusals", func(t *testing.T) {
		t.Parallel()
		fake, s := setup(t)
		fake.Throttle(1)
		outcomes, err := s.SendBatch(context.Background(), batchOf("13711112222", "bad"))
		require.NoError(t, err)
		requireClass(t, outcomes[0].Err, providers.ClassThrottled, CodeTooFrequent)
		requireClass(t, outcomes[1].Err, providers.ClassPermanent, CodeInvalidReceiver)
	})

	t.Run("HangThenCheckStatusPerItem", func(t *testing.T) {
		t.Parallel()
		fake, s := setup(t)
		fake.Hang(1)
		fake.AutoReceipt(0, zrwinfofake.Delivered)
		sentAt := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		_, err := s.SendBatch(ctx, batchOf("13711112222", "13722223333"))
		requireClass(t, err, providers.ClassUnknownOutcome, CodeTimeout)
		sent := fake.Sent()
		require.Len(t, sent, 2)

		for _, m := range sent {
			var r providers.Receipt
			require.Eventually(t, func() bool {
				var found bool
				r, found, err = s.CheckStatus(context.Background(), providers.StatusQuery{Receiver: m.Mobile, SentAt: sentAt})
				require.NoError(t, err)
				return found
			}, 5*time.Second, 20*time.Millisecond)
			require.Equal(t, BatchMessageID(m.BatchID, m.Mobile), r.ProviderMessageID)
			require.Equal(t, providers.ReceiptDelivered, r.Status)
		}
	})

	t.Run("BatchWithoutIDIsUnknown", func(t *testing.T) {
		t.Parallel()
		s := stub(t, http.StatusOK, `{"code":"0","msg":"SUCCESS"}`)
		_, err := s.SendBatch(context.Background(), batchOf("13711112222"))
		requireClass(t, err, providers.ClassUnknownOutcome, CodeBadAnswer)
	})
}

func TestSendBatchWire(t *testing.T) {
	t.Parallel()
	var got url.Values
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		got = r.PostForm
		require.Equal(t, "/api/v2/send", r.URL.Path)
		_, _ = w.Write([]byte(`{"code":"0","msg":"SUCCESS","batchId":"b1"}`))
	}))
	t.Cleanup(srv.Close)
	s, err := NewSender(Config{AccessKey: "ak", Secret: "sk", SignName: "29183", BaseURL: srv.URL})
	require.NoError(t, err)

	msgs := batchOf("13711112222", "13722223333")
	_, err = s.SendBatch(context.Background(), msgs)
	require.NoError(t, err)
	require.Equal(t, url.Values{
		"accesskey": {"ak"}, "secret": {"sk"}, "sign": {"29183"}, "templateId": {"44341"},
		"mobile": {"13711112222,13722223333"}, "content": {"4711"},
	}, got)

	msgs[1].Params = []providers.Param{{Name: "code", Value: "<b>&"}}
	_, err = s.SendBatch(context.Background(), msgs)
	require.NoError(t, err)
	require.Equal(t, url.Values{
		"accesskey": {"ak"}, "secret": {"sk"}, "sign": {"29183"}, "templateId": {"44341"},
		"data": {`{"13711112222":"4711","13722223333":"<b>&"}`},
	}, got)
}
