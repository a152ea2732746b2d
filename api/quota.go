package api

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"go.uber.org/zap"

	"github.com/heraldhq/herald/store"
)

// quotaRefusal is the data of a 30002 answer.
type quotaRefusal struct {
	Quota     string `json:"quota"`
	Scope     string `json:"scope"`
	ChannelID int64  `json:"channel_id,omitempty"`
	Limit     int64  `json:"limit"`
	Used      int64  `json:"used"`
	Requested int64  `json:"requested"`
	ResetsAt  string `json:"resets_at"`
}

// quotaRefused answers a quota refusal (see quotaError) and logs it with
// the app, never the receivers; it returns nil for any other error.
func (s *Server) quotaRefused(err error, app *store.App) *Error {
	e := quotaError(err, app, s.now())
	if e != nil {
		s.metrics.QuotaRefused(app.ID)
		s.log.Info("send refused over quota", zap.String("app_id", app.ID), zap.String("quota", e.Message))
	}
	return e
}

// quotaError turns the store's refusal of messages over a quota into a
// 429 with code 30002 naming the quota, its limit, what is used and when
// it resets in the app's time zone, with Retry-After until then; it
// returns nil for any other error.
func quotaError(err error, app *store.App, now time.Time) *Error {
	var qe *store.QuotaExceededError
	if !errors.As(err, &qe) {
		return nil
	}
	loc, lerr := store.LoadTimeZone(app.TimeZone)
	if lerr != nil {
		loc = time.UTC
	}
	scope, what := "app", fmt.Sprintf("app %s", app.ID)
	if qe.ChannelID != 0 {
		scope, what = "channel", fmt.Sprintf("app %s on channel %d", app.ID, qe.ChannelID)
	}
	resets := qe.ResetsAt.In(loc).Format(time.RFC3339)
	e := NewError(http.StatusTooManyRequests, CodeQuotaExceeded,
		"%s quota of %s exceeded: limit %d, used %d, this request needs %d; it resets at %s (%s)",
		store.Periodly(qe.Period), what, qe.Limit, qe.Used, qe.Asked, resets, loc)
	e.RetryAfter = max(qe.ResetsAt.Sub(now), time.Second)
	e.Data = quotaRefusal{Quota: store.Periodly(qe.Period), Scope: scope, ChannelID: qe.ChannelID,
		Limit: qe.Limit, Used: qe.Used, Requested: qe.Asked, ResetsAt: resets}
	return e
}

// quotaUsage is one quota in GET /api/v1/quota.
type quotaUsage struct {
	Quota     string `json:"quota"`
	Scope     string `json:"scope"`
	ChannelID int64  `json:"channel_id,omitempty"`
	Limit     int64  `json:"limit"`
	Reserved  int64  `json:"reserved"`
	Committed int64  `json:"committed"`
	Remaining int64  `json:"remaining"`
	ResetsAt  string `json:"resets_at"`
}

// quotaResponse is the data of GET /api/v1/quota.
type quotaResponse struct {
	TimeZone string       `json:"time_zone"`
	Quotas   []quotaUsage `json:"quotas"`
}

// getQuota answers the calling app's quota usage in the current periods.
func (s *Server) getQuota(c echo.Context) error {
	app := appFrom(c)
	rows, err := s.store.QuotaReport(c.Request().Context(), app.ID, s.now())
	if err != nil {
		return errDatabase("read quota usage", err)
	}
	loc, err := store.LoadTimeZone(app.TimeZone)
	if err != nil {
		loc = time.UTC
	}
	resp := quotaResponse{TimeZone: loc.String(), Quotas: make([]quotaUsage, 0, len(rows))}
	for _, r := range rows {
		scope := "app"
		if r.ChannelID != 0 {
			scope = "channel"
		}
		s.metrics.QuotaUsage(app.ID, r.ChannelID, r.Period, r.Limit, r.Reserved+r.Committed)
		resp.Quotas = append(resp.Quotas, quotaUsage{Quota: store.Periodly(r.Period), Scope: scope, ChannelID: r.ChannelID,
			Limit: r.Limit, Reserved: r.Reserved, Committed: r.Committed, Remaining: r.Remaining,
			ResetsAt: r.ResetsAt.In(loc).Format(time.RFC3339)})
	}
	return success(c, resp)
}
