package store

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestVersions(t *testing.T) {
	eachDialect(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		app := &App{ID: "demo", Name: "Demo", Secret: "0123456789abcdef", Enabled: true}
		require.NoError(t, db.CreateApp(ctx, app))
		require.EqualValues(t, 1, app.Version)

		name := "Demo 2"
		require.NoError(t, db.UpdateApp(ctx, "demo", AppPatch{Name: &name, IfVersion: 1}))
		got, err := db.GetApp(ctx, "demo")
		require.NoError(t, err)
		require.EqualValues(t, 2, got.Version)

		require.ErrorIs(t, db.UpdateApp(ctx, "demo", AppPatch{Name: &name, IfVersion: 1}), ErrStale)
		require.ErrorIs(t, db.UpdateApp(ctx, "nobody", AppPatch{Name: &name, IfVersion: 1}), ErrNotFound)
		// Without an expected version the update always applies.
		require.NoError(t, db.UpdateApp(ctx, "demo", AppPatch{Name: &name}))

		ch := &Channel{Name: "sms", Type: ChannelSMS, Enabled: true}
		require.NoError(t, db.CreateChannel(ctx, ch))
		require.ErrorIs(t, db.UpdateChannel(ctx, ch.ID, ChannelPatch{IfVersion: 5}), ErrStale)
		require.NoError(t, db.UpdateChannel(ctx, ch.ID, ChannelPatch{IfVersion: 1}))
		gotCh, err := db.GetChannel(ctx, ch.ID)
		require.NoError(t, err)
		require.EqualValues(t, 2, gotCh.Version)

		tpl := &Template{Name: "t", ContentType: "text", Content: "hi", Variables: []string{}}
		require.NoError(t, db.CreateTemplate(ctx, tpl))
		require.ErrorIs(t, db.UpdateTemplate(ctx, tpl.ID, TemplatePatch{IfVersion: 2}), ErrStale)
		r := &Rule{Name: "r", Action: "retry", Enabled: true}
		require.NoError(t, db.CreateRule(ctx, r))
		require.NoError(t, db.UpdateRule(ctx, r.ID, RulePatch{IfVersion: 1}))
		gotR, err := db.GetRule(ctx, r.ID)
		require.NoError(t, err)
		require.EqualValues(t, 2, gotR.Version)

		acc := &ProviderAccount{Name: "a", Kind: "sandbox", Config: []byte(`{}`), Weight: 1, Enabled: true}
		require.NoError(t, db.CreateAccount(ctx, acc))
		require.ErrorIs(t, db.UpdateAccount(ctx, acc.ID, AccountPatch{IfVersion: 3}), ErrStale)

		apps, err := db.ListApps(ctx)
		require.NoError(t, err)
		require.Len(t, apps, 1)
		tpls, err := db.ListTemplates(ctx)
		require.NoError(t, err)
		require.Len(t, tpls, 1)
	})
}
