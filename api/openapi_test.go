package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/constant"
	"go/parser"
	"go/token"
	"go/types"
	"math/big"
	"mime"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/serviceerror"
	"gopkg.in/yaml.v3"

	"github.com/heraldhq/herald/api/apiclient"
	"github.com/heraldhq/herald/api/internal/signing"
	"github.com/heraldhq/herald/internal/stats"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/workflows"
)

// The tests in this file keep openapi.yaml in step with the code: routes,
// wire codes, field names, enumerations, examples and live responses.

// oaDoc is the parsed OpenAPI document, walked as plain YAML values.
type oaDoc struct {
	root map[string]any
}

// oaOperation is one documented operation.
type oaOperation struct {
	method   string // upper case
	path     string // templated, /api/v1/messages/{task_id}
	op       map[string]any
	pathItem map[string]any
}

// oaMethods are the operation keys of an OpenAPI path item.
func oaMethods() []string {
	return []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}
}

func loadOpenAPI(t *testing.T) *oaDoc {
	t.Helper()
	var root map[string]any
	require.NoError(t, yaml.Unmarshal(openAPIDocument, &root), "openapi.yaml is not valid YAML")
	require.Equal(t, "3.1.0", root["openapi"])
	return &oaDoc{root: root}
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

// lookup follows a local JSON pointer such as "#/components/schemas/Message".
func (d *oaDoc) lookup(ref string) (any, error) {
	if !strings.HasPrefix(ref, "#/") {
		return nil, fmt.Errorf("$ref %q is not a local pointer", ref)
	}
	var cur any = d.root
	for _, tok := range strings.Split(ref[2:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		v, ok := asMap(cur)[tok]
		if !ok {
			return nil, fmt.Errorf("$ref %q: nothing at %q", ref, tok)
		}
		cur = v
	}
	return cur, nil
}

// deref resolves a chain of $ref objects (responses, parameters, headers,
// schemas without sibling keywords).
func (d *oaDoc) deref(t *testing.T, v any) map[string]any {
	t.Helper()
	m := asMap(v)
	for range 16 {
		ref, ok := m["$ref"].(string)
		if !ok {
			return m
		}
		target, err := d.lookup(ref)
		require.NoError(t, err)
		m = asMap(target)
	}
	t.Fatalf("$ref chain too deep at %v", v)
	return nil
}

func (d *oaDoc) schema(t *testing.T, name string) map[string]any {
	t.Helper()
	s := asMap(asMap(asMap(d.root["components"])["schemas"])[name])
	require.NotNil(t, s, "components.schemas.%s is missing", name)
	return s
}

func (d *oaDoc) operations() []oaOperation {
	var out []oaOperation
	for path, item := range asMap(d.root["paths"]) {
		pi := asMap(item)
		for _, m := range oaMethods() {
			if op := asMap(pi[m]); op != nil {
				out = append(out, oaOperation{method: strings.ToUpper(m), path: path, op: op, pathItem: pi})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].path+out[i].method < out[j].path+out[j].method })
	return out
}

func (d *oaDoc) operation(t *testing.T, method, path string) oaOperation {
	t.Helper()
	for _, o := range d.operations() {
		if o.method == method && o.path == path {
			return o
		}
	}
	t.Fatalf("the document has no operation %s %s", method, path)
	return oaOperation{}
}

// parameters lists an operation's parameters, path-level ones included.
func (d *oaDoc) parameters(t *testing.T, o oaOperation) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, p := range append(asList(o.pathItem["parameters"]), asList(o.op["parameters"])...) {
		out = append(out, d.deref(t, p))
	}
	return out
}

// properties gathers a schema's properties and required names, following
// $ref and allOf.
func (d *oaDoc) properties(t *testing.T, schema any) (map[string]any, map[string]bool) {
	t.Helper()
	props, required := map[string]any{}, map[string]bool{}
	var walk func(s map[string]any)
	walk = func(s map[string]any) {
		s = d.deref(t, s)
		for k, v := range asMap(s["properties"]) {
			props[k] = v
		}
		for _, r := range asList(s["required"]) {
			required[r.(string)] = true
		}
		for _, sub := range asList(s["allOf"]) {
			walk(asMap(sub))
		}
	}
	walk(asMap(schema))
	return props, required
}

// schemaTypes lists the JSON types a schema admits, nil when it does not
// say (no "type" anywhere in its alternatives).
func (d *oaDoc) schemaTypes(t *testing.T, schema any) map[string]bool {
	t.Helper()
	s := d.deref(t, schema)
	out := map[string]bool{}
	switch ty := s["type"].(type) {
	case string:
		out[ty] = true
		return out
	case []any:
		for _, e := range ty {
			out[e.(string)] = true
		}
		return out
	}
	alts := append(asList(s["oneOf"]), asList(s["anyOf"])...)
	if len(alts) == 0 {
		return nil
	}
	for _, alt := range alts {
		sub := d.schemaTypes(t, alt)
		if sub == nil {
			return nil
		}
		for k := range sub {
			out[k] = true
		}
	}
	return out
}

// openAPIPath turns an Echo route path (/messages/:task_id) into an OpenAPI
// path template (/messages/{task_id}).
func openAPIPath(t *testing.T, echoPath string) string {
	t.Helper()
	require.NotContains(t, echoPath, "*", "wildcard route %s cannot be described as a path template", echoPath)
	return regexp.MustCompile(`:([A-Za-z0-9_]+)`).ReplaceAllString(echoPath, "{$1}")
}

func missingKeys(from, in map[string]bool) []string {
	var out []string
	for k := range from {
		if !in[k] {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// newDocServer builds a server over fakes. Redis is never reached: building
// the server and serving the unauthenticated document do not touch it.
func newDocServer(t *testing.T) *Server {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	t.Cleanup(func() { _ = rdb.Close() })
	fs := newFakeStore()
	srv, err := New(Config{}, Deps{Store: fs, Engine: newFakeEngine(), Admission: newAdmission(t, fs, rdb), Redis: rdb})
	require.NoError(t, err)
	return srv
}

func TestOpenAPIRoutes(t *testing.T) {
	t.Parallel()
	doc := loadOpenAPI(t)
	srv := newDocServer(t)

	registered := map[string]bool{}
	for _, r := range srv.echo.Routes() {
		if r.Method == echo.RouteNotFound {
			// The /api/v1 group's catch-alls, which only run its middleware.
			continue
		}
		registered[r.Method+" "+openAPIPath(t, r.Path)] = true
	}
	documented := map[string]bool{}
	for _, o := range doc.operations() {
		documented[o.method+" "+o.path] = true
	}

	t.Run("OK_EveryRouteDocumented", func(t *testing.T) {
		t.Parallel()
		require.Empty(t, missingKeys(registered, documented), "routes openapi.yaml does not describe")
	})
	t.Run("OK_EveryOperationRouted", func(t *testing.T) {
		t.Parallel()
		require.Empty(t, missingKeys(documented, registered), "operations in openapi.yaml that no route serves")
	})
	t.Run("OK_PathParameters", func(t *testing.T) {
		t.Parallel()
		for _, o := range doc.operations() {
			var inTemplate []string
			for _, m := range regexp.MustCompile(`\{([^}]+)\}`).FindAllStringSubmatch(o.path, -1) {
				inTemplate = append(inTemplate, m[1])
			}
			var declared []string
			for _, p := range doc.parameters(t, o) {
				if p["in"] == "path" {
					declared = append(declared, p["name"].(string))
					require.Equal(t, true, p["required"], "%s %s: path parameter %s must be required", o.method, o.path, p["name"])
				}
			}
			require.ElementsMatch(t, inTemplate, declared, "%s %s: path parameters", o.method, o.path)
		}
	})
	t.Run("OK_OperationIDsUnique", func(t *testing.T) {
		t.Parallel()
		seen := map[string]string{}
		for _, o := range doc.operations() {
			id, _ := o.op["operationId"].(string)
			require.NotEmpty(t, id, "%s %s has no operationId", o.method, o.path)
			require.NotContains(t, seen, id, "operationId %s is used twice", id)
			seen[id] = o.method + " " + o.path
		}
	})
	t.Run("OK_Security", func(t *testing.T) {
		t.Parallel()
		schemes := asMap(asMap(doc.root["components"])["securitySchemes"])
		want := map[string]string{"AppId": HeaderAppID, "Timestamp": HeaderTimestamp, "Nonce": HeaderNonce, "Signature": HeaderSignature}
		for name, header := range want {
			s := asMap(schemes[name])
			require.Equal(t, "apiKey", s["type"], name)
			require.Equal(t, "header", s["in"], name)
			require.Equal(t, header, s["name"], name)
			require.NotEmpty(t, s["description"], name)
		}
		global := asList(doc.root["security"])
		require.Len(t, global, 1, "the four headers form one requirement: all are needed together")
		var names []string
		for k := range asMap(global[0]) {
			names = append(names, k)
		}
		require.ElementsMatch(t, []string{"AppId", "Timestamp", "Nonce", "Signature"}, names)
		for _, o := range doc.operations() {
			sec, overridden := o.op["security"]
			if strings.HasPrefix(o.path, "/api/v1/") {
				require.False(t, overridden, "%s %s is signed: it must keep the global requirement", o.method, o.path)
			} else {
				require.True(t, overridden, "%s %s is not signed: it must say security: []", o.method, o.path)
				require.Empty(t, sec, "%s %s", o.method, o.path)
			}
		}
	})
	t.Run("OK_HeaderNames", func(t *testing.T) {
		t.Parallel()
		p := doc.deref(t, asMap(asMap(doc.root["components"])["parameters"])["IdempotencyKey"])
		require.Equal(t, HeaderIdempotencyKey, p["name"])
		require.Equal(t, "header", p["in"])
		for _, path := range []string{"/api/v1/messages", "/api/v1/messages/batch"} {
			o := doc.operation(t, http.MethodPost, path)
			var names []string
			for _, p := range doc.parameters(t, o) {
				names = append(names, p["name"].(string))
			}
			require.Contains(t, names, HeaderIdempotencyKey, path)
			ok := doc.deref(t, asMap(o.op["responses"])["200"])
			require.Contains(t, asMap(ok["headers"]), headerReplayed, path)
		}
		limited := doc.deref(t, asMap(asMap(doc.root["components"])["responses"])["RateLimited"])
		require.Contains(t, asMap(limited["headers"]), "Retry-After")
	})
}

// sourceConstants reads the exported constants named prefix* from the
// non-test Go files in dir and evaluates them, so a new one cannot be
// forgotten in the document. Their declarations must be constant
// expressions of their own (no imports, no other constants).
func sourceConstants(t *testing.T, dir, prefix string) map[string]constant.Value {
	t.Helper()
	matches := func(name string) bool {
		return strings.HasPrefix(name, prefix) && len(name) > len(prefix) && ast.IsExported(name)
	}
	names, err := filepath.Glob(filepath.Join(dir, "*.go"))
	require.NoError(t, err)
	fset := token.NewFileSet()
	var decls []ast.Decl
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		require.NoError(t, err)
		for _, d := range f.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				if slices.ContainsFunc(spec.(*ast.ValueSpec).Names, func(id *ast.Ident) bool { return matches(id.Name) }) {
					decls = append(decls, gd)
					break
				}
			}
		}
	}
	file := &ast.File{Name: ast.NewIdent("consts"), Decls: decls}
	pkg, err := (&types.Config{}).Check("consts", fset, []*ast.File{file}, nil)
	require.NoError(t, err, "the %s* constants of %s must be constant expressions of their own declarations", prefix, dir)
	out := map[string]constant.Value{}
	for _, name := range pkg.Scope().Names() {
		if c, ok := pkg.Scope().Lookup(name).(*types.Const); ok && matches(name) {
			out[name] = c.Val()
		}
	}
	require.NotEmpty(t, out, "no %s* constants found in %s", prefix, dir)
	return out
}

// codeConstants returns the wire codes of this package by constant name.
func codeConstants(t *testing.T) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for name, v := range sourceConstants(t, ".", "Code") {
		n, exact := constant.Int64Val(v)
		require.True(t, exact, "%s is not an integer", name)
		out[name] = n
	}
	require.Contains(t, out, "CodeInvalidParams")
	return out
}

