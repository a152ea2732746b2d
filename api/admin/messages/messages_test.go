package messages

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/workflows"
)

func taskIDs(items []MessageView) []string {
	out := []string{}
	for _, it := range items {
		out = append(out, it.TaskID[len(it.TaskID)-2:])
	}
	return out
}

func TestList(t *testing.T) {
	t.Parallel()
	for _, d := range testDialects() {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			f := setup(t, d)
			f.seed(t, 6)

			t.Run("NewestFirstInPages", func(t *testing.T) {
				var seen []string
				cursor := ""
				for range 4 {
					var page ListResponse
					require.Equal(t, http.StatusOK, f.call(t, "viewer", http.MethodGet, "/messages?limit=4&cursor="+cursor, nil, &page))
					seen = append(seen, taskIDs(page.Items)...)
					cursor = page.NextCursor
					if cursor == "" {
						break
					}
				}
				require.Equal(t, []string{"05", "04", "03", "02", "01", "00"}, seen)
			})
			t.Run("Filters", func(t *testing.T) {
				var page ListResponse
				require.Equal(t, http.StatusOK, f.call(t, "operator", http.MethodGet, "/messages?status=failed&since=3m", nil, &page))
				require.Equal(t, []string{"04"}, taskIDs(page.Items))
				require.Equal(t, http.StatusOK, f.call(t, "operator", http.MethodGet, "/messages?app=shop&channel=2", nil, &page))
				require.Equal(t, []string{"05", "03", "01"}, taskIDs(page.Items))
				require.Equal(t, http.StatusOK, f.call(t, "operator", http.MethodGet, "/messages?receiver=%2B8613800138001", nil, &page))
				require.Equal(t, []string{"05", "01"}, taskIDs(page.Items))
				require.Equal(t, "+8613800138001", page.Items[0].Receiver)
				require.Equal(t, "code 1234", page.Items[0].Content)
			})
			t.Run("ViewerSeesMasked", func(t *testing.T) {
				var page ListResponse
				require.Equal(t, http.StatusOK, f.call(t, "viewer", http.MethodGet, "/messages?limit=1", nil, &page))
				require.Equal(t, "+86138****8001", page.Items[0].Receiver)
				require.Equal(t, "[9 characters hidden]", page.Items[0].Content)
			})
			t.Run("BadInput", func(t *testing.T) {
				for q, field := range map[string]string{
					"status=lost": "status", "since=yesterday": "since", "limit=501": "limit",
					"cursor=zz": "cursor", "channel=-1": "channel", "colour=red": "colour",
				} {
					var p struct{ Code, Field string }
					require.Equal(t, http.StatusBadRequest, f.call(t, "viewer", http.MethodGet, "/messages?"+q, nil, &p), q)
					require.Equal(t, field, p.Field, q)
				}
			})
			t.Run("NoPrincipal", func(t *testing.T) {
				require.Equal(t, http.StatusUnauthorized, f.call(t, "", http.MethodGet, "/messages", nil, nil))
			})
		})
	}
}

func TestDetail(t *testing.T) {
	t.Parallel()
	f := setup(t, store.DialectPostgres)
	ms := f.seed(t, 1)
	ctx := t.Context()
	require.NoError(t, f.db.AddEvent(ctx, &store.MessageEvent{TaskID: ms[0].TaskID, Seq: 1, Kind: "accepted", Status: "pending"}))
	require.NoError(t, f.db.AddEvent(ctx, &store.MessageEvent{TaskID: ms[0].TaskID, Seq: 2, Kind: "failed", Status: "failed", Code: "isv.BUSINESS_LIMIT_CONTROL"}))

	var d DetailResponse
	require.Equal(t, http.StatusOK, f.call(t, "viewer", http.MethodGet, "/messages/"+ms[0].TaskID, nil, &d))
	require.Equal(t, ms[0].TaskID, d.TaskID)
	require.Equal(t, "+86138****8000", d.Receiver)
	require.Len(t, d.Timeline, 2)
	require.Equal(t, "isv.BUSINESS_LIMIT_CONTROL", d.Timeline[1].Code)
	require.Equal(t, "http://ui.test/namespaces/herald/workflows/"+ms[0].TaskID, d.TemporalURL)

	require.Equal(t, http.StatusNotFound, f.call(t, "viewer", http.MethodGet, "/messages/11111111-1111-4111-8111-111111111111", nil, nil))
	var p struct{ Field string }
	require.Equal(t, http.StatusBadRequest, f.call(t, "viewer", http.MethodGet, "/messages/nope", nil, &p))
	require.Equal(t, "id", p.Field)
}

