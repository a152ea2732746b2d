package adminhttp

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"
)

func TestRequire(t *testing.T) {
	ok := func(c echo.Context) error { return c.NoContent(http.StatusNoContent) }
	cases := []struct {
		name      string
		principal *Principal
		min       Role
		want      int
	}{
		{"no principal", nil, RoleViewer, http.StatusUnauthorized},
		{"viewer reads", &Principal{Username: "v", Role: RoleViewer}, RoleViewer, http.StatusNoContent},
		{"viewer may not operate", &Principal{Username: "v", Role: RoleViewer}, RoleOperator, http.StatusForbidden},
		{"operator operates", &Principal{Username: "o", Role: RoleOperator}, RoleOperator, http.StatusNoContent},
		{"operator may not administer", &Principal{Username: "o", Role: RoleOperator}, RoleAdmin, http.StatusForbidden},
		{"admin administers", &Principal{Username: "a", Role: RoleAdmin}, RoleAdmin, http.StatusNoContent},
		{"unknown role is refused", &Principal{Username: "x", Role: "root"}, RoleViewer, http.StatusForbidden},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := echo.New()
			c := e.NewContext(httptest.NewRequest(http.MethodGet, "/", nil), httptest.NewRecorder())
			if tc.principal != nil {
				SetPrincipal(c, *tc.principal)
			}
			err := Require(tc.min)(ok)(c)
			if tc.want == http.StatusNoContent {
				require.NoError(t, err)
				return
			}
			p, isProblem := AsProblem(err)
			require.True(t, isProblem, "error %v", err)
			require.Equal(t, tc.want, p.Status)
		})
	}
}

func TestParseRole(t *testing.T) {
	for _, r := range Roles {
		got, err := ParseRole(string(r))
		require.NoError(t, err)
		require.Equal(t, r, got)
	}
	_, err := ParseRole("superuser")
	require.ErrorContains(t, err, "viewer, operator or admin")
}

func TestMaskedContent(t *testing.T) {
	require.Equal(t, "[11 characters hidden]", MaskedContent("code 123456"))
	require.Equal(t, "", MaskedContent(""))
	require.Equal(t, "[6 characters hidden]", MaskedContent("验证码123"))
}

func TestAuditFor(t *testing.T) {
	e := echo.New()
	req := httptest.NewRequest(http.MethodPost, "/", nil)
	req.RemoteAddr = "192.0.2.7:5000"
	c := e.NewContext(req, httptest.NewRecorder())
	SetPrincipal(c, Principal{UserID: 1, Username: "ops", Role: RoleOperator})
	entry := AuditFor(c, "app.update", "app", "demo", map[string]any{"enabled": []any{true, false}})
	require.Equal(t, "user:ops", entry.Actor)
	require.Equal(t, "192.0.2.7", entry.ClientIP)
	require.Equal(t, "app.update", entry.Action)
}