// codeTable parses the code table of the ErrorCode description:
// code -> the HTTP statuses it lists.
func codeTable(t *testing.T, description string) map[int64][]string {
	t.Helper()
	out := map[int64][]string{}
	for _, m := range regexp.MustCompile(`(?m)^\|\s*(\d+)\s*\|\s*([^|]*?)\s*\|`).FindAllStringSubmatch(description, -1) {
		code, err := strconv.ParseInt(m[1], 10, 64)
		require.NoError(t, err)
		require.NotContains(t, out, code, "code %d has two rows", code)
		var statuses []string
		if m[2] != "—" {
			for _, s := range strings.Split(m[2], ",") {
				statuses = append(statuses, strings.TrimSpace(s))
			}
		}
		out[code] = statuses
	}
	return out
}

// envelopeCodes collects the envelope codes a response schema admits: the
// enum or const of its "code" property, through allOf, oneOf and anyOf.
// Referenced schemas are followed only through those keywords, so the
// catch-all ErrorCode enum of the base envelope does not count.
func (d *oaDoc) envelopeCodes(t *testing.T, schema any) []int64 {
	t.Helper()
	s := d.deref(t, schema)
	var out []int64
	code := asMap(asMap(s["properties"])["code"])
	for _, v := range asList(code["enum"]) {
		out = append(out, int64(v.(int)))
	}
	if v, ok := code["const"].(int); ok {
		out = append(out, int64(v))
	}
	for _, key := range []string{"allOf", "oneOf", "anyOf"} {
		for _, sub := range asList(s[key]) {
			out = append(out, d.envelopeCodes(t, sub)...)
		}
	}
	return out
}

