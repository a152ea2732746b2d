package store

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// eraseFixture stores messages of two apps accepted at different times
// and in different statuses, each with a reply on its timeline.
type eraseFixture struct {
	db   *DB
	keys *ReceiverKeyer
	now  time.Time
}

func newEraseFixture(t *testing.T, db *DB) *eraseFixture {
	return &eraseFixture{db: db, keys: NewReceiverKeyer([]byte("0123456789abcdef0123456789abcdef")), now: time.Now().UTC().Truncate(time.Second)}
}

// add stores a message to receiver, accepted age ago, and moves it to
// status; it returns the task id.
func (f *eraseFixture) add(t *testing.T, appID, receiver string, age time.Duration, status string) string {
	t.Helper()
	ctx := t.Context()
	taskID := fmt.Sprintf("%s-%d-%s-%s", appID, age/time.Hour, status, receiver)
	created := f.now.Add(-age)
	m := &Message{
		TaskID: taskID, AppID: appID, ChannelID: 1, MessageType: ChannelSMS, Receiver: receiver,
		ReceiverKey: f.keys.Key(ChannelSMS, receiver), Subject: "subject", Content: "your code is 1234",
		TemplateParams: map[string]string{"code": "1234"}, Attachments: json.RawMessage(`[{"name":"a.pdf"}]`),
		Status: "pending", CreatedAt: created, UpdatedAt: created,
	}
	require.NoError(t, f.db.CreateMessages(ctx, []*Message{m}, nil))
	if status != "pending" {
		lastErr := "receiver " + receiver + " unreachable"
		patch := MessagePatch{Status: &status, LastError: &lastErr}
		if finalStatus(status) {
			finished := created.Add(time.Second)
			patch.FinishedAt = &finished
		}
		require.NoError(t, f.db.UpdateMessage(ctx, taskID, patch))
	}
	require.NoError(t, f.db.AddEvent(ctx, &MessageEvent{TaskID: taskID, Seq: 1, Kind: "reply", Detail: "TD", CreatedAt: created}))
	require.NoError(t, f.db.AddEvent(ctx, &MessageEvent{TaskID: taskID, Seq: 2, Kind: "sent", Detail: "accepted by provider", CreatedAt: created,
		Inputs: json.RawMessage(`{"Failure":{"Message":"bad number ` + receiver + `"}}`), Data: json.RawMessage(`{"description":"` + receiver + `"}`)}))
	return taskID
}

// requireErased checks that a message's personal data is gone and the
// rest kept.
func (f *eraseFixture) requireErased(t *testing.T, taskID, status string) {
	t.Helper()
	m, err := f.db.GetMessage(t.Context(), taskID)
	require.NoError(t, err)
	require.Empty(t, m.Receiver)
	require.Empty(t, m.ReceiverKey)
	require.Empty(t, m.Subject)
	require.Empty(t, m.Content)
	require.Empty(t, m.TemplateParams)
	require.Empty(t, m.Attachments)
	require.Empty(t, m.LastError, "provider error texts can quote the receiver")
	require.NotNil(t, m.ErasedAt)
	require.Equal(t, status, m.Status)
	require.NotNil(t, m.FinishedAt)
	events, err := f.db.ListEvents(t.Context(), taskID)
	require.NoError(t, err)
	require.Len(t, events, 2)
	require.Empty(t, events[0].Detail, "reply text")
	require.Empty(t, events[1].Detail, "provider texts can quote the receiver: erased too")
	require.Empty(t, events[1].Inputs, "so can a decision's inputs")
	require.Empty(t, events[1].Data, "and a late receipt's data")
	require.Equal(t, "sent", events[1].Kind, "the event itself stays")
}

