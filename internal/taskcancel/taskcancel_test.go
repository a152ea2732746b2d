package taskcancel

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/workflows"
)

type fakeStore struct{ status string }

func (s fakeStore) GetMessage(_ context.Context, id string) (*store.Message, error) {
	if s.status == "" {
		return nil, store.ErrNotFound
	}
	return &store.Message{TaskID: id, Status: s.status}, nil
}

type fakeEngine struct {
	err error
	// batchErr is what cancelling a batch member answers; members records
	// the members asked for as "batch/task".
	batchErr error
	members  *[]string
}

func (e fakeEngine) CancelSend(context.Context, string) error { return e.err }

func (e fakeEngine) CancelBatchMember(_ context.Context, batchID, taskID string) error {
	if e.members != nil {
		*e.members = append(*e.members, batchID+"/"+taskID)
	}
	return e.batchErr
}

func TestCancel(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pending := &store.Message{TaskID: "t", Status: workflows.StatusPending}
	notCancellable := errors.Join(workflows.ErrNotCancellable)
	boom := errors.New("boom")
	var nc *NotCancellableError

	require.NoError(t, Cancel(ctx, fakeStore{}, fakeEngine{}, pending))
	require.NoError(t, Cancel(ctx, fakeStore{}, fakeEngine{err: boom}, &store.Message{TaskID: "t", Status: workflows.StatusCancelled}), "cancelling twice is harmless")

	err := Cancel(ctx, fakeStore{}, fakeEngine{}, &store.Message{TaskID: "t", Status: workflows.StatusFailed})
	require.ErrorAs(t, err, &nc)
	require.Equal(t, "task t is failed and can no longer be cancelled", err.Error())

	require.ErrorIs(t, Cancel(ctx, fakeStore{status: workflows.StatusPending}, fakeEngine{err: notCancellable}, pending), ErrNotStarted)

	err = Cancel(ctx, fakeStore{status: workflows.StatusSent}, fakeEngine{err: notCancellable}, pending)
	require.ErrorAs(t, err, &nc)
	require.Equal(t, workflows.StatusSent, nc.Status)

	err = Cancel(ctx, fakeStore{}, fakeEngine{err: notCancellable}, pending)
	require.ErrorAs(t, err, &nc)
	require.Equal(t, "already being sent", nc.Status)

	require.ErrorIs(t, Cancel(ctx, fakeStore{}, fakeEngine{err: boom}, pending), boom)
}

func TestCancelBatchMember(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	member := &store.Message{TaskID: "t", BatchID: "b", BatchSeq: 3, Status: workflows.StatusPending}
	var nc *NotCancellableError

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		var members []string
		eng := fakeEngine{err: errors.New("no send workflow for a member"), members: &members}
		require.NoError(t, Cancel(ctx, fakeStore{}, eng, member))
		require.Equal(t, []string{"b/t"}, members, "through the batch's workflow, never CancelSend")
	})
	t.Run("ErrNotCancellable", func(t *testing.T) {
		t.Parallel()
		err := Cancel(ctx, fakeStore{status: workflows.StatusProcessing}, fakeEngine{batchErr: workflows.ErrNotCancellable}, member)
		require.ErrorAs(t, err, &nc)
		require.Equal(t, workflows.StatusProcessing, nc.Status)
	})
	t.Run("ErrNotStarted", func(t *testing.T) {
		t.Parallel()
		err := Cancel(ctx, fakeStore{status: workflows.StatusPending}, fakeEngine{batchErr: workflows.ErrWorkflowClosed}, member)
		require.ErrorIs(t, err, ErrNotStarted)
	})
	t.Run("ErrFinished", func(t *testing.T) {
		t.Parallel()
		err := Cancel(ctx, fakeStore{status: workflows.StatusSuccess}, fakeEngine{batchErr: workflows.ErrWorkflowClosed}, member)
		require.ErrorAs(t, err, &nc)
		require.Equal(t, workflows.StatusSuccess, nc.Status)
	})
}