func TestOpenAPIErrorCodes(t *testing.T) {
	t.Parallel()
	doc := loadOpenAPI(t)
	consts := codeConstants(t)
	errorCode := doc.schema(t, "ErrorCode")
	var enum []int64
	for _, v := range asList(errorCode["enum"]) {
		enum = append(enum, int64(v.(int)))
	}
	description, _ := errorCode["description"].(string)
	table := codeTable(t, description)

	t.Run("OK_EveryConstantDocumented", func(t *testing.T) {
		t.Parallel()
		for name, v := range consts {
			require.Contains(t, enum, v, "%s (%d) is missing from the ErrorCode enum", name, v)
			require.Contains(t, table, v, "%s (%d) has no row in the ErrorCode description", name, v)
		}
	})
	t.Run("OK_NoCodeWithoutConstant", func(t *testing.T) {
		t.Parallel()
		values := map[int64]bool{}
		for _, v := range consts {
			values[v] = true
		}
		for _, v := range enum {
			require.True(t, values[v], "ErrorCode lists %d, which no Code constant has", v)
		}
		for v := range table {
			require.True(t, values[v], "the code table lists %d, which no Code constant has", v)
		}
	})
	t.Run("OK_OperationsAgreeWithTable", func(t *testing.T) {
		t.Parallel()
		// Statuses a code has outside any operation: the router's answer to
		// a method a path does not take.
		routing := map[string]bool{fmt.Sprintf("%d %d", CodeInvalidParams, http.StatusMethodNotAllowed): true}
		used := map[string]bool{}
		for _, o := range doc.operations() {
			for status, r := range asMap(o.op["responses"]) {
				resp := doc.deref(t, r)
				mt := asMap(asMap(resp["content"])["application/json"])
				var codes []int64
				if mt != nil {
					codes = doc.envelopeCodes(t, mt["schema"])
				}
				if !strings.HasPrefix(o.path, "/callbacks/") && mt != nil {
					require.NotEmpty(t, codes, "%s %s %s: the response does not say which codes it carries", o.method, o.path, status)
				}
				for _, c := range codes {
					require.Contains(t, table[c], status, "%s %s answers %d with HTTP %s, but the code table does not say so", o.method, o.path, c, status)
					used[fmt.Sprintf("%d %s", c, status)] = true
				}
			}
		}
		for c, statuses := range table {
			for _, s := range statuses {
				key := fmt.Sprintf("%d %s", c, s)
				require.True(t, used[key] || routing[key], "the code table gives %d with HTTP %s, but no operation answers it", c, s)
			}
		}
	})
}

// fieldSpec is one JSON member of a Go type.
type fieldSpec struct {
	typ       reflect.Type
	omitempty bool
}

// jsonFields lists the JSON members encoding/json gives a struct type,
// promoted fields of embedded structs included.
func jsonFields(typ reflect.Type) map[string]fieldSpec {
	out := map[string]fieldSpec{}
	for i := range typ.NumField() {
		f := typ.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" && opts == "" {
			continue
		}
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if f.Anonymous && name == "" && ft.Kind() == reflect.Struct {
			for k, v := range jsonFields(ft) {
				out[k] = v
			}
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = fieldSpec{typ: f.Type, omitempty: slices.Contains(strings.Split(opts, ","), "omitempty")}
	}
	return out
}

// goJSONTypes lists the JSON types a Go type encodes to; nil when any.
func goJSONTypes(typ reflect.Type) map[string]bool {
	if typ == reflect.TypeFor[time.Time]() {
		return map[string]bool{"string": true}
	}
	switch typ.Kind() {
	case reflect.Pointer:
		out := goJSONTypes(typ.Elem())
		if out != nil {
			out["null"] = true
		}
		return out
	case reflect.String:
		return map[string]bool{"string": true}
	case reflect.Bool:
		return map[string]bool{"boolean": true}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]bool{"integer": true}
	case reflect.Float32, reflect.Float64:
		return map[string]bool{"number": true}
	case reflect.Slice, reflect.Array:
		return map[string]bool{"array": true}
	case reflect.Map, reflect.Struct:
		return map[string]bool{"object": true}
	}
	return nil
}

func TestOpenAPISchemasMatchTypes(t *testing.T) {
	t.Parallel()
	doc := loadOpenAPI(t)

	// How a Go type is held against its schema.
	const (
		// response: same members, all required, same JSON types.
		response = iota
		// request: same members; every Go JSON type admitted by the schema.
		request
		// names: same members only (the server's decoding structs, whose
		// pointers only detect absence).
		names
	)
	cases := []struct {
		schema string
		mode   int
		values []any
	}{
		{"Envelope", response, []any{envelope{}}},
		{"SendMessageRequest", request, []any{apiclient.SendMessageRequest{}}},
		{"SendBatchRequest", request, []any{apiclient.SendBatchRequest{}}},
		{"Attachment", request, []any{apiclient.Attachment{}}},
		{"Attachment", names, []any{attachmentIn{}}},
		{"SendMessageResponse", response, []any{apiclient.SendMessageResponse{}, sendResponse{}}},
		{"SendBatchResponse", response, []any{apiclient.SendBatchResponse{}, batchResponse{}}},
		{"Batch", response, []any{batchView{}}},
		{"BatchCounts", response, []any{batchCountsView{}}},
		{"BatchTask", response, []any{apiclient.BatchTask{}, batchTask{}}},
		{"Rejection", response, []any{apiclient.Rejection{}, rejection{}}},
		{"Message", response, []any{apiclient.Message{}, messageView{}}},
		{"Event", response, []any{apiclient.Event{}, eventView{}}},
		{"CancelResponse", response, []any{apiclient.CancelResponse{}, cancelResponse{}}},
		{"Readiness", response, []any{apiclient.Readiness{}, readinessView{}}},
		{"Channel", response, []any{apiclient.Channel{}, channelItem{}}},
		{"ChannelPage", response, []any{apiclient.ChannelPage{}, channelPage{}}},
		{"Template", response, []any{apiclient.Template{}, templateView{}}},
		{"ChannelDetail", response, []any{apiclient.ChannelDetail{}, channelDetail{}}},
		{"ServiceHealth", response, []any{apiclient.ServiceHealth{}, serviceHealth{}}},
		{"Health", response, []any{apiclient.Health{}, healthView{}}},
		{"StatsReport", response, []any{stats.Report{}}},
		{"StatsSeries", response, []any{stats.Series{}}},
		{"StatsFigures", response, []any{stats.Figures{}}},
		{"StatsLatency", response, []any{stats.Latency{}}},
	}
	for _, c := range cases {
		for _, v := range c.values {
			typ := reflect.TypeOf(v)
			t.Run(c.schema+"/"+typ.String(), func(t *testing.T) {
				t.Parallel()
				props, required := doc.properties(t, doc.schema(t, c.schema))
				fields := jsonFields(typ)
				documented := map[string]bool{}
				for k := range props {
					documented[k] = true
				}
				inGo := map[string]bool{}
				for k := range fields {
					inGo[k] = true
				}
				require.Empty(t, missingKeys(inGo, documented), "members of %s missing from schema %s", typ, c.schema)
				require.Empty(t, missingKeys(documented, inGo), "members of schema %s that %s does not have", c.schema, typ)
				require.Empty(t, missingKeys(required, inGo), "schema %s requires members %s does not have", c.schema, typ)
				if c.mode == names {
					return
				}
				for name, f := range fields {
					want := goJSONTypes(f.typ)
					got := doc.schemaTypes(t, props[name])
					if want == nil || got == nil {
						continue
					}
					if c.mode == response {
						require.Equal(t, want, got, "%s.%s: JSON types of %s", c.schema, name, typ)
						require.True(t, f.omitempty || required[name], "%s.%s is always sent, so the schema must require it", c.schema, name)
					} else {
						require.Empty(t, missingKeys(want, got), "%s.%s: schema does not admit every JSON type %s sends", c.schema, name, typ)
					}
				}
			})
		}
	}
}

