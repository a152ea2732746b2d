package admin

import (
	"net/http"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// documentedOperations returns "METHOD path" (echo's :param form) of
// every operation in openapi.yaml, with its x-herald-role.
func documentedOperations(t *testing.T) map[string]string {
	t.Helper()
	var doc struct {
		OpenAPI string                    `yaml:"openapi"`
		Paths   map[string]map[string]any `yaml:"paths"`
	}
	require.NoError(t, yaml.Unmarshal(openAPIDocument, &doc))
	require.Equal(t, "3.1.0", doc.OpenAPI)
	param := regexp.MustCompile(`\{([a-z_]+)\}`)
	out := map[string]string{}
	for path, item := range doc.Paths {
		for method, op := range item {
			if method == "parameters" || method == "servers" {
				continue
			}
			fields, _ := op.(map[string]any)
			role, _ := fields["x-herald-role"].(string)
			out[strings.ToUpper(method)+" "+param.ReplaceAllString(path, ":$1")] = role
		}
	}
	return out
}

func TestOpenAPIMatchesRoutes(t *testing.T) {
	t.Parallel()
	h, _ := setupCodec(t)
	documented := documentedOperations(t)
	registered := registeredRoutes(h.srv.echo)
	var docKeys []string
	for k := range documented {
		docKeys = append(docKeys, k)
	}
	sort.Strings(docKeys)
	sort.Strings(registered)
	require.Equal(t, docKeys, registered, "every route is documented and every documented operation is served")

	// The documented role is the enforced one.
	for route, role := range documented {
		want := string(routeRoles[route])
		if want == "" {
			want = "public"
		}
		require.Equal(t, want, role, route)
	}

	resp := h.do(request{method: http.MethodGet, path: "/openapi.yaml"})
	require.Equal(t, http.StatusOK, resp.Code)
	require.Equal(t, openAPIDocument, resp.Body.Bytes())
	require.Contains(t, resp.Header().Get("Content-Type"), "application/yaml")
}

// TestOpenAPIErrorCodes keeps the documented codes in step with the ones
// answered.
func TestOpenAPIErrorCodes(t *testing.T) {
	t.Parallel()
	for _, code := range []string{"invalid_input", "unauthorized", "forbidden", "not_found", CodeMethodNotAllowed,
		"conflict", CodePreconditionRequired, "rate_limited", "internal_error", "unavailable"} {
		require.Contains(t, string(openAPIDocument), code)
	}
}
