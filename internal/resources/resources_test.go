package resources

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/providers"
	"github.com/heraldhq/herald/providers/sandbox"
	"github.com/heraldhq/herald/store"
)

func setup(t *testing.T) (*store.DB, *providers.Registry) {
	t.Helper()
	c, err := store.NewCipher(bytes.Repeat([]byte{7}, 32))
	require.NoError(t, err)
	db, err := store.Open(t.Context(), store.Options{URL: "sqlite://" + filepath.Join(t.TempDir(), "x.db"), Cipher: c})
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	_, err = db.MigrateUp(t.Context())
	require.NoError(t, err)
	sb := sandbox.New()
	t.Cleanup(func() { _ = sb.Close() })
	return db, providers.NewRegistry(sb)
}

func apply(t *testing.T, db *store.DB, reg *providers.Registry, set *Set) (*Result, error) {
	t.Helper()
	var res *Result
	err := db.RunInTx(t.Context(), func(ctx context.Context, tx *store.DB) error {
		var err error
		res, err = Apply(ctx, tx, reg, set, Options{Source: "request", Actor: "user:ops", ClientIP: "192.0.2.1"})
		return err
	})
	return res, err
}

func TestApplyVersionsAndAudit(t *testing.T) {
	t.Parallel()
	db, reg := setup(t)
	res, err := apply(t, db, reg, &Set{Apps: []App{{ID: "shop", StatusCallbackURL: "https://example.com/cb"}}})
	require.NoError(t, err)
	kinds := map[string]bool{}
	for _, s := range res.Generated {
		kinds[s.Kind] = true
		require.NotEmpty(t, s.Value)
	}
	require.Equal(t, map[string]bool{"secret": true, "callback_secret": true}, kinds)

	app, err := db.GetApp(t.Context(), "shop")
	require.NoError(t, err)
	spec := AppSpec(app)
	spec.Name, spec.Version = "Shop", 1
	_, err = apply(t, db, reg, &Set{Apps: []App{spec}})
	require.NoError(t, err)

	// The same change against version 1 again is stale, and writes nothing.
	spec.Name = "Shop 3"
	_, err = apply(t, db, reg, &Set{Apps: []App{spec}})
	require.ErrorIs(t, err, store.ErrStale)
	app, err = db.GetApp(t.Context(), "shop")
	require.NoError(t, err)
	require.Equal(t, "Shop", app.Name)
	require.EqualValues(t, 2, app.Version)

	recs, err := db.ListAudit(t.Context(), store.AuditFilter{ObjectID: "shop"})
	require.NoError(t, err)
	require.Len(t, recs, 2)
	require.Equal(t, "app.update", recs[0].Action)
	require.Equal(t, map[string]any{"name": []any{"shop", "Shop"}}, recs[0].Diff)
	require.Equal(t, "user:ops", recs[0].Actor)
	require.Equal(t, "192.0.2.1", recs[0].ClientIP)
	require.Equal(t, []any{nil, Redacted}, recs[1].Diff["secret"])
	require.Equal(t, []any{nil, Redacted}, recs[1].Diff["callback_secret"])
}

func TestApplyProblems(t *testing.T) {
	t.Parallel()
	db, reg := setup(t)
	_, err := apply(t, db, reg, &Set{Channels: []Channel{{Name: "sms", Type: "fax", Pool: []PoolMember{{Account: "nobody"}}}}})
	var pe *ProblemsError
	require.ErrorAs(t, err, &pe)
	paths := []string{}
	for _, p := range pe.Problems {
		paths = append(paths, p.Path)
	}
	require.ElementsMatch(t, []string{"channels[0].type", "channels[0].pool[0].account"}, paths)
	require.Contains(t, err.Error(), "request has 2 problems; nothing was written")

	require.Empty(t, Validate(&Set{Rules: []Rule{{Name: "r", Scene: "send_failure", Action: "fail"}}}, reg))
}

func TestDeleteRule(t *testing.T) {
	t.Parallel()
	db, reg := setup(t)
	_, err := apply(t, db, reg, &Set{Rules: []Rule{{Name: "r", Scene: "send_failure", Action: "fail"}}})
	require.NoError(t, err)
	rules, err := db.ListAllRules(t.Context())
	require.NoError(t, err)
	id := rules[0].ID
	err = db.RunInTx(t.Context(), func(ctx context.Context, tx *store.DB) error {
		return DeleteRule(ctx, tx, id, 2, Options{Actor: "user:ops"})
	})
	require.ErrorIs(t, err, store.ErrStale)
	err = db.RunInTx(t.Context(), func(ctx context.Context, tx *store.DB) error {
		return DeleteRule(ctx, tx, id, 1, Options{Actor: "user:ops"})
	})
	require.NoError(t, err)
	recs, err := db.ListAudit(t.Context(), store.AuditFilter{Action: "rule.delete"})
	require.NoError(t, err)
	require.Len(t, recs, 1)
}

func TestDiffRedactsSecrets(t *testing.T) {
	t.Parallel()
	before := Account{Name: "a", ConfigJSON: []byte(`{"key":"old-secret"}`)}
	after := Account{Name: "a", ConfigJSON: []byte(`{"key":"new-secret"}`), CallbackToken: "tok"}
	d := diffOf([]string{"config", "callback_token"}, before, after)
	require.Equal(t, map[string]any{"config": []any{Redacted, Redacted}, "callback_token": []any{Redacted, Redacted}}, d)
	d = diffOf(nil, nil, after)
	require.Equal(t, []any{nil, Redacted}, d["config"])
	require.Equal(t, []any{nil, Redacted}, d["callback_token"])
}

func TestAppRetentionDays(t *testing.T) {
	t.Parallel()
	db, reg := setup(t)
	_, err := apply(t, db, reg, &Set{Apps: []App{{ID: "shop", RetentionDays: 180}}})
	require.NoError(t, err)
	app, err := db.GetApp(t.Context(), "shop")
	require.NoError(t, err)
	require.Equal(t, 180, app.RetentionDays)
	spec := AppSpec(app)
	require.Equal(t, 180, spec.RetentionDays, "the spec describes the stored retention")

	spec.RetentionDays = 0
	_, err = apply(t, db, reg, &Set{Apps: []App{spec}})
	require.NoError(t, err)
	app, err = db.GetApp(t.Context(), "shop")
	require.NoError(t, err)
	require.Zero(t, app.RetentionDays)
	recs, err := db.ListAudit(t.Context(), store.AuditFilter{ObjectID: "shop", Action: "app.update"})
	require.NoError(t, err)
	require.Equal(t, map[string]any{"retention_days": []any{float64(180), float64(0)}}, recs[0].Diff)

	for _, days := range []int{-1, MaxRetentionDays + 1} {
		_, err = apply(t, db, reg, &Set{Apps: []App{{ID: "shop", RetentionDays: days}}})
		var pe *ProblemsError
		require.ErrorAs(t, err, &pe, "retention_days %d", days)
		require.Equal(t, "apps[0].retention_days", pe.Problems[0].Path)
		require.Contains(t, pe.Problems[0].Message, "0 (keep for ever)")
	}
}
