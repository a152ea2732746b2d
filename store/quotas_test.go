package store

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func quotaFixture(t *testing.T, db *DB, appID string) *Channel {
	t.Helper()
	ctx := t.Context()
	ch := &Channel{Name: "sms-" + appID, Type: ChannelSMS, Enabled: true}
	require.NoError(t, db.CreateChannel(ctx, ch))
	require.NoError(t, db.CreateApp(ctx, &App{ID: appID, Name: appID, Secret: "s", Enabled: true}))
	return ch
}

func quotaMessage(appID string, channelID int64, task string) *Message {
	return &Message{TaskID: task, AppID: appID, ChannelID: channelID, MessageType: ChannelSMS, Receiver: "+8613800000000", Status: "pending"}
}

func usageNow(t *testing.T, db *DB, appID string, channelID int64, period string) QuotaUsage {
	t.Helper()
	loc, err := LoadTimeZone("")
	require.NoError(t, err)
	key, _ := QuotaPeriod(period, time.Now(), loc)
	u, err := db.GetQuotaUsage(t.Context(), appID, channelID, period, key)
	require.NoError(t, err)
	return u
}

func TestQuotaReservation(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		ch := quotaFixture(t, db, "app-quota")
		require.NoError(t, db.SetQuota(ctx, &Quota{AppID: "app-quota", Daily: 3, Monthly: 100}))
		require.NoError(t, db.SetQuota(ctx, &Quota{AppID: "app-quota", ChannelID: ch.ID, Daily: 10}))

		// A batch that does not fit is refused whole.
		batch := []*Message{quotaMessage("app-quota", ch.ID, "q1"), quotaMessage("app-quota", ch.ID, "q2"),
			quotaMessage("app-quota", ch.ID, "q3"), quotaMessage("app-quota", ch.ID, "q4")}
		err := db.CreateMessages(ctx, batch, nil)
		var qe *QuotaExceededError
		require.ErrorAs(t, err, &qe)
		require.Equal(t, int64(3), qe.Limit)
		require.Equal(t, int64(0), qe.Used)
		require.Equal(t, int64(4), qe.Asked)
		require.Equal(t, PeriodDay, qe.Period)
		require.Zero(t, qe.ChannelID)
		require.True(t, qe.ResetsAt.After(time.Now()))
		_, err = db.GetMessage(ctx, "q1")
		require.ErrorIs(t, err, ErrNotFound)

		require.NoError(t, db.CreateMessages(ctx, batch[:3], nil))
		got, err := db.GetMessage(ctx, "q1")
		require.NoError(t, err)
		require.Equal(t, QuotaReserved, got.QuotaState)
		require.Equal(t, ScopeAppDay|ScopeAppMonth|ScopeChannelDay, got.QuotaScopes)
		require.Equal(t, 1, got.SMSSegments)
		require.Equal(t, int64(3), usageNow(t, db, "app-quota", 0, PeriodDay).Reserved)
		require.Equal(t, int64(3), usageNow(t, db, "app-quota", ch.ID, PeriodDay).Reserved)

		err = db.CreateMessages(ctx, []*Message{quotaMessage("app-quota", ch.ID, "q5")}, nil)
		require.ErrorAs(t, err, &qe)
		require.Equal(t, int64(3), qe.Used)

		// Commit is idempotent: an acceptance recorded twice (a retry)
		// and a later success count once.
		require.NoError(t, db.RecordAccepted(ctx, "q1", 0, "", MessagePatch{}, nil))
		require.NoError(t, db.RecordAccepted(ctx, "q1", 0, "", MessagePatch{}, nil))
		require.NoError(t, db.UpdateMessage(ctx, "q1", MessagePatch{Status: ptr("success")}))
		// Release is idempotent and gives the unit back.
		require.NoError(t, db.UpdateMessage(ctx, "q2", MessagePatch{Status: ptr("failed")}))
		require.NoError(t, db.RecordMessage(ctx, "q2", MessagePatch{Status: ptr("failed")}, nil))
		// A message that failed after a provider accepted it stays spent.
		require.NoError(t, db.RecordAccepted(ctx, "q3", 0, "", MessagePatch{}, nil))
		require.NoError(t, db.UpdateMessage(ctx, "q3", MessagePatch{Status: ptr("failed")}))

		day := usageNow(t, db, "app-quota", 0, PeriodDay)
		require.Equal(t, QuotaUsage{AppID: "app-quota", Period: PeriodDay, PeriodStart: day.PeriodStart, Reserved: 0, Committed: 2}, day)
		month := usageNow(t, db, "app-quota", 0, PeriodMonth)
		require.Equal(t, int64(2), month.Committed)
		require.Zero(t, month.Reserved)
		got, err = db.GetMessage(ctx, "q2")
		require.NoError(t, err)
		require.Equal(t, QuotaReleased, got.QuotaState)

		// The released unit is free again.
		require.NoError(t, db.CreateMessages(ctx, []*Message{quotaMessage("app-quota", ch.ID, "q5")}, nil))
	})
}

