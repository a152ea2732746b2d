package retention

import (
	"context"
	"crypto/rand"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/store/storetest"
	"github.com/heraldhq/herald/workflows"
)

func openStore(t *testing.T, rawURL string) *store.DB {
	t.Helper()
	key := make([]byte, store.MasterKeySize)
	_, err := rand.Read(key)
	require.NoError(t, err)
	c, err := store.NewCipher(key)
	require.NoError(t, err)
	db, err := store.Open(t.Context(), store.Options{URL: rawURL, Cipher: c, ReceiverKeys: store.NewReceiverKeyer(key)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	_, err = db.MigrateUp(t.Context())
	require.NoError(t, err)
	return db
}

func TestActivities(t *testing.T) {
	t.Parallel()
	for name, url := range map[string]func(t *testing.T) string{
		store.DialectPostgres: func(t *testing.T) string { return storetest.PostgresURL(t, "herald_retention_test") },
		store.DialectSQLite:   func(t *testing.T) string { return "sqlite://" + t.TempDir() + "/herald.db" },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			db := openStore(t, url(t))
			for id, days := range map[string]int{"shop": 30, "forever": 0} {
				require.NoError(t, db.CreateApp(ctx, &store.App{ID: id, Name: id, Secret: "0123456789abcdef", Enabled: true, RetentionDays: days}))
			}
			a := &Activities{Store: db}
			apps, err := a.Apps(ctx)
			require.NoError(t, err)
			require.Equal(t, []workflows.RetentionApp{{AppID: "shop", RetentionDays: 30}}, apps)

			old := time.Now().Add(-40 * 24 * time.Hour)
			var msgs []*store.Message
			for i := range 7 {
				msgs = append(msgs, &store.Message{
					TaskID: fmt.Sprintf("old-%d", i), AppID: "shop", ChannelID: 1, MessageType: store.ChannelSMS,
					Receiver: fmt.Sprintf("+86138001380%02d", i), Content: "code", Status: "success", CreatedAt: old,
				})
			}
			require.NoError(t, db.CreateMessages(ctx, msgs, nil))

			// Two batches of two at most: four erased, more left.
			in := workflows.RetentionEraseInput{AppID: "shop", Before: time.Now().Add(-30 * 24 * time.Hour), BatchSize: 2, MaxBatches: 2}
			res, err := a.Erase(ctx, in)
			require.NoError(t, err)
			require.Equal(t, workflows.RetentionEraseResult{Messages: 4, More: true}, res)
			in.MaxBatches = 10
			res, err = a.Erase(ctx, in)
			require.NoError(t, err)
			require.Equal(t, workflows.RetentionEraseResult{Messages: 3}, res)
			for _, m := range msgs {
				got, err := db.GetMessage(ctx, m.TaskID)
				require.NoError(t, err)
				require.Empty(t, got.Receiver)
				require.NotNil(t, got.ErasedAt)
			}

			in.BatchSize = store.MaxEraseBatch + 1
			_, err = a.Erase(context.Background(), in)
			require.ErrorContains(t, err, "batch size")
		})
	}
}
