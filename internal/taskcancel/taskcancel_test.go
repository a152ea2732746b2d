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

type fakeEngine struct{ err error }

func (e fakeEngine) CancelSend(context.Context, string) error { return e.err }

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
