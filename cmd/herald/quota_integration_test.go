package main

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/api/apiclient"
	"github.com/heraldhq/herald/providers/tencent/tencentfake"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/workflows"
)

// TestQuotaUnitReturnedByUnsentMessage fills a daily quota of one with a
// message that ends failed before anything is sent, and checks that its
// unit comes back, that a delivered message keeps its unit, and that the
// next send is refused with 30002.
func TestQuotaUnitReturnedByUnsentMessage(t *testing.T) {
	t.Parallel()
	h := sharedHarness(t)
	ctx := context.Background()
	f := h.fixture(t)
	fake := tencentfake.New(t, tencentfake.WithTemplate("1001", 1))
	fake.AutoReceipt(50*time.Millisecond, tencentfake.Success)
	tpl := f.template("Your code is {{code}}", "code")
	ch := f.channel(store.ChannelSMS, tpl)
	f.tencentAccount(ch, fake, 1)
	app, c := f.app()
	require.NoError(t, h.db.SetQuota(ctx, &store.Quota{AppID: app.ID, Daily: 1}))
	req := apiclient.SendMessageRequest{ChannelID: ch.ID, Receiver: "+8613955556666", TemplateParams: map[string]string{"code": "7788"}}
	usage := func() store.QuotaStatus {
		rows, err := h.db.QuotaReport(ctx, app.ID, time.Now())
		require.NoError(t, err)
		require.Len(t, rows, 1)
		return rows[0]
	}

	at := time.Now().Add(3 * time.Second)
	scheduled := req
	scheduled.ScheduledAt = &at
	res, err := c.SendMessage(ctx, scheduled)
	require.NoError(t, err)
	require.Equal(t, int64(1), usage().Reserved)
	disabled, enabled := false, true
	require.NoError(t, h.db.UpdateChannel(ctx, ch.ID, store.ChannelPatch{Enabled: &disabled}))
	require.Eventually(t, func() bool {
		msg, err := h.db.GetMessage(ctx, res.TaskID)
		return err == nil && msg.Status == workflows.StatusFailed
	}, 30*time.Second, 100*time.Millisecond)
	require.Empty(t, fake.Sent())
	got := usage()
	require.Zero(t, got.Reserved+got.Committed, "the unsent message gave its unit back")

	require.NoError(t, h.db.UpdateChannel(ctx, ch.ID, store.ChannelPatch{Enabled: &enabled}))
	res, err = c.SendMessage(ctx, req)
	require.NoError(t, err)
	waitFinal(t, c, res.TaskID)
	got = usage()
	require.Equal(t, int64(1), got.Committed)
	require.Zero(t, got.Reserved)

	_, err = c.SendMessage(ctx, req)
	var apiErr *apiclient.APIError
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, 30002, apiErr.Code)
}
