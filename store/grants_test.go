package store

import (
	"io/fs"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun/migrate"
)

func TestGrants(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		for _, id := range []string{"shop", "ops"} {
			require.NoError(t, db.CreateApp(ctx, &App{ID: id, Name: id, Secret: "s", Enabled: true}))
		}
		var chs []int64
		for _, name := range []string{"a", "b", "c"} {
			ch := &Channel{Name: name, Type: ChannelSMS, Enabled: true}
			require.NoError(t, db.CreateChannel(ctx, ch))
			chs = append(chs, ch.ID)
		}

		t.Run("NewAppHasNone", func(t *testing.T) {
			ids, err := db.AppGrants(ctx, "ops")
			require.NoError(t, err)
			require.Empty(t, ids)
			ok, err := db.ChannelGranted(ctx, "ops", chs[0])
			require.NoError(t, err)
			require.False(t, ok)
		})

		t.Run("SetReplaces", func(t *testing.T) {
			require.NoError(t, db.SetAppGrants(ctx, "shop", []int64{chs[2], chs[0]}))
			ids, err := db.AppGrants(ctx, "shop")
			require.NoError(t, err)
			require.Equal(t, []int64{chs[0], chs[2]}, ids)

			require.NoError(t, db.SetAppGrants(ctx, "shop", []int64{chs[1], chs[2]}))
			ids, err = db.AppGrants(ctx, "shop")
			require.NoError(t, err)
			require.Equal(t, []int64{chs[1], chs[2]}, ids)
			ok, err := db.ChannelGranted(ctx, "shop", chs[0])
			require.NoError(t, err)
			require.False(t, ok)
			ok, err = db.ChannelGranted(ctx, "shop", chs[1])
			require.NoError(t, err)
			require.True(t, ok)
			// Other apps are untouched.
			ids, err = db.AppGrants(ctx, "ops")
			require.NoError(t, err)
			require.Empty(t, ids)
		})

		t.Run("ListChannelsOfApp", func(t *testing.T) {
			app := "shop"
			got, total, err := db.ListChannels(ctx, ChannelFilter{AppID: &app, Limit: 1})
			require.NoError(t, err)
			require.Equal(t, 2, total, "the total counts only granted channels")
			require.Len(t, got, 1)
			require.Equal(t, chs[2], got[0].ID)
			none := "ops"
			got, total, err = db.ListChannels(ctx, ChannelFilter{AppID: &none})
			require.NoError(t, err)
			require.Zero(t, total)
			require.Empty(t, got)
		})

		t.Run("GrantIsIdempotent", func(t *testing.T) {
			require.NoError(t, db.GrantChannel(ctx, "ops", chs[0]))
			require.NoError(t, db.GrantChannel(ctx, "ops", chs[0]))
			ids, err := db.AppGrants(ctx, "ops")
			require.NoError(t, err)
			require.Equal(t, []int64{chs[0]}, ids)
			require.NoError(t, db.SetAppGrants(ctx, "ops", nil))
			ids, err = db.AppGrants(ctx, "ops")
			require.NoError(t, err)
			require.Empty(t, ids)
		})

		t.Run("ErrNotFound", func(t *testing.T) {
			require.ErrorIs(t, db.GrantChannel(ctx, "ghost", chs[0]), ErrNotFound)
			require.ErrorIs(t, db.GrantChannel(ctx, "ops", chs[2]+100), ErrNotFound)
		})
	})
}

func TestCachedGrants(t *testing.T) {
	t.Parallel()
	db := setup(t, DialectSQLite)
	ctx := t.Context()
	require.NoError(t, db.CreateApp(ctx, &App{ID: "shop", Name: "shop", Secret: "s", Enabled: true}))
	ch := &Channel{Name: "a", Type: ChannelSMS, Enabled: true}
	require.NoError(t, db.CreateChannel(ctx, ch))
	c := NewCached(db, time.Hour)

	ok, err := c.ChannelGranted(ctx, "shop", ch.ID)
	require.NoError(t, err)
	require.False(t, ok)
	// A write through the cache shows at once.
	require.NoError(t, c.GrantChannel(ctx, "shop", ch.ID))
	ok, err = c.ChannelGranted(ctx, "shop", ch.ID)
	require.NoError(t, err)
	require.True(t, ok)
	// A write behind its back shows only after the TTL: the answer is cached.
	require.NoError(t, db.SetAppGrants(ctx, "shop", nil))
	ok, err = c.ChannelGranted(ctx, "shop", ch.ID)
	require.NoError(t, err)
	require.True(t, ok)
	require.NoError(t, c.SetAppGrants(ctx, "shop", nil))
	ok, err = c.ChannelGranted(ctx, "shop", ch.ID)
	require.NoError(t, err)
	require.False(t, ok)
	// Invalidate makes a write behind its back show at once.
	require.NoError(t, db.GrantChannel(ctx, "shop", ch.ID))
	c.Invalidate()
	ok, err = c.ChannelGranted(ctx, "shop", ch.ID)
	require.NoError(t, err)
	require.True(t, ok)
}

