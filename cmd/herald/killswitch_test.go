package main

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/activities"
	"github.com/heraldhq/herald/api/apiclient"
	"github.com/heraldhq/herald/providers/tencent/tencentfake"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/workflows"
)

// TestDisablingStopsMessages disables an app, a channel, and an app whose
// message waits to retry, and checks that their messages end failed with
// the API's code, on the timeline, with nothing sent.
func TestDisablingStopsMessages(t *testing.T) {
	t.Parallel()
	h := sharedHarness(t)
	ctx := context.Background()
	disabled := false

	for _, tc := range []struct {
		name    string
		code    string
		disable func(f *fixture, app *store.App, ch *store.Channel) error
		// retry makes the first send fail transiently, so the message
		// waits on a retry delay instead of its schedule.
		retry bool
	}{
		{"ScheduledAppDisabled", activities.CodeAppDisabled, func(_ *fixture, app *store.App, _ *store.Channel) error {
			return h.db.UpdateApp(ctx, app.ID, store.AppPatch{Enabled: &disabled})
		}, false},
		{"ScheduledChannelDisabled", activities.CodeChannelDisabled, func(_ *fixture, _ *store.App, ch *store.Channel) error {
			return h.db.UpdateChannel(ctx, ch.ID, store.ChannelPatch{Enabled: &disabled})
		}, false},
		{"RetryDelayAppDisabled", activities.CodeAppDisabled, func(_ *fixture, app *store.App, _ *store.Channel) error {
			return h.db.UpdateApp(ctx, app.ID, store.AppPatch{Enabled: &disabled})
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := h.fixture(t)
			fake := tencentfake.New(t, tencentfake.WithTemplate("1001", 1))
			fake.AutoReceipt(50*time.Millisecond, tencentfake.Success)
			tpl := f.template("Your code is {{code}}", "code")
			ch := f.channel(store.ChannelSMS, tpl)
			f.tencentAccount(ch, fake, 1)
			app, c := f.app()
			req := apiclient.SendMessageRequest{ChannelID: ch.ID, Receiver: "+8613955556666", TemplateParams: map[string]string{"code": "7788"}}
			if tc.retry {
				f.rule(store.Rule{Name: "retry-later-" + randomHex8(), Scene: "send_failure", ProviderKind: "tencent",
					ErrorCodes: "InternalError.OtherError", Action: "retry", MaxRetry: 3, DelaySeconds: 4})
				fake.FailNext(1, "InternalError.OtherError")
			} else {
				at := time.Now().Add(4 * time.Second)
				req.ScheduledAt = &at
			}
			res, err := c.SendMessage(ctx, req)
			require.NoError(t, err)
			if tc.retry {
				require.Eventually(t, func() bool {
					events, err := h.db.ListEvents(ctx, res.TaskID)
					return err == nil && len(events) > 0 && events[len(events)-1].Kind == workflows.EventDecision
				}, 20*time.Second, 50*time.Millisecond, "the first send fails and a retry is decided")
			}
			require.NoError(t, tc.disable(f, app, ch))

			var msg *store.Message
			require.Eventually(t, func() bool {
				msg, err = h.db.GetMessage(ctx, res.TaskID)
				return err == nil && workflows.IsFinal(msg.Status)
			}, 30*time.Second, 100*time.Millisecond)
			require.Equal(t, workflows.StatusFailed, msg.Status)
			require.Empty(t, fake.Sent(), "nothing reaches the provider")

			events, err := h.db.ListEvents(ctx, res.TaskID)
			require.NoError(t, err)
			last := events[len(events)-1]
			require.Equal(t, workflows.EventFinished, last.Kind)
			require.Equal(t, tc.code, last.Code)
			require.Contains(t, last.Detail, "disabled")

			recordHistory(t, h, res.TaskID, "kill_switch_"+tc.name)
		})
	}
}
