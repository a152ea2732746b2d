package store

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestAppLimits(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		app := &App{ID: "shop", Name: "Shop", Secret: "s", Enabled: true, RequestsPerMinute: 600, Burst: 20, MessagesPerMinute: 5000}
		require.NoError(t, db.CreateApp(ctx, app))
		got, err := db.GetApp(ctx, "shop")
		require.NoError(t, err)
		require.Equal(t, []int{600, 20, 5000}, []int{got.RequestsPerMinute, got.Burst, got.MessagesPerMinute})

		zero := 0
		require.NoError(t, db.UpdateApp(ctx, "shop", AppPatch{RequestsPerMinute: ptr(60), Burst: &zero, MessagesPerMinute: &zero}))
		got, err = db.GetApp(ctx, "shop")
		require.NoError(t, err)
		require.Equal(t, []int{60, 0, 0}, []int{got.RequestsPerMinute, got.Burst, got.MessagesPerMinute})
	})
}

func TestBatchAttachments(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		atts := json.RawMessage(`[{"filename":"a.txt","content_type":"text/plain","content":"aGk="}]`)
		b := &Batch{ID: "b1", AppID: "app", ChannelID: 1, TotalCount: 2, SuccessCount: 2, Attachments: atts}
		msgs := []*Message{
			{TaskID: "t1", BatchID: "b1", AppID: "app", ChannelID: 1, Receiver: "a@example.org", Status: "pending"},
			{TaskID: "t2", BatchID: "b1", AppID: "app", ChannelID: 1, Receiver: "b@example.org", Status: "pending"},
		}
		require.NoError(t, db.CreateMessages(ctx, msgs, b))
		got, err := db.GetBatch(ctx, "b1")
		require.NoError(t, err)
		require.JSONEq(t, string(atts), string(got.Attachments))
		m, err := db.GetMessage(ctx, "t1")
		require.NoError(t, err)
		require.Empty(t, m.Attachments)
	})
}

func TestIsUnavailable(t *testing.T) {
	t.Parallel()
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"ConnectionRefused", refused, true},
		{"Wrapped", errors.Join(errors.New("get app"), refused), true},
		{"ConnectionLost", io.ErrUnexpectedEOF, true},
		{"Reset", syscall.ECONNRESET, true},
		{"NotFound", ErrNotFound, false},
		{"Conflict", ErrConflict, false},
		{"Bug", errors.New(`relation "apps" does not exist`), false},
		{"Nil", nil, false},
	} {
		require.Equal(t, tc.want, IsUnavailable(tc.err), tc.name)
	}
	// A real dial to a port nothing listens on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	_, err = Open(context.Background(), Options{URL: "postgres://postgres@" + addr + "/postgres?sslmode=disable"})
	require.Error(t, err)
	require.True(t, IsUnavailable(err), "%v", err)
}