func TestOpenAPIEnums(t *testing.T) {
	t.Parallel()
	doc := loadOpenAPI(t)
	enumOf := func(t *testing.T, schema map[string]any) []any {
		t.Helper()
		e := asList(schema["enum"])
		require.NotEmpty(t, e)
		return e
	}
	strs := func(vs ...string) []any {
		out := make([]any, len(vs))
		for i, v := range vs {
			out[i] = v
		}
		return out
	}
	cases := []struct {
		name   string
		schema func(t *testing.T) map[string]any
		want   []any
	}{
		{"MessageStatus", func(t *testing.T) map[string]any { return doc.schema(t, "MessageStatus") }, strs(
			workflows.StatusPending, workflows.StatusProcessing, workflows.StatusSent,
			workflows.StatusSuccess, workflows.StatusFailed, workflows.StatusCancelled)},
		{"CallbackStatus", func(t *testing.T) map[string]any { return doc.schema(t, "CallbackStatus") }, strs(
			"", workflows.CallbackDelivered, workflows.CallbackFailed, workflows.CallbackRejected)},
		{"ReadinessState", func(t *testing.T) map[string]any { return doc.schema(t, "ReadinessState") }, strs(
			ReadinessReady, ReadinessDegraded, ReadinessBlocked)},
		{"BlockerCode", func(t *testing.T) map[string]any { return doc.schema(t, "BlockerCode") }, strs(
			BlockerTemplateMissing, BlockerTemplateVariablesInvalid, BlockerProviderUnavailable)},
		{"ChannelType", func(t *testing.T) map[string]any { return doc.schema(t, "ChannelType") }, strs(store.ChannelTypes...)},
		{"HealthStatus", func(t *testing.T) map[string]any {
			props, _ := doc.properties(t, doc.schema(t, "Health"))
			return asMap(props["status"])
		}, strs(StatusUp, StatusDown)},
		{"ServiceHealthStatus", func(t *testing.T) map[string]any {
			props, _ := doc.properties(t, doc.schema(t, "ServiceHealth"))
			return asMap(props["status"])
		}, strs(StatusUp, StatusDown)},
		{"HealthServices", func(t *testing.T) map[string]any {
			props, _ := doc.properties(t, doc.schema(t, "Health"))
			return map[string]any{"enum": asList(asMap(props["services"])["required"])}
		}, strs("database", "redis", "temporal")},
		{"RejectionCode", func(t *testing.T) map[string]any {
			props, _ := doc.properties(t, doc.schema(t, "Rejection"))
			return asMap(props["code"])
		}, []any{CodeInvalidParams, CodeInvalidValue, CodeInvalidReceiver, CodeRateLimited}},
		{"SendStatus", func(t *testing.T) map[string]any {
			props, _ := doc.properties(t, doc.schema(t, "SendMessageResponse"))
			return map[string]any{"enum": []any{asMap(props["status"])["const"]}}
		}, strs(workflows.StatusPending)},
		{"CancelStatus", func(t *testing.T) map[string]any {
			props, _ := doc.properties(t, doc.schema(t, "CancelResponse"))
			return map[string]any{"enum": []any{asMap(props["status"])["const"]}}
		}, strs(workflows.StatusCancelled)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			require.ElementsMatch(t, c.want, enumOf(t, c.schema(t)))
		})
	}
	t.Run("EventKinds", func(t *testing.T) {
		t.Parallel()
		// Kinds are open-ended on the wire, so the schema lists them in its
		// description rather than as an enum.
		props, _ := doc.properties(t, doc.schema(t, "Event"))
		description, _ := asMap(props["kind"])["description"].(string)
		kinds := sourceConstants(t, filepath.Join("..", "workflows"), "Event")
		for name, v := range sourceConstants(t, ".", "Event") {
			kinds[name] = v
		}
		for name, v := range kinds {
			require.Equal(t, constant.String, v.Kind(), "%s is not a string", name)
			require.Contains(t, description, "`"+constant.StringVal(v)+"`", "event kind %s is missing from Event.kind", name)
		}
	})
}

func TestOpenAPISignatureExample(t *testing.T) {
	t.Parallel()
	doc := loadOpenAPI(t)
	scheme := asMap(asMap(asMap(doc.root["components"])["securitySchemes"])["Signature"])
	ex := asMap(scheme["x-signature-example"])
	require.NotNil(t, ex, "the Signature scheme must carry x-signature-example")
	get := func(k string) string {
		v, ok := ex[k].(string)
		require.True(t, ok, "x-signature-example.%s must be a string", k)
		return v
	}
	body := []byte(get("body"))

	goForm, err := signing.GoCanonical(body)
	require.NoError(t, err)
	require.Equal(t, goForm, get("canonical_go"))
	phpForm, err := signing.PHPCanonical(body, false)
	require.NoError(t, err)
	require.Equal(t, phpForm, get("canonical_php"))
	candidates, err := signing.Candidates(body)
	require.NoError(t, err)
	require.Contains(t, candidates, goForm, "the server accepts the Go form")
	require.Contains(t, candidates, phpForm, "the server accepts the PHP form")

	sign := func(canon string) string {
		return signing.Sign(get("secret"), get("method"), get("path"), canon, get("timestamp"), get("nonce"))
	}
	require.Equal(t, sign(goForm), get("signature_go"))
	require.Equal(t, sign(phpForm), get("signature_php"))

	description, _ := scheme["description"].(string)
	for _, k := range []string{"secret", "timestamp", "nonce", "body", "canonical_go", "canonical_php", "signature_go", "signature_php"} {
		require.Contains(t, description, get(k), "the worked example in the description must show %s as x-signature-example has it", k)
	}
}

func TestOpenAPIServed(t *testing.T) {
	t.Parallel()
	srv := newDocServer(t)
	doc := loadOpenAPI(t)

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, OpenAPIPath, nil))
		require.Equal(t, http.StatusOK, rec.Code)
		mediaType, _, err := mime.ParseMediaType(rec.Header().Get(echo.HeaderContentType))
		require.NoError(t, err)
		require.Equal(t, "application/yaml", mediaType)
		require.Equal(t, openAPIDocument, rec.Body.Bytes())
		var served map[string]any
		require.NoError(t, yaml.Unmarshal(rec.Body.Bytes(), &served))

		o := doc.operation(t, http.MethodGet, OpenAPIPath)
		ok := doc.deref(t, asMap(o.op["responses"])["200"])
		require.Contains(t, asMap(ok["content"]), mediaType, "the document states the type it is served with")
	})
	t.Run("OK_NoAuthentication", func(t *testing.T) {
		t.Parallel()
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, OpenAPIPath, nil)
		req.Header.Set(HeaderAppID, "nobody")
		srv.Handler().ServeHTTP(rec, req)
		require.Equal(t, http.StatusOK, rec.Code)
	})
	t.Run("OK_CopyIsIndependent", func(t *testing.T) {
		t.Parallel()
		c := OpenAPIDocument()
		require.Equal(t, openAPIDocument, c)
		c[0] ^= 0xff
		require.NotEqual(t, openAPIDocument, c)
	})
}

// schemaCheck validates JSON values against the document's schemas. It
// knows the keywords the document uses and reports any other, so the
// document cannot outgrow the check unnoticed.
type schemaCheck struct {
	doc *oaDoc
}

// jsonNumber marks a number normalised for comparison.
type jsonNumber struct{ rat string }

// toJSONValue turns a YAML or decoded JSON value into the form the checker
// compares: JSON round trip with numbers kept exact.
func toJSONValue(v any) (any, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return decodeJSONValue(raw)
}

func decodeJSONValue(raw []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var out any
	if err := dec.Decode(&out); err != nil {
		return nil, err
	}
	return out, nil
}

