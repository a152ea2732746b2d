package store

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func newMessage(taskID string) *Message {
	return &Message{
		TaskID: taskID, AppID: "app", ChannelID: 1, MessageType: "sms", Receiver: "+8613800000000",
		Content: "code 1234", Status: "pending", MaxAttempts: 3,
	}
}

func TestMessages(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		sched := time.Date(2030, 1, 2, 3, 4, 5, 600000000, time.UTC)
		m := &Message{
			TaskID: "11111111-1111-4111-8111-111111111111", AppID: "app", ChannelID: 7, MessageType: "email",
			Receiver: "user@example.test", Subject: "Hi", Content: "<b>hello</b> 'quoted' \"double\" ✓",
			TemplateParams: map[string]string{"code": "1234", "name": "O'Brien"}, SignatureName: "Acme",
			Attachments: json.RawMessage(`[{"filename":"a.txt","content_type":"text/plain","content_base64":"aGk="}]`),
			Status:      "pending", MaxAttempts: 3, ScheduledAt: &sched, IdempotencyKey: "idem-1", RequestHash: "abc123",
		}
		require.NoError(t, db.CreateMessages(ctx, []*Message{m}, nil))
		require.NotZero(t, m.ID)
		require.False(t, m.CreatedAt.IsZero())

		t.Run("Get", func(t *testing.T) {
			got, err := db.GetMessage(ctx, m.TaskID)
			require.NoError(t, err)
			require.Equal(t, m, got)
		})
		t.Run("GetByIdempotencyKey", func(t *testing.T) {
			got, err := db.GetMessageByIdempotencyKey(ctx, "app", "idem-1")
			require.NoError(t, err)
			require.Equal(t, m.TaskID, got.TaskID)
			_, err = db.GetMessageByIdempotencyKey(ctx, "other-app", "idem-1")
			require.ErrorIs(t, err, ErrNotFound)
			_, err = db.GetMessageByIdempotencyKey(ctx, "app", "")
			require.ErrorIs(t, err, ErrNotFound)
		})
		t.Run("ErrNotFound", func(t *testing.T) {
			_, err := db.GetMessage(ctx, "missing")
			require.ErrorIs(t, err, ErrNotFound)
		})
		t.Run("ErrConflictTaskID", func(t *testing.T) {
			err := db.CreateMessages(ctx, []*Message{newMessage("fresh-1"), newMessage(m.TaskID)}, nil)
			require.ErrorIs(t, err, ErrConflict)
			_, err = db.GetMessage(ctx, "fresh-1")
			require.ErrorIs(t, err, ErrNotFound, "nothing of a failed call is stored")
		})
		t.Run("ErrConflictIdempotencyKey", func(t *testing.T) {
			dup := newMessage("fresh-2")
			dup.IdempotencyKey = "idem-1"
			require.ErrorIs(t, db.CreateMessages(ctx, []*Message{dup}, nil), ErrConflict)

			// The same key is free for another app, and empty keys never clash.
			other := newMessage("fresh-3")
			other.AppID, other.IdempotencyKey = "other-app", "idem-1"
			require.NoError(t, db.CreateMessages(ctx, []*Message{other, newMessage("fresh-4"), newMessage("fresh-5")}, nil))
		})
		t.Run("Update", func(t *testing.T) {
			before, err := db.GetMessage(ctx, m.TaskID)
			require.NoError(t, err)
			db.now = func() time.Time { return before.UpdatedAt.Add(time.Second) }
			defer func() { db.now = time.Now }()
			fin := time.Date(2030, 1, 2, 3, 5, 0, 0, time.FixedZone("X", 3600))
			require.NoError(t, db.UpdateMessage(ctx, m.TaskID, MessagePatch{
				Status: ptr("success"), CallbackStatus: ptr("delivered"), AccountID: ptr(int64(42)),
				ProviderMessageID: ptr("pm-1"), AttemptCount: ptr(2), LastError: ptr("earlier failure"), FinishedAt: &fin,
			}))
			got, err := db.GetMessage(ctx, m.TaskID)
			require.NoError(t, err)
			require.Equal(t, "success", got.Status)
			require.Equal(t, "delivered", got.CallbackStatus)
			require.Equal(t, int64(42), *got.AccountID)
			require.Equal(t, "pm-1", got.ProviderMessageID)
			require.Equal(t, 2, got.AttemptCount)
			require.Equal(t, "earlier failure", got.LastError)
			require.Equal(t, fin.UTC(), *got.FinishedAt)
			require.Equal(t, before.UpdatedAt.Add(time.Second), got.UpdatedAt)
			require.Equal(t, before.CreatedAt, got.CreatedAt)
			require.Equal(t, before.Content, got.Content)

			require.ErrorIs(t, db.UpdateMessage(ctx, "missing", MessagePatch{Status: ptr("failed")}), ErrNotFound)
		})
		t.Run("EmptyValues", func(t *testing.T) {
			e := newMessage("empty-values")
			require.NoError(t, db.CreateMessages(ctx, []*Message{e}, nil))
			got, err := db.GetMessage(ctx, "empty-values")
			require.NoError(t, err)
			require.Nil(t, got.TemplateParams)
			require.Nil(t, got.Attachments)
			require.Nil(t, got.ScheduledAt)
			require.Nil(t, got.FinishedAt)
			require.Nil(t, got.AccountID)
			require.Equal(t, e, got)
		})
		t.Run("NoMessages", func(t *testing.T) {
			require.NoError(t, db.CreateMessages(ctx, nil, nil))
		})
	})
}

