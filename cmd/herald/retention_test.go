package main

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/api/admin/messages"
	"github.com/heraldhq/herald/api/apiclient"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/workflows"
)

// TestRetentionSchedule checks that the worker's retention schedule
// erases the personal data of an app's final messages past its
// retention_days, and leaves recent and in-flight ones and the
// statistics alone.
func TestRetentionSchedule(t *testing.T) {
	t.Parallel()
	h := sharedHarness(t)
	ctx := t.Context()
	db := h.s.db

	desc, err := h.s.temporal.ScheduleClient().GetHandle(ctx, workflows.RetentionScheduleID).Describe(ctx)
	require.NoError(t, err)
	require.Equal(t, time.Second, desc.Schedule.Spec.Intervals[0].Every, "the schedule follows worker.retention-interval")

	f := h.fixture(t)
	tpl := f.template("Your code is {{code}}", "code")
	ch := f.channel(store.ChannelSMS, tpl)
	f.sandboxAccount(ch, 1)
	app, client := f.app()

	send := func(receiver string) string {
		t.Helper()
		res, err := client.SendMessage(ctx, apiclient.SendMessageRequest{ChannelID: ch.ID, Receiver: receiver, TemplateParams: map[string]string{"code": "4321"}})
		require.NoError(t, err)
		waitFinal(t, client, res.TaskID)
		return res.TaskID
	}
	old, recent := send("+8613800138101"), send("+8613800138102")
	// An old message still waiting for its receipt.
	sentAt := time.Now().Add(-40 * 24 * time.Hour)
	inFlight := &store.Message{
		TaskID: "retention-in-flight-" + randomHex8(), AppID: app.ID, ChannelID: ch.ID, MessageType: store.ChannelSMS,
		Receiver: "+8613800138103", Content: "Your code is 1", Status: workflows.StatusSent, CreatedAt: sentAt,
	}
	require.NoError(t, db.CreateMessages(ctx, []*store.Message{inFlight}, nil))
	// The first message was accepted 40 days ago; its statistics stay in
	// the hour it was really counted in.
	_, err = db.Bun().NewUpdate().Model((*store.Message)(nil)).Set("created_at = ?", sentAt).Where("task_id = ?", old).Exec(ctx)
	require.NoError(t, err)
	statsNow := func() []store.StatsRow {
		from := time.Now().UTC().Truncate(time.Hour).Add(-time.Hour)
		rows, err := db.QueryStats(ctx, store.StatsQuery{Bounds: []time.Time{from, from.Add(3 * time.Hour)}, AppID: app.ID})
		require.NoError(t, err)
		return rows
	}
	before := statsNow()
	require.NotEmpty(t, before)

	days := 30
	require.NoError(t, db.UpdateApp(ctx, app.ID, store.AppPatch{RetentionDays: &days}))
	require.Eventually(t, func() bool {
		m, err := db.GetMessage(ctx, old)
		require.NoError(t, err)
		return m.ErasedAt != nil
	}, 60*time.Second, 200*time.Millisecond, "the schedule erases the old message")

	m, err := db.GetMessage(ctx, old)
	require.NoError(t, err)
	require.Empty(t, m.Receiver)
	require.Empty(t, m.ReceiverKey)
	require.Empty(t, m.Content)
	require.Empty(t, m.TemplateParams)
	require.Equal(t, workflows.StatusSuccess, m.Status)
	require.NotNil(t, m.FinishedAt)
	for id, receiver := range map[string]string{recent: "+8613800138102", inFlight.TaskID: "+8613800138103"} {
		m, err := db.GetMessage(ctx, id)
		require.NoError(t, err)
		require.Equal(t, receiver, m.Receiver)
		require.Nil(t, m.ErasedAt)
	}
	require.Equal(t, before, statsNow(), "statistics are untouched")
}

// TestEraseReceiverCLI erases a receiver through `herald erase receiver`
// against the running server: admins may, operators and viewers may not,
// and the audit log records the erasure without the receiver.
func TestEraseReceiverCLI(t *testing.T) {
	t.Parallel()
	h := sharedHarness(t)
	ctx := t.Context()

	f := h.fixture(t)
	tpl := f.template("Your code is {{code}}", "code")
	ch := f.channel(store.ChannelSMS, tpl)
	f.sandboxAccount(ch, 1)
	_, client := f.app()
	// A receiver no other test sends to.
	receiver := fmt.Sprintf("+86139%08d", time.Now().UnixNano()%1e8)
	res, err := client.SendMessage(ctx, apiclient.SendMessageRequest{ChannelID: ch.ID, Receiver: receiver, TemplateParams: map[string]string{"code": "4321"}})
	require.NoError(t, err)
	waitFinal(t, client, res.TaskID)

	o := &operatorCLI{t: t, creds: filepath.Join(t.TempDir(), "credentials.json"), env: map[string]string{
		"HERALD_DATABASE_URL": h.cfg.Database.URL, "HERALD_MASTER_KEY": h.cfg.MasterKey, "USER": "e2e",
	}}
	suffix := randomHex8()
	for _, role := range []string{"admin", "operator", "viewer"} {
		o.ok(role+"'s long passphrase\n", "admin", "user", "create", "erase-"+role+"-"+suffix, "--role", role, "--password-stdin")
	}
	for _, role := range []string{"viewer", "operator"} {
		o.login(h.apiURL, "erase-"+role+"-"+suffix, role+"'s long passphrase")
		r := o.run("", "erase", "receiver", receiver, "--reason", "request 7", "--credentials", o.creds)
		require.Equal(t, 1, r.code, role)
		require.Contains(t, r.stderr, "403", role)
	}
	m, err := h.s.db.GetMessage(ctx, res.TaskID)
	require.NoError(t, err)
	require.Equal(t, receiver, m.Receiver, "refused erasures erase nothing")

	o.login(h.apiURL, "erase-admin-"+suffix, "admin's long passphrase")
	var got messages.Erasure
	o.json(&got, "erase", "receiver", receiver, "--reason", "data subject request 7")
	require.Equal(t, 1, got.MessagesErased)
	require.Equal(t, store.MaskReceiver(store.ChannelSMS, receiver), got.ReceiverMasked)
	m, err = h.s.db.GetMessage(ctx, res.TaskID)
	require.NoError(t, err)
	require.Empty(t, m.Receiver)
	require.NotNil(t, m.ErasedAt)

	recs, err := h.s.db.ListAudit(ctx, store.AuditFilter{Action: "receiver.erase", Actor: "user:erase-admin-" + suffix})
	require.NoError(t, err)
	require.Len(t, recs, 1)
	require.Equal(t, got.ReceiverMasked, recs[0].ObjectID)
	require.NotContains(t, recs[0].DiffJSON, receiver[3:])
	require.Contains(t, recs[0].DiffJSON, "data subject request 7")
}
