// Package traffic serves the operators' routes about what holds messages
// back: provider accounts' circuit breakers (read, and forced open or
// closed through the breaker workflow) and apps' quotas. The admin server
// mounts it on its authenticated /admin/api/v1 group:
//
//	admin.Deps{Routes: []func(g *echo.Group){
//		func(g *echo.Group) { traffic.Register(g, traffic.Deps{Store: db, Engine: workflows.NewClient(tc)}) },
//	}}
//
// Breakers read the same source as `herald breaker list|history` and take
// orders like `herald breaker open|close|auto` (internal/breakerstatus).
package traffic

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/heraldhq/herald/internal/adminhttp"
	"github.com/heraldhq/herald/internal/breakerstatus"
	"github.com/heraldhq/herald/store"
)

// OpenAPI is this package's fragment of the admin API's OpenAPI document
// (paths and components.schemas), for the admin server to merge.
//
//go:embed openapi.yaml
var OpenAPI []byte

// Store is what the routes read and write.
type Store interface {
	breakerstatus.Store
	GetAccount(ctx context.Context, id int64) (*store.ProviderAccount, error)
	QuotaAppIDs(ctx context.Context) ([]string, error)
	QuotaReport(ctx context.Context, appID string, now time.Time) ([]store.QuotaStatus, error)
	InsertAudit(ctx context.Context, r *store.AuditRecord) error
}

// Deps are the routes' dependencies.
type Deps struct {
	Store Store
	// Engine delivers orders to breaker workflows (workflows.Client).
	Engine breakerstatus.Engine
	// Now is the clock of quota periods; nil means time.Now.
	Now func() time.Time
}

// Register adds the routes to g, the authenticated /admin/api/v1 group:
// every role reads, operators and admins force breakers.
func Register(g *echo.Group, deps Deps) {
	if deps.Now == nil {
		deps.Now = time.Now
	}
	h := &handlers{deps}
	g.GET("/breakers", h.listBreakers, adminhttp.Require(adminhttp.RoleViewer))
	g.GET("/breakers/:account_id/history", h.breakerHistory, adminhttp.Require(adminhttp.RoleViewer))
	g.POST("/breakers/:account_id/force", h.forceBreaker, adminhttp.Require(adminhttp.RoleOperator))
	g.GET("/quotas", h.listQuotas, adminhttp.Require(adminhttp.RoleViewer))
}

type handlers struct{ Deps }

// Breaker is one account's breaker as last published.
type Breaker struct {
	AccountID    int64  `json:"account_id"`
	AccountName  string `json:"account_name"`
	ProviderKind string `json:"provider_kind"`
	// State is closed, open or half_open.
	State string    `json:"state"`
	Since time.Time `json:"since"`
	// Failures counts the failed sends of the current window.
	Failures int `json:"failures"`
	// Forced is "open" or "closed" while an operator's order holds the
	// breaker, else "".
	Forced string `json:"forced"`
}

// BreakerEvent is one transition of a breaker.
type BreakerEvent struct {
	At     time.Time `json:"at"`
	From   string    `json:"from"`
	To     string    `json:"to"`
	Forced bool      `json:"forced"`
	Actor  string    `json:"actor"`
	Reason string    `json:"reason"`
}

// ForceRequest is the body of POST /breakers/{account_id}/force.
type ForceRequest struct {
	Order  string `json:"order"`
	Reason string `json:"reason"`
}

// ForceResponse acknowledges an order handed to the breaker workflow.
type ForceResponse struct {
	AccountID int64  `json:"account_id"`
	Order     string `json:"order"`
}

// Quota is the usage of one quota in its current period.
type Quota struct {
	AppID string `json:"app_id"`
	// Period is day or month.
	Period string `json:"period"`
	// ChannelID is 0 for the app's own quota.
	ChannelID int64     `json:"channel_id"`
	Limit     int64     `json:"limit"`
	Reserved  int64     `json:"reserved"`
	Committed int64     `json:"committed"`
	Remaining int64     `json:"remaining"`
	ResetsAt  time.Time `json:"resets_at"`
}

// Items is the body of every list these routes answer.
type Items[T any] struct {
	Items []T `json:"items"`
}

