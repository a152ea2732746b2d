package admin

import (
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/adminhttp"
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
	"POST /codec/decode":       adminhttp.RoleOperator,
	"POST /codec/encode":       adminhttp.RoleOperator,
}

// registeredRoutes lists "METHOD path" of every route of e below Prefix
// (path relative to it) and of the codec server (path as served).
func registeredRoutes(e *echo.Echo) []string {
	var out []string
	for _, r := range e.Routes() {
		switch {
		case r.Method == echo.RouteNotFound:
		case strings.HasPrefix(r.Path, Prefix+"/"):
			out = append(out, r.Method+" "+strings.TrimPrefix(r.Path, Prefix))
		case isCodecPath(r.Path):
			out = append(out, r.Method+" "+r.Path)
		}
	}
	return out
}

func TestEveryRouteByRole(t *testing.T) {
	t.Parallel()
	h, _ := setupCodec(t)
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
		req := request{method: method, path: path}
		if isCodecPath(path) {
			req = request{method: method, rawPath: path}
		}
		t.Run(route, func(t *testing.T) {
			if least == "" {
				resp := h.do(req)
				require.NotEqual(t, http.StatusForbidden, resp.Code)
				return
			}
			anon := h.do(req)
			require.Equal(t, http.StatusUnauthorized, anon.Code, "without a token")
			for _, role := range adminhttp.Roles {
				req.token = tokens[role]
				resp := h.do(req)
				if role.AtLeast(least) {
					require.NotContains(t, []int{http.StatusUnauthorized, http.StatusForbidden}, resp.Code, "%s: %s", role, resp.Body.String())
				} else {
					require.Equal(t, http.StatusForbidden, resp.Code, "%s: %s", role, resp.Body.String())
				}
			}
		})
	}
}
