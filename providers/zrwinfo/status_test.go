package zrwinfo

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/providers"
	"github.com/heraldhq/herald/providers/zrwinfo/zrwinfofake"
)

func TestCheckStatus(t *testing.T) {
	t.Parallel()

	t.Run("BySmUUID", func(t *testing.T) {
		t.Parallel()
		fake, s := setup(t)
		res, err := s.Send(context.Background(), message())
		require.NoError(t, err)
		q := providers.StatusQuery{ProviderMessageID: res.ProviderMessageID, Receiver: receiver, SentAt: time.Now()}

		_, found, err := s.CheckStatus(context.Background(), q)
		require.NoError(t, err)
		require.False(t, found, "no report yet")

		require.NoError(t, fake.PushReceipt(res.ProviderMessageID, zrwinfofake.Undelivered))
		r, found, err := s.CheckStatus(context.Background(), q)
		require.NoError(t, err)
		require.True(t, found)
		require.Equal(t, providers.ReceiptFailed, r.Status)
		require.Equal(t, "UNDELIV", r.Code)
		require.Equal(t, res.ProviderMessageID, r.ProviderMessageID)
		require.Equal(t, receiver, r.Receiver)

		// The report stays found after the queue gave it away.
		again, found, err := s.CheckStatus(context.Background(), q)
		require.NoError(t, err)
		require.True(t, found)
		require.Equal(t, r, again)
	})

	t.Run("ByBatchKey", func(t *testing.T) {
		t.Parallel()
		fake, s := setup(t)
		outcomes, err := s.SendBatch(context.Background(), batchOf("13711112222", "13722223333"))
		require.NoError(t, err)
		sent := fake.Sent()
		require.NoError(t, fake.PushReceipt(sent[1].SmUUID, zrwinfofake.Rejected))
		r, found, err := s.CheckStatus(context.Background(), providers.StatusQuery{ProviderMessageID: outcomes[1].Result.ProviderMessageID})
		require.NoError(t, err)
		require.True(t, found)
		require.Equal(t, outcomes[1].Result.ProviderMessageID, r.ProviderMessageID)
		require.Equal(t, providers.ReceiptRejected, r.Status)

		_, found, err = s.CheckStatus(context.Background(), providers.StatusQuery{ProviderMessageID: outcomes[0].Result.ProviderMessageID})
		require.NoError(t, err)
		require.False(t, found)
	})

	t.Run("ReportsOfOtherMessagesAreKept", func(t *testing.T) {
		t.Parallel()
		fake, s := setup(t)
		a, err := s.Send(context.Background(), message())
		require.NoError(t, err)
		b, err := s.Send(context.Background(), message())
		require.NoError(t, err)
		require.NoError(t, fake.PushReceipt(b.ProviderMessageID, zrwinfofake.Delivered))
		require.NoError(t, fake.PushReceipt(a.ProviderMessageID, zrwinfofake.Delivered))

		_, found, err := s.CheckStatus(context.Background(), providers.StatusQuery{ProviderMessageID: a.ProviderMessageID})
		require.NoError(t, err)
		require.True(t, found)
		require.Equal(t, 1, fake.Pulls())
		_, found, err = s.CheckStatus(context.Background(), providers.StatusQuery{ProviderMessageID: b.ProviderMessageID})
		require.NoError(t, err)
		require.True(t, found)
		require.Equal(t, 1, fake.Pulls(), "b's report came with the first pull")
	})

	t.Run("ByNumber", func(t *testing.T) {
		t.Parallel()
		fake, s := setup(t)
		first, err := s.Send(context.Background(), message())
		require.NoError(t, err)
		second, err := s.Send(context.Background(), message())
		require.NoError(t, err)
		require.NoError(t, fake.PushReceipt(first.ProviderMessageID, zrwinfofake.Delivered))
		require.NoError(t, fake.PushReceipt(second.ProviderMessageID, zrwinfofake.Delivered))

		_, found, err := s.CheckStatus(context.Background(), providers.StatusQuery{Receiver: receiver, SentAt: time.Now().Add(time.Hour)})
		require.NoError(t, err)
		require.False(t, found, "reports from before the send do not match")

		got := map[string]bool{}
		for range 2 {
			r, found, err := s.CheckStatus(context.Background(), providers.StatusQuery{TaskID: taskID, Receiver: "13711112222"})
			require.NoError(t, err)
			require.True(t, found)
			got[r.ProviderMessageID] = true
		}
		require.Equal(t, map[string]bool{first.ProviderMessageID: true, second.ProviderMessageID: true}, got,
			"a report matched by number is handed out once")
		_, found, err = s.CheckStatus(context.Background(), providers.StatusQuery{Receiver: receiver})
		require.NoError(t, err)
		require.False(t, found)
	})

	t.Run("PullsAreBounded", func(t *testing.T) {
		t.Parallel()
		fake, s := setup(t, zrwinfofake.WithPullPageSize(1))
		for range maxPullsPerCheck + 5 {
			res, err := s.Send(context.Background(), message())
			require.NoError(t, err)
			require.NoError(t, fake.PushReceipt(res.ProviderMessageID, zrwinfofake.Delivered))
		}
		_, found, err := s.CheckStatus(context.Background(), providers.StatusQuery{ProviderMessageID: "unknown"})
		require.NoError(t, err)
		require.False(t, found)
		require.Equal(t, maxPullsPerCheck, fake.Pulls())
	})

	t.Run("PullErrorIsClassified", func(t *testing.T) {
		t.Parallel()
		fake, s := setup(t)
		fake.Throttle(1)
		_, _, err := s.CheckStatus(context.Background(), providers.StatusQuery{ProviderMessageID: "x"})
		requireClass(t, err, providers.ClassThrottled, CodeTooFrequent)
	})

	t.Run("NeedsIDOrReceiver", func(t *testing.T) {
		t.Parallel()
		_, s := setup(t)
		_, _, err := s.CheckStatus(context.Background(), providers.StatusQuery{TaskID: taskID})
		require.ErrorContains(t, err, "need a provider message id or a receiver")
		_, _, err = s.CheckStatus(context.Background(), providers.StatusQuery{Receiver: "+14155550123"})
		require.ErrorContains(t, err, "receiver")
	})

	t.Run("MalformedReportsAreSkipped", func(t *testing.T) {
		t.Parallel()
		s := stub(t, http.StatusOK, `{"code":"0","msg":"SUCCESS","data":[
			{"smUuid":"","mobile":"13711112222","deliverResult":"DELIVRD"},
			"garbage",
			{"smUuid":"u2","mobile":"13711112222","deliverResult":"DELIVRD","deliverTime":"2024-05-01 10:00:00"}]}`)
		r, found, err := s.CheckStatus(context.Background(), providers.StatusQuery{ProviderMessageID: "u2"})
		require.NoError(t, err)
		require.True(t, found)
		require.Equal(t, time.Date(2024, 5, 1, 2, 0, 0, 0, time.UTC), r.At)
	})
}