// normalised replaces numbers by their exact rational value so that 1,
// 1.0 and an int from YAML compare equal.
func normalised(v any) any {
	switch t := v.(type) {
	case json.Number:
		r, ok := new(big.Rat).SetString(t.String())
		if !ok {
			return t.String()
		}
		return jsonNumber{rat: r.RatString()}
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = normalised(e)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = normalised(e)
		}
		return out
	}
	return v
}

func equalJSON(a, b any) bool {
	na, err := toJSONValue(a)
	if err != nil {
		return false
	}
	nb, err := toJSONValue(b)
	if err != nil {
		return false
	}
	return reflect.DeepEqual(normalised(na), normalised(nb))
}

func ratOf(v any) (*big.Rat, bool) {
	n, ok := v.(json.Number)
	if !ok {
		jv, err := toJSONValue(v)
		if err != nil {
			return nil, false
		}
		if n, ok = jv.(json.Number); !ok {
			return nil, false
		}
	}
	return new(big.Rat).SetString(n.String())
}

func jsonTypeMatches(want string, v any) bool {
	switch t := v.(type) {
	case nil:
		return want == "null"
	case bool:
		return want == "boolean"
	case string:
		return want == "string"
	case map[string]any:
		return want == "object"
	case []any:
		return want == "array"
	case json.Number:
		if want == "number" {
			return true
		}
		r, ok := new(big.Rat).SetString(t.String())
		return want == "integer" && ok && r.IsInt()
	}
	return false
}

// validate reports every way v fails schema; at names the place in v.
func (c schemaCheck) validate(schema any, v any, at string) []string {
	s := asMap(schema)
	if s == nil {
		if b, ok := schema.(bool); ok && !b {
			return []string{at + ": no value is allowed here"}
		}
		return nil
	}
	var errs []string
	fail := func(format string, args ...any) { errs = append(errs, at+": "+fmt.Sprintf(format, args...)) }
	for key, kv := range s {
		switch key {
		case "description", "title", "examples", "default", "deprecated":
		case "$ref":
			target, err := c.doc.lookup(kv.(string))
			if err != nil {
				fail("%v", err)
				continue
			}
			errs = append(errs, c.validate(target, v, at)...)
		case "type":
			var types []string
			switch ty := kv.(type) {
			case string:
				types = []string{ty}
			case []any:
				for _, e := range ty {
					types = append(types, e.(string))
				}
			}
			if !slices.ContainsFunc(types, func(ty string) bool { return jsonTypeMatches(ty, v) }) {
				fail("want type %v, got %T", types, v)
			}
		case "enum":
			if !slices.ContainsFunc(asList(kv), func(e any) bool { return equalJSON(e, v) }) {
				fail("%v is not one of %v", v, kv)
			}
		case "const":
			if !equalJSON(kv, v) {
				fail("%v is not %v", v, kv)
			}
		case "not":
			if len(c.validate(kv, v, at)) == 0 {
				fail("%v must not match %v", v, kv)
			}
		case "allOf":
			for _, sub := range asList(kv) {
				errs = append(errs, c.validate(sub, v, at)...)
			}
		case "anyOf", "oneOf":
			matched := 0
			var why []string
			for _, sub := range asList(kv) {
				sErrs := c.validate(sub, v, at)
				if len(sErrs) == 0 {
					matched++
				}
				why = append(why, sErrs...)
			}
			if matched == 0 {
				fail("matches none of %s: %s", key, strings.Join(why, "; "))
			}
			if key == "oneOf" && matched > 1 {
				fail("matches %d alternatives of oneOf", matched)
			}
		case "properties":
			obj, ok := v.(map[string]any)
			if !ok {
				continue
			}
			for name, sub := range asMap(kv) {
				if pv, present := obj[name]; present {
					errs = append(errs, c.validate(sub, pv, at+"."+name)...)
				}
			}
		case "required":
			obj, ok := v.(map[string]any)
			if !ok {
				continue
			}
			for _, name := range asList(kv) {
				if _, present := obj[name.(string)]; !present {
					fail("missing required member %s", name)
				}
			}
		case "additionalProperties":
			obj, ok := v.(map[string]any)
			if !ok {
				continue
			}
			declared := asMap(s["properties"])
			for name, pv := range obj {
				if _, known := declared[name]; known {
					continue
				}
				if b, isBool := kv.(bool); isBool {
					if !b {
						fail("member %s is not allowed", name)
					}
					continue
				}
				errs = append(errs, c.validate(kv, pv, at+"."+name)...)
			}
		case "items":
			for i, e := range asList(v) {
				errs = append(errs, c.validate(kv, e, fmt.Sprintf("%s[%d]", at, i))...)
			}
		case "minItems", "maxItems":
			arr, ok := v.([]any)
			if !ok {
				continue
			}
			limit := kv.(int)
			if (key == "minItems" && len(arr) < limit) || (key == "maxItems" && len(arr) > limit) {
				fail("%d items breaks %s %d", len(arr), key, limit)
			}
		case "minLength", "maxLength":
			str, ok := v.(string)
			if !ok {
				continue
			}
			n, limit := utf8.RuneCountInString(str), kv.(int)
			if (key == "minLength" && n < limit) || (key == "maxLength" && n > limit) {
				fail("length %d breaks %s %d", n, key, limit)
			}
		case "pattern":
			str, ok := v.(string)
			if !ok {
				continue
			}
			re, err := regexp.Compile(kv.(string))
			if err != nil {
				fail("pattern %q: %v", kv, err)
			} else if !re.MatchString(str) {
				fail("%q does not match %q", str, kv)
			}
		case "minimum", "maximum":
			n, ok := v.(json.Number)
			if !ok {
				continue
			}
			got, _ := new(big.Rat).SetString(n.String())
			limit, ok := ratOf(kv)
			if !ok || got == nil {
				fail("bad %s %v", key, kv)
				continue
			}
			if (key == "minimum" && got.Cmp(limit) < 0) || (key == "maximum" && got.Cmp(limit) > 0) {
				fail("%v breaks %s %v", n, key, kv)
			}
		case "format":
			str, ok := v.(string)
			switch kv {
			case "int64":
			case "date-time":
				if _, err := time.Parse(time.RFC3339, str); ok && err != nil {
					fail("%q is not an RFC 3339 time", str)
				}
			case "uuid":
				if _, err := uuid.Parse(str); ok && err != nil {
					fail("%q is not a UUID", str)
				}
			default:
				fail("format %v is not known to this check", kv)
			}
		default:
			fail("schema keyword %q is not known to this check", key)
		}
	}
	return errs
}

