package resources

import (
	"net/http"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/store"
)

func TestApps(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)

	created := s.must(http.StatusCreated, http.MethodPost, "/apps", map[string]any{
		"id": "shop", "name": "Shop", "ip_allowlist": []string{"10.0.0.0/8"}, "rate_limit_per_second": 50,
	})
	require.Equal(t, `"1"`, created.header.Get("ETag"))
	require.Regexp(t, regexp.MustCompile(`^[0-9a-f]{64}$`), created.body["secret"], "the generated secret is shown once")
	require.EqualValues(t, 1, created.body["version"])

	got := s.must(http.StatusOK, http.MethodGet, "/apps/shop", nil)
	require.Equal(t, "set", got.body["secret"])
	require.Equal(t, `"1"`, got.header.Get("ETag"))
	require.Equal(t, []any{}, got.body["grants"])

	viewer := s.do("viewer", http.MethodGet, "/apps", nil)
	require.Equal(t, http.StatusOK, viewer.status)
	require.Len(t, viewer.body["items"], 1)
	require.Equal(t, "", viewer.body["next_cursor"])

	t.Run("ErrDuplicate", func(t *testing.T) {
		a := s.must(http.StatusConflict, http.MethodPost, "/apps", map[string]any{"id": "shop"})
		require.Equal(t, "conflict", a.body["code"])
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		a := s.must(http.StatusBadRequest, http.MethodPost, "/apps", map[string]any{"id": "x", "ip_allowlist": []string{"nope"}})
		require.Equal(t, "ip_allowlist[0]", a.body["field"])
		require.Contains(t, a.body["message"], "not an IP address or CIDR range")
		a = s.must(http.StatusBadRequest, http.MethodPost, "/apps", map[string]any{"id": "x", "colour": "blue"})
		require.Equal(t, "colour", a.body["field"])
		a = s.must(http.StatusBadRequest, http.MethodPost, "/apps", map[string]any{"id": "x", "burst": "many"})
		require.Equal(t, "burst", a.body["field"])
		a = s.must(http.StatusBadRequest, http.MethodPost, "/apps", `{"id": `)
		require.Equal(t, "invalid_input", a.body["code"])
		a = s.must(http.StatusBadRequest, http.MethodPost, "/apps", map[string]any{"id": "x", "grants": []string{"nowhere"}})
		require.Equal(t, "grants[0]", a.body["field"])
		a = s.must(http.StatusBadRequest, http.MethodGet, "/apps?limit=0", nil)
		require.Equal(t, "limit", a.body["field"])
	})
	t.Run("ErrBuiltIn", func(t *testing.T) {
		a := s.must(http.StatusConflict, http.MethodPost, "/apps", map[string]any{"id": OperatorsAppID})
		require.Contains(t, a.body["message"], "built-in operators' app")
		require.NoError(t, s.db.CreateApp(t.Context(), &store.App{ID: OperatorsAppID, Name: "ops", Secret: "unknown", Enabled: true}))
		s.must(http.StatusConflict, http.MethodPost, "/apps/"+OperatorsAppID+"/rotate-secret", nil)
		s.must(http.StatusConflict, http.MethodPatch, "/apps/"+OperatorsAppID, map[string]any{"name": "x"}, "If-Match", `"1"`)
		app, err := s.db.GetApp(t.Context(), OperatorsAppID)
		require.NoError(t, err)
		require.Equal(t, "unknown", app.Secret)
		require.Equal(t, "ops", app.Name)
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		s.must(http.StatusNotFound, http.MethodGet, "/apps/nobody", nil)
		s.must(http.StatusNotFound, http.MethodPatch, "/apps/nobody", map[string]any{"name": "x"}, "If-Match", `"1"`)
	})

	t.Run("Versions", func(t *testing.T) {
		a := s.must(http.StatusPreconditionRequired, http.MethodPatch, "/apps/shop", map[string]any{"name": "Shop 2"})
		require.Equal(t, "invalid_input", a.body["code"])
		require.Contains(t, a.body["message"], "If-Match")

		a = s.must(http.StatusOK, http.MethodPatch, "/apps/shop", map[string]any{"rate_limit_per_second": 60}, "If-Match", `"1"`)
		require.Equal(t, `"2"`, a.header.Get("ETag"))
		require.EqualValues(t, 60, a.body["rate_limit_per_second"])
		require.Equal(t, "Shop", a.body["name"], "PATCH keeps what the body does not name")
		require.Equal(t, "set", a.body["secret"])

		a = s.must(http.StatusConflict, http.MethodPatch, "/apps/shop", map[string]any{"rate_limit_per_second": 70}, "If-Match", `"1"`)
		require.Equal(t, "conflict", a.body["code"])
		// The version may come in the body instead.
		s.must(http.StatusOK, http.MethodPatch, "/apps/shop", map[string]any{"rate_limit_per_second": 70, "version": 2})
	})

	t.Run("RotateAndDisable", func(t *testing.T) {
		before, err := s.db.GetApp(t.Context(), "shop")
		require.NoError(t, err)
		a := s.must(http.StatusOK, http.MethodPost, "/apps/shop/rotate-secret", nil)
		require.Regexp(t, regexp.MustCompile(`^[0-9a-f]{64}$`), a.body["secret"])
		after, err := s.db.GetApp(t.Context(), "shop")
		require.NoError(t, err)
		require.NotEqual(t, before.Secret, after.Secret)
		require.Equal(t, a.body["secret"], after.Secret)

		a = s.must(http.StatusOK, http.MethodPost, "/apps/shop/disable", nil)
		require.Equal(t, false, a.body["enabled"])
		a = s.must(http.StatusOK, http.MethodPost, "/apps/shop/enable", nil)
		require.Equal(t, true, a.body["enabled"])
	})

	t.Run("Audit", func(t *testing.T) {
		recs, err := s.db.ListAudit(t.Context(), store.AuditFilter{ObjectType: "app", ObjectID: "shop", Limit: 100})
		require.NoError(t, err)
		var actions []string
		for _, r := range recs {
			require.Equal(t, "user:operator", r.Actor)
			require.Equal(t, "127.0.0.1", r.ClientIP)
			actions = append(actions, r.Action)
			if d, ok := r.Diff["secret"]; ok {
				require.Contains(t, []any{[]any{nil, "[redacted]"}, []any{"[redacted]", "[redacted]"}}, d)
			}
		}
		// Newest first: enable, disable, rotate, two patches, create.
		require.Equal(t, []string{"app.update", "app.update", "app.update", "app.update", "app.update", "app.create"}, actions)
		require.Equal(t, map[string]any{"enabled": []any{false, true}}, recs[0].Diff)
	})
}
