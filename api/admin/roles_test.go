package admin

import (
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/adminhttp"
	"github.com/heraldhq/herald/store"
)

// routeRoles is the least role of every route this package registers;
// "" marks a public route. A route missing here fails
// TestEveryRouteByRole, so none is added without deciding who may call it.
var routeRoles = map[string]adminhttp.Role{
	"POST /auth/login":         "",
	"POST /auth/refresh":       "",
	"POST /auth/logout":        "",
	"GET /openapi.yaml":        "",
	"GET /me":                  adminhttp.RoleViewer,
	"GET /audit":               adminhttp.RoleOperator,
	"GET /users":               adminhttp.RoleAdmin,
	"POST /users":              adminhttp.RoleAdmin,
	"GET /users/:id":           adminhttp.RoleAdmin,
	"PATCH /users/:id":         adminhttp.RoleAdmin,
	"POST /users/:id/password": adminhttp.RoleAdmin,
}

// registeredRoutes lists "METHOD path" of every route of e below Prefix.
func registeredRoutes(e *echo.Echo) []string {
	var out []string
	for _, r := range e.Routes() {
		if r.Method == echo.RouteNotFound || !strings.HasPrefix(r.Path, Prefix+"/") {
			continue
		}
		out = append(out, r.Method+" "+strings.TrimPrefix(r.Path, Prefix))
	}
	return out
}

func TestEveryRouteByRole(t *testing.T) {
	t.Parallel()
	h := setup(t, store.DialectSQLite, Config{}, nil)
	tokens := map[adminhttp.Role]string{}
	var target int64
	for _, r := range adminhttp.Roles {
		u := h.addUser(string(r)+"-user", r)
		tokens[r] = h.login(string(r) + "-user").AccessToken
		target = u.ID
	}
	routes := registeredRoutes(h.srv.echo)
	require.Len(t, routes, len(routeRoles), "routes: %v", routes)
	for _, route := range routes {
		least, known := routeRoles[route]
		require.True(t, known, "route %s has no role in routeRoles", route)
		method, path, _ := strings.Cut(route, " ")
		path = strings.ReplaceAll(path, ":id", strconv.FormatInt(target, 10))
		t.Run(route, func(t *testing.T) {
			if least == "" {
				resp := h.do(request{method: method, path: path})
				require.NotEqual(t, http.StatusForbidden, resp.Code)
				return
			}
			anon := h.do(request{method: method, path: path})
			require.Equal(t, http.StatusUnauthorized, anon.Code, "without a token")
			for _, role := range adminhttp.Roles {
				resp := h.do(request{method: method, path: path, token: tokens[role]})
				if role.AtLeast(least) {
					require.NotContains(t, []int{http.StatusUnauthorized, http.StatusForbidden}, resp.Code, "%s: %s", role, resp.Body.String())
				} else {
					require.Equal(t, http.StatusForbidden, resp.Code, "%s: %s", role, resp.Body.String())
				}
			}
		})
	}
}