func TestOpenAPIExamples(t *testing.T) {
	t.Parallel()
	doc := loadOpenAPI(t)
	check := schemaCheck{doc: doc}
	validate := func(t *testing.T, schema, example any, where string) {
		t.Helper()
		v, err := toJSONValue(example)
		require.NoError(t, err, where)
		require.Empty(t, check.validate(schema, v, "$"), "example %s does not match its schema", where)
	}
	// mediaExamples checks the examples of a content map; every body must have one.
	mediaExamples := func(t *testing.T, content map[string]any, where string) {
		t.Helper()
		for mt, m := range content {
			media := asMap(m)
			examples := asMap(media["examples"])
			if mt == "application/yaml" {
				continue // the document itself
			}
			require.NotEmpty(t, examples, "%s %s has no examples", where, mt)
			for name, ex := range examples {
				validate(t, media["schema"], asMap(ex)["value"], where+" "+mt+" "+name)
			}
		}
	}

	t.Run("OK_Bodies", func(t *testing.T) {
		t.Parallel()
		for _, o := range doc.operations() {
			where := o.method + " " + o.path
			if rb := doc.deref(t, o.op["requestBody"]); rb != nil {
				mediaExamples(t, asMap(rb["content"]), where+" request")
			}
			for status, r := range asMap(o.op["responses"]) {
				mediaExamples(t, asMap(doc.deref(t, r)["content"]), where+" "+status)
			}
		}
	})
	t.Run("OK_Parameters", func(t *testing.T) {
		t.Parallel()
		for _, o := range doc.operations() {
			for _, p := range doc.parameters(t, o) {
				if ex, ok := p["example"]; ok {
					validate(t, p["schema"], ex, fmt.Sprintf("%s %s parameter %s", o.method, o.path, p["name"]))
				}
			}
		}
	})
	t.Run("OK_SchemaExamples", func(t *testing.T) {
		t.Parallel()
		var walk func(node any, where string)
		walk = func(node any, where string) {
			switch n := node.(type) {
			case map[string]any:
				for _, ex := range asList(n["examples"]) {
					validate(t, n, ex, where)
				}
				for k, v := range n {
					walk(v, where+"."+k)
				}
			case []any:
				for i, v := range n {
					walk(v, fmt.Sprintf("%s[%d]", where, i))
				}
			}
		}
		walk(asMap(doc.root["components"])["schemas"], "components.schemas")
	})
}

// requireDocumented checks a live response against what the document says
// the operation answers with that status: the status is documented, the
// body matches the schema (code included), and headers are declared.
func (d *oaDoc) requireDocumented(t *testing.T, method, path string, res result) {
	t.Helper()
	o := d.operation(t, method, path)
	r, ok := asMap(o.op["responses"])[strconv.Itoa(res.Status)]
	require.True(t, ok, "%s %s answered HTTP %d, which the document does not list: %s", method, path, res.Status, res.Body)
	resp := d.deref(t, r)
	for _, h := range []string{headerReplayed, "Retry-After"} {
		if res.Header.Get(h) != "" {
			require.Contains(t, asMap(resp["headers"]), h, "%s %s %d sent header %s, which the document does not declare", method, path, res.Status, h)
		}
	}
	media := asMap(asMap(resp["content"])["application/json"])
	require.NotNil(t, media, "%s %s %d: no application/json body documented", method, path, res.Status)
	v, err := decodeJSONValue(res.Body)
	require.NoError(t, err)
	errs := schemaCheck{doc: d}.validate(media["schema"], v, "$")
	require.Empty(t, errs, "%s %s %d: the body does not match the document: %s", method, path, res.Status, res.Body)
}

