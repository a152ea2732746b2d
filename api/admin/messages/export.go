package messages

import (
	"encoding/csv"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"
	"go.uber.org/zap"

	"github.com/heraldhq/herald/internal/adminhttp"
	"github.com/heraldhq/herald/store"
)

// exportColumns is the header of export.csv.
var exportColumns = []string{
	"task_id", "created_at", "app_id", "channel_id", "message_type", "receiver", "status",
	"callback_status", "account_id", "attempt_count", "last_error", "finished_at", "redriven_to", "redriven_from",
}

// export streams every message matching the filter as CSV, page by page,
// so a large export holds one page in memory. Contents are left out;
// receivers are masked for viewers. limit and cursor, if given, bound the
// first page's position and size of each read.
func (h *handlers) export(c echo.Context) error {
	f, err := h.storeFilter(c.QueryParams())
	if err != nil {
		return err
	}
	f.Limit = store.MaxMessagePage
	ctx := c.Request().Context()
	// The first page is read before anything is written, so a failing
	// query still answers with a proper error.
	ms, err := h.Store.ListMessages(ctx, f)
	if err != nil {
		return adminhttp.Internal("export messages", err)
	}
	res := c.Response()
	res.Header().Set(echo.HeaderContentType, "text/csv; charset=utf-8")
	res.Header().Set(echo.HeaderContentDisposition, `attachment; filename="messages.csv"`)
	res.WriteHeader(http.StatusOK)
	w := csv.NewWriter(res)
	if err := w.Write(exportColumns); err != nil {
		return nil //nolint:nilerr // the client went away; nothing left to tell it
	}
	masked := masks(c)
	for {
		for i := range ms {
			if err := w.Write(csvRow(&ms[i], masked)); err != nil {
				return nil //nolint:nilerr // as above
			}
		}
		w.Flush()
		res.Flush()
		if len(ms) < f.Limit || ctx.Err() != nil {
			return nil
		}
		cur := ms[len(ms)-1].Cursor()
		f.After = &cur
		if ms, err = h.Store.ListMessages(ctx, f); err != nil {
			// The status line is gone; a truncated file and a log line
			// are all that is left.
			h.Logger.Warn("export messages: a page failed; the export is cut short", zap.Error(err))
			return nil
		}
	}
}

func csvRow(m *store.Message, masked bool) []string {
	v := view(m, masked)
	account := ""
	if m.AccountID != nil {
		account = strconv.FormatInt(*m.AccountID, 10)
	}
	finished := ""
	if v.FinishedAt != nil {
		finished = *v.FinishedAt
	}
	return []string{
		v.TaskID, v.CreatedAt, v.AppID, strconv.FormatInt(v.ChannelID, 10), v.MessageType, v.Receiver, v.Status,
		v.CallbackStatus, account, strconv.Itoa(v.AttemptCount), v.LastError, finished, v.RedrivenTo, v.RedrivenFrom,
	}
}
