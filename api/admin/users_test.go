package admin

import (
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/adminhttp"
	"github.com/heraldhq/herald/store"
)

func TestUserRoutes(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, h *harness) {
		root := h.addUser("root", adminhttp.RoleAdmin)
		tok := h.login("root").AccessToken

		created := h.do(request{method: http.MethodPost, path: "/users", token: tok,
			body: map[string]string{"username": "Ann", "password": "ann's long passphrase", "role": "viewer"}})
		require.Equal(t, http.StatusCreated, created.Code, created.Body.String())
		var ann userView
		created.decode(t, &ann)
		require.Equal(t, "ann", ann.Username)
		require.Equal(t, 1, ann.Version)
		require.Equal(t, `"1"`, created.Header().Get("ETag"))
		require.NotContains(t, created.Body.String(), "argon2")
		id := strconv.FormatInt(ann.ID, 10)

		for name, tc := range map[string]struct {
			body  map[string]string
			code  int
			field string
		}{
			"taken":        {map[string]string{"username": "ann", "password": "another passphrase", "role": "viewer"}, http.StatusConflict, ""},
			"weak":         {map[string]string{"username": "bob", "password": "short", "role": "viewer"}, http.StatusBadRequest, "password"},
			"bad role":     {map[string]string{"username": "bob", "password": "a fine passphrase", "role": "root"}, http.StatusBadRequest, "role"},
			"bad username": {map[string]string{"username": "bob smith", "password": "a fine passphrase", "role": "viewer"}, http.StatusBadRequest, "username"},
		} {
			t.Run(name, func(t *testing.T) {
				resp := h.do(request{method: http.MethodPost, path: "/users", token: tok, body: tc.body})
				require.Equal(t, tc.code, resp.Code, resp.Body.String())
				require.Equal(t, tc.field, resp.problem(t).Field)
			})
		}

		got := h.do(request{method: http.MethodGet, path: "/users/" + id, token: tok})
		require.Equal(t, http.StatusOK, got.Code)
		require.Equal(t, `"1"`, got.Header().Get("ETag"))
		require.Equal(t, http.StatusNotFound, h.do(request{method: http.MethodGet, path: "/users/999", token: tok}).Code)
		require.Equal(t, "id", h.do(request{method: http.MethodGet, path: "/users/x", token: tok}).problem(t).Field)

		// Updates need the version.
		patch := map[string]any{"role": "operator"}
		require.Equal(t, http.StatusPreconditionRequired, h.do(request{method: http.MethodPatch, path: "/users/" + id, token: tok, body: patch}).Code)
		ok := h.do(request{method: http.MethodPatch, path: "/users/" + id, token: tok, body: patch, header: map[string]string{"If-Match": `"1"`}})
		require.Equal(t, http.StatusOK, ok.Code, ok.Body.String())
		require.Equal(t, `"2"`, ok.Header().Get("ETag"))
		stale := h.do(request{method: http.MethodPatch, path: "/users/" + id, token: tok, body: map[string]any{"disabled": true, "version": 1}})
		require.Equal(t, http.StatusConflict, stale.Code)
		require.Equal(t, http.StatusBadRequest, h.do(request{method: http.MethodPatch, path: "/users/" + id, token: tok, body: map[string]any{"version": 2}}).Code)
		require.Equal(t, "nickname", h.do(request{method: http.MethodPatch, path: "/users/" + id, token: tok, body: map[string]any{"nickname": "x", "version": 2}}).problem(t).Field)
		disabled := h.do(request{method: http.MethodPatch, path: "/users/" + id, token: tok, body: map[string]any{"disabled": true, "version": 2}})
		require.Equal(t, http.StatusOK, disabled.Code)

		// Admins may not lock themselves out.
		self := h.do(request{method: http.MethodPatch, path: "/users/" + strconv.FormatInt(root.ID, 10), token: tok, body: map[string]any{"role": "viewer", "version": 1}})
		require.Equal(t, http.StatusConflict, self.Code)

		pw := h.do(request{method: http.MethodPost, path: "/users/" + id + "/password", token: tok, body: map[string]any{"password": "a reset passphrase", "version": 3}})
		require.Equal(t, http.StatusOK, pw.Code, pw.Body.String())
		require.Equal(t, http.StatusBadRequest, h.do(request{method: http.MethodPost, path: "/users/" + id + "/password", token: tok, body: map[string]any{"password": "short", "version": 4}}).Code)

		list := h.do(request{method: http.MethodGet, path: "/users?limit=1", token: tok})
		require.Equal(t, http.StatusOK, list.Code)
		var page List[userView]
		list.decode(t, &page)
		require.Len(t, page.Items, 1)
		require.Equal(t, "root", page.Items[0].Username)
		require.NotEmpty(t, page.NextCursor)
		list = h.do(request{method: http.MethodGet, path: "/users?limit=1&cursor=" + page.NextCursor, token: tok})
		list.decode(t, &page)
		require.Equal(t, "ann", page.Items[0].Username)
		require.Equal(t, "limit", h.do(request{method: http.MethodGet, path: "/users?limit=501", token: tok}).problem(t).Field)
		require.Equal(t, "cursor", h.do(request{method: http.MethodGet, path: "/users?cursor=abc", token: tok}).problem(t).Field)

		// Every write is audited, by the admin, with no secret in it.
		recs, err := h.db.ListAudit(t.Context(), store.AuditFilter{ObjectType: "user", ObjectID: id})
		require.NoError(t, err)
		var actions []string
		for _, r := range recs {
			actions = append(actions, r.Action)
			require.Equal(t, "user:root", r.Actor)
			require.NotContains(t, r.DiffJSON, "passphrase")
			require.NotContains(t, r.DiffJSON, "argon2")
		}
		require.Equal(t, []string{"user.password", "user.update", "user.update", "user.create"}, actions)
		require.Equal(t, map[string]any{"role": []any{"viewer", "operator"}}, recs[2].Diff)
	})
}

