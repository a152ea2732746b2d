// Package stats serves GET /admin/api/v1/stats: message counts, success
// rate, SMS segments and latency percentiles per interval and group, read
// from the store's rollups (see internal/stats for the query and the
// answer). The admin server mounts it on its authenticated group:
//
//	admin.Deps{Routes: []func(g *echo.Group){
//		func(g *echo.Group) { stats.Register(g, stats.Deps{Store: db}) },
//	}}
package stats

import (
	"context"
	_ "embed"
	"errors"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/heraldhq/herald/internal/adminhttp"
	istats "github.com/heraldhq/herald/internal/stats"
	"github.com/heraldhq/herald/store"
)

// OpenAPI is this package's fragment of the admin API's OpenAPI document
// (paths and components.schemas), for the admin server to merge.
//
//go:embed openapi.yaml
var OpenAPI []byte

// Store is what the route reads.
type Store interface {
	istats.Reader
	// ListChannels and ListAccounts name the channels and accounts of
	// grouped answers.
	ListChannels(ctx context.Context, f store.ChannelFilter) ([]store.Channel, int, error)
	ListAccounts(ctx context.Context) ([]store.ProviderAccount, error)
}

// Deps are the route's dependencies.
type Deps struct {
	Store Store
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Register adds GET /stats to g, the authenticated /admin/api/v1 group;
// every role may read statistics.
func Register(g *echo.Group, deps Deps) {
	if deps.Now == nil {
		deps.Now = time.Now
	}
	h := &handler{deps: deps}
	g.GET("/stats", h.get, adminhttp.Require(adminhttp.RoleViewer))
}

type handler struct{ deps Deps }

func (h *handler) get(c echo.Context) error {
	ctx := c.Request().Context()
	q, err := istats.ParseQuery(c.QueryParams(), h.deps.Now(), istats.AdminGroups)
	if err != nil {
		var fe *istats.FieldError
		if errors.As(err, &fe) {
			return adminhttp.Invalid(fe.Field, fe.Message)
		}
		return adminhttp.Internal("read statistics", err)
	}
	names, err := h.names(ctx, q.GroupBy)
	if err != nil {
		return adminhttp.Internal("read statistics", err)
	}
	rep, err := istats.Compute(ctx, h.deps.Store, q, names)
	if err != nil {
		return adminhttp.Internal("read statistics", err)
	}
	return c.JSON(200, rep)
}

// names returns the display names of a grouping's keys, if it has any.
func (h *handler) names(ctx context.Context, groupBy string) (map[string]string, error) {
	out := map[string]string{}
	switch groupBy {
	case store.StatsByChannel:
		chs, _, err := h.deps.Store.ListChannels(ctx, store.ChannelFilter{})
		if err != nil {
			return nil, err
		}
		for _, ch := range chs {
			out[strconv.FormatInt(ch.ID, 10)] = ch.Name
		}
	case store.StatsByAccount:
		accs, err := h.deps.Store.ListAccounts(ctx)
		if err != nil {
			return nil, err
		}
		for _, a := range accs {
			out[strconv.FormatInt(a.ID, 10)] = a.Name
		}
		out["0"] = "(none yet)"
	}
	return out, nil
}
