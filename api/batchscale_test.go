package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/workflows"
)

// TestSendBatchScale accepts one large SMS batch through the HTTP API, on
// PostgreSQL and on the embedded SQLite store, with Redis (receiver caps
// on, so every receiver goes through the Redis scripts), and replays it.
// It uses 3,000 receivers; set HERALD_TEST_BATCH_RECEIVERS=100000 to
// measure the largest batch, whose accept and replay times it logs.
func TestSendBatchScale(t *testing.T) {
	t.Parallel()
	n := 3000
	if v := os.Getenv("HERALD_TEST_BATCH_RECEIVERS"); v != "" {
		var err error
		n, err = strconv.Atoi(v)
		require.NoError(t, err)
	}
	t.Run("postgres", func(t *testing.T) { sendBatchScale(t, openTestStore(t, testPostgresURL(t)), n) })
	t.Run("sqlite", func(t *testing.T) {
		sendBatchScale(t, openTestStore(t, "sqlite://"+filepath.Join(t.TempDir(), "herald.db")), n)
	})
}

func sendBatchScale(t *testing.T, db *store.DB, n int) {
	ctx := context.Background()
	f := setup(t, withStore(func(*fakeStore) Store { return db }))
	require.NoError(t, db.CreateApp(ctx, &store.App{ID: f.app.ID, Name: "a", Secret: f.app.Secret, Enabled: true, RateLimitPerSecond: 1000}))
	tpl := &store.Template{Name: "sale", ContentType: "text", Content: "Sale: {{pct}} off", Variables: []string{"pct"}}
	require.NoError(t, db.CreateTemplate(ctx, tpl))
	ch := &store.Channel{Name: "sms", Type: store.ChannelSMS, TemplateID: &tpl.ID, Enabled: true, ReceiverCaps: &store.ReceiverCaps{PerDay: 5}}
	require.NoError(t, db.CreateChannel(ctx, ch))
	acc := &store.ProviderAccount{Name: "sms", Kind: providerKind, Config: json.RawMessage(`{}`), Enabled: true, Weight: 1}
	require.NoError(t, db.CreateAccount(ctx, acc))
	require.NoError(t, db.SetPoolMember(ctx, ch.ID, acc.ID, 1))
	require.NoError(t, db.GrantChannel(ctx, f.app.ID, ch.ID))
	require.NoError(t, db.SetQuota(ctx, &store.Quota{AppID: f.app.ID, Daily: int64(n)}))

	// Numbers unique to this run, so the receiver caps in the shared Redis
	// start from zero.
	base := time.Now().UnixNano() % 1e7
	receivers := make([]string, n)
	for i := range receivers {
		receivers[i] = fmt.Sprintf("+86139%08d", (base+int64(i))%1e8)
	}
	raw, err := json.Marshal(receivers)
	require.NoError(t, err)
	body := fmt.Sprintf(`{"channel_id":%d,"template_params":{"pct":"50%%"},"receivers":%s}`, ch.ID, raw)

	start := time.Now()
	res := f.call(t, http.MethodPost, "/api/v1/messages/batch", body, withIdempotencyKey("scale-"+strconv.FormatInt(base, 10)))
	accept := time.Since(start)
	require.Equal(t, http.StatusOK, res.Status, res.Message)
	var got batchResponse
	require.NoError(t, json.Unmarshal(res.Data, &got))
	require.Equal(t, n, got.SuccessCount)
	require.Len(t, got.Tasks, n)
	t.Logf("accepted %d receivers (%d bytes) in %s", n, len(body), accept)

	counts, err := db.CountBatchMembers(ctx, got.BatchID)
	require.NoError(t, err)
	require.Equal(t, store.BatchCounts{workflows.StatusPending: n}, counts)
	starts := f.engine.batchStartsCopy()
	require.Len(t, starts, 1)
	require.Equal(t, n, starts[0].Members)
	require.Zero(t, f.engine.startCount())
	last, err := db.GetMessage(ctx, got.Tasks[n-1].TaskID)
	require.NoError(t, err)
	require.Equal(t, receivers[n-1], last.Receiver)
	require.Equal(t, "Sale: 50% off", last.Content)

	start = time.Now()
	again := f.call(t, http.MethodPost, "/api/v1/messages/batch", body, withIdempotencyKey("scale-"+strconv.FormatInt(base, 10)))
	t.Logf("replayed %d receivers in %s", n, time.Since(start))
	require.Equal(t, http.StatusOK, again.Status, again.Message)
	require.JSONEq(t, string(res.Data), string(again.Data), "a replay answers the same")
	require.Len(t, f.engine.batchStartsCopy(), 1)
}