func (f *eraseFixture) requireKept(t *testing.T, taskID, receiver string) {
	t.Helper()
	m, err := f.db.GetMessage(t.Context(), taskID)
	require.NoError(t, err)
	require.Equal(t, receiver, m.Receiver)
	require.Equal(t, f.keys.Key(ChannelSMS, receiver), m.ReceiverKey)
	require.Equal(t, "your code is 1234", m.Content)
	require.Equal(t, map[string]string{"code": "1234"}, m.TemplateParams)
	require.Nil(t, m.ErasedAt)
	events, err := f.db.ListEvents(t.Context(), taskID)
	require.NoError(t, err)
	require.Equal(t, "TD", events[0].Detail)
}

func TestEraseMessagesByAge(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		f := newEraseFixture(t, db)
		const day = 24 * time.Hour
		var old []string
		for i, status := range []string{"success", "failed", "cancelled"} {
			old = append(old, f.add(t, "shop", fmt.Sprintf("+861380013800%d", i), 40*day, status))
		}
		oldSending := f.add(t, "shop", "+8613800138010", 40*day, "sent")
		recent := f.add(t, "shop", "+8613800138011", 2*day, "success")
		otherApp := f.add(t, "blog", "+8613800138012", 40*day, "success")
		before := readStats(t, db, f.now.Add(-40*day), "")

		// One message a call: a backlog is worked through in batches.
		cutoff := f.now.Add(-30 * day)
		var total EraseResult
		for range 10 {
			res, err := db.EraseMessages(ctx, EraseFilter{AppID: "shop", Before: cutoff, Limit: 1})
			require.NoError(t, err)
			total.Messages += res.Messages
			total.Replies += res.Replies
			if !res.More {
				break
			}
		}
		require.Equal(t, 3, total.Messages)
		require.Equal(t, 3, total.Replies)
		for i, status := range []string{"success", "failed", "cancelled"} {
			f.requireErased(t, old[i], status)
		}
		f.requireKept(t, oldSending, "+8613800138010")
		f.requireKept(t, recent, "+8613800138011")
		f.requireKept(t, otherApp, "+8613800138012")

		n, err := db.CountUnfinishedMessages(ctx, EraseFilter{AppID: "shop", Before: cutoff})
		require.NoError(t, err)
		require.Equal(t, 1, n)

		// Erasing again finds nothing.
		res, err := db.EraseMessages(ctx, EraseFilter{AppID: "shop", Before: cutoff})
		require.NoError(t, err)
		require.Equal(t, EraseResult{}, res)

		require.Equal(t, before, readStats(t, db, f.now.Add(-40*day), ""), "statistics stay as they were")
	})
}

func TestEraseMessagesByReceiver(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		f := newEraseFixture(t, db)
		const phone = "+8613800138000"
		a := f.add(t, "shop", phone, time.Hour, "success")
		b := f.add(t, "blog", phone, 2*time.Hour, "failed")
		sending := f.add(t, "blog", phone, 3*time.Hour, "processing")
		other := f.add(t, "shop", "+8613900139000", time.Hour, "success")
		key := f.keys.Key(ChannelSMS, phone)
		for _, app := range []string{"shop", "blog"} {
			require.NoError(t, db.AddSuppression(ctx, &Suppression{AppID: app, ChannelType: ChannelSMS, ReceiverKey: key,
				ReceiverMasked: MaskReceiver(ChannelSMS, phone), Reason: "replied TD", Source: SuppressionReply}))
		}
		byKey := EraseFilter{ReceiverKeys: []string{key}}

		res, err := db.EraseMessages(ctx, byKey)
		require.NoError(t, err)
		require.Equal(t, EraseResult{Messages: 2, Replies: 2}, res)
		f.requireErased(t, a, "success")
		f.requireErased(t, b, "failed")
		f.requireKept(t, sending, phone)
		f.requireKept(t, other, "+8613900139000")
		n, err := db.CountUnfinishedMessages(ctx, byKey)
		require.NoError(t, err)
		require.Equal(t, 1, n)

		t.Run("KeepSuppressions", func(t *testing.T) {
			n, err := db.EraseSuppressions(ctx, []string{key}, ChannelSMS, true)
			require.NoError(t, err)
			require.Equal(t, 2, n)
			got, err := db.SuppressedKeys(ctx, "shop", ChannelSMS, []string{key})
			require.NoError(t, err)
			require.True(t, got[key], "the opt-out still holds")
			list, err := db.ListSuppressions(ctx, SuppressionFilter{ReceiverKey: key})
			require.NoError(t, err)
			for _, s := range list {
				require.Empty(t, s.ReceiverMasked)
				require.Empty(t, s.Reason)
			}
		})
		t.Run("DeleteSuppressions", func(t *testing.T) {
			n, err := db.EraseSuppressions(ctx, []string{key}, "", false)
			require.NoError(t, err)
			require.Equal(t, 2, n)
			list, err := db.ListSuppressions(ctx, SuppressionFilter{ReceiverKey: key})
			require.NoError(t, err)
			require.Empty(t, list)
		})
	})
}

