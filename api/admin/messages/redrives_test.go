package messages

import (
	"context"
	"net/http"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/redrive"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/workflows"
)

// runRedrives runs each started re-drive at once, page by page, through
// the real activities, as the workflow would.
type runRedrives struct {
	mu      sync.Mutex
	acts    *redrive.Activities
	started []workflows.RedriveInput
	signals []string
}

func (r *runRedrives) StartRedrive(ctx context.Context, in workflows.RedriveInput) error {
	r.mu.Lock()
	r.started = append(r.started, in)
	r.mu.Unlock()
	f := in.Filter
	f.Limit = 1 // one message a page exercises the paging
	for {
		res, err := r.acts.Page(ctx, workflows.RedrivePageInput{RedriveID: in.RedriveID, Filter: f, ForceAccountID: in.ForceAccountID, Actor: in.Actor, ClientIP: in.ClientIP})
		if err != nil {
			return err
		}
		if res.Next == nil {
			return r.acts.Finish(ctx, workflows.RedriveFinishInput{RedriveID: in.RedriveID, Status: store.RedriveDone})
		}
		f.After = res.Next
	}
}

func (r *runRedrives) SignalRedrive(_ context.Context, _, signal string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.signals = append(r.signals, signal)
	return nil
}

func (r *runRedrives) RedriveProgress(context.Context, string) (workflows.RedriveProgress, error) {
	return workflows.RedriveProgress{}, workflows.ErrWorkflowClosed
}

func TestRedrive(t *testing.T) {
	t.Parallel()
	f := setup(t, store.DialectPostgres)
	ctx := t.Context()
	ms := f.seed(t, 6) // 0, 2, 4 failed
	acct := &store.ProviderAccount{Name: "healthy", Kind: "sandbox", Config: []byte(`{}`), Weight: 1, Enabled: true}
	require.NoError(t, f.db.CreateAccount(ctx, acct))
	// One failed message was resent by hand already: the re-drive skips it.
	var a ActionResponse
	require.Equal(t, http.StatusOK, f.call(t, "operator", http.MethodPost, "/messages/"+ms[2].TaskID+"/resend", nil, &a))
	f.engine.started = nil

	var v RedriveView
	body := map[string]any{"filter": map[string]any{"status": "failed", "since": "1h"}, "account_id": acct.ID}
	require.Equal(t, http.StatusAccepted, f.call(t, "operator", http.MethodPost, "/messages/redrive", body, &v))
	require.Equal(t, "failed", v.Filter["status"])

	var got RedriveView
	require.Equal(t, http.StatusOK, f.call(t, "viewer", http.MethodGet, "/redrives/"+v.ID, nil, &got))
	require.Equal(t, store.RedriveDone, got.Status)
	require.Equal(t, 3, got.Matched)
	require.Equal(t, 2, got.Resent)
	require.Equal(t, 1, got.Skipped)
	require.Len(t, f.engine.started, 2)
	for _, in := range f.engine.started {
		require.Equal(t, acct.ID, in.ForceAccountID)
	}
	orig, err := f.db.GetMessage(ctx, ms[4].TaskID)
	require.NoError(t, err)
	require.NotEmpty(t, orig.RedrivenTo)

	var page RedrivePage
	require.Equal(t, http.StatusOK, f.call(t, "viewer", http.MethodGet, "/redrives", nil, &page))
	require.Len(t, page.Items, 1)
	require.Equal(t, http.StatusConflict, f.call(t, "operator", http.MethodPost, "/redrives/"+v.ID+"/pause", nil, nil))

	audit, err := f.db.ListAudit(ctx, store.AuditFilter{Action: "message.redrive"})
	require.NoError(t, err)
	require.Len(t, audit, 2)
	// The resends are recorded as made from where the re-drive was asked.
	start, err := f.db.ListAudit(ctx, store.AuditFilter{Action: "redrive.start"})
	require.NoError(t, err)
	require.Len(t, start, 1)
	require.NotEmpty(t, start[0].ClientIP)
	for _, a := range audit {
		require.Equal(t, start[0].ClientIP, a.ClientIP)
	}

	t.Run("BadInput", func(t *testing.T) {
		for name, tc := range map[string]struct {
			body  any
			field string
		}{
			"NoFilter":   {map[string]any{}, "filter"},
			"BadStatus":  {map[string]any{"filter": map[string]any{"status": "lost"}}, "filter.status"},
			"NoAccount":  {map[string]any{"filter": map[string]any{"status": "failed"}, "account_id": 999}, "account_id"},
			"TooFast":    {map[string]any{"filter": map[string]any{"status": "failed"}, "per_second": 1000}, "per_second"},
			"BadValue":   {map[string]any{"filter": map[string]any{"status": true}}, "filter.status"},
			"WithCursor": {map[string]any{"filter": map[string]any{"cursor": "x"}}, "filter"},
		} {
			var p struct{ Field string }
			require.Equal(t, http.StatusBadRequest, f.call(t, "operator", http.MethodPost, "/messages/redrive", tc.body, &p), name)
			require.Equal(t, tc.field, p.Field, name)
		}
	})
}