func TestAuditRoute(t *testing.T) {
	t.Parallel()
	h := setup(t, store.DialectSQLite, Config{}, nil)
	h.addUser("ops", adminhttp.RoleOperator)
	tok := h.login("ops").AccessToken
	base := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	for i := 0; i < 5; i++ {
		require.NoError(t, h.db.InsertAudit(t.Context(), &store.AuditRecord{At: base.Add(time.Duration(i) * time.Minute),
			Actor: "cli:root", Action: "app.update", ObjectType: "app", ObjectID: "app-" + strconv.Itoa(i%2), ClientIP: ""}))
	}
	get := func(q string) List[store.AuditRecord] {
		t.Helper()
		resp := h.do(request{method: http.MethodGet, path: "/audit?" + q, token: tok})
		require.Equal(t, http.StatusOK, resp.Code, resp.Body.String())
		var out List[store.AuditRecord]
		resp.decode(t, &out)
		return out
	}
	all := get("actor=cli:root")
	require.Len(t, all.Items, 5)
	require.Empty(t, all.NextCursor)
	require.Equal(t, base.Add(4*time.Minute), all.Items[0].At)

	page := get("actor=cli:root&limit=2")
	require.Len(t, page.Items, 2)
	next := get("actor=cli:root&limit=2&cursor=" + page.NextCursor)
	require.Less(t, next.Items[0].ID, page.Items[1].ID)

	require.Len(t, get("object_type=app&object_id=app-1").Items, 2)
	require.Len(t, get("action=app.update&since=2026-12-03T09:01:00Z&until=2026-12-03T09:03:00Z").Items, 2)
	require.Len(t, get("action=user.login").Items, 1)

	for q, field := range map[string]string{"since=yesterday": "since", "until=2026-12-03": "until", "since=2026-12-03T10:00:00Z&until=2026-12-03T09:00:00Z": "until", "limit=0": "limit"} {
		resp := h.do(request{method: http.MethodGet, path: "/audit?" + q, token: tok})
		require.Equal(t, http.StatusBadRequest, resp.Code, q)
		require.Equal(t, field, resp.problem(t).Field, q)
	}
}

