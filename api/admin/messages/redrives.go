package messages

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/heraldhq/herald/internal/adminhttp"
	"github.com/heraldhq/herald/internal/redrive"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/workflows"
)

// RedriveEngine starts and steers re-drive workflows (workflows.Client).
type RedriveEngine interface {
	StartRedrive(ctx context.Context, in workflows.RedriveInput) error
	SignalRedrive(ctx context.Context, redriveID, signal string) error
	RedriveProgress(ctx context.Context, redriveID string) (workflows.RedriveProgress, error)
}

var _ RedriveEngine = (*workflows.Client)(nil)

// maxRedriveRate bounds the resends per second an operator may ask for.
const maxRedriveRate = 100

// RedriveRequest is the body of POST /messages/redrive.
type RedriveRequest struct {
	// Filter takes the list's query parameters as a JSON object
	// ({"status": "failed", "provider": "aliyun", "since": "2h"}).
	Filter map[string]any `json:"filter"`
	// AccountID, when set, sends every resend through this account.
	AccountID int64 `json:"account_id"`
	// PerSecond bounds resends per second (default 10, at most 100).
	PerSecond float64 `json:"per_second"`
}

// RedriveView is a re-drive and how far it got.
type RedriveView struct {
	ID        string         `json:"id"`
	Filter    map[string]any `json:"filter"`
	AccountID *int64         `json:"account_id"`
	Status    string         `json:"status"`
	Matched   int            `json:"matched"`
	Resent    int            `json:"resent"`
	Skipped   int            `json:"skipped"`
	Failed    int            `json:"failed"`
	CreatedBy string         `json:"created_by"`
	CreatedAt string         `json:"created_at"`
	UpdatedAt string         `json:"updated_at"`
}

func redriveView(r *store.Redrive) RedriveView {
	v := RedriveView{
		ID: r.ID, AccountID: r.AccountID, Status: r.Status, Matched: r.Matched, Resent: r.Resent,
		Skipped: r.Skipped, Failed: r.Failed, CreatedBy: r.CreatedBy,
		CreatedAt: formatTime(r.CreatedAt), UpdatedAt: formatTime(r.UpdatedAt),
	}
	_ = json.Unmarshal([]byte(r.Filter), &v.Filter)
	return v
}

// filterValues turns a JSON filter object into query parameters, so the
// body is parsed by the same ParseFilter as the list's query.
func filterValues(m map[string]any) (url.Values, error) {
	q := url.Values{}
	for k, v := range m {
		switch v := v.(type) {
		case string:
			q.Set(k, v)
		case float64:
			q.Set(k, strconv.FormatFloat(v, 'f', -1, 64))
		default:
			return nil, adminhttp.Invalid("filter."+k, "filter values are strings or numbers")
		}
	}
	return q, nil
}

func (h *handlers) startRedrive(c echo.Context) error {
	if h.Redrives == nil {
		return &adminhttp.Problem{Status: http.StatusServiceUnavailable, Code: adminhttp.CodeUnavailable, Message: "re-drives are not available on this server"}
	}
	var req RedriveRequest
	if err := json.NewDecoder(c.Request().Body).Decode(&req); err != nil {
		return adminhttp.Invalid("body", "body must be a JSON object {filter, account_id, per_second}")
	}
	if len(req.Filter) == 0 {
		return adminhttp.Invalid("filter", "give a filter (at least one of status, app, channel, provider, account, since, until, receiver): a re-drive of every message is surely a mistake")
	}
	q, err := filterValues(req.Filter)
	if err != nil {
		return err
	}
	if q.Has("limit") || q.Has("cursor") {
		return adminhttp.Invalid("filter", "limit and cursor do not apply to a re-drive")
	}
	f, err := h.storeFilter(q)
	if err != nil {
		if p, ok := adminhttp.AsProblem(err); ok && p.Field != "" {
			p.Field = "filter." + p.Field
		}
		return err
	}
	if req.PerSecond < 0 || req.PerSecond > maxRedriveRate {
		return adminhttp.Invalid("per_second", fmt.Sprintf("per_second must be from 0 (the default, %g) to %d", workflows.DefaultRedriveRate, maxRedriveRate))
	}
	ctx := c.Request().Context()
	var account *int64
	if req.AccountID != 0 {
		a, err := h.Store.GetAccount(ctx, req.AccountID)
		if errors.Is(err, store.ErrNotFound) || (err == nil && !a.Enabled) {
			return adminhttp.Invalid("account_id", fmt.Sprintf("account %d does not exist or is disabled", req.AccountID))
		}
		if err != nil {
			return adminhttp.Internal("load account", err)
		}
		account = &req.AccountID
	}
	now := h.Now().UTC()
	if f.Until.IsZero() || f.Until.After(now) {
		// Resends are new messages: fixing the end keeps them out.
		f.Until = now
	}
	raw, _ := json.Marshal(req.Filter)
	p, _ := adminhttp.PrincipalFrom(c)
	r := &store.Redrive{ID: h.NewID(), Filter: string(raw), AccountID: account, Status: store.RedriveRunning, CreatedBy: p.Actor(), CreatedAt: now, UpdatedAt: now}
	err = h.Store.RunInTx(ctx, func(ctx context.Context, tx *store.DB) error {
		if err := tx.CreateRedrive(ctx, r); err != nil {
			return err
		}
		return tx.InsertAudit(ctx, adminhttp.AuditFor(c, "redrive.start", "redrive", r.ID, map[string]any{
			"filter": []any{nil, req.Filter}, "account_id": []any{nil, account},
		}))
	})
	if err != nil {
		return adminhttp.Internal("create redrive", err)
	}
	err = h.Redrives.StartRedrive(ctx, workflows.RedriveInput{
		RedriveID: r.ID, Filter: redrive.WorkflowFilter(f), ForceAccountID: req.AccountID, PerSecond: req.PerSecond, Actor: p.Actor(),
		ClientIP: c.RealIP(),
	})
	if err != nil {
		_ = h.Store.UpdateRedrive(context.WithoutCancel(ctx), r.ID, store.RedriveCancelled, store.RedriveCounts{})
		return adminhttp.Internal("start redrive", err)
	}
	return c.JSON(http.StatusAccepted, redriveView(r))
}

