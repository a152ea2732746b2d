package messagescli

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/api/admin/messages"
	"github.com/heraldhq/herald/internal/adminclient"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/workflows"
)

// runBatches runs `herald batches args...` as role and returns its output.
func (w *world) runBatches(t *testing.T, role string, args ...string) (string, error) {
	t.Helper()
	path := filepath.Join(w.dir, role+".json")
	creds := &adminclient.Credentials{URL: w.url, Username: role, Role: role, AccessToken: "test-" + role, AccessExpiresAt: time.Now().Add(time.Hour), RefreshToken: "unused"}
	require.NoError(t, creds.Save(path))
	var out bytes.Buffer
	cmd := NewBatchesCommand(&out, func(string) string { return "" }, nil)
	cmd.SetArgs(append(args, "--credentials", path))
	cmd.SetOut(&out)
	cmd.SetErr(&bytes.Buffer{})
	err := cmd.ExecuteContext(t.Context())
	return out.String(), err
}

func TestBatches(t *testing.T) {
	t.Parallel()
	w := setup(t)
	const id = "bbbbbbbb-0000-4000-8000-000000000001"
	require.NoError(t, w.db.CreateBatch(t.Context(),
		&store.Batch{ID: id, AppID: "shop", ChannelID: 1, TotalCount: 3, SuccessCount: 2, FailedCount: 1, WorkflowID: workflows.BatchWorkflowID(id), Content: "Sale"},
		&store.Message{AppID: "shop", ChannelID: 1, MessageType: store.ChannelSMS, Status: workflows.StatusPending, MaxAttempts: 3},
		[]string{"+8613800138011", "+8613800138012"}))

	out, err := w.runBatches(t, "viewer", "list", "--app", "shop")
	require.NoError(t, err)
	require.Contains(t, out, "BATCH ID")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 2)
	row := strings.Fields(lines[1])
	require.Equal(t, id, row[0])
	require.Equal(t, []string{"running", "2", "1", "0"}, row[4:8], "status, receivers, rejected, finished")

	out, err = w.runBatches(t, "viewer", "show", id)
	require.NoError(t, err)
	require.Contains(t, out, "pending 2, processing 0, sent 0, success 0, failed 0, cancelled 0")
	require.Contains(t, out, "2 accepted, 1 rejected, 3 in the request")
	require.Contains(t, out, "http://ui.test/namespaces/default/workflows/batch-"+id)

	_, err = w.runBatches(t, "viewer", "pause", id)
	require.ErrorContains(t, err, "HTTP 403")
	out, err = w.runBatches(t, "operator", "pause", id, "-o", "json")
	require.NoError(t, err)
	var v messages.BatchView
	require.NoError(t, json.Unmarshal([]byte(out), &v))
	require.Equal(t, store.BatchPaused, v.Status)
	out, err = w.runBatches(t, "operator", "cancel", id)
	require.NoError(t, err)
	require.Contains(t, out, "cancelled")
	_, err = w.runBatches(t, "operator", "resume", id)
	require.ErrorContains(t, err, "HTTP 409")

	_, err = w.runBatches(t, "viewer", "show")
	require.Error(t, err)
}
