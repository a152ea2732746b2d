package store

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestRecordMessage(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		clock := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
		db.now = func() time.Time { return clock }

		t.Run("PatchAndEvents", func(t *testing.T) {
			require.NoError(t, db.CreateMessages(ctx, []*Message{newMessage("both")}, nil))
			clock = clock.Add(time.Minute)
			fin := clock.Add(time.Second)
			acc := int64(7)
			events := []*MessageEvent{
				{Seq: 1, Kind: "receipt", Status: "sent", AccountID: &acc, Detail: "receipt: delivered"},
				{Seq: 2, Kind: "finished", Status: "success", Detail: "receipt: delivered"},
			}
			require.NoError(t, db.RecordMessage(ctx, "both", MessagePatch{
				Status: ptr("success"), CallbackStatus: ptr("delivered"), FinishedAt: &fin,
			}, events))

			m, err := db.GetMessage(ctx, "both")
			require.NoError(t, err)
			require.Equal(t, "success", m.Status)
			require.Equal(t, "delivered", m.CallbackStatus)
			require.Equal(t, fin, *m.FinishedAt)
			require.Equal(t, clock, m.UpdatedAt)

			for _, e := range events {
				require.Equal(t, "both", e.TaskID, "events take the task of the call")
				require.NotZero(t, e.ID)
				require.Equal(t, clock, e.CreatedAt)
			}
			got, err := db.ListEvents(ctx, "both")
			require.NoError(t, err)
			require.Equal(t, []MessageEvent{*events[0], *events[1]}, got)
		})

		t.Run("EmptyPatchWritesOnlyEvents", func(t *testing.T) {
			require.NoError(t, db.CreateMessages(ctx, []*Message{newMessage("events-only")}, nil))
			before, err := db.GetMessage(ctx, "events-only")
			require.NoError(t, err)
			clock = clock.Add(time.Minute)

			require.NoError(t, db.RecordMessage(ctx, "events-only", MessagePatch{}, []*MessageEvent{
				{Seq: 1, Kind: "config", Status: "pending", Code: "INVALID_RULE", Detail: "bad scene"},
			}))

			after, err := db.GetMessage(ctx, "events-only")
			require.NoError(t, err)
			require.Equal(t, before, after, "the message, its updated_at included, is left alone")
			got, err := db.ListEvents(ctx, "events-only")
			require.NoError(t, err)
			require.Len(t, got, 1)
			require.Equal(t, "config", got[0].Kind)
			require.Equal(t, "INVALID_RULE", got[0].Code)
		})

		t.Run("PatchWithoutEvents", func(t *testing.T) {
			require.NoError(t, db.CreateMessages(ctx, []*Message{newMessage("patch-only")}, nil))
			require.NoError(t, db.RecordMessage(ctx, "patch-only", MessagePatch{Status: ptr("processing")}, nil))
			m, err := db.GetMessage(ctx, "patch-only")
			require.NoError(t, err)
			require.Equal(t, "processing", m.Status)
			got, err := db.ListEvents(ctx, "patch-only")
			require.NoError(t, err)
			require.Empty(t, got)
		})

		t.Run("IdempotentRepeat", func(t *testing.T) {
			// A local activity re-run after a crash repeats the whole call.
			require.NoError(t, db.CreateMessages(ctx, []*Message{newMessage("repeat")}, nil))
			call := func(detail string) error {
				return db.RecordMessage(ctx, "repeat", MessagePatch{Status: ptr("sent"), AttemptCount: ptr(1)}, []*MessageEvent{
					{Seq: 1, Kind: "attempt", Status: "processing", Detail: detail},
					{Seq: 2, Kind: "accepted", Status: "sent", Detail: detail},
				})
			}
			require.NoError(t, call("first"))
			require.NoError(t, call("first"))
			require.NoError(t, call("repeat is ignored"))

			m, err := db.GetMessage(ctx, "repeat")
			require.NoError(t, err)
			require.Equal(t, "sent", m.Status)
			require.Equal(t, 1, m.AttemptCount)
			got, err := db.ListEvents(ctx, "repeat")
			require.NoError(t, err)
			require.Len(t, got, 2)
			for i, e := range got {
				require.Equal(t, i+1, e.Seq)
				require.Equal(t, "first", e.Detail)
			}
		})

		t.Run("FailedEventRollsBackPatch", func(t *testing.T) {
			require.NoError(t, db.CreateMessages(ctx, []*Message{newMessage("atomic"), newMessage("other")}, nil))
			taken := &MessageEvent{Seq: 1, Kind: "created"}
			require.NoError(t, db.RecordMessage(ctx, "other", MessagePatch{}, []*MessageEvent{taken}))
			require.NotZero(t, taken.ID)
			before, err := db.GetMessage(ctx, "atomic")
			require.NoError(t, err)
			clock = clock.Add(time.Minute)

			// The second event reuses another event's id, so its insert
			// fails after the patch and the first event are written.
			err = db.RecordMessage(ctx, "atomic", MessagePatch{Status: ptr("success"), LastError: ptr("x")}, []*MessageEvent{
				{Seq: 1, Kind: "receipt", Status: "sent"},
				{ID: taken.ID, Seq: 2, Kind: "finished", Status: "success"},
			})
			require.ErrorIs(t, err, ErrConflict)

			after, err := db.GetMessage(ctx, "atomic")
			require.NoError(t, err)
			require.Equal(t, before, after, "the patch is rolled back")
			got, err := db.ListEvents(ctx, "atomic")
			require.NoError(t, err)
			require.Empty(t, got, "the events before the failing one are rolled back")
		})

		t.Run("MissingTask", func(t *testing.T) {
			err := db.RecordMessage(ctx, "missing", MessagePatch{Status: ptr("sent")}, []*MessageEvent{{Seq: 1, Kind: "accepted"}})
			require.ErrorIs(t, err, ErrNotFound)
			// Without a patch the event's insert is what fails.
			err = db.RecordMessage(ctx, "missing", MessagePatch{}, []*MessageEvent{{Seq: 1, Kind: "config"}})
			require.ErrorIs(t, err, ErrNotFound)
			got, err := db.ListEvents(ctx, "missing")
			require.NoError(t, err)
			require.Empty(t, got)
		})
	})
}