func (h *handlers) listBreakers(c echo.Context) error {
	rows, err := breakerstatus.List(c.Request().Context(), h.Store)
	if err != nil {
		return adminhttp.Internal("list breakers", err)
	}
	out := Items[Breaker]{Items: make([]Breaker, 0, len(rows))}
	for _, r := range rows {
		out.Items = append(out.Items, Breaker{
			AccountID: r.AccountID, AccountName: r.AccountName, ProviderKind: r.ProviderKind,
			State: string(r.State), Since: r.Since.UTC(), Failures: r.Failures, Forced: r.Forced,
		})
	}
	return c.JSON(http.StatusOK, out)
}

// account loads the account named by :account_id.
func (h *handlers) account(c echo.Context) (*store.ProviderAccount, error) {
	raw := c.Param("account_id")
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id <= 0 {
		return nil, adminhttp.NotFound("provider account", strconv.Quote(raw))
	}
	acc, err := h.Store.GetAccount(c.Request().Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, adminhttp.NotFound("provider account", raw)
	}
	if err != nil {
		return nil, adminhttp.Internal("load provider account", err)
	}
	return acc, nil
}

func (h *handlers) breakerHistory(c echo.Context) error {
	acc, err := h.account(c)
	if err != nil {
		return err
	}
	events, err := breakerstatus.History(c.Request().Context(), h.Store, acc.ID)
	if err != nil {
		return adminhttp.Internal("read breaker history", err)
	}
	out := Items[BreakerEvent]{Items: make([]BreakerEvent, 0, len(events))}
	for _, e := range events {
		out.Items = append(out.Items, BreakerEvent{At: e.At.UTC(), From: e.From, To: e.To, Forced: e.Forced, Actor: e.Actor, Reason: e.Reason})
	}
	return c.JSON(http.StatusOK, out)
}

func (h *handlers) forceBreaker(c echo.Context) error {
	acc, err := h.account(c)
	if err != nil {
		return err
	}
	var req ForceRequest
	dec := json.NewDecoder(http.MaxBytesReader(c.Response(), c.Request().Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return adminhttp.Invalid("", `the body must be a JSON object {"order": "open"|"closed"|"auto", "reason": "..."}`)
	}
	p, _ := adminhttp.PrincipalFrom(c)
	order := breakerstatus.Force{Order: req.Order, Reason: req.Reason, Actor: p.Username}
	if err := order.Validate(); err != nil {
		// The first problem names its field; an order with several gets
		// them one at a time, as every admin route reports them.
		var fe *breakerstatus.FieldError
		if errors.As(err, &fe) {
			return adminhttp.Invalid(fe.Field, fe.Message)
		}
		return adminhttp.Invalid("", err.Error())
	}
	ctx := c.Request().Context()
	if err := breakerstatus.Send(ctx, h.Engine, acc.ID, order); err != nil {
		return &adminhttp.Problem{Status: http.StatusServiceUnavailable, Code: adminhttp.CodeUnavailable,
			Message: "the order could not be handed to the breaker workflow (is Temporal reachable?); try again", Err: err}
	}
	rec := adminhttp.AuditFor(c, "breaker.force", "account", strconv.FormatInt(acc.ID, 10), map[string]any{
		"order": order.Order, "reason": order.Signal().Reason,
	})
	if err := h.Store.InsertAudit(ctx, rec); err != nil {
		return adminhttp.Internal("record audit", err)
	}
	return c.JSON(http.StatusAccepted, ForceResponse{AccountID: acc.ID, Order: order.Order})
}

func (h *handlers) listQuotas(c echo.Context) error {
	ctx := c.Request().Context()
	appID := c.QueryParam("app_id")
	apps := []string{appID}
	if appID == "" {
		var err error
		if apps, err = h.Store.QuotaAppIDs(ctx); err != nil {
			return adminhttp.Internal("list quotas", err)
		}
	}
	now := h.Now()
	out := Items[Quota]{Items: []Quota{}}
	for _, app := range apps {
		rows, err := h.Store.QuotaReport(ctx, app, now)
		if errors.Is(err, store.ErrNotFound) {
			if appID != "" {
				return adminhttp.NotFound("app", strconv.Quote(appID))
			}
			continue // deleted since it was listed
		}
		if err != nil {
			return adminhttp.Internal("list quotas", err)
		}
		for _, r := range rows {
			out.Items = append(out.Items, Quota{
				AppID: app, Period: r.Period, ChannelID: r.ChannelID, Limit: r.Limit,
				Reserved: r.Reserved, Committed: r.Committed, Remaining: r.Remaining, ResetsAt: r.ResetsAt.UTC(),
			})
		}
	}
	return c.JSON(http.StatusOK, out)
}
