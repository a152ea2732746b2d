package store

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCountBatchMembersByStatus(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		batch := &Batch{ID: "count-batch", AppID: "app", ChannelID: 1, TotalCount: 4, SuccessCount: 4}
		var msgs []*Message
		for _, id := range []string{"count-1", "count-2", "count-3", "count-4"} {
			m := newMessage(id)
			m.BatchID = batch.ID
			msgs = append(msgs, m)
		}
		require.NoError(t, db.CreateMessages(ctx, msgs, batch))
		require.NoError(t, db.CreateMessages(ctx, []*Message{newMessage("count-alone")}, nil))
		require.NoError(t, db.UpdateMessage(ctx, "count-2", MessagePatch{Status: ptr("success")}))
		require.NoError(t, db.UpdateMessage(ctx, "count-3", MessagePatch{Status: ptr("failed")}))

		got, err := db.CountBatchMembersByStatus(ctx, batch.ID)
		require.NoError(t, err)
		require.Equal(t, map[string]int{"pending": 2, "success": 1, "failed": 1}, got)

		got, err = db.CountBatchMembersByStatus(ctx, "no-such-batch")
		require.NoError(t, err)
		require.Empty(t, got)
		got, err = db.CountBatchMembersByStatus(ctx, "")
		require.NoError(t, err)
		require.Empty(t, got, "messages outside batches are no batch")
	})
}
