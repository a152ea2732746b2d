package resources

import (
	"net/http"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

type fragment struct {
	Paths      map[string]map[string]yaml.Node `yaml:"paths"`
	Components struct {
		Schemas map[string]map[string]any `yaml:"schemas"`
	} `yaml:"components"`
}

// Every route Register adds is documented, every documented operation is
// a route, and every schema reference resolves.
func TestOpenAPIFragment(t *testing.T) {
	t.Parallel()
	var doc fragment
	require.NoError(t, yaml.Unmarshal(OpenAPIFragment(), &doc))

	documented := map[string]bool{}
	for path, item := range doc.Paths {
		for method := range item {
			if method == "parameters" {
				continue
			}
			documented[strings.ToUpper(method)+" "+path] = true
		}
	}
	s := newTestServer(t)
	var missing []string
	for _, route := range registeredRoutes(s) {
		method, path, _ := strings.Cut(route, " ")
		key := method + " " + strings.ReplaceAll(path, ":id", "{id}")
		if !documented[key] {
			missing = append(missing, key)
		}
		delete(documented, key)
	}
	sort.Strings(missing)
	require.Empty(t, missing, "routes not in openapi.yaml")
	require.Empty(t, documented, "openapi.yaml documents operations that are no route")

	refs := regexp.MustCompile(`#/components/schemas/([A-Za-z]+)`).FindAllStringSubmatch(string(OpenAPIFragment()), -1)
	require.NotEmpty(t, refs)
	for _, m := range refs {
		require.Contains(t, doc.Components.Schemas, m[1], "unresolved reference %s", m[0])
	}
}

// The answers' fields are the documented ones.
func TestOpenAPIFields(t *testing.T) {
	t.Parallel()
	var doc fragment
	require.NoError(t, yaml.Unmarshal(OpenAPIFragment(), &doc))
	props := func(name string) map[string]bool {
		out := map[string]bool{}
		var walk func(schema map[string]any)
		walk = func(schema map[string]any) {
			if p, ok := schema["properties"].(map[string]any); ok {
				for k := range p {
					out[k] = true
				}
			}
			if all, ok := schema["allOf"].([]any); ok {
				for _, part := range all {
					pm := part.(map[string]any)
					if ref, ok := pm["$ref"].(string); ok {
						walk(doc.Components.Schemas[strings.TrimPrefix(ref, "#/components/schemas/")])
						continue
					}
					walk(pm)
				}
			}
		}
		walk(doc.Components.Schemas[name])
		return out
	}
	s := newTestServer(t)
	app := s.must(http.StatusCreated, http.MethodPost, "/apps", map[string]any{"id": "a"})
	acc := s.must(http.StatusCreated, http.MethodPost, "/accounts", map[string]any{"name": "x", "kind": "sandbox"})
	tpl := s.must(http.StatusCreated, http.MethodPost, "/templates", map[string]any{"name": "t", "content": "hi"})
	ch := s.must(http.StatusCreated, http.MethodPost, "/channels", map[string]any{"name": "c", "type": "sms", "pool": []map[string]any{{"account": "x"}}})
	rule := s.must(http.StatusCreated, http.MethodPost, "/rules", map[string]any{"name": "r", "scene": "send_failure", "action": "fail"})
	for schema, a := range map[string]answer{"App": app, "Account": acc, "Template": tpl, "Channel": ch, "Rule": rule} {
		documented := props(schema)
		for field := range a.body {
			require.True(t, documented[field], "%s.%s is answered but not documented", schema, field)
		}
	}
}
