package tencent

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/providers"
	"github.com/heraldhq/herald/providers/tencent/tencentfake"
)

func batchMessage(i int) providers.Message {
	m := message()
	m.TaskID = fmt.Sprintf("task-%d", i)
	m.Receiver = fmt.Sprintf("+86137%08d", i)
	return m
}

func TestSendBatch(t *testing.T) {
	t.Parallel()

	t.Run("OneRequestAnsweredPerNumber", func(t *testing.T) {
		t.Parallel()
		fake, s := setup(t)
		var _ providers.BatchSender = s
		msgs := make([]providers.Message, 150)
		for i := range msgs {
			msgs[i] = batchMessage(i)
		}
		fake.PerNumberCode(msgs[7].Receiver, "FailedOperation.PhoneNumberInBlacklist")
		outs, err := s.SendBatch(context.Background(), msgs)
		require.NoError(t, err)
		require.Len(t, outs, len(msgs))
		sent := fake.Sent()
		require.Len(t, sent, len(msgs)-1)
		serials := map[string]string{}
		for _, m := range sent {
			serials[m.PhoneNumber] = m.SerialNo
			require.Empty(t, m.SessionContext, "a request of many numbers names no task")
			require.Equal(t, []string{"4711", "5"}, m.TemplateParams)
		}
		for i, o := range outs {
			if i == 7 {
				requireClass(t, o.Err, providers.ClassPermanent, "FailedOperation.PhoneNumberInBlacklist")
				continue
			}
			require.NoError(t, o.Err)
			require.Equal(t, serials[msgs[i].Receiver], o.Result.ProviderMessageID, "message %d got its own number's serial", i)
			require.Equal(t, 1, o.Result.Fee)
		}
		requests := map[time.Time]bool{}
		for _, m := range sent {
			requests[m.At] = true
		}
		require.LessOrEqual(t, len(requests), 1, "one SendSms for every number")
	})

	t.Run("SplitsWhatOneRequestCannotCarry", func(t *testing.T) {
		t.Parallel()
		fake, s := setup(t)
		otherParams := batchMessage(2)
		otherParams.Params = []providers.Param{{Name: "code", Value: "1234"}, {Name: "minutes", Value: "5"}}
		international := batchMessage(3)
		international.Receiver = "+14155550123"
		twice := batchMessage(4)
		twice.Receiver = batchMessage(1).Receiver
		msgs := []providers.Message{batchMessage(0), batchMessage(1), otherParams, international, twice}
		outs, err := s.SendBatch(context.Background(), msgs)
		require.NoError(t, err)
		for i, o := range outs {
			require.NoError(t, o.Err, "message %d", i)
		}
		sent := fake.Sent()
		require.Len(t, sent, len(msgs))
		byContext := map[string]int{}
		for _, m := range sent {
			byContext[m.SessionContext]++
		}
		// The first two share a request; each of the rest goes alone and
		// so names its task.
		require.Equal(t, map[string]int{"": 2, "task-2": 1, "task-3": 1, "task-4": 1}, byContext)
		require.NotEqual(t, outs[1].Result.ProviderMessageID, outs[4].Result.ProviderMessageID)
	})

	t.Run("LocalChecksFailOnlyTheirMessage", func(t *testing.T) {
		t.Parallel()
		fake, s := setup(t)
		bad := batchMessage(1)
		bad.Receiver = "not a number"
		outs, err := s.SendBatch(context.Background(), []providers.Message{batchMessage(0), bad, batchMessage(2)})
		require.NoError(t, err)
		require.NoError(t, outs[0].Err)
		requireClass(t, outs[1].Err, providers.ClassPermanent, "InvalidParameterValue.IncorrectPhoneNumber")
		require.NoError(t, outs[2].Err)
		require.Len(t, fake.Sent(), 2)
	})

	t.Run("RequestFailureIsEveryMessagesOutcome", func(t *testing.T) {
		t.Parallel()
		fake, s := setup(t)
		fake.Throttle(1)
		outs, err := s.SendBatch(context.Background(), []providers.Message{batchMessage(0), batchMessage(1)})
		require.NoError(t, err)
		for _, o := range outs {
			requireClass(t, o.Err, providers.ClassThrottled, "RequestLimitExceeded")
		}
		require.Empty(t, fake.Sent())
	})

	t.Run("LostAnswerIsUnknownAndFoundByNumber", func(t *testing.T) {
		t.Parallel()
		fake, s := setup(t)
		fake.Drop(1)
		before := time.Now().Add(-time.Second)
		msgs := []providers.Message{batchMessage(0), batchMessage(1)}
		outs, err := s.SendBatch(context.Background(), msgs)
		require.NoError(t, err)
		for _, o := range outs {
			requireClass(t, o.Err, providers.ClassUnknownOutcome, "ClientError.NetworkError")
		}
		sent := fake.Sent()
		require.Len(t, sent, 2, "Tencent took both")
		for _, m := range sent {
			require.NoError(t, fake.PushReceipt(m.SerialNo, tencentfake.Success))
		}
		q := providers.StatusQuery{TaskID: msgs[1].TaskID, Receiver: msgs[1].Receiver, SentAt: before, Batched: true}
		r, found, err := s.CheckStatus(context.Background(), q)
		require.NoError(t, err)
		require.True(t, found, "a batched send is found by its number")
		require.Equal(t, providers.ReceiptDelivered, r.Status)
		q.Batched = false
		_, found, err = s.CheckStatus(context.Background(), q)
		require.NoError(t, err)
		require.False(t, found, "without Batched a report naming no task is not taken")
	})

	t.Run("TooMany", func(t *testing.T) {
		t.Parallel()
		_, s := setup(t)
		_, err := s.SendBatch(context.Background(), make([]providers.Message, s.MaxBatch()+1))
		requireClass(t, err, providers.ClassPermanent, "LimitExceeded.PhoneNumberCountLimit")
	})
}