func TestBatches(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		b := &Batch{ID: "batch-1", AppID: "app", ChannelID: 3, TotalCount: 3, SuccessCount: 2, FailedCount: 1, IdempotencyKey: "bk", RequestHash: "h"}
		var msgs []*Message
		for i := range 2 {
			m := newMessage(fmt.Sprintf("b1-task-%d", i))
			m.BatchID = b.ID
			msgs = append(msgs, m)
		}
		require.NoError(t, db.CreateMessages(ctx, msgs, b))
		require.NoError(t, db.CreateMessages(ctx, []*Message{newMessage("single")}, nil))

		t.Run("Get", func(t *testing.T) {
			got, err := db.GetBatch(ctx, "batch-1")
			require.NoError(t, err)
			require.Equal(t, b, got)
			_, err = db.GetBatch(ctx, "nope")
			require.ErrorIs(t, err, ErrNotFound)
		})
		t.Run("GetByIdempotencyKey", func(t *testing.T) {
			got, err := db.GetBatchByIdempotencyKey(ctx, "app", "bk")
			require.NoError(t, err)
			require.Equal(t, b, got)
			_, err = db.GetBatchByIdempotencyKey(ctx, "app", "other")
			require.ErrorIs(t, err, ErrNotFound)
		})
		t.Run("ListMessages", func(t *testing.T) {
			got, err := db.ListBatchMessages(ctx, "batch-1")
			require.NoError(t, err)
			require.Len(t, got, 2)
			require.Equal(t, *msgs[0], got[0])
			require.Equal(t, *msgs[1], got[1])
			none, err := db.ListBatchMessages(ctx, "")
			require.NoError(t, err)
			require.Empty(t, none)
		})
		t.Run("ErrConflictBatchKey", func(t *testing.T) {
			dup := &Batch{ID: "batch-2", AppID: "app", IdempotencyKey: "bk"}
			m := newMessage("b2-task")
			m.BatchID = dup.ID
			require.ErrorIs(t, db.CreateMessages(ctx, []*Message{m}, dup), ErrConflict)
			_, err := db.GetMessage(ctx, "b2-task")
			require.ErrorIs(t, err, ErrNotFound)
			_, err = db.GetBatch(ctx, "batch-2")
			require.ErrorIs(t, err, ErrNotFound)
		})
		t.Run("ErrConflictBatchID", func(t *testing.T) {
			require.ErrorIs(t, db.CreateMessages(ctx, nil, &Batch{ID: "batch-1", AppID: "x"}), ErrConflict)
		})
		t.Run("Large", func(t *testing.T) {
			big := &Batch{ID: "batch-big", AppID: "app", TotalCount: 1200}
			var ms []*Message
			for i := range 1200 {
				m := newMessage(fmt.Sprintf("big-%04d", i))
				m.BatchID = big.ID
				ms = append(ms, m)
			}
			require.NoError(t, db.CreateMessages(ctx, ms, big))
			got, err := db.ListBatchMessages(ctx, big.ID)
			require.NoError(t, err)
			require.Len(t, got, 1200)
			for i := range got {
				require.Equal(t, ms[i].TaskID, got[i].TaskID)
				require.Equal(t, ms[i].ID, got[i].ID)
			}
		})
	})
}

