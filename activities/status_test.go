package activities

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/rules"
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
			Events: []Event{{Seq: 2, Status: "sent", Kind: "accepted", AccountID: 11, Detail: "accepted by the provider"}},
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
			Events: []Event{{Seq: 3, Kind: "decision", Code: "default", Detail: "retry"}},
		}))
		patches := w.st.recordedPatches()
		require.Len(t, patches, 1)
		lastError := "transient: HTTP_503: endpoint answered 503"
		require.Equal(t, store.MessagePatch{LastError: &lastError}, patches[0])
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
			Events: []Event{{Seq: 4, Status: "success", Kind: "finished"}},
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

	t.Run("EmptyPatchWritesOnlyEvents", func(t *testing.T) {
		t.Parallel()
		w := setup(t)
		before := w.st.message(t, taskID)
		require.NoError(t, w.acts.RecordStatus(ctx, StatusUpdate{
			TaskID: taskID,
			Events: []Event{
				{Seq: 1, Status: "pending", Kind: "config", Code: "INVALID_RULE", Detail: "rule 4 (x): bad scene"},
				{Seq: 2, Status: "pending", Kind: "alert", Detail: "alert sent (default)"},
			},
		}))

		calls := w.st.recordCalls()
		require.Len(t, calls, 1)
		require.Equal(t, store.MessagePatch{}, calls[0].Patch)
		require.Empty(t, w.st.recordedPatches(), "an empty patch is not applied")
		require.Equal(t, before, w.st.message(t, taskID))
		require.Equal(t, []store.MessageEvent{
			{TaskID: taskID, Seq: 1, Kind: "config", Status: "pending", Code: "INVALID_RULE", Detail: "rule 4 (x): bad scene"},
			{TaskID: taskID, Seq: 2, Kind: "alert", Status: "pending", Detail: "alert sent (default)"},
		}, w.st.recordedEvents())
	})

	t.Run("StatusAndTwoEventsTogether", func(t *testing.T) {
		t.Parallel()
		// A noted receipt travels with the final status: one store call
		// writes both, so the status and the timeline never disagree.
		w := setup(t)
		require.NoError(t, w.acts.RecordStatus(ctx, StatusUpdate{
			TaskID: taskID, Status: "success", CallbackStatus: "delivered", Final: true,
			Events: []Event{
				{Seq: 3, Status: "sent", Kind: "receipt", AccountID: 11, Detail: "receipt: delivered"},
				{Seq: 4, Status: "success", Kind: "finished", Detail: "receipt: delivered"},
			},
		}))

		account := int64(11)
		wantEvents := []store.MessageEvent{
			{TaskID: taskID, Seq: 3, Kind: "receipt", Status: "sent", AccountID: &account, Detail: "receipt: delivered"},
			{TaskID: taskID, Seq: 4, Kind: "finished", Status: "success", Detail: "receipt: delivered"},
		}
		calls := w.st.recordCalls()
		require.Len(t, calls, 1, "the patch and both events are one write")
		require.Equal(t, taskID, calls[0].TaskID)
		status, callback, finished := "success", "delivered", now
		require.Equal(t, store.MessagePatch{Status: &status, CallbackStatus: &callback, FinishedAt: &finished}, calls[0].Patch)
		require.Equal(t, wantEvents, calls[0].Events)

		m := w.st.message(t, taskID)
		require.Equal(t, "success", m.Status)
		require.Equal(t, "delivered", m.CallbackStatus)
		require.Equal(t, wantEvents, w.st.recordedEvents())
	})

	t.Run("RepeatWritesOnce", func(t *testing.T) {
		t.Parallel()
		// A local activity re-run after a crash writes the same events.
		w := setup(t)
		u := StatusUpdate{TaskID: taskID, Status: "processing", AccountID: 11, Attempts: 1, Events: []Event{
			{Seq: 1, Status: "pending", Kind: "scheduled"},
			{Seq: 2, Status: "processing", Kind: "attempt", AccountID: 11},
		}}
		require.NoError(t, w.acts.RecordStatus(ctx, u))
		require.NoError(t, w.acts.RecordStatus(ctx, u))
		events := w.st.recordedEvents()
		require.Len(t, events, 2)
		require.Equal(t, 1, events[0].Seq)
		require.Equal(t, 2, events[1].Seq)
	})

	t.Run("ErrMessageNotFound", func(t *testing.T) {
		t.Parallel()
		w := setup(t)
		err := w.acts.RecordStatus(ctx, StatusUpdate{TaskID: "nope", Status: "sent", Events: []Event{{Seq: 1, Kind: "accepted"}}})
		require.ErrorIs(t, err, store.ErrNotFound)
		err = w.acts.RecordStatus(ctx, StatusUpdate{TaskID: "nope", Events: []Event{{Seq: 1, Kind: "config"}}})
		require.ErrorIs(t, err, store.ErrNotFound, "events alone need the task too")
		require.Empty(t, w.st.recordedEvents())
		require.Empty(t, w.st.recordedPatches())
	})
}

func TestPatchKeepsDecisionFacts(t *testing.T) {
	t.Parallel()
	facts := &DecisionFacts{
		Failure:       rules.Failure{Scene: rules.SceneSendFailure, Class: rules.ClassThrottled, Code: "isv.BUSINESS_LIMIT_CONTROL", ProviderKind: "aliyun", MessageType: "sms"},
		TotalAttempts: 2, AttemptsOnAccount: 1, MaxAttempts: 3, AccountsLeft: 1,
		Decision: rules.Decision{Action: rules.ActionRetry, RuleName: rules.DefaultRuleName},
	}
	u := StatusUpdate{Events: []Event{{Seq: 1, Kind: "decision", Facts: facts}, {Seq: 2, Kind: "attempt"}}}
	_, events := u.patch(time.Now)
	require.Nil(t, events[1].Inputs)
	var got DecisionFacts
	require.NoError(t, json.Unmarshal(events[0].Inputs, &got))
	require.Equal(t, *facts, got)
}
