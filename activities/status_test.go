package activities

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/store"
)

func TestRecordStatus(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("PatchAndEvent", func(t *testing.T) {
		t.Parallel()
		w := setup(t)
		err := w.acts.RecordStatus(ctx, StatusUpdate{
			TaskID: taskID, Status: "sent", AccountID: 11, ProviderMessageID: "p-1", Attempts: 1,
			Event: Event{Seq: 2, Kind: "accepted", Detail: "accepted by the provider"},
		})
		require.NoError(t, err)

		m := w.st.message(t, taskID)
		require.Equal(t, "sent", m.Status)
		require.Equal(t, "p-1", m.ProviderMessageID)
		require.Equal(t, 1, m.AttemptCount)
		require.NotNil(t, m.AccountID)
		require.Equal(t, int64(11), *m.AccountID)
		require.Nil(t, m.FinishedAt)

		account := int64(11)
		require.Equal(t, []store.MessageEvent{{
			TaskID: taskID, Seq: 2, Kind: "accepted", Status: "sent", AccountID: &account, Detail: "accepted by the provider",
		}}, w.st.recordedEvents())
	})

	t.Run("EmptyFieldsLeftAlone", func(t *testing.T) {
		t.Parallel()
		w := setup(t)
		require.NoError(t, w.acts.RecordStatus(ctx, StatusUpdate{
			TaskID: taskID, LastError: "transient: HTTP_503: endpoint answered 503",
			Event: Event{Seq: 3, Kind: "decision", Code: "default", Detail: "retry"},
		}))
		w.st.mu.Lock()
		patch := w.st.patches[0]
		w.st.mu.Unlock()
		lastError := "transient: HTTP_503: endpoint answered 503"
		require.Equal(t, store.MessagePatch{LastError: &lastError}, patch)
		require.Equal(t, "pending", w.st.message(t, taskID).Status)

		events := w.st.recordedEvents()
		require.Len(t, events, 1)
		require.Empty(t, events[0].Status)
		require.Nil(t, events[0].AccountID)
		require.Equal(t, "default", events[0].Code)
	})

	t.Run("Final", func(t *testing.T) {
		t.Parallel()
		w := setup(t)
		require.NoError(t, w.acts.RecordStatus(ctx, StatusUpdate{
			TaskID: taskID, Status: "success", CallbackStatus: "delivered", Final: true,
			Event: Event{Seq: 4, Kind: "finished"},
		}))
		m := w.st.message(t, taskID)
		require.Equal(t, "success", m.Status)
		require.Equal(t, "delivered", m.CallbackStatus)
		require.NotNil(t, m.FinishedAt)
		require.Equal(t, now, *m.FinishedAt)
	})

	t.Run("NoEvent", func(t *testing.T) {
		t.Parallel()
		w := setup(t)
		require.NoError(t, w.acts.RecordStatus(ctx, StatusUpdate{TaskID: taskID, Status: "processing"}))
		require.Equal(t, "processing", w.st.message(t, taskID).Status)
		require.Empty(t, w.st.recordedEvents())
	})

	t.Run("RepeatWritesOnce", func(t *testing.T) {
		t.Parallel()
		// A local activity re-run after a crash writes the same event.
		w := setup(t)
		u := StatusUpdate{TaskID: taskID, Status: "processing", AccountID: 11, Attempts: 1, Event: Event{Seq: 1, Kind: "attempt"}}
		require.NoError(t, w.acts.RecordStatus(ctx, u))
		require.NoError(t, w.acts.RecordStatus(ctx, u))
		require.Len(t, w.st.recordedEvents(), 1)
	})

	t.Run("ErrMessageNotFound", func(t *testing.T) {
		t.Parallel()
		w := setup(t)
		err := w.acts.RecordStatus(ctx, StatusUpdate{TaskID: "nope", Status: "sent", Event: Event{Seq: 1, Kind: "accepted"}})
		require.ErrorIs(t, err, store.ErrNotFound)
		require.Empty(t, w.st.recordedEvents())
	})
}