// TestOpenAPIDescribesLiveResponses sends real requests through the
// server over fakes and checks each answer against the document.
func TestOpenAPIDescribesLiveResponses(t *testing.T) {
	t.Parallel()
	doc := loadOpenAPI(t)
	f := setup(t)

	const (
		sendPath    = "/api/v1/messages"
		batchPath   = "/api/v1/messages/batch"
		taskPath    = "/api/v1/messages/{task_id}"
		eventsPath  = "/api/v1/messages/{task_id}/events"
		listPath    = "/api/v1/channels"
		channelPath = "/api/v1/channels/{id}"
		healthPath  = "/health"
		cbPath      = "/callbacks/{provider}/{account_id}"
		replyPath   = "/callbacks/{provider}/{account_id}/replies"
	)
	otp := func(channelID int64, receiver string) string {
		return fmt.Sprintf(`{"channel_id":%d,"receiver":%q,"template_params":%s}`, channelID, receiver, otpParamsJSON)
	}
	type exchange struct {
		name         string
		method, tmpl string
		path, body   string
		opts         []callOpt
		status, code int
	}
	run := func(t *testing.T, f *fixture, x exchange) result {
		t.Helper()
		res := f.call(t, x.method, x.path, x.body, x.opts...)
		require.Equal(t, x.status, res.Status, "%s: %s", x.name, res.Body)
		require.Equal(t, x.code, res.Code, "%s: %s", x.name, res.Body)
		doc.requireDocumented(t, x.method, x.tmpl, res)
		return res
	}
	unknownTask := "/api/v1/messages/" + uuid.NewString()
	reused := uuid.NewString()
	for _, x := range []exchange{
		{"SendOK", http.MethodPost, sendPath, sendPath, otp(chSMS, testPhone), []callOpt{withIdempotencyKey("doc-1")}, http.StatusOK, CodeOK},
		{"SendReplayed", http.MethodPost, sendPath, sendPath, otp(chSMS, testPhone), []callOpt{withIdempotencyKey("doc-1")}, http.StatusOK, CodeOK},
		{"ErrSendKeyReused", http.MethodPost, sendPath, sendPath, otp(chSMS, testPhoneAlt), []callOpt{withIdempotencyKey("doc-1")}, http.StatusConflict, CodeInvalidValue},
		{"ErrSendMissingReceiver", http.MethodPost, sendPath, sendPath, `{"channel_id":1}`, nil, http.StatusBadRequest, CodeMissingParam},
		{"ErrSendMalformedJSON", http.MethodPost, sendPath, sendPath, `{"channel_id":`, []callOpt{withSignature("00")}, http.StatusBadRequest, CodeMalformedJSON},
		{"ErrSendTemplateParams", http.MethodPost, sendPath, sendPath, `{"channel_id":1,"receiver":"+8613800138000","template_params":{"code":"1","mins":"5"}}`, nil, http.StatusBadRequest, CodeTemplateParams},
		{"ErrSendBadReceiver", http.MethodPost, sendPath, sendPath, otp(chSMS, "12345"), nil, http.StatusBadRequest, CodeInvalidReceiver},
		{"ErrSendUnknownChannel", http.MethodPost, sendPath, sendPath, otp(404, testPhone), nil, http.StatusNotFound, CodeChannelNotFound},
		{"ErrSendUngrantedChannel", http.MethodPost, sendPath, sendPath, otp(chUngranted, testPhone), nil, http.StatusNotFound, CodeChannelNotFound},
		{"ErrSendChannelDisabled", http.MethodPost, sendPath, sendPath, otp(chDisabled, testPhone), nil, http.StatusForbidden, CodeChannelDisabled},
		{"ErrSendNoTemplate", http.MethodPost, sendPath, sendPath, otp(chNoTemplate, testPhone), nil, http.StatusNotFound, CodeTemplateNotFound},
		{"ErrSendTemplateUnusable", http.MethodPost, sendPath, sendPath, otp(chBadTemplate, testPhone), nil, http.StatusServiceUnavailable, CodeTemplateNotFound},
		{"ErrSendNoProvider", http.MethodPost, sendPath, sendPath, otp(chNoAccount, testPhone), nil, http.StatusServiceUnavailable, CodeNoProvider},
		{"BatchPartly", http.MethodPost, batchPath, batchPath, `{"channel_id":1,"receivers":["+8613800138000","12345"],"template_params":` + otpParamsJSON + `}`, nil, http.StatusOK, CodeOK},
		{"ErrBatchNoneValid", http.MethodPost, batchPath, batchPath, `{"channel_id":1,"receivers":["12345","call me"],"template_params":` + otpParamsJSON + `}`, nil, http.StatusBadRequest, CodeInvalidReceiver},
		{"ErrBatchMissingReceivers", http.MethodPost, batchPath, batchPath, `{"channel_id":1}`, nil, http.StatusBadRequest, CodeMissingParam},
		{"ErrTaskNotFound", http.MethodGet, taskPath, unknownTask, "", nil, http.StatusNotFound, CodeTaskNotFound},
		{"ErrEventsNotFound", http.MethodGet, eventsPath, unknownTask + "/events", "", nil, http.StatusNotFound, CodeTaskNotFound},
		{"ErrCancelNotFound", http.MethodDelete, taskPath, unknownTask, "", nil, http.StatusNotFound, CodeTaskNotFound},
		{"ErrGetWithMalformedBody", http.MethodGet, taskPath, unknownTask, `{`, []callOpt{withSignature("00")}, http.StatusBadRequest, CodeMalformedJSON},
		{"Channels", http.MethodGet, listPath, listPath + "?page_size=50", "", nil, http.StatusOK, CodeOK},
		{"ErrChannelsBadType", http.MethodGet, listPath, listPath + "?type=fax", "", nil, http.StatusBadRequest, CodeInvalidValue},
		{"Channel", http.MethodGet, channelPath, fmt.Sprintf("/api/v1/channels/%d", chSMS), "", nil, http.StatusOK, CodeOK},
		{"ChannelWithoutTemplate", http.MethodGet, channelPath, fmt.Sprintf("/api/v1/channels/%d", chNoTemplate), "", nil, http.StatusOK, CodeOK},
		{"ErrChannelDisabled", http.MethodGet, channelPath, fmt.Sprintf("/api/v1/channels/%d", chDisabled), "", nil, http.StatusForbidden, CodeChannelDisabled},
		{"ErrChannelNotFound", http.MethodGet, channelPath, "/api/v1/channels/404", "", nil, http.StatusNotFound, CodeChannelNotFound},
		{"ErrChannelUngranted", http.MethodGet, channelPath, fmt.Sprintf("/api/v1/channels/%d", chUngrantedOff), "", nil, http.StatusNotFound, CodeChannelNotFound},
		{"ErrUnsigned", http.MethodGet, listPath, listPath, "", []callOpt{withoutAuth()}, http.StatusUnauthorized, CodeUnauthorized},
		{"ErrBadSignature", http.MethodGet, listPath, listPath, "", []callOpt{withSignature("00")}, http.StatusUnauthorized, CodeBadSignature},
		{"ErrStaleTimestamp", http.MethodGet, listPath, listPath, "", []callOpt{withTimestamp(time.Now().Add(-time.Hour).Unix())}, http.StatusUnauthorized, CodeBadTimestamp},
		{"ErrUnknownApp", http.MethodGet, listPath, listPath, "", []callOpt{withAppID("no-such-app")}, http.StatusUnauthorized, CodeUnknownApp},
		{"NonceFirstUse", http.MethodGet, listPath, listPath, "", []callOpt{withNonce(reused)}, http.StatusOK, CodeOK},
		{"ErrNonceReused", http.MethodGet, listPath, listPath, "", []callOpt{withNonce(reused)}, http.StatusUnauthorized, CodeNonceReused},
		{"Health", http.MethodGet, healthPath, healthPath, "", []callOpt{withoutAuth()}, http.StatusOK, CodeOK},
		{"Stats", http.MethodGet, "/api/v1/stats", "/api/v1/stats?group_by=channel&interval=day&tz=Asia/Shanghai", "", nil, http.StatusOK, CodeOK},
		{"ErrStatsBadInterval", http.MethodGet, "/api/v1/stats", "/api/v1/stats?interval=week", "", nil, http.StatusBadRequest, CodeInvalidValue},
		{"ErrCallbackUnknownAccount", http.MethodPost, cbPath, "/callbacks/" + providerKind + "/999?token=x", `[]`, []callOpt{withoutAuth()}, http.StatusNotFound, CodeInvalidParams},
		{"ErrCallbackBadToken", http.MethodPost, cbPath, fmt.Sprintf("/callbacks/%s/%d?token=wrong", providerKind, accSMS), `[]`, []callOpt{withoutAuth()}, http.StatusNotFound, CodeInvalidParams},
		{"ErrRepliesUnknownAccount", http.MethodPost, replyPath, "/callbacks/" + providerKind + "/999/replies?token=x", `[]`, []callOpt{withoutAuth()}, http.StatusNotFound, CodeInvalidParams},
		{"ErrRepliesBadToken", http.MethodPost, replyPath, fmt.Sprintf("/callbacks/%s/%d/replies?token=wrong", providerKind, accSMS), `[]`, []callOpt{withoutAuth()}, http.StatusNotFound, CodeInvalidParams},
		{"ErrRepliesNotPushed", http.MethodPost, replyPath, fmt.Sprintf("/callbacks/silent/%d/replies?token=tok-6", accSilent), `[]`, []callOpt{withoutAuth()}, http.StatusNotFound, CodeInvalidParams},
	} {
		t.Run(x.name, func(t *testing.T) { run(t, f, x) })
	}

	t.Run("OK_MessageLifecycle", func(t *testing.T) {
		res := run(t, f, exchange{"Send", http.MethodPost, sendPath, sendPath, otp(chSMS, testPhoneAlt), nil, http.StatusOK, CodeOK})
		var sent apiclient.SendMessageResponse
		require.NoError(t, json.Unmarshal(res.Data, &sent))
		path := "/api/v1/messages/" + sent.TaskID
		accountID := accSMS
		require.NoError(t, f.store.AddEvent(t.Context(), &store.MessageEvent{
			TaskID: sent.TaskID, Seq: 1, Kind: workflows.EventAttempt, Status: workflows.StatusProcessing,
			AccountID: &accountID, Detail: "attempt 1", CreatedAt: time.Now(),
		}))
		run(t, f, exchange{"Get", http.MethodGet, taskPath, path, "", nil, http.StatusOK, CodeOK})
		run(t, f, exchange{"Events", http.MethodGet, eventsPath, path + "/events", "", nil, http.StatusOK, CodeOK})
		run(t, f, exchange{"Cancel", http.MethodDelete, taskPath, path, "", nil, http.StatusOK, CodeOK})

		sentID := uuid.NewString()
		now := time.Now().UTC()
		f.store.putMessage(store.Message{TaskID: sentID, AppID: f.app.ID, ChannelID: chSMS, MessageType: store.ChannelSMS,
			Receiver: testPhone, Status: workflows.StatusSent, MaxAttempts: 3, CreatedAt: now, UpdatedAt: now})
		run(t, f, exchange{"ErrCancelTooLate", http.MethodDelete, taskPath, "/api/v1/messages/" + sentID, "", nil, http.StatusConflict, CodeInvalidValue})

		f.engine.mu.Lock()
		f.engine.cancelErr = serviceerror.NewUnavailable("engine unreachable")
		f.engine.mu.Unlock()
		pendingID := uuid.NewString()
		f.store.putMessage(store.Message{TaskID: pendingID, AppID: f.app.ID, ChannelID: chSMS, MessageType: store.ChannelSMS,
			Receiver: testPhone, Status: workflows.StatusPending, MaxAttempts: 3, CreatedAt: now, UpdatedAt: now})
		run(t, f, exchange{"ErrCancelEngineDown", http.MethodDelete, taskPath, "/api/v1/messages/" + pendingID, "", nil, http.StatusServiceUnavailable, CodeEngine})
	})

	// Cases that need a server of their own.
	t.Run("ErrAppDisabled", func(t *testing.T) {
		t.Parallel()
		g := setup(t, withApp(func(a *store.App) { a.Enabled = false }))
		run(t, g, exchange{"AppDisabled", http.MethodPost, sendPath, sendPath, otp(chSMS, testPhone), nil, http.StatusForbidden, CodeAppDisabled})
	})
	t.Run("ErrIPNotAllowed", func(t *testing.T) {
		t.Parallel()
		g := setup(t, withApp(func(a *store.App) { a.IPAllowlist = []string{"203.0.113.0/24"} }))
		run(t, g, exchange{"IPNotAllowed", http.MethodGet, listPath, listPath, "", nil, http.StatusForbidden, CodeIPNotAllowed})
	})
	t.Run("ErrBodyTooLarge", func(t *testing.T) {
		t.Parallel()
		g := setup(t, withConfig(func(c *Config) { c.MaxBodyBytes = 64; c.BatchMaxBodyBytes = 64 }))
		run(t, g, exchange{"TooLarge", http.MethodPost, batchPath, batchPath, otp(chSMS, strings.Repeat("1", 100)), nil, http.StatusRequestEntityTooLarge, CodeInvalidParams})
	})
	t.Run("ErrNewLimits", func(t *testing.T) {
		t.Parallel()
		g := setup(t, withApp(func(a *store.App) { a.RequestsPerMinute, a.Burst, a.MessagesPerMinute = 60, 4, 1 }))
		long := `{"channel_id":1,"receiver":"+8613800138000","template_params":{"code":"` + strings.Repeat("9", maxParamValueLen+1) + `","minutes":"5"}}`
		run(t, g, exchange{"ParamTooLong", http.MethodPost, sendPath, sendPath, long, nil, http.StatusBadRequest, CodeTemplateParams})
		run(t, g, exchange{"MessageRateBatch", http.MethodPost, batchPath, batchPath, `{"channel_id":1,"receivers":["+8613800138000","+8613900139000"],"template_params":` + otpParamsJSON + `}`, nil, http.StatusTooManyRequests, CodeRateLimited})
		run(t, g, exchange{"Send", http.MethodPost, sendPath, sendPath, otp(chSMS, testPhone), nil, http.StatusOK, CodeOK})
		run(t, g, exchange{"MessageRate", http.MethodPost, sendPath, sendPath, otp(chSMS, testPhoneAlt), nil, http.StatusTooManyRequests, CodeRateLimited})
		run(t, g, exchange{"ChannelsLimited", http.MethodGet, listPath, listPath, "", nil, http.StatusTooManyRequests, CodeRateLimited})
	})
	t.Run("ErrAuthFailuresFromIP", func(t *testing.T) {
		t.Parallel()
		g := setup(t, withConfig(func(c *Config) { c.AuthFailureLimit = 1; c.TrustedProxies = []string{"127.0.0.1"} }))
		ip := withHeader("X-Forwarded-For", fmt.Sprintf("10.%d.%d.%d", randByte(), randByte(), randByte()))
		run(t, g, exchange{"BadSignature", http.MethodGet, listPath, listPath, "", []callOpt{ip, withSignature("00")}, http.StatusUnauthorized, CodeBadSignature})
		run(t, g, exchange{"Refused", http.MethodPost, sendPath, sendPath, otp(chSMS, testPhone), []callOpt{ip}, http.StatusTooManyRequests, CodeRateLimited})
	})
	t.Run("ErrCallbackAuthFailuresFromIP", func(t *testing.T) {
		t.Parallel()
		g := setup(t, withConfig(func(c *Config) { c.AuthFailureLimit = 1; c.TrustedProxies = []string{"127.0.0.1"} }))
		ip := withHeader("X-Forwarded-For", fmt.Sprintf("10.%d.%d.%d", randByte(), randByte(), randByte()))
		bad := fmt.Sprintf("/callbacks/%s/%d?token=wrong", providerKind, accSMS)
		run(t, g, exchange{"BadToken", http.MethodPost, cbPath, bad, `[]`, []callOpt{withoutAuth(), ip}, http.StatusNotFound, CodeInvalidParams})
		run(t, g, exchange{"Refused", http.MethodPost, cbPath, bad, `[]`, []callOpt{withoutAuth(), ip}, http.StatusTooManyRequests, CodeRateLimited})
		run(t, g, exchange{"RepliesRefused", http.MethodPost, replyPath, fmt.Sprintf("/callbacks/%s/%d/replies?token=wrong", providerKind, accSMS), `[]`, []callOpt{withoutAuth(), ip}, http.StatusTooManyRequests, CodeRateLimited})
	})
	t.Run("ErrDatabaseStopped", func(t *testing.T) {
		t.Parallel()
		db := stoppedPostgres(t)
		g := setup(t, withStore(func(fs *fakeStore) Store { return deadDatabase{DB: db, fake: fs} }))
		run(t, g, exchange{"Send", http.MethodPost, sendPath, sendPath, otp(chSMS, testPhone), nil, http.StatusServiceUnavailable, CodeDatabase})
		run(t, g, exchange{"Get", http.MethodGet, taskPath, unknownTask, "", nil, http.StatusServiceUnavailable, CodeDatabase})
		run(t, g, exchange{"Batch", http.MethodPost, batchPath, batchPath, `{"channel_id":1,"receivers":["+8613800138000"],"template_params":` + otpParamsJSON + `}`, nil, http.StatusServiceUnavailable, CodeDatabase})
		run(t, g, exchange{"Channels", http.MethodGet, listPath, listPath, "", nil, http.StatusServiceUnavailable, CodeDatabase})
	})
	t.Run("ErrRateLimited", func(t *testing.T) {
		t.Parallel()
		g := setup(t, withApp(func(a *store.App) { a.RateLimitPerSecond = 1 }))
		for range 5 {
			res := g.call(t, http.MethodGet, unknownTask, "")
			if res.Status == http.StatusTooManyRequests {
				require.Equal(t, CodeRateLimited, res.Code)
				doc.requireDocumented(t, http.MethodGet, taskPath, res)
				return
			}
			doc.requireDocumented(t, http.MethodGet, taskPath, res)
		}
		t.Fatal("a rate of 1/s let 5 immediate requests through")
	})
	t.Run("ErrRedisDown", func(t *testing.T) {
		t.Parallel()
		dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
		t.Cleanup(func() { _ = dead.Close() })
		g := setup(t, withRedis(dead))
		run(t, g, exchange{"ChannelsCache", http.MethodGet, channelPath, fmt.Sprintf("/api/v1/channels/%d", chSMS), "", nil, http.StatusServiceUnavailable, CodeCache})
		run(t, g, exchange{"HealthDown", http.MethodGet, healthPath, healthPath, "", []callOpt{withoutAuth()}, http.StatusServiceUnavailable, CodeInternal})
	})
	t.Run("ErrDatabase", func(t *testing.T) {
		t.Parallel()
		g := setup(t)
		g.store.mu.Lock()
		g.store.fail = func(method string) error {
			if method == "GetChannel" {
				return errors.New("database unreachable")
			}
			return nil
		}
		g.store.mu.Unlock()
		run(t, g, exchange{"Channel", http.MethodGet, channelPath, fmt.Sprintf("/api/v1/channels/%d", chSMS), "", nil, http.StatusInternalServerError, CodeDatabase})
	})
}