// TestGrantsMigration applies the first migration alone, writes apps,
// channels and a plain-text callback token as an older version would, then
// migrates to the current schema: every existing app is granted every
// existing channel, and the token reads back and is sealed on that read.
func TestGrantsMigration(t *testing.T) {
	t.Parallel()
	for _, d := range testDialects() {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			db := setupEmpty(t, d)
			sub, err := fs.Sub(migrationFiles, "migrations/"+d)
			require.NoError(t, err)
			first := fstest.MapFS{}
			for _, name := range []string{"000001_init.tx.up.sql", "000001_init.tx.down.sql"} {
				b, err := fs.ReadFile(sub, name)
				require.NoError(t, err)
				first[name] = &fstest.MapFile{Data: b}
			}
			ms := migrate.NewMigrations()
			require.NoError(t, ms.Discover(first))
			m := migrate.NewMigrator(db.bun, ms)
			require.NoError(t, m.Init(ctx))
			_, err = m.Migrate(ctx)
			require.NoError(t, err)

			now := time.Now().UTC()
			// Rows are written with the columns of 000001, as the version
			// that had only that migration did.
			for _, id := range []string{"shop", "ops"} {
				secret, err := db.cipher.Encrypt([]byte("s"))
				require.NoError(t, err)
				_, err = db.bun.NewRaw("INSERT INTO apps (id, name, secret_enc, callback_secret_enc, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
					id, id, secret, []byte{}, now, now).Exec(ctx)
				require.NoError(t, err)
			}
			var chs []int64
			for _, name := range []string{"a", "b"} {
				var id int64
				err := db.bun.NewRaw("INSERT INTO channels (name, type, enabled, created_at, updated_at) VALUES (?, ?, ?, ?, ?) RETURNING id",
					name, ChannelSMS, true, now, now).Scan(ctx, &id)
				require.NoError(t, err)
				chs = append(chs, id)
			}
			cfg, err := db.cipher.Encrypt([]byte(`{}`))
			require.NoError(t, err)
			var accID int64
			err = db.bun.NewRaw("INSERT INTO provider_accounts (name, kind, config_enc, callback_token, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
				"old", "sandbox", cfg, "legacy-plain-token", now, now).Scan(ctx, &accID)
			require.NoError(t, err)

			var otherID int64
			err = db.bun.NewRaw("INSERT INTO provider_accounts (name, kind, config_enc, callback_token, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
				"older", "sandbox", cfg, "other-legacy-token", now, now).Scan(ctx, &otherID)
			require.NoError(t, err)

			applied, err := db.MigrateUp(ctx)
			require.NoError(t, err)
			require.Equal(t, "000002_grants_sealed_tokens", applied[0])
			for _, app := range []string{"shop", "ops"} {
				ids, err := db.AppGrants(ctx, app)
				require.NoError(t, err)
				require.Equal(t, chs, ids, app)
			}

			acc, err := db.GetAccount(ctx, accID)
			require.NoError(t, err)
			require.Equal(t, "legacy-plain-token", acc.CallbackToken)
			var raw struct {
				Plain string `bun:"callback_token"`
				Enc   []byte `bun:"callback_token_enc"`
			}
			require.NoError(t, db.bun.NewSelect().Table("provider_accounts").Column("callback_token", "callback_token_enc").
				Where("id = ?", accID).Scan(ctx, &raw))
			require.Empty(t, raw.Plain, "the plain token is cleared once sealed")
			require.NotEmpty(t, raw.Enc)
			require.NotContains(t, string(raw.Enc), "legacy-plain-token")
			acc, err = db.GetAccount(ctx, accID)
			require.NoError(t, err)
			require.Equal(t, "legacy-plain-token", acc.CallbackToken)

			// The rest are sealed in one sweep when Herald opens the store.
			n, err := db.SealLegacyCallbackTokens(ctx)
			require.NoError(t, err)
			require.Equal(t, 1, n)
			require.NoError(t, db.bun.NewSelect().Table("provider_accounts").Column("callback_token", "callback_token_enc").
				Where("id = ?", otherID).Scan(ctx, &raw))
			require.Empty(t, raw.Plain)
			require.NotContains(t, string(raw.Enc), "other-legacy-token")
			other, err := db.GetAccount(ctx, otherID)
			require.NoError(t, err)
			require.Equal(t, "other-legacy-token", other.CallbackToken)
			n, err = db.SealLegacyCallbackTokens(ctx)
			require.NoError(t, err)
			require.Zero(t, n)
		})
	}
}

func TestCallbackTokenSealed(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		acc := &ProviderAccount{Name: "x", Kind: "sandbox", Enabled: true, CallbackToken: "token-in-the-clear-0123"}
		require.NoError(t, db.CreateAccount(ctx, acc))
		rawColumns := func() (string, []byte) {
			var raw struct {
				Plain string `bun:"callback_token"`
				Enc   []byte `bun:"callback_token_enc"`
			}
			require.NoError(t, db.bun.NewSelect().Table("provider_accounts").Column("callback_token", "callback_token_enc").
				Where("id = ?", acc.ID).Scan(ctx, &raw))
			return raw.Plain, raw.Enc
		}
		plain, enc := rawColumns()
		require.Empty(t, plain)
		require.NotContains(t, string(enc), "token-in-the-clear")

		require.NoError(t, db.UpdateAccount(ctx, acc.ID, AccountPatch{CallbackToken: ptr("second-token-in-the-clear")}))
		plain, enc = rawColumns()
		require.Empty(t, plain)
		require.NotContains(t, string(enc), "second-token")
		got, err := db.GetAccount(ctx, acc.ID)
		require.NoError(t, err)
		require.Equal(t, "second-token-in-the-clear", got.CallbackToken)
	})
}