func TestRecordAccepted(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		require.NoError(t, db.CreateMessages(ctx, []*Message{newMessage("acc"), newMessage("taken")}, nil))
		sent := "sent"
		events := []*MessageEvent{{Seq: 1, Kind: "attempt"}, {Seq: 2, Kind: "accepted", Status: "sent"}}
		require.NoError(t, db.RecordAccepted(ctx, "acc", 7, "pm-1", MessagePatch{Status: &sent}, events))

		m, err := db.GetMessage(ctx, "acc")
		require.NoError(t, err)
		require.Equal(t, "sent", m.Status)
		require.Equal(t, "pm-1", m.ProviderMessageID)
		require.Equal(t, int64(7), *m.AccountID)
		task, err := db.FindTaskByProviderMessageID(ctx, 7, "pm-1")
		require.NoError(t, err)
		require.Equal(t, "acc", task)
		evs, err := db.ListEvents(ctx, "acc")
		require.NoError(t, err)
		require.Len(t, evs, 2)

		// Repeating it (a retried activity) changes nothing.
		require.NoError(t, db.RecordAccepted(ctx, "acc", 7, "pm-1", MessagePatch{Status: &sent}, events))
		evs, err = db.ListEvents(ctx, "acc")
		require.NoError(t, err)
		require.Len(t, evs, 2)

		// An id another task holds fails the whole write.
		processing := "processing"
		err = db.RecordAccepted(ctx, "taken", 7, "pm-1", MessagePatch{Status: &processing}, []*MessageEvent{{Seq: 1, Kind: "accepted"}})
		require.ErrorIs(t, err, ErrConflict)
		m, err = db.GetMessage(ctx, "taken")
		require.NoError(t, err)
		require.NotEqual(t, "processing", m.Status)
		evs, err = db.ListEvents(ctx, "taken")
		require.NoError(t, err)
		require.Empty(t, evs)
	})
}

func TestTaskAcceptance(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		require.NoError(t, db.CreateMessages(ctx, []*Message{newMessage("a"), newMessage("b"), newMessage("c")}, nil))
		acceptance := func(task string, account int64) Acceptance {
			t.Helper()
			a, err := db.TaskAcceptance(ctx, task, account)
			require.NoError(t, err)
			return a
		}
		accepted := func(task string, account int64) bool { return acceptance(task, account).Accepted() }
		require.False(t, accepted("a", 7))

		// With a provider id, on two accounts (a switch): both count.
		require.NoError(t, db.RecordAccepted(ctx, "a", 7, "pm-1", MessagePatch{}, nil))
		require.NoError(t, db.RecordAccepted(ctx, "a", 8, "pm-9", MessagePatch{}, nil))
		require.True(t, accepted("a", 7))
		require.True(t, accepted("a", 8))
		require.False(t, accepted("a", 9))
		require.False(t, accepted("b", 7))

		// Without one: several tasks of one account, and a repeat, all fit
		// the (account, provider id) key.
		require.NoError(t, db.RecordAccepted(ctx, "b", 7, "", MessagePatch{}, nil))
		require.NoError(t, db.RecordAccepted(ctx, "c", 7, "", MessagePatch{}, nil))
		require.NoError(t, db.RecordAccepted(ctx, "c", 7, "", MessagePatch{}, nil))
		require.Equal(t, Acceptance{WithoutID: true}, acceptance("b", 7))
		require.Equal(t, Acceptance{WithoutID: true}, acceptance("c", 7))
		require.Equal(t, Acceptance{WithID: true}, acceptance("a", 7))
		require.NoError(t, db.RecordAccepted(ctx, "a", 7, "", MessagePatch{}, nil))
		require.Equal(t, Acceptance{WithID: true, WithoutID: true}, acceptance("a", 7))
		m, err := db.GetMessage(ctx, "b")
		require.NoError(t, err)
		require.Empty(t, m.ProviderMessageID, "the key is not the provider's id")
		require.Equal(t, int64(7), *m.AccountID)
	})
}
