package admin

import (
	"context"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/heraldhq/herald/api/admin/messages"
	"github.com/heraldhq/herald/api/admin/resources"
	"github.com/heraldhq/herald/api/admin/stats"
	"github.com/heraldhq/herald/api/admin/traffic"
	"github.com/heraldhq/herald/internal/accounttest"
	"github.com/heraldhq/herald/internal/payloadcodec"
	"github.com/heraldhq/herald/providers"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/workflows"
)

// idleEngine satisfies the message routes' engine; the test only reads
// the route table and the document.
type idleEngine struct{}

func (idleEngine) StartSend(context.Context, workflows.SendInput) error { return nil }
func (idleEngine) CancelSend(context.Context, string) error             { return nil }

func (idleEngine) CancelBatchMember(context.Context, string, string) error { return nil }

func (idleEngine) UpdateBatch(context.Context, string, string) (string, error) { return "", nil }

func (idleEngine) ForceBreaker(context.Context, int64, workflows.BreakerForce) error { return nil }

// TestMergedOpenAPIMatchesEveryRoute mounts every route group the way
// herald serve does and checks the served document against the routes:
// every route documented, every documented operation served, every $ref
// resolvable.
func TestMergedOpenAPIMatchesEveryRoute(t *testing.T) {
	t.Parallel()
	db := openStore(t, store.DialectSQLite)
	keys := store.NewReceiverKeyer(make([]byte, store.MasterKeySize))
	routes := []func(g *echo.Group){
		func(g *echo.Group) {
			resources.Register(g, resources.Deps{
				Store: db, Providers: providers.NewRegistry(),
				AccountTester: accounttest.New(accounttest.Deps{Store: db, Engine: idleEngine{}}),
			})
		},
		func(g *echo.Group) {
			messages.Register(g, messages.Deps{Store: db, Engine: idleEngine{}, Keys: keys, Namespace: "default"})
		},
		func(g *echo.Group) { stats.Register(g, stats.Deps{Store: db}) },
		func(g *echo.Group) { traffic.Register(g, traffic.Deps{Store: db, Engine: idleEngine{}}) },
	}
	key := make([]byte, store.MasterKeySize)
	codec, err := payloadcodec.New(key)
	require.NoError(t, err)
	srv, err := New(Config{MasterKey: key, Argon2: testArgon2}, Deps{
		Store: db, Routes: routes, Codec: codec,
		OpenAPIFragments: [][]byte{resources.OpenAPIFragment(), messages.OpenAPI, stats.OpenAPI, traffic.OpenAPI},
	})
	require.NoError(t, err)

	rec := httpGet(srv, Prefix+"/openapi.yaml")
	require.Equal(t, http.StatusOK, rec.Code)
	served := rec.Body.Bytes()

	var doc struct {
		Paths map[string]map[string]any `yaml:"paths"`
	}
	require.NoError(t, yaml.Unmarshal(served, &doc))
	param := regexp.MustCompile(`\{([a-z_]+)\}`)
	var documented []string
	for path, item := range doc.Paths {
		for method := range item {
			if method == "parameters" || method == "servers" {
				continue
			}
			op := strings.ToUpper(method) + " " + param.ReplaceAllString(path, ":$1")
			documented = append(documented, op)
		}
	}
	registered := registeredRoutes(srv.echo)
	sort.Strings(documented)
	sort.Strings(registered)
	require.Equal(t, documented, registered)

	var tree any
	require.NoError(t, yaml.Unmarshal(served, &tree))
	refs := regexp.MustCompile(`\$ref: ['"]?#/([^'"\s]+)`).FindAllStringSubmatch(string(served), -1)
	require.NotEmpty(t, refs)
	for _, ref := range refs {
		node := tree
		for _, part := range strings.Split(ref[1], "/") {
			m, ok := node.(map[string]any)
			require.True(t, ok, "$ref #/%s does not resolve", ref[1])
			node, ok = m[part]
			require.True(t, ok, "$ref #/%s does not resolve", ref[1])
		}
	}
}

func TestMergeOpenAPIRefusesDuplicates(t *testing.T) {
	t.Parallel()
	base := []byte("openapi: 3.1.0\npaths:\n  /me:\n    get: {}\n")
	_, err := MergeOpenAPI(base, []byte("paths:\n  /me:\n    post: {}\n"))
	require.ErrorContains(t, err, `path "/me" is defined twice`)
	_, err = MergeOpenAPI(base, []byte("info: {}\n"))
	require.ErrorContains(t, err, "only paths and components")
	same, err := MergeOpenAPI(base)
	require.NoError(t, err)
	require.Equal(t, base, same)
	merged, err := MergeOpenAPI(base, []byte("paths:\n  /apps:\n    get: {}\ncomponents:\n  schemas:\n    App: {type: object}\n"))
	require.NoError(t, err)
	require.Contains(t, string(merged), "/apps:")
	require.Contains(t, string(merged), "App:")
}

func httpGet(srv *Server, path string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec
}
