// Package resources is the operators' API for configuration: apps (with
// their grants, limits and quotas), channels (with their pools and
// settings), provider accounts, templates and rules, under
// /admin/api/v1. Every change goes through package internal/resources,
// the same checks and writes `herald apply` uses, and is audited there.
//
// The admin server authenticates requests and mounts the routes:
//
//	admin.Deps{Routes: []func(g *echo.Group){
//		func(g *echo.Group) { resources.Register(g, resources.Deps{Store: db, Providers: reg}) },
//	}}
//
// Reads need the viewer role, writes the operator role. Every object
// carries a version; GET answers it as ETag, and changes must name the
// version they were made against (If-Match, or "version" in the body).
package resources

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/heraldhq/herald/internal/adminhttp"
	"github.com/heraldhq/herald/internal/resources"
	"github.com/heraldhq/herald/providers"
	"github.com/heraldhq/herald/store"
)

// Deps is what the routes need.
type Deps struct {
	Store     *store.DB
	Providers *providers.Registry
	// PublicURL is the client API's address, for the receipt callback
	// URLs of accounts.
	PublicURL string
	// AccountTester sends POST /accounts/{id}/test; nil leaves that route
	// out.
	AccountTester AccountTester
}

type handler struct {
	db        *store.DB
	reg       *providers.Registry
	publicURL string
	tester    AccountTester
}

// Register adds the configuration routes to g, the authenticated
// /admin/api/v1 group.
func Register(g *echo.Group, deps Deps) {
	h := &handler{db: deps.Store, reg: deps.Providers, publicURL: deps.PublicURL, tester: deps.AccountTester}
	read := adminhttp.Require(adminhttp.RoleViewer)
	write := adminhttp.Require(adminhttp.RoleOperator)

	g.GET("/apps", h.listApps, read)
	g.POST("/apps", h.createApp, write)
	g.GET("/apps/:id", h.getApp, read)
	g.PUT("/apps/:id", h.replaceApp, write)
	g.PATCH("/apps/:id", h.patchApp, write)
	g.POST("/apps/:id/enable", h.enableApp(true), write)
	g.POST("/apps/:id/disable", h.enableApp(false), write)
	g.POST("/apps/:id/rotate-secret", h.rotateAppSecret, write)

	g.GET("/channels", h.listChannels, read)
	g.POST("/channels", h.createChannel, write)
	g.GET("/channels/:id", h.getChannel, read)
	g.PUT("/channels/:id", h.replaceChannel, write)
	g.PATCH("/channels/:id", h.patchChannel, write)
	g.POST("/channels/:id/enable", h.enableChannel(true), write)
	g.POST("/channels/:id/disable", h.enableChannel(false), write)

	g.GET("/accounts", h.listAccounts, read)
	g.POST("/accounts", h.createAccount, write)
	g.GET("/accounts/:id", h.getAccount, read)
	g.PUT("/accounts/:id", h.replaceAccount, write)
	g.PATCH("/accounts/:id", h.patchAccount, write)
	g.POST("/accounts/:id/enable", h.enableAccount(true), write)
	g.POST("/accounts/:id/disable", h.enableAccount(false), write)
	if h.tester != nil {
		g.POST("/accounts/:id/test", h.testAccount, write)
	}

	g.GET("/templates", h.listTemplates, read)
	g.POST("/templates", h.createTemplate, write)
	g.POST("/templates/preview", h.previewTemplate, read)
	g.GET("/templates/:id", h.getTemplate, read)
	g.PUT("/templates/:id", h.replaceTemplate, write)
	g.PATCH("/templates/:id", h.patchTemplate, write)
	g.DELETE("/templates/:id", h.deleteTemplate, write)

	g.GET("/rules", h.listRules, read)
	g.POST("/rules", h.createRule, write)
	g.GET("/rules/:id", h.getRule, read)
	g.PUT("/rules/:id", h.replaceRule, write)
	g.PATCH("/rules/:id", h.patchRule, write)
	g.POST("/rules/:id/enable", h.enableRule(true), write)
	g.POST("/rules/:id/disable", h.enableRule(false), write)
	g.DELETE("/rules/:id", h.deleteRule, write)
}

