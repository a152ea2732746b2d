package store

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestExpiryAndQuietHours(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		tpl := &Template{Name: "otp", Content: "{{code}}", Variables: []string{"code"}, TTLSeconds: 600, Critical: true}
		require.NoError(t, db.CreateTemplate(ctx, tpl))
		qh := &QuietHours{Start: "21:00", End: "08:00", TimeZone: "Asia/Shanghai"}
		ch := &Channel{Name: "sms", Type: ChannelSMS, TemplateID: &tpl.ID, Enabled: true, DefaultTTLSeconds: 3600, QuietHours: qh}
		require.NoError(t, db.CreateChannel(ctx, ch))
		app := &App{ID: "app-q", Name: "q", Secret: "s", Enabled: true, QuietHours: &QuietHours{Start: "22:00", End: "07:00", TimeZone: "UTC"}}
		require.NoError(t, db.CreateApp(ctx, app))

		t.Run("Read", func(t *testing.T) {
			gotT, err := db.GetTemplate(ctx, tpl.ID)
			require.NoError(t, err)
			require.Equal(t, 600, gotT.TTLSeconds)
			require.True(t, gotT.Critical)
			gotC, err := db.GetChannel(ctx, ch.ID)
			require.NoError(t, err)
			require.Equal(t, 3600, gotC.DefaultTTLSeconds)
			require.Equal(t, qh, gotC.QuietHours)
			gotA, err := db.GetApp(ctx, app.ID)
			require.NoError(t, err)
			require.Equal(t, app.QuietHours, gotA.QuietHours)
		})
		t.Run("Update", func(t *testing.T) {
			other := &Channel{Name: "other", Type: ChannelSMS, Enabled: true}
			require.NoError(t, db.CreateChannel(ctx, other))
			require.NoError(t, db.UpdateChannel(ctx, other.ID, ChannelPatch{DefaultTTLSeconds: ptr(60), QuietHours: ptr(qh)}))
			got, err := db.GetChannel(ctx, other.ID)
			require.NoError(t, err)
			require.Equal(t, 60, got.DefaultTTLSeconds)
			require.Equal(t, qh, got.QuietHours)
			require.NoError(t, db.UpdateChannel(ctx, other.ID, ChannelPatch{QuietHours: ptr[*QuietHours](nil)}))
			got, err = db.GetChannel(ctx, other.ID)
			require.NoError(t, err)
			require.Nil(t, got.QuietHours)

			require.NoError(t, db.UpdateTemplate(ctx, tpl.ID, TemplatePatch{TTLSeconds: ptr(0), Critical: ptr(false)}))
			gotT, err := db.GetTemplate(ctx, tpl.ID)
			require.NoError(t, err)
			require.Zero(t, gotT.TTLSeconds)
			require.False(t, gotT.Critical)

			require.NoError(t, db.UpdateApp(ctx, app.ID, AppPatch{QuietHours: ptr[*QuietHours](nil)}))
			gotA, err := db.GetApp(ctx, app.ID)
			require.NoError(t, err)
			require.Nil(t, gotA.QuietHours)
		})
		t.Run("Message", func(t *testing.T) {
			exp := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
			m := &Message{TaskID: "t-exp", AppID: app.ID, ChannelID: ch.ID, MessageType: ChannelSMS, Receiver: "+8613800000000",
				Status: "pending", ExpiresAt: &exp, Priority: "critical"}
			require.NoError(t, db.CreateMessages(ctx, []*Message{m}, nil))
			got, err := db.GetMessage(ctx, "t-exp")
			require.NoError(t, err)
			require.True(t, exp.Equal(*got.ExpiresAt), "expires_at %v", got.ExpiresAt)
			require.Equal(t, "critical", got.Priority)
		})
	})
}

func TestListStaleMessagesSkipsHeld(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		base := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
		for _, id := range []string{"held", "released", "plain"} {
			m := newMessage(id)
			m.Status, m.CreatedAt, m.UpdatedAt = "pending", base.Add(-time.Hour), base.Add(-time.Hour)
			require.NoError(t, db.CreateMessages(ctx, []*Message{m}, nil))
		}
		// A message waiting for quiet hours to end is not stale; one whose
		// hold ended before the cut-off is.
		require.NoError(t, db.RecordMessage(ctx, "held", MessagePatch{HeldUntil: ptr(base.Add(8 * time.Hour))}, nil))
		require.NoError(t, db.RecordMessage(ctx, "released", MessagePatch{HeldUntil: ptr(base.Add(-time.Minute))}, nil))
		// RecordMessage stamps updated_at with the store's clock; put them
		// back before the cut-off.
		_, err := db.bun.NewRaw("UPDATE messages SET updated_at = ? WHERE task_id IN (?, ?)", base.Add(-time.Hour), "held", "released").Exec(ctx)
		require.NoError(t, err)

		got, err := db.ListStaleMessages(ctx, "pending", base, 0)
		require.NoError(t, err)
		var ids []string
		for _, m := range got {
			ids = append(ids, m.TaskID)
		}
		require.ElementsMatch(t, []string{"released", "plain"}, ids)
		held, err := db.GetMessage(ctx, "held")
		require.NoError(t, err)
		require.True(t, base.Add(8*time.Hour).Equal(*held.HeldUntil))
	})
}