func TestErrorAnswers(t *testing.T) {
	t.Parallel()
	extra := func(g *echo.Group) {
		g.GET("/boom", func(echo.Context) error { return errors.New("database password is hunter2") }, adminhttp.Require(adminhttp.RoleViewer))
		g.GET("/panic", func(echo.Context) error { panic("secret state") }, adminhttp.Require(adminhttp.RoleViewer))
		g.POST("/echo-bind", func(c echo.Context) error {
			var v struct{ N int }
			return c.Bind(&v)
		}, adminhttp.Require(adminhttp.RoleViewer))
	}
	h := setup(t, store.DialectSQLite, Config{MaxBodyBytes: 256}, []func(g *echo.Group){extra})
	h.addUser("ops", adminhttp.RoleOperator)
	tok := h.login("ops").AccessToken

	for _, path := range []string{"/boom", "/panic"} {
		resp := h.do(request{method: http.MethodGet, path: path, token: tok})
		require.Equal(t, http.StatusInternalServerError, resp.Code)
		require.Equal(t, adminhttp.Problem{Code: adminhttp.CodeInternal, Message: "internal error"}, stripStatus(resp.problem(t)))
	}
	cases := []struct {
		name string
		r    request
		code int
		want string
	}{
		{"unknown route", request{method: http.MethodGet, path: "/nothing-here", token: tok}, http.StatusNotFound, adminhttp.CodeNotFound},
		{"unknown route without a token", request{method: http.MethodGet, path: "/nothing-here"}, http.StatusUnauthorized, adminhttp.CodeUnauthorized},
		{"wrong method", request{method: http.MethodDelete, path: "/me", token: tok}, http.StatusMethodNotAllowed, CodeMethodNotAllowed},
		{"not JSON", request{method: http.MethodPost, path: "/auth/login", body: "{"}, http.StatusBadRequest, adminhttp.CodeInvalid},
		{"empty body", request{method: http.MethodPost, path: "/auth/login", body: ""}, http.StatusBadRequest, adminhttp.CodeInvalid},
		{"wrong type", request{method: http.MethodPost, path: "/auth/login", body: `{"username": 5}`}, http.StatusBadRequest, adminhttp.CodeInvalid},
		{"too large", request{method: http.MethodPost, path: "/auth/login", body: `{"username":"` + string(make([]byte, 300)) + `"}`}, http.StatusRequestEntityTooLarge, adminhttp.CodeInvalid},
		{"echo bind error", request{method: http.MethodPost, path: "/echo-bind", token: tok, body: `{"N":"x"}`}, http.StatusBadRequest, adminhttp.CodeInvalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp := h.do(tc.r)
			require.Equal(t, tc.code, resp.Code, resp.Body.String())
			require.Equal(t, tc.want, resp.problem(t).Code)
			require.NotEmpty(t, resp.problem(t).Message)
		})
	}
	require.Equal(t, "username", h.do(request{method: http.MethodPost, path: "/auth/login", body: `{"username": 5}`}).problem(t).Field)
}

func stripStatus(p adminhttp.Problem) adminhttp.Problem { p.Status = 0; return p }

// TestMountedRoutes checks the contract other route packages rely on: a
// group from Deps.Routes sits below the prefix, behind authentication,
// with the principal and the client IP set.
func TestMountedRoutes(t *testing.T) {
	t.Parallel()
	mount := func(g *echo.Group) {
		g.POST("/things", func(c echo.Context) error {
			p, ok := adminhttp.PrincipalFrom(c)
			require.True(t, ok)
			rec := adminhttp.AuditFor(c, "thing.create", "thing", "1", nil)
			return c.JSON(http.StatusCreated, map[string]string{"user": p.Username, "actor": rec.Actor, "ip": rec.ClientIP})
		}, adminhttp.Require(adminhttp.RoleOperator))
	}
	h := setup(t, store.DialectSQLite, Config{TrustedProxies: []string{"10.0.0.0/8"}}, []func(g *echo.Group){mount})
	h.addUser("ops", adminhttp.RoleOperator)
	h.addUser("vic", adminhttp.RoleViewer)

	require.Equal(t, http.StatusUnauthorized, h.do(request{method: http.MethodPost, path: "/things"}).Code)
	require.Equal(t, http.StatusForbidden, h.do(request{method: http.MethodPost, path: "/things", token: h.login("vic").AccessToken}).Code)
	resp := h.do(request{method: http.MethodPost, path: "/things", token: h.login("ops").AccessToken, remote: "10.1.2.3:5000",
		header: map[string]string{"X-Forwarded-For": "203.0.113.5"}})
	require.Equal(t, http.StatusCreated, resp.Code, resp.Body.String())
	var got map[string]string
	resp.decode(t, &got)
	require.Equal(t, map[string]string{"user": "ops", "actor": "user:ops", "ip": "203.0.113.5"}, got)
}
