package main

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/store"
)

func TestSeedDemoGrantsDemoChannels(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	c, err := store.NewCipher(bytes.Repeat([]byte{1}, 32))
	require.NoError(t, err)
	db, err := store.Open(ctx, store.Options{URL: "sqlite://" + filepath.Join(t.TempDir(), "x.db"), Cipher: c})
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	_, err = db.MigrateUp(ctx)
	require.NoError(t, err)

	info, err := seedDemo(ctx, db)
	require.NoError(t, err)
	var want []int64
	for _, ch := range info.Channels {
		want = append(want, ch.id)
	}
	got, err := db.AppGrants(ctx, info.AppID)
	require.NoError(t, err)
	require.ElementsMatch(t, want, got)
	require.Len(t, got, len(demoChannels))

	// A grant an operator revoked stays revoked across restarts.
	require.NoError(t, db.SetAppGrants(ctx, info.AppID, want[1:]))
	_, err = seedDemo(ctx, db)
	require.NoError(t, err)
	got, err = db.AppGrants(ctx, info.AppID)
	require.NoError(t, err)
	require.ElementsMatch(t, want[1:], got)
}
