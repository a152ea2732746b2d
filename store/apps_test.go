package store

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestApps(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		fixed := time.Date(2025, 3, 4, 5, 6, 7, 891234567, time.FixedZone("CST", 8*3600))
		db.now = func() time.Time { return fixed }

		app := &App{
			ID: "app-1", Name: "Shop", Secret: "s3cr3t", Enabled: true,
			IPAllowlist:        []string{"10.0.0.0/8", "192.0.2.1"},
			RateLimitPerSecond: 50, StatusCallbackURL: "https://example.test/cb", CallbackSecret: "whsec_abc",
		}
		require.NoError(t, db.CreateApp(ctx, app))
		require.Equal(t, time.UTC, app.CreatedAt.Location())
		require.Equal(t, fixed.UTC().Truncate(time.Microsecond), app.CreatedAt)

		t.Run("Get", func(t *testing.T) {
			got, err := db.GetApp(ctx, "app-1")
			require.NoError(t, err)
			require.Equal(t, app, got)
		})
		t.Run("ErrConflict", func(t *testing.T) {
			err := db.CreateApp(ctx, &App{ID: "app-1", Name: "again"})
			require.ErrorIs(t, err, ErrConflict)
		})
		t.Run("ErrNotFound", func(t *testing.T) {
			_, err := db.GetApp(ctx, "nope")
			require.ErrorIs(t, err, ErrNotFound)
			require.ErrorContains(t, err, `get app "nope"`)
			require.ErrorIs(t, db.UpdateApp(ctx, "nope", AppPatch{Name: ptr("x")}), ErrNotFound)
		})
		t.Run("NilAllowlist", func(t *testing.T) {
			a := &App{ID: "app-nil", Name: "n"}
			require.NoError(t, db.CreateApp(ctx, a))
			got, err := db.GetApp(ctx, "app-nil")
			require.NoError(t, err)
			require.Nil(t, got.IPAllowlist)
			require.Empty(t, got.Secret)
		})
		t.Run("Update", func(t *testing.T) {
			later := fixed.Add(time.Minute)
			db.now = func() time.Time { return later }
			require.NoError(t, db.UpdateApp(ctx, "app-1", AppPatch{
				Name: ptr("Shop 2"), Secret: ptr("new"), Enabled: ptr(false), IPAllowlist: ptr([]string{}),
				RateLimitPerSecond: ptr(0), StatusCallbackURL: ptr(""), CallbackSecret: ptr("whsec_new"),
			}))
			got, err := db.GetApp(ctx, "app-1")
			require.NoError(t, err)
			require.Equal(t, "Shop 2", got.Name)
			require.Equal(t, "new", got.Secret)
			require.False(t, got.Enabled)
			require.Equal(t, []string{}, got.IPAllowlist)
			require.Zero(t, got.RateLimitPerSecond)
			require.Empty(t, got.StatusCallbackURL)
			require.Equal(t, "whsec_new", got.CallbackSecret)
			require.Equal(t, app.CreatedAt, got.CreatedAt)
			require.Equal(t, later.UTC().Truncate(time.Microsecond), got.UpdatedAt)

			// An empty patch only touches UpdatedAt.
			require.NoError(t, db.UpdateApp(ctx, "app-1", AppPatch{}))
			again, err := db.GetApp(ctx, "app-1")
			require.NoError(t, err)
			require.Equal(t, got.Secret, again.Secret)
			require.Equal(t, got.Name, again.Name)
		})
	})
}
