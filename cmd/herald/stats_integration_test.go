package main

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/api/apiclient"
	"github.com/heraldhq/herald/internal/stats"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/workflows"
)

// TestStatsCountWhatWasSent sends through the running service and reads
// the statistics the workflows' status writes left behind.
func TestStatsCountWhatWasSent(t *testing.T) {
	t.Parallel()
	h := sharedHarness(t)
	f := h.fixture(t)
	tpl := f.template("Code {{code}}", "code")
	ch := f.channel(store.ChannelSMS, tpl)
	f.sandboxAccount(ch, 1)
	app, c := f.app()

	// 4000 at the end: the sandbox rejects the number permanently.
	want := map[string]string{"13800138001": workflows.StatusSuccess, "13800138002": workflows.StatusSuccess, "13800134000": workflows.StatusFailed}
	for receiver, status := range want {
		res, err := c.SendMessage(context.Background(), apiclient.SendMessageRequest{
			ChannelID: ch.ID, Receiver: receiver, TemplateParams: map[string]string{"code": "1234"},
		})
		require.NoError(t, err)
		require.Equal(t, status, waitFinal(t, c, res.TaskID).Status)
	}

	now := time.Now()
	q := stats.Query{From: now.Add(-time.Hour).Truncate(time.Hour), To: now.Truncate(time.Hour).Add(time.Hour),
		Interval: stats.IntervalHour, GroupBy: store.StatsByChannel, Location: time.UTC, AppID: app.ID}
	rep, err := stats.Compute(t.Context(), h.db, q, nil)
	require.NoError(t, err)
	require.Len(t, rep.Series, 1)
	total := rep.Series[0].Total
	require.Equal(t, int64(3), total.Accepted)
	require.Equal(t, int64(2), total.Success)
	require.Equal(t, int64(1), total.Failed)
	require.Equal(t, int64(3), total.FinalLatency.Count)
	require.Equal(t, int64(2), total.ReceiptLatency.Count, "the delivered ones had receipts")
	require.Equal(t, int64(3), total.SMSSegments)
}