func TestEraseFilterRefusesEverything(t *testing.T) {
	t.Parallel()
	db := setup(t, DialectSQLite)
	_, err := db.EraseMessages(t.Context(), EraseFilter{AppID: "shop"})
	require.Error(t, err, "an app without a time would erase all its messages")
	_, err = db.EraseMessages(t.Context(), EraseFilter{ReceiverKeys: []string{"k"}, Limit: MaxEraseBatch + 1})
	require.Error(t, err)
	_, err = db.EraseSuppressions(t.Context(), nil, "", false)
	require.Error(t, err)
}

func TestAppRetentionDays(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		require.NoError(t, db.CreateApp(ctx, &App{ID: "shop", Name: "Shop", Secret: "0123456789abcdef", Enabled: true, RetentionDays: 30}))
		app, err := db.GetApp(ctx, "shop")
		require.NoError(t, err)
		require.Equal(t, 30, app.RetentionDays)
		require.NoError(t, db.UpdateApp(ctx, "shop", AppPatch{RetentionDays: ptr(0)}))
		app, err = db.GetApp(ctx, "shop")
		require.NoError(t, err)
		require.Zero(t, app.RetentionDays)
	})
}

func TestEraseBatchAttachments(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		old := time.Now().UTC().Add(-40 * 24 * time.Hour)
		cutoff := time.Now().Add(-30 * 24 * time.Hour)
		attach := json.RawMessage(`[{"name":"invoice.pdf"}]`)
		for _, b := range []struct {
			id       string
			statuses []string
		}{{"done", []string{"success", "failed"}}, {"sending", []string{"success", "sent"}}} {
			batch := &Batch{ID: b.id, AppID: "shop", ChannelID: 1, TotalCount: 2, CreatedAt: old, Attachments: attach}
			var msgs []*Message
			for i, status := range b.statuses {
				msgs = append(msgs, &Message{TaskID: fmt.Sprintf("%s-%d", b.id, i), BatchID: b.id, AppID: "shop", ChannelID: 1,
					MessageType: ChannelEmail, Receiver: fmt.Sprintf("u%d@example.com", i), Status: status, CreatedAt: old})
			}
			require.NoError(t, db.CreateMessages(ctx, msgs, batch))
		}
		res, err := db.EraseMessages(ctx, EraseFilter{AppID: "shop", Before: cutoff})
		require.NoError(t, err)
		require.Equal(t, 3, res.Messages)
		n, err := db.EraseBatchAttachments(ctx, "shop", cutoff)
		require.NoError(t, err)
		require.Equal(t, 1, n, "only the batch whose messages are all erased")
		done, err := db.GetBatch(ctx, "done")
		require.NoError(t, err)
		require.Empty(t, done.Attachments)
		sending, err := db.GetBatch(ctx, "sending")
		require.NoError(t, err)
		require.JSONEq(t, string(attach), string(sending.Attachments))
		n, err = db.EraseBatchAttachments(ctx, "shop", cutoff)
		require.NoError(t, err)
		require.Zero(t, n)
	})
}