func TestQuotaWithoutQuotaCountsNothing(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		ch := quotaFixture(t, db, "app-free")
		require.NoError(t, db.CreateMessages(ctx, []*Message{quotaMessage("app-free", ch.ID, "f1")}, nil))
		got, err := db.GetMessage(ctx, "f1")
		require.NoError(t, err)
		require.Empty(t, got.QuotaState)
		require.NoError(t, db.UpdateMessage(ctx, "f1", MessagePatch{Status: ptr("failed")}))
		require.Zero(t, usageNow(t, db, "app-free", 0, PeriodDay).Reserved)
	})
}

func TestQuotaConcurrentReservationsNeverExceed(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		ch := quotaFixture(t, db, "app-race")
		const limit = 25
		require.NoError(t, db.SetQuota(ctx, &Quota{AppID: "app-race", Daily: limit, Monthly: 1000}))
		require.NoError(t, db.SetQuota(ctx, &Quota{AppID: "app-race", ChannelID: ch.ID, Daily: 1000, Monthly: 1000}))
		var wg sync.WaitGroup
		var ok, refused atomic.Int64
		// Reconciliation runs all along: it must neither deadlock with
		// accepts nor let one through.
		stop := make(chan struct{})
		reconciled := make(chan error, 1)
		go func() {
			for {
				select {
				case <-stop:
					reconciled <- nil
					return
				default:
				}
				if _, err := db.ReconcileQuotas(ctx, time.Now()); err != nil {
					reconciled <- err
					return
				}
			}
		}()
		for g := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 10 {
					err := db.CreateMessages(ctx, []*Message{quotaMessage("app-race", ch.ID, fmt.Sprintf("r-%d-%d", g, i))}, nil)
					var qe *QuotaExceededError
					switch {
					case err == nil:
						ok.Add(1)
					case errors.As(err, &qe):
						refused.Add(1)
					default:
						t.Errorf("create: %v", err)
					}
				}
			}()
		}
		wg.Wait()
		close(stop)
		require.NoError(t, <-reconciled)
		require.Equal(t, int64(limit), ok.Load())
		require.Equal(t, int64(80-limit), refused.Load())
		require.Equal(t, int64(limit), usageNow(t, db, "app-race", 0, PeriodDay).Reserved)
	})
}

func TestQuotaPeriod(t *testing.T) {
	t.Parallel()
	loc, err := LoadTimeZone("")
	require.NoError(t, err)
	// 17:30 UTC on 31 Dec is already 1 Jan in Shanghai.
	at := time.Date(2026, 12, 31, 17, 30, 0, 0, time.UTC)
	key, end := QuotaPeriod(PeriodDay, at, loc)
	require.Equal(t, "2027-01-01", key)
	require.Equal(t, time.Date(2027, 1, 1, 16, 0, 0, 0, time.UTC), end.UTC())
	key, end = QuotaPeriod(PeriodMonth, at, loc)
	require.Equal(t, "2027-01", key)
	require.Equal(t, time.Date(2027, 1, 31, 16, 0, 0, 0, time.UTC), end.UTC())
}