// change builds a Set from what the store holds, in one transaction, and
// applies it there: the read and the write see the same rows.
func (h *handler) change(c echo.Context, build func(ctx context.Context, tx *store.DB) (*resources.Set, error)) (*resources.Result, error) {
	p, _ := adminhttp.PrincipalFrom(c)
	var res *resources.Result
	err := h.db.RunInTx(c.Request().Context(), func(ctx context.Context, tx *store.DB) error {
		set, err := build(ctx, tx)
		if err != nil {
			return err
		}
		res, err = resources.Apply(ctx, tx, h.reg, set, resources.Options{
			Source: "request", PrunePools: true, PublicURL: h.publicURL, Actor: p.Actor(), ClientIP: c.RealIP(),
		})
		return err
	})
	return res, err
}

// itemPath strips the set's list and index from a problem's path
// ("channels[0].pool[1].weight" → "pool[1].weight"): a request changes
// one object, and its fields are named from there.
var itemPath = regexp.MustCompile(`^[a-z]+\[0\]\.?`)

// problem turns an error of the service layer into the admin API's
// answer.
func problem(what, id string, err error) error {
	if err == nil {
		return nil
	}
	if _, ok := adminhttp.AsProblem(err); ok {
		return err
	}
	var pe *resources.ProblemsError
	if errors.As(err, &pe) {
		first := pe.Problems[0]
		parts := make([]string, 0, len(pe.Problems))
		for _, p := range pe.Problems {
			if f := itemPath.ReplaceAllString(p.Path, ""); f != "" {
				parts = append(parts, f+": "+p.Message)
			} else {
				parts = append(parts, p.Message)
			}
		}
		field := itemPath.ReplaceAllString(first.Path, "")
		if field == "" {
			field = ruleField(first.Message)
		}
		return adminhttp.Invalid(field, strings.Join(parts, "; "))
	}
	var inUse *resources.InUseError
	switch {
	case errors.As(err, &inUse):
		return &adminhttp.Problem{Status: http.StatusConflict, Code: adminhttp.CodeConflict, Message: inUse.Error()}
	case errors.Is(err, store.ErrStale):
		return &adminhttp.Problem{Status: http.StatusConflict, Code: adminhttp.CodeConflict, Err: err,
			Message: fmt.Sprintf("%s %s was changed by someone else since you read it: read it again (its ETag is the current version) and redo the change", what, id)}
	case errors.Is(err, store.ErrNotFound):
		return adminhttp.NotFound(what, id)
	case errors.Is(err, store.ErrConflict):
		return &adminhttp.Problem{Status: http.StatusConflict, Code: adminhttp.CodeConflict, Err: err,
			Message: fmt.Sprintf("%s %s conflicts with another object of that name", what, id)}
	}
	return adminhttp.Internal(what+" "+id, err)
}

// requireVersion returns the version a change was made against: If-Match
// ("3", W/"3" or 3), else the body's version. Neither is a 428; a change
// without a version could silently undo someone else's.
func requireVersion(c echo.Context, body int64) (int64, error) {
	if m := strings.TrimSpace(c.Request().Header.Get("If-Match")); m != "" {
		v, err := strconv.ParseInt(strings.Trim(strings.TrimPrefix(m, "W/"), `"`), 10, 64)
		if err != nil || v <= 0 {
			return 0, adminhttp.Invalid("If-Match", `must be the version from the ETag of a GET, such as "3"`)
		}
		return v, nil
	}
	if body > 0 {
		return body, nil
	}
	return 0, &adminhttp.Problem{Status: http.StatusPreconditionRequired, Code: adminhttp.CodeInvalid, Field: "If-Match",
		Message: `send If-Match with the version from the ETag of a GET (such as If-Match: "3"), or "version" in the body, so a change never undoes one made meanwhile`}
}

// setETag answers the object's version as its entity tag.
func setETag(c echo.Context, version int64) {
	c.Response().Header().Set("ETag", strconv.Quote(strconv.FormatInt(version, 10)))
}

// decode reads a JSON body into v, refusing unknown fields, and names the
// offending field when it can.
func decode(c echo.Context, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(c.Response(), c.Request().Body, 1<<20))
	dec.DisallowUnknownFields()
	return decodeProblem(dec.Decode(v))
}

