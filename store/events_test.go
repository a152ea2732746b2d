package store

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestEvents(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		require.NoError(t, db.CreateMessages(ctx, []*Message{newMessage("t1"), newMessage("t2")}, nil))

		seq, err := db.NextEventSeq(ctx, "t1")
		require.NoError(t, err)
		require.Equal(t, 1, seq)

		acc := int64(5)
		e1 := &MessageEvent{TaskID: "t1", Seq: 1, Kind: "created", Status: "pending"}
		e3 := &MessageEvent{TaskID: "t1", Seq: 3, Kind: "attempt", Status: "sent", AccountID: &acc, Code: "Ok", Detail: "accepted", Data: json.RawMessage(`{"fee":1}`)}
		e2 := &MessageEvent{TaskID: "t1", Seq: 2, Kind: "attempt", Status: "processing", Code: "LimitExceeded", Detail: "throttled"}
		for _, e := range []*MessageEvent{e1, e3, e2} {
			require.NoError(t, db.AddEvent(ctx, e))
			require.NotZero(t, e.ID)
		}
		require.NoError(t, db.AddEvent(ctx, &MessageEvent{TaskID: "t2", Seq: 1, Kind: "created"}))

		t.Run("IdempotentOnSeq", func(t *testing.T) {
			repeat := &MessageEvent{TaskID: "t1", Seq: 2, Kind: "different", Detail: "ignored"}
			require.NoError(t, db.AddEvent(ctx, repeat))
			got, err := db.ListEvents(ctx, "t1")
			require.NoError(t, err)
			require.Len(t, got, 3)
			require.Equal(t, "attempt", got[1].Kind)
		})
		t.Run("ListOrderedBySeq", func(t *testing.T) {
			got, err := db.ListEvents(ctx, "t1")
			require.NoError(t, err)
			require.Equal(t, []MessageEvent{*e1, *e2, *e3}, got)
		})
		t.Run("NextSeq", func(t *testing.T) {
			seq, err := db.NextEventSeq(ctx, "t1")
			require.NoError(t, err)
			require.Equal(t, 4, seq)
			seq, err = db.NextEventSeq(ctx, "t2")
			require.NoError(t, err)
			require.Equal(t, 2, seq)
		})
		t.Run("Empty", func(t *testing.T) {
			got, err := db.ListEvents(ctx, "unknown")
			require.NoError(t, err)
			require.NotNil(t, got)
			require.Empty(t, got)
		})
		t.Run("UnknownTask", func(t *testing.T) {
			err := db.AddEvent(ctx, &MessageEvent{TaskID: "unknown", Seq: 1, Kind: "created"})
			require.ErrorIs(t, err, ErrNotFound)
		})
	})
}