func TestQuotaUnknownOutcomeStaysSpent(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		ch := quotaFixture(t, db, "app-unk")
		require.NoError(t, db.SetQuota(ctx, &Quota{AppID: "app-unk", Daily: 5}))
		require.NoError(t, db.CreateMessages(ctx, []*Message{quotaMessage("app-unk", ch.ID, "u1"), quotaMessage("app-unk", ch.ID, "u2")}, nil))
		// u1 may have been sent: its unit stays spent. u2 was refused.
		require.NoError(t, db.RecordMessage(ctx, "u1", MessagePatch{Status: ptr("failed"), MaybeSent: true}, []*MessageEvent{
			{Seq: 1, Kind: "finished", Detail: "the outcome of the send is unknown"}}))
		// The words on the timeline decide nothing: only the flag does.
		require.NoError(t, db.RecordMessage(ctx, "u2", MessagePatch{Status: ptr("failed")}, []*MessageEvent{
			{Seq: 1, Kind: "send_failed", Detail: "unknown_outcome: SEND_NOT_CONFIRMED: timeout"}}))
		got, err := db.GetMessage(ctx, "u1")
		require.NoError(t, err)
		require.Equal(t, QuotaCommitted, got.QuotaState)
		got, err = db.GetMessage(ctx, "u2")
		require.NoError(t, err)
		require.Equal(t, QuotaReleased, got.QuotaState)
		u := usageNow(t, db, "app-unk", 0, PeriodDay)
		require.Equal(t, int64(1), u.Committed)
		require.Zero(t, u.Reserved)
	})
}

func TestReconcileQuotas(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		ch := quotaFixture(t, db, "app-rec")
		require.NoError(t, db.SetQuota(ctx, &Quota{AppID: "app-rec", Daily: 10, Monthly: 100}))
		require.NoError(t, db.SetQuota(ctx, &Quota{AppID: "app-rec", ChannelID: ch.ID, Daily: 10}))
		require.NoError(t, db.CreateMessages(ctx, []*Message{quotaMessage("app-rec", ch.ID, "c1"),
			quotaMessage("app-rec", ch.ID, "c2"), quotaMessage("app-rec", ch.ID, "c3")}, nil))
		require.NoError(t, db.RecordAccepted(ctx, "c1", 0, "", MessagePatch{}, nil))
		require.NoError(t, db.UpdateMessage(ctx, "c2", MessagePatch{Status: ptr("cancelled")}))

		n, err := db.ReconcileQuotas(ctx, time.Now())
		require.NoError(t, err)
		require.Zero(t, n, "an exact ledger is left alone")

		// Units lost or leaked outside a settling transaction.
		_, err = db.Bun().NewRaw("UPDATE quota_usage SET reserved = 7, committed = 0").Exec(ctx)
		require.NoError(t, err)
		n, err = db.ReconcileQuotas(ctx, time.Now())
		require.NoError(t, err)
		require.Equal(t, int64(3), n)
		for _, u := range []QuotaUsage{usageNow(t, db, "app-rec", 0, PeriodDay), usageNow(t, db, "app-rec", 0, PeriodMonth),
			usageNow(t, db, "app-rec", ch.ID, PeriodDay)} {
			require.Equal(t, int64(1), u.Reserved, "%+v", u)
			require.Equal(t, int64(1), u.Committed, "%+v", u)
		}
	})
}

func TestQuotaAppIDs(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		ids, err := db.QuotaAppIDs(ctx)
		require.NoError(t, err)
		require.Empty(t, ids)

		ch := quotaFixture(t, db, "app-b")
		addApp := func(id string) {
			require.NoError(t, db.CreateApp(ctx, &App{ID: id, Name: id, Secret: "s", Enabled: true}))
		}
		addApp("app-a")
		addApp("app-none")
		require.NoError(t, db.SetQuota(ctx, &Quota{AppID: "app-b", Daily: 3}))
		require.NoError(t, db.SetQuota(ctx, &Quota{AppID: "app-b", ChannelID: ch.ID, Daily: 5}))
		require.NoError(t, db.SetQuota(ctx, &Quota{AppID: "app-a", Monthly: 7}))

		ids, err = db.QuotaAppIDs(ctx)
		require.NoError(t, err)
		require.Equal(t, []string{"app-a", "app-b"}, ids, "each app with a quota once, in order")
	})
}