func TestCancel(t *testing.T) {
	t.Parallel()
	f := setup(t, store.DialectPostgres)
	ms := f.seed(t, 2)
	ctx := t.Context()
	require.NoError(t, f.db.UpdateMessage(ctx, ms[1].TaskID, store.MessagePatch{Status: ptr(workflows.StatusPending)}))

	require.Equal(t, http.StatusForbidden, f.call(t, "viewer", http.MethodPost, "/messages/"+ms[1].TaskID+"/cancel", nil, nil))
	var a ActionResponse
	require.Equal(t, http.StatusOK, f.call(t, "operator", http.MethodPost, "/messages/"+ms[1].TaskID+"/cancel", nil, &a))
	require.Equal(t, workflows.StatusCancelled, a.Status)
	require.Equal(t, []string{ms[1].TaskID}, f.engine.cancelled)

	var p struct{ Code, Message string }
	require.Equal(t, http.StatusConflict, f.call(t, "operator", http.MethodPost, "/messages/"+ms[0].TaskID+"/cancel", nil, &p))
	require.Contains(t, p.Message, "failed and can no longer be cancelled")

	audit, err := f.db.ListAudit(ctx, store.AuditFilter{Action: "message.cancel"})
	require.NoError(t, err)
	require.Len(t, audit, 1)
	require.Equal(t, "user:operator-user", audit[0].Actor)
	require.Equal(t, ms[1].TaskID, audit[0].ObjectID)
}

func TestResend(t *testing.T) {
	t.Parallel()
	f := setup(t, store.DialectPostgres)
	ms := f.seed(t, 1)
	ctx := t.Context()

	require.Equal(t, http.StatusForbidden, f.call(t, "viewer", http.MethodPost, "/messages/"+ms[0].TaskID+"/resend", nil, nil))
	var a ActionResponse
	require.Equal(t, http.StatusOK, f.call(t, "operator", http.MethodPost, "/messages/"+ms[0].TaskID+"/resend", nil, &a))
	require.NotEmpty(t, a.ResentAs)

	re, err := f.db.GetMessage(ctx, a.ResentAs)
	require.NoError(t, err)
	require.Equal(t, ms[0].TaskID, re.RedrivenFrom)
	require.Equal(t, workflows.StatusPending, re.Status)
	require.Equal(t, ms[0].Receiver, re.Receiver)
	require.Equal(t, ms[0].ReceiverKey, re.ReceiverKey)
	require.Equal(t, f.now.Add(time.Hour), *re.ExpiresAt, "the original's time to live, from now")
	orig, err := f.db.GetMessage(ctx, ms[0].TaskID)
	require.NoError(t, err)
	require.Equal(t, a.ResentAs, orig.RedrivenTo)
	require.Len(t, f.engine.started, 1)
	require.Equal(t, a.ResentAs, f.engine.started[0].TaskID)

	var p struct{ Message string }
	require.Equal(t, http.StatusConflict, f.call(t, "operator", http.MethodPost, "/messages/"+ms[0].TaskID+"/resend", nil, &p))
	require.Contains(t, p.Message, "resent already")
	require.Equal(t, http.StatusConflict, f.call(t, "operator", http.MethodPost, "/messages/"+a.ResentAs+"/resend", nil, &p))
	require.Contains(t, p.Message, "final status")

	audit, err := f.db.ListAudit(ctx, store.AuditFilter{Action: "message.resend"})
	require.NoError(t, err)
	require.Len(t, audit, 1)
	require.Equal(t, ms[0].TaskID, audit[0].ObjectID)
}

func TestExport(t *testing.T) {
	t.Parallel()
	f := setup(t, store.DialectSQLite)
	f.seed(t, 3)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, f.srv.URL+"/admin/api/v1/messages/export.csv?status=failed", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer test-viewer")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Equal(t, "text/csv; charset=utf-8", res.Header.Get("Content-Type"))
	raw, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	require.Len(t, lines, 3)
	require.True(t, strings.HasPrefix(lines[0], "task_id,created_at,"))
	require.Contains(t, lines[1], "00000000-0000-4000-8000-000000000002")
	require.Contains(t, lines[1], "+86138****8002")
	require.NotContains(t, string(raw), "+8613800138002")
}

func ptr[T any](v T) *T { return &v }