func TestPulledReceiptsAreShared(t *testing.T) {
	t.Parallel()
	fake := zrwinfofake.New(t)
	var mu sync.Mutex
	sunk := map[int64][]providers.Receipt{}
	p := New(WithPulledReceipts(func(accountID int64, rs []providers.Receipt) {
		mu.Lock()
		defer mu.Unlock()
		sunk[accountID] = append(sunk[accountID], rs...)
	}))
	raw, err := json.Marshal(fakeConfig(fake))
	require.NoError(t, err)
	build := func(id int64) *Sender {
		s, err := p.NewSender(providers.Account{ID: id, Kind: Kind, Config: raw})
		require.NoError(t, err)
		return s.(*Sender)
	}
	one, two := build(1), build(2)

	a, err := one.Send(context.Background(), message())
	require.NoError(t, err)
	b, err := two.Send(context.Background(), message())
	require.NoError(t, err)
	require.NoError(t, fake.PushReceipt(a.ProviderMessageID, zrwinfofake.Delivered))
	require.NoError(t, fake.PushReceipt(b.ProviderMessageID, zrwinfofake.Delivered))

	_, found, err := one.CheckStatus(context.Background(), providers.StatusQuery{ProviderMessageID: a.ProviderMessageID})
	require.NoError(t, err)
	require.True(t, found)
	_, found, err = two.CheckStatus(context.Background(), providers.StatusQuery{ProviderMessageID: b.ProviderMessageID})
	require.NoError(t, err)
	require.True(t, found, "one Zrwinfo account, one store of pulled reports")
	require.Equal(t, 1, fake.Pulls())

	mu.Lock()
	defer mu.Unlock()
	require.Len(t, sunk[1], 2, "every pulled report reaches the sink, under the pulling account")
	require.ElementsMatch(t, []string{a.ProviderMessageID, b.ProviderMessageID},
		[]string{sunk[1][0].ProviderMessageID, sunk[1][1].ProviderMessageID})
}

func TestPullReceipts(t *testing.T) {
	t.Parallel()
	fake, s := setup(t)
	res, err := s.Send(context.Background(), message())
	require.NoError(t, err)
	outcomes, err := s.SendBatch(context.Background(), batchOf("13722223333"))
	require.NoError(t, err)
	for _, m := range fake.Sent() {
		require.NoError(t, fake.PushReceipt(m.SmUUID, zrwinfofake.Delivered))
	}

	rs, err := s.PullReceipts(context.Background())
	require.NoError(t, err)
	ids := make([]string, len(rs))
	for i, r := range rs {
		ids[i] = r.ProviderMessageID
	}
	// The batch report comes keyed both ways (matchBySmUUIDToo).
	require.Equal(t, []string{res.ProviderMessageID, outcomes[0].Result.ProviderMessageID, fake.Sent()[1].SmUUID}, ids)

	rs, err = s.PullReceipts(context.Background())
	require.NoError(t, err)
	require.Empty(t, rs, "the queue gave its reports away")
	_, found, err := s.CheckStatus(context.Background(), providers.StatusQuery{ProviderMessageID: outcomes[0].Result.ProviderMessageID})
	require.NoError(t, err)
	require.True(t, found, "pulled reports are kept for checks")
}

func TestReportBookEviction(t *testing.T) {
	t.Parallel()
	b := newReportBook()
	t0 := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	rc := func(id string) []providers.Receipt {
		return []providers.Receipt{{ProviderMessageID: id, Receiver: receiver, Status: providers.ReceiptDelivered, At: t0}}
	}
	b.add([][]providers.Receipt{rc("old")}, t0)
	b.add([][]providers.Receipt{rc("new")}, t0.Add(bookTTL+time.Minute))
	_, found := b.find(providers.StatusQuery{ProviderMessageID: "old"}, "")
	require.False(t, found)
	_, found = b.find(providers.StatusQuery{ProviderMessageID: "new"}, "")
	require.True(t, found)
	require.Len(t, b.entries, 1)
}
