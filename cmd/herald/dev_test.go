package main

import (
	"bytes"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/heraldhq/herald/internal/config"
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

func TestEnsureDevAdmin(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	c, err := store.NewCipher(bytes.Repeat([]byte{1}, 32))
	require.NoError(t, err)
	db, err := store.Open(ctx, store.Options{URL: "sqlite://" + filepath.Join(t.TempDir(), "x.db"), Cipher: c})
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	_, err = db.MigrateUp(ctx)
	require.NoError(t, err)

	first, err := ensureDevAdmin(ctx, db, "cli:dev")
	require.NoError(t, err)
	require.True(t, first.Created)
	require.GreaterOrEqual(t, len(first.Password), 20)
	u, err := db.GetAdminUserByName(ctx, "admin")
	require.NoError(t, err)
	require.Equal(t, "admin", u.Role)
	require.NotContains(t, u.PasswordHash, first.Password)

	again, err := ensureDevAdmin(ctx, db, "cli:dev")
	require.NoError(t, err)
	require.Equal(t, devAdmin{}, again, "a later start leaves the user alone")

	var out bytes.Buffer
	printDevAdmin(&out, "http://127.0.0.1:8080", first)
	require.Contains(t, out.String(), first.Password)
	require.Contains(t, out.String(), "herald login --url http://127.0.0.1:8080 --username admin")
	out.Reset()
	printDevAdmin(&out, "http://127.0.0.1:8080", again)
	require.Contains(t, out.String(), "herald admin user passwd admin")

	recs, err := db.ListAudit(ctx, store.AuditFilter{Action: "user.create"})
	require.NoError(t, err)
	require.Len(t, recs, 1)
	require.Equal(t, "cli:dev", recs[0].Actor)
}

// TestEmbeddedRedisExpiresKeys checks that dev mode's in-process Redis
// lets keys expire by the clock, as Redis does: counters such as the
// failed-authentication lockout must end on their own.
func TestEmbeddedRedisExpiresKeys(t *testing.T) {
	t.Parallel()
	s := &stack{mode: config.ModeDev, log: zap.NewNop(), cfg: config.Config{Redis: config.Redis{EmbeddedAddr: "127.0.0.1:0"}}}
	t.Cleanup(func() { _ = s.Close() })
	require.NoError(t, s.openRedis(t.Context()))

	require.NoError(t, s.redis.Set(t.Context(), "lockout", 1, 100*time.Millisecond).Err())
	require.Equal(t, int64(1), s.redis.Exists(t.Context(), "lockout").Val())
	require.Eventually(t, func() bool {
		return s.redis.Exists(t.Context(), "lockout").Val() == 0
	}, 5*time.Second, 20*time.Millisecond, "the key outlived its TTL")
}