func TestListStaleMessages(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		base := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
		mk := func(taskID, status string, updated time.Time) {
			m := newMessage(taskID)
			m.Status, m.CreatedAt, m.UpdatedAt = status, base.Add(-time.Hour), updated
			require.NoError(t, db.CreateMessages(ctx, []*Message{m}, nil))
		}
		mk("p-new", "pending", base.Add(10*time.Minute))
		mk("p-old2", "pending", base.Add(-2*time.Minute))
		mk("p-old1", "pending", base.Add(-5*time.Minute))
		mk("p-frac", "pending", base.Add(-500*time.Millisecond))
		mk("p-edge", "pending", base)
		mk("s-old", "sent", base.Add(-time.Hour))
		// Accepted long ago: due a minute ago is stale, due later is not
		// yet, and the cut-off itself is not before the cut-off.
		for _, sc := range []struct {
			id string
			at time.Time
		}{{"p-due", base.Add(-time.Minute)}, {"p-due-now", base}, {"p-later", base.Add(time.Hour)}} {
			m := newMessage(sc.id)
			at := sc.at
			m.Status, m.CreatedAt, m.UpdatedAt, m.ScheduledAt = "pending", base.Add(-time.Hour), base.Add(-time.Hour), &at
			require.NoError(t, db.CreateMessages(ctx, []*Message{m}, nil))
		}

		ids := func(ms []Message) []string {
			out := []string{}
			for _, m := range ms {
				out = append(out, m.TaskID)
			}
			return out
		}
		got, err := db.ListStaleMessages(ctx, "pending", base, 0)
		require.NoError(t, err)
		require.Equal(t, []string{"p-due", "p-old1", "p-old2", "p-frac"}, ids(got))

		got, err = db.ListStaleMessages(ctx, "pending", base, 2)
		require.NoError(t, err)
		require.Equal(t, []string{"p-due", "p-old1"}, ids(got))

		// A non-UTC cut-off means the same instant.
		got, err = db.ListStaleMessages(ctx, "pending", base.Add(time.Nanosecond*1000).In(time.FixedZone("W", -5*3600)), 0)
		require.NoError(t, err)
		require.Equal(t, []string{"p-due", "p-due-now", "p-old1", "p-old2", "p-frac", "p-edge"}, ids(got))

		got, err = db.ListStaleMessages(ctx, "sent", base, 10)
		require.NoError(t, err)
		require.Equal(t, []string{"s-old"}, ids(got))

		got, err = db.ListStaleMessages(ctx, "failed", base, 10)
		require.NoError(t, err)
		require.NotNil(t, got)
		require.Empty(t, got)

		// Updating a message makes it fresh again.
		require.NoError(t, db.UpdateMessage(ctx, "p-old1", MessagePatch{AttemptCount: ptr(1)}))
		got, err = db.ListStaleMessages(ctx, "pending", base, 0)
		require.NoError(t, err)
		require.Equal(t, []string{"p-due", "p-old2", "p-frac"}, ids(got))
	})
}

