package messages

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/heraldhq/herald/internal/adminhttp"
	"github.com/heraldhq/herald/store"
)

type fragment struct {
	Paths map[string]map[string]struct {
		MinRole string `yaml:"x-min-role"`
	} `yaml:"paths"`
}

func loadFragment(t *testing.T) fragment {
	t.Helper()
	var f fragment
	require.NoError(t, yaml.Unmarshal(OpenAPI, &f))
	return f
}

// registered lists "METHOD /path" of every route Register mounts, in the
// OpenAPI spelling of path parameters.
func registered(t *testing.T) []string {
	t.Helper()
	e := echo.New()
	g := e.Group("/admin/api/v1")
	Register(g, Deps{Store: &store.DB{}, Engine: &fakeEngine{}, Keys: store.NewReceiverKeyer([]byte("k"))})
	param := regexp.MustCompile(`:([a-z_]+)`)
	var out []string
	for _, r := range e.Routes() {
		p, ok := strings.CutPrefix(r.Path, "/admin/api/v1")
		if !ok {
			continue
		}
		out = append(out, r.Method+" "+param.ReplaceAllString(p, "{$1}"))
	}
	return out
}

func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	t.Parallel()
	doc := loadFragment(t)
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method, op := range ops {
			documented[strings.ToUpper(method)+" "+path] = true
			_, err := adminhttp.ParseRole(op.MinRole)
			require.NoError(t, err, "%s %s: x-min-role", method, path)
		}
	}
	routes := registered(t)
	for _, r := range routes {
		require.True(t, documented[r], "route %s is not in openapi.yaml", r)
		delete(documented, r)
	}
	require.Empty(t, documented, "openapi.yaml documents routes that are not registered")
}

// TestRouteRoleMatrix calls every route as every role and checks that
// exactly the roles at or above the documented x-min-role get past the
// role check.
func TestRouteRoleMatrix(t *testing.T) {
	t.Parallel()
	f := setup(t, store.DialectSQLite)
	ms := f.seed(t, 1)
	doc := loadFragment(t)
	for _, r := range registered(t) {
		method, path, _ := strings.Cut(r, " ")
		var op string
		for m, o := range doc.Paths[path] {
			if strings.EqualFold(m, method) {
				op = o.MinRole
			}
		}
		url := strings.ReplaceAll(path, "{id}", ms[0].TaskID)
		require.Equal(t, http.StatusUnauthorized, f.status(t, "", method, url), "%s without a principal", r)
		for _, role := range adminhttp.Roles {
			got := f.status(t, string(role), method, url)
			if role.AtLeast(adminhttp.Role(op)) {
				require.NotContains(t, []int{http.StatusUnauthorized, http.StatusForbidden}, got, "%s as %s", r, role)
			} else {
				require.Equal(t, http.StatusForbidden, got, "%s as %s", r, role)
			}
		}
	}
}
