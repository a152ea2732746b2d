package main

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/api/apiclient"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/workflows"
)

// TestQuotaReconciliationAfterCrashes checks the two ways a crash can
// leave the quota ledger behind, end to end on the running worker (sweep
// every second in the harness, 30 s by default):
//
//   - the API stored a message and its reservation, then died before
//     starting its workflow: the sweeper starts it, it is sent, and its
//     unit is committed, never counted twice;
//   - the ledger lost track of the messages (units reserved with no
//     message behind them, as a crash between steps of an older ledger
//     write or a hand edit would leave): the next sweep's reconciliation
//     gives them back, and the app can send again up to its quota.
func TestQuotaReconciliationAfterCrashes(t *testing.T) {
	t.Parallel()
	h := sharedHarness(t)
	ctx := context.Background()
	f := h.fixture(t)
	tpl := f.template("Your code is {{code}}", "code")
	ch := f.channel(store.ChannelSMS, tpl)
	f.sandboxAccount(ch, 1)
	app, c := f.app()
	require.NoError(t, h.db.SetQuota(ctx, &store.Quota{AppID: app.ID, Daily: 2}))
	usage := func() store.QuotaStatus {
		rows, err := h.db.QuotaReport(ctx, app.ID, time.Now())
		require.NoError(t, err)
		require.Len(t, rows, 1)
		return rows[0]
	}

	// An accept whose process died before the workflow started: the
	// message and its reservation are stored together, nothing else.
	orphan := &store.Message{
		TaskID: uuid.NewString(), AppID: app.ID, ChannelID: ch.ID, MessageType: store.ChannelSMS,
		Receiver: "+8613955550001", Content: "Your code is 1", TemplateParams: map[string]string{"code": "1"},
		Status: workflows.StatusPending, MaxAttempts: 3,
	}
	require.NoError(t, h.db.CreateMessages(ctx, []*store.Message{orphan}, nil))
	require.Equal(t, int64(1), usage().Reserved)
	waitFinal(t, c, orphan.TaskID)
	got := usage()
	require.Equal(t, int64(1), got.Committed, "the swept message was sent and keeps its unit")
	require.Zero(t, got.Reserved)

	// Units the ledger holds for no message: the quota looks full.
	key, _ := store.QuotaPeriod(store.PeriodDay, time.Now(), mustZone(t, app.TimeZone))
	_, err := h.db.Bun().NewRaw(`UPDATE quota_usage SET reserved = reserved + 5 WHERE app_id = ? AND channel_id = 0 AND period = ? AND period_start = ?`,
		app.ID, store.PeriodDay, key).Exec(ctx)
	require.NoError(t, err)
	leakedAt := time.Now()
	require.Eventually(t, func() bool { return usage().Reserved == 0 }, 10*time.Second, 100*time.Millisecond,
		"the reconciliation returns leaked units within a sweep")
	require.Less(t, time.Since(leakedAt), time.Minute)
	got = usage()
	require.Equal(t, int64(1), got.Committed, "what was really used stays")
	require.Equal(t, int64(1), got.Remaining)

	// Exactly one more message fits.
	req := apiclient.SendMessageRequest{ChannelID: ch.ID, Receiver: "+8613955550002", TemplateParams: map[string]string{"code": "2"}}
	res, err := c.SendMessage(ctx, req)
	require.NoError(t, err)
	waitFinal(t, c, res.TaskID)
	_, err = c.SendMessage(ctx, req)
	var apiErr *apiclient.APIError
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, 30002, apiErr.Code)
}

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := store.LoadTimeZone(name)
	require.NoError(t, err)
	return loc
}