func TestProviderMessageIDs(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		require.NoError(t, db.CreateMessages(ctx, []*Message{newMessage("t1"), newMessage("t2")}, nil))

		require.NoError(t, db.AddProviderMessageID(ctx, "t1", 1, "pm-a"))
		require.NoError(t, db.AddProviderMessageID(ctx, "t1", 2, "pm-b"), "a retry on another account")
		require.NoError(t, db.AddProviderMessageID(ctx, "t1", 1, "pm-a"), "idempotent")
		require.NoError(t, db.AddProviderMessageID(ctx, "t2", 2, "pm-a"), "ids are per account")

		for _, tc := range []struct {
			account int64
			pmid    string
			want    string
		}{{1, "pm-a", "t1"}, {2, "pm-b", "t1"}, {2, "pm-a", "t2"}} {
			got, err := db.FindTaskByProviderMessageID(ctx, tc.account, tc.pmid)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		}
		_, err := db.FindTaskByProviderMessageID(ctx, 1, "pm-b")
		require.ErrorIs(t, err, ErrNotFound)
		found, err := db.FindTasksByProviderMessageIDs(ctx, 2, []string{"pm-a", "pm-b", "pm-z"})
		require.NoError(t, err)
		require.Equal(t, map[string]string{"pm-a": "t2", "pm-b": "t1"}, found)

		err = db.AddProviderMessageID(ctx, "t2", 1, "pm-a")
		require.ErrorIs(t, err, ErrConflict, "an id of another task")

		err = db.AddProviderMessageID(ctx, "no-such-task", 9, "pm-z")
		require.ErrorIs(t, err, ErrNotFound)
	})
}

func TestFindLatestMessageTo(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		base := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
		mk := func(taskID string, accountID *int64, receiver string, created time.Time) {
			m := newMessage(taskID)
			m.AccountID, m.Receiver, m.CreatedAt, m.UpdatedAt = accountID, receiver, created, created
			require.NoError(t, db.CreateMessages(ctx, []*Message{m}, nil))
		}
		mk("old-e164", ptr(int64(1)), "+8613800138000", base)
		mk("new-local", ptr(int64(1)), "13800138000", base.Add(time.Minute))
		mk("tie-first", ptr(int64(1)), "+8613900139000", base.Add(time.Hour))
		mk("tie-second", ptr(int64(1)), "+8613900139000", base.Add(time.Hour))
		mk("other-account", ptr(int64(2)), "+8613800138000", base.Add(2*time.Hour))
		mk("no-account", nil, "+8613800138000", base.Add(3*time.Hour))

		t.Run("OK_AnySpelling", func(t *testing.T) {
			got, err := db.FindLatestMessageTo(ctx, 1, []string{"13800138000", "+8613800138000"})
			require.NoError(t, err)
			require.Equal(t, "new-local", got.TaskID)
			require.Equal(t, base.Add(time.Minute), got.CreatedAt)
		})
		t.Run("OK_OneSpelling", func(t *testing.T) {
			got, err := db.FindLatestMessageTo(ctx, 1, []string{"+8613800138000"})
			require.NoError(t, err)
			require.Equal(t, "old-e164", got.TaskID)
		})
		t.Run("OK_SameTimeTakesHigherID", func(t *testing.T) {
			got, err := db.FindLatestMessageTo(ctx, 1, []string{"+8613900139000"})
			require.NoError(t, err)
			require.Equal(t, "tie-second", got.TaskID)
		})
		t.Run("OK_OnlyThroughTheAccount", func(t *testing.T) {
			got, err := db.FindLatestMessageTo(ctx, 2, []string{"+8613800138000", "13800138000"})
			require.NoError(t, err)
			require.Equal(t, "other-account", got.TaskID)
		})
		t.Run("ErrNotFound", func(t *testing.T) {
			_, err := db.FindLatestMessageTo(ctx, 1, []string{"+8613700137000"})
			require.ErrorIs(t, err, ErrNotFound)
			_, err = db.FindLatestMessageTo(ctx, 3, []string{"+8613800138000"})
			require.ErrorIs(t, err, ErrNotFound)
		})
		t.Run("ErrNotFoundWithoutReceivers", func(t *testing.T) {
			_, err := db.FindLatestMessageTo(ctx, 1, nil)
			require.ErrorIs(t, err, ErrNotFound)
		})
	})
}
