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

// TestExpiredWhilePacedIsNotSent sends two messages with a 2-second ttl
// through a channel whose only account allows one send a minute: the
// first goes, the second waits for a slot, expires, and ends failed with
// EXPIRED without reaching the provider.
func TestExpiredWhilePacedIsNotSent(t *testing.T) {
	t.Parallel()
	h := sharedHarness(t)
	f := h.fixture(t)
	fake := tencentfake.New(t, tencentfake.WithTemplate("1001", 1))
	fake.AutoReceipt(20*time.Millisecond, tencentfake.Success)
	tpl := f.template("Code {{n}}", "n")
	ch := f.channel(store.ChannelSMS, tpl)
	acc := f.tencentAccount(ch, fake, 1)
	rate := 1
	require.NoError(t, h.db.UpdateAccount(context.Background(), acc.ID, store.AccountPatch{RateLimitPerMinute: &rate}))
	_, c := f.app()
	ttl := 2

	var tasks []string
	for i, receiver := range []string{"+8613800000201", "+8613800000202"} {
		res, err := c.SendMessage(context.Background(), apiclient.SendMessageRequest{
			ChannelID: ch.ID, Receiver: receiver, TemplateParams: map[string]string{"n": string(rune('1' + i))}, TTLSeconds: &ttl,
		})
		require.NoError(t, err)
		tasks = append(tasks, res.TaskID)
		if i == 0 {
			// The first takes the account's slot before the second asks.
			require.Equal(t, workflows.StatusSuccess, waitFinal(t, c, res.TaskID).Status)
		}
	}

	msg := waitFinal(t, c, tasks[1])
	require.Equal(t, workflows.StatusFailed, msg.Status)
	require.NotNil(t, msg.ExpiresAt)
	kinds, events := eventKinds(t, c, tasks[1])
	require.Equal(t, 1, count(kinds, "paced"), "it waited for a slot")
	fin := events[len(events)-1]
	require.Equal(t, "finished", fin.Kind)
	require.Equal(t, workflows.CodeExpired, fin.Code)
	require.Less(t, fin.CreatedAt.Sub(*msg.ExpiresAt), 30*time.Second, "it ended at its expiry, not at the next slot")
	recordHistory(t, h, tasks[1], "expired_while_paced")

	sent := fake.Sent()
	require.Len(t, sent, 1, "only the first message reached the provider")
	require.Equal(t, "+8613800000201", sent[0].PhoneNumber)
}

// TestQuietHoursHoldAndCancel sends through a channel in its quiet hours:
// the message stays pending with a quiet_hours timeline entry saying until
// when, can be cancelled, and is never sent. A critical one goes at once.
func TestQuietHoursHoldAndCancel(t *testing.T) {
	t.Parallel()
	h := sharedHarness(t)
	f := h.fixture(t)
	fake := tencentfake.New(t, tencentfake.WithTemplate("1001", 1))
	fake.AutoReceipt(20*time.Millisecond, tencentfake.Success)
	tpl := f.template("Code {{n}}", "n")
	now := time.Now().UTC()
	quiet := &store.QuietHours{Start: now.Add(-time.Hour).Format("15:04"), End: now.Add(time.Hour).Format("15:04"), TimeZone: "UTC"}
	ch := f.channel(store.ChannelSMS, tpl, func(ch *store.Channel) { ch.QuietHours = quiet })
	f.tencentAccount(ch, fake, 1)
	_, c := f.app()
	ctx := context.Background()

	res, err := c.SendMessage(ctx, apiclient.SendMessageRequest{ChannelID: ch.ID, Receiver: "+8613800000301", TemplateParams: map[string]string{"n": "1"}})
	require.NoError(t, err)
	var detail string
	require.Eventually(t, func() bool {
		_, events := eventKinds(t, c, res.TaskID)
		for _, e := range events {
			if e.Kind == workflows.EventQuietHours {
				detail = e.Detail
				return true
			}
		}
		return false
	}, 20*time.Second, 100*time.Millisecond)
	require.Contains(t, detail, "waiting until "+now.Add(time.Hour).Truncate(time.Minute).Format(time.RFC3339))
	msg, err := c.GetMessage(ctx, res.TaskID)
	require.NoError(t, err)
	require.Equal(t, workflows.StatusPending, msg.Status)

	cres, err := c.CancelMessage(ctx, res.TaskID)
	require.NoError(t, err)
	require.Equal(t, workflows.StatusCancelled, cres.Status)
	require.Equal(t, workflows.StatusCancelled, waitFinal(t, c, res.TaskID).Status)
	recordHistory(t, h, res.TaskID, "quiet_hours_cancelled")

	critical, err := c.SendMessage(ctx, apiclient.SendMessageRequest{ChannelID: ch.ID, Receiver: "+8613800000302", TemplateParams: map[string]string{"n": "2"}, Priority: "critical"})
	require.NoError(t, err)
	require.Equal(t, workflows.StatusSuccess, waitFinal(t, c, critical.TaskID).Status)
	kinds, _ := eventKinds(t, c, critical.TaskID)
	require.Zero(t, count(kinds, workflows.EventQuietHours))

	sent := fake.Sent()
	require.Len(t, sent, 1, "only the critical message was sent")
	require.Equal(t, "+8613800000302", sent[0].PhoneNumber)
}
