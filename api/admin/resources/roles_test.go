package resources

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// leastRole is the least role of every route Register adds. A route
// missing here fails TestRouteRoles, so no route goes untested.
var leastRole = map[string]string{
	"GET /apps":                    "viewer",
	"POST /apps":                   "operator",
	"GET /apps/:id":                "viewer",
	"PUT /apps/:id":                "operator",
	"PATCH /apps/:id":              "operator",
	"POST /apps/:id/enable":        "operator",
	"POST /apps/:id/disable":       "operator",
	"POST /apps/:id/rotate-secret": "operator",
	"GET /channels":                "viewer",
	"POST /channels":               "operator",
	"GET /channels/:id":            "viewer",
	"PUT /channels/:id":            "operator",
	"PATCH /channels/:id":          "operator",
	"POST /channels/:id/enable":    "operator",
	"POST /channels/:id/disable":   "operator",
	"GET /accounts":                "viewer",
	"POST /accounts":               "operator",
	"GET /accounts/:id":            "viewer",
	"PUT /accounts/:id":            "operator",
	"PATCH /accounts/:id":          "operator",
	"POST /accounts/:id/enable":    "operator",
	"POST /accounts/:id/test":      "operator",
	"POST /accounts/:id/disable":   "operator",
	"GET /templates":               "viewer",
	"POST /templates":              "operator",
	"POST /templates/preview":      "viewer",
	"GET /templates/:id":           "viewer",
	"PUT /templates/:id":           "operator",
	"PATCH /templates/:id":         "operator",
	"DELETE /templates/:id":        "operator",
	"GET /rules":                   "viewer",
	"POST /rules":                  "operator",
	"GET /rules/:id":               "viewer",
	"PUT /rules/:id":               "operator",
	"PATCH /rules/:id":             "operator",
	"POST /rules/:id/enable":       "operator",
	"POST /rules/:id/disable":      "operator",
	"DELETE /rules/:id":            "operator",
}

// registeredRoutes lists "METHOD /path" below /admin/api/v1 of every route
// Register adds, as echo holds them.
func registeredRoutes(s *testServer) []string {
	var out []string
	for _, r := range s.e.Routes() {
		path, ok := strings.CutPrefix(r.Path, "/admin/api/v1")
		if !ok || path == "" || strings.HasSuffix(path, "/*") {
			continue
		}
		out = append(out, r.Method+" "+path)
	}
	return out
}

// Every route × every role: none is 401, a role below the route's least
// one is 403, and any other role gets past the role check (whatever the
// handler then answers to an empty request).
func TestRouteRoles(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	routes := registeredRoutes(s)
	require.NotEmpty(t, routes)
	rank := map[string]int{"viewer": 1, "operator": 2, "admin": 3}
	for _, route := range routes {
		least, ok := leastRole[route]
		require.True(t, ok, "route %s has no entry in leastRole: add it, with its test", route)
		method, path, _ := strings.Cut(route, " ")
		path = strings.ReplaceAll(path, ":id", "1")
		t.Run(route, func(t *testing.T) {
			a := s.do("", method, path, "{}")
			require.Equal(t, http.StatusUnauthorized, a.status, a.raw)
			require.Equal(t, "unauthorized", a.body["code"])
			for role, r := range rank {
				a := s.do(role, method, path, "{}")
				if r < rank[least] {
					require.Equal(t, http.StatusForbidden, a.status, "%s as %s: %s", route, role, a.raw)
					require.Equal(t, "forbidden", a.body["code"])
					continue
				}
				require.NotContains(t, []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusInternalServerError}, a.status,
					"%s as %s: %s", route, role, a.raw)
			}
		})
	}
	require.Len(t, routes, len(leastRole), "leastRole lists routes Register no longer adds")
}
