package messages

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"go.uber.org/zap"

	"github.com/heraldhq/herald/internal/adminhttp"
	"github.com/heraldhq/herald/store"
)

// Polling intervals of the live tail: SQLite has no notifications, and on
// PostgreSQL a slow poll covers a notification lost to a reconnect.
const (
	watchPoll         = time.Second
	watchPollNotified = 10 * time.Second
)

// WatchEvent is one line of GET /messages/watch.
type WatchEvent struct {
	ID          int64  `json:"id"`
	TaskID      string `json:"task_id"`
	Seq         int    `json:"seq"`
	Kind        string `json:"kind"`
	Status      string `json:"status"`
	AccountID   *int64 `json:"account_id"`
	Code        string `json:"code"`
	Detail      string `json:"detail"`
	AppID       string `json:"app_id"`
	ChannelID   int64  `json:"channel_id"`
	MessageType string `json:"message_type"`
	Receiver    string `json:"receiver"`
	CreatedAt   string `json:"created_at"`
}

// watch streams, as NDJSON, the timeline events stored from now on whose
// message matches the list's filters, until the client goes away.
func (h *handlers) watch(c echo.Context) error {
	q := c.QueryParams()
	if q.Has("limit") || q.Has("cursor") {
		return adminhttp.Invalid("cursor", "limit and cursor do not apply to a live tail")
	}
	f, err := h.storeFilter(q)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	last, err := h.Store.LastEventID(ctx)
	if err != nil {
		return adminhttp.Internal("watch messages", err)
	}
	notes, stop, err := h.Store.EventNotifications(ctx)
	if err != nil {
		return adminhttp.Internal("watch messages", err)
	}
	defer func() { _ = stop() }()
	poll := watchPoll
	if notes != nil {
		poll = watchPollNotified
	}
	res := c.Response()
	res.Header().Set(echo.HeaderContentType, "application/x-ndjson")
	res.Header().Set("Cache-Control", "no-store")
	res.WriteHeader(http.StatusOK)
	res.Flush()
	masked := masks(c)
	enc := json.NewEncoder(res)
	ticker := time.NewTicker(poll)
	defer ticker.Stop()
	for {
		evs, err := h.Store.ListEventsAfter(ctx, last, f, store.MaxMessagePage)
		if err != nil {
			if ctx.Err() == nil {
				h.Logger.Warn("watch messages: read events", zap.Error(err))
			}
			return nil
		}
		for _, e := range evs {
			if err := enc.Encode(watchEvent(e, masked)); err != nil {
				return nil //nolint:nilerr // the client went away
			}
			last = e.ID
		}
		res.Flush()
		if len(evs) == store.MaxMessagePage {
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-notes:
		case <-ticker.C:
		}
	}
}

func watchEvent(e store.WatchedEvent, masked bool) WatchEvent {
	w := WatchEvent{
		ID: e.ID, TaskID: e.TaskID, Seq: e.Seq, Kind: e.Kind, Status: e.Status, AccountID: e.AccountID,
		Code: e.Code, Detail: e.Detail, AppID: e.AppID, ChannelID: e.ChannelID, MessageType: e.MessageType,
		Receiver: e.Receiver, CreatedAt: formatTime(e.CreatedAt),
	}
	if masked {
		w.Receiver = store.MaskReceiver(e.MessageType, e.Receiver)
		if e.Kind == "reply" {
			w.Detail = adminhttp.MaskedContent(e.Detail)
		}
	}
	return w
}