// decodeProblem says what is wrong with a JSON body, naming the field
// when it can.
func decodeProblem(err error) error {
	if err == nil {
		return nil
	}
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	var tooLarge *http.MaxBytesError
	switch {
	case errors.Is(err, io.EOF):
		return adminhttp.Invalid("", "the body is empty: send a JSON object")
	case errors.As(err, &typeErr):
		return adminhttp.Invalid(typeErr.Field, fmt.Sprintf("must be a JSON %s", jsonKind(typeErr.Type.Kind().String())))
	case errors.As(err, &syntaxErr):
		return adminhttp.Invalid("", fmt.Sprintf("the body is not valid JSON (at byte %d): %v", syntaxErr.Offset, err))
	case errors.As(err, &tooLarge):
		return adminhttp.Invalid("", "the body is larger than 1 MiB")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return adminhttp.Invalid(name, "unknown field; see the API reference for the fields of this object")
	}
	return adminhttp.Invalid("", "the body is not a valid JSON object: "+err.Error())
}

func jsonKind(goKind string) string {
	switch goKind {
	case "int", "int64", "int32", "float64", "uint", "uint64":
		return "number"
	case "slice", "array":
		return "array"
	case "struct", "map", "ptr":
		return "object"
	case "bool":
		return "boolean"
	}
	return goKind
}

// listPage is one page of a list.
type listPage[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor"`
}

// page cuts the page ?cursor= and ?limit= ask for out of items, in their
// order; the cursor is the key of the last item of the previous page.
func page[T any](c echo.Context, items []T, key func(T) string) (listPage[T], error) {
	limit := 50
	if s := c.QueryParam("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 500 {
			return listPage[T]{}, adminhttp.Invalid("limit", "must be a whole number from 1 to 500")
		}
		limit = n
	}
	start := 0
	if cur := c.QueryParam("cursor"); cur != "" {
		start = -1
		for i, it := range items {
			if key(it) == cur {
				start = i + 1
				break
			}
		}
		if start < 0 {
			return listPage[T]{}, adminhttp.Invalid("cursor", "is not a cursor of this list (it may have been deleted): start again without one")
		}
	}
	end := min(start+limit, len(items))
	out := listPage[T]{Items: items[start:end]}
	if out.Items == nil {
		out.Items = []T{}
	}
	if end < len(items) && end > start {
		out.NextCursor = key(items[end-1])
	}
	return out, nil
}

// pathID reads a numeric :id.
func pathID(c echo.Context, what string) (int64, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, adminhttp.NotFound(what, strconv.Quote(c.Param("id")))
	}
	return id, nil
}

// sameName refuses a change of the name an object is known by: herald
// apply files name objects, so a rename would make them another object.
func sameName(body, current string) error {
	if body != "" && body != current {
		return adminhttp.Invalid("name", fmt.Sprintf("cannot change (it is %q): create a new object with the new name instead", current))
	}
	return nil
}

// generated returns the secret of the given kind this change generated.
func generated(res *resources.Result, kind string) string {
	if res == nil {
		return ""
	}
	for _, s := range res.Generated {
		if s.Kind == kind {
			return s.Value
		}
	}
	return ""
}

// readBody reads a JSON body to decode later (inside a transaction).
func readBody(c echo.Context) ([]byte, error) {
	raw, err := io.ReadAll(http.MaxBytesReader(c.Response(), c.Request().Body, 1<<20))
	if err != nil {
		return nil, adminhttp.Invalid("", "the body is larger than 1 MiB")
	}
	return raw, nil
}

// decodeInto decodes raw over v: fields it names replace v's.
func decodeInto(raw []byte, v any) error {
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeProblem(err)
	}
	return nil
}

// ruleFields are the fields the rule engine's problems start with ("unknown
// scene ...", "max_retry must be ..."), which it reports for the rule as a
// whole.
var ruleFields = []string{"name", "scene", "priority", "error_codes", "error_keywords", "action", "max_retry", "delay_seconds", "backoff_rate", "then_action"}

// ruleField names the field a rule engine problem is about, or "".
func ruleField(msg string) string {
	words := strings.Fields(msg)
	if len(words) > 1 && words[0] == "unknown" {
		words = words[1:]
	}
	if len(words) > 0 && slices.Contains(ruleFields, words[0]) {
		return words[0]
	}
	return ""
}