func (h *handlers) loadRedrive(c echo.Context) (*store.Redrive, error) {
	id := c.Param("id")
	r, err := h.Store.GetRedrive(c.Request().Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, adminhttp.NotFound("redrive", id)
	}
	if err != nil {
		return nil, adminhttp.Internal("load redrive", err)
	}
	return r, nil
}

func (h *handlers) getRedrive(c echo.Context) error {
	r, err := h.loadRedrive(c)
	if err != nil {
		return err
	}
	v := redriveView(r)
	if h.Redrives != nil && (r.Status == store.RedriveRunning || r.Status == store.RedrivePaused) {
		// The workflow knows the live state (paused, the page under way);
		// the row may be a page behind.
		if p, err := h.Redrives.RedriveProgress(c.Request().Context(), r.ID); err == nil {
			v.Status, v.Matched, v.Resent, v.Skipped, v.Failed = p.Status, p.Matched, p.Resent, p.Skipped, p.Failed
		}
	}
	return c.JSON(http.StatusOK, v)
}

// RedrivePage is a page of re-drives.
type RedrivePage struct {
	Items      []RedriveView `json:"items"`
	NextCursor string        `json:"next_cursor"`
}

func (h *handlers) listRedrives(c echo.Context) error {
	limit := 50
	if s := c.QueryParam("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 500 {
			return adminhttp.Invalid("limit", "limit must be a whole number from 1 to 500")
		}
		limit = n
	}
	var before time.Time
	if s := c.QueryParam("cursor"); s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return adminhttp.Invalid("cursor", "cursor is not one this API returned; start again without it")
		}
		before = t
	}
	rs, err := h.Store.ListRedrives(c.Request().Context(), before, limit+1)
	if err != nil {
		return adminhttp.Internal("list redrives", err)
	}
	page := RedrivePage{Items: []RedriveView{}}
	if len(rs) > limit {
		rs = rs[:limit]
		page.NextCursor = rs[len(rs)-1].CreatedAt.Format(time.RFC3339Nano)
	}
	for i := range rs {
		page.Items = append(page.Items, redriveView(&rs[i]))
	}
	return c.JSON(http.StatusOK, page)
}

func (h *handlers) signalRedrive(signal, action string) echo.HandlerFunc {
	return func(c echo.Context) error {
		if h.Redrives == nil {
			return &adminhttp.Problem{Status: http.StatusServiceUnavailable, Code: adminhttp.CodeUnavailable, Message: "re-drives are not available on this server"}
		}
		r, err := h.loadRedrive(c)
		if err != nil {
			return err
		}
		ctx := c.Request().Context()
		if r.Status == store.RedriveDone || r.Status == store.RedriveCancelled {
			return adminhttp.Conflict(fmt.Sprintf("redrive %s is %s already", r.ID, r.Status))
		}
		err = h.Redrives.SignalRedrive(ctx, r.ID, signal)
		if errors.Is(err, workflows.ErrWorkflowClosed) {
			return adminhttp.Conflict(fmt.Sprintf("redrive %s has finished", r.ID))
		}
		if err != nil {
			return adminhttp.Internal(action+" redrive", err)
		}
		if err := h.Store.InsertAudit(ctx, adminhttp.AuditFor(c, "redrive."+action, "redrive", r.ID, nil)); err != nil {
			return adminhttp.Internal("record audit", err)
		}
		return c.JSON(http.StatusAccepted, redriveView(r))
	}
}
