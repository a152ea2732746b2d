package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/store"
)

// quotaFixture serves an app with a daily quota from a real PostgreSQL
// store, with an e-mail channel the app may use.
func quotaFixture(t *testing.T, daily, monthly int64, rdb *redis.Client) (*fixture, *store.DB, int64) {
	t.Helper()
	db := openTestStore(t, testPostgresURL(t))
	opts := []setupOption{withStore(func(*fakeStore) Store { return db })}
	if rdb != nil {
		opts = append(opts, withRedis(rdb))
	}
	f := setup(t, opts...)
	return f, db, seedQuotaApp(t, db, f.app.ID, f.app.Secret, daily, monthly)
}

// seedQuotaApp stores an app with a quota and an e-mail channel it may
// use, and returns the channel's id.
func seedQuotaApp(t *testing.T, db *store.DB, appID, secret string, daily, monthly int64) int64 {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, db.CreateApp(ctx, &store.App{ID: appID, Name: "a", Secret: secret, Enabled: true, RateLimitPerSecond: 100000}))
	tpl := &store.Template{Name: "note", Subject: "Note", Content: "Hello {{name}}", Variables: []string{"name"}}
	require.NoError(t, db.CreateTemplate(ctx, tpl))
	ch := &store.Channel{Name: "mail", Type: store.ChannelEmail, TemplateID: &tpl.ID, Enabled: true}
	require.NoError(t, db.CreateChannel(ctx, ch))
	acc := &store.ProviderAccount{Name: "mail", Kind: providerKind, Config: json.RawMessage(`{}`), Enabled: true, Weight: 1}
	require.NoError(t, db.CreateAccount(ctx, acc))
	require.NoError(t, db.SetPoolMember(ctx, ch.ID, acc.ID, 1))
	require.NoError(t, db.GrantChannel(ctx, appID, ch.ID))
	require.NoError(t, db.SetQuota(ctx, &store.Quota{AppID: appID, Daily: daily, Monthly: monthly}))
	return ch.ID
}

func TestQuotaConcurrentSendsNeverExceed(t *testing.T) {
	t.Parallel()
	// A Redis database of this test's own, so flushing it disturbs no
	// other test.
	opts, err := sharedRedisOptions()
	require.NoError(t, err)
	own := *opts
	own.DB = 11
	rdb := redis.NewClient(&own)
	t.Cleanup(func() { _ = rdb.Close() })
	const limit = 40
	f, db, chID := quotaFixture(t, limit, 0, rdb)

	var accepted, refused atomic.Int64
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 6 {
				if g == 0 && i == 3 {
					// Whatever Redis held is gone: the store alone decides.
					if err := rdb.FlushDB(context.Background()).Err(); err != nil {
						t.Errorf("flush: %v", err)
					}
				}
				body := fmt.Sprintf(`{"channel_id":%d,"receiver":"u%d-%d@example.com","template_params":{"name":"x"}}`, chID, g, i)
				res := f.call(t, http.MethodPost, "/api/v1/messages", body)
				switch {
				case res.Status == http.StatusOK:
					accepted.Add(1)
				case res.Status == http.StatusTooManyRequests && res.Code == CodeQuotaExceeded:
					refused.Add(1)
				default:
					t.Errorf("send: %d %s", res.Status, res.Body)
				}
			}
		}()
	}
	wg.Wait()
	require.Equal(t, int64(limit), accepted.Load())
	require.Equal(t, int64(16*6-limit), refused.Load())
	var stored int
	require.NoError(t, db.Bun().NewRaw("SELECT count(*) FROM messages WHERE quota_state = 'reserved'").Scan(context.Background(), &stored))
	require.Equal(t, limit, stored)
}

func TestQuotaRefusalBody(t *testing.T) {
	t.Parallel()
	f, _, chID := quotaFixture(t, 2, 0, nil)
	send := func(body string) result { return f.call(t, http.MethodPost, "/api/v1/messages", body) }
	one := fmt.Sprintf(`{"channel_id":%d,"receiver":"a@example.com","template_params":{"name":"x"}}`, chID)
	decodeData(t, send(one))

	// A batch reserves all its receivers or none.
	batch := fmt.Sprintf(`{"channel_id":%d,"receivers":["b@example.com","c@example.com"],"template_params":{"name":"x"}}`, chID)
	res := f.call(t, http.MethodPost, "/api/v1/messages/batch", batch)
	require.Equal(t, http.StatusTooManyRequests, res.Status, "body: %s", res.Body)
	require.Equal(t, CodeQuotaExceeded, res.Code)
	require.Contains(t, res.Message, "daily quota of app "+f.app.ID+" exceeded: limit 2, used 1, this request needs 2")
	require.Contains(t, res.Message, "Asia/Shanghai")
	var data quotaRefusal
	require.NoError(t, json.Unmarshal(res.Data, &data))
	require.Equal(t, "daily", data.Quota)
	require.Equal(t, "app", data.Scope)
	require.Equal(t, int64(2), data.Limit)
	require.Equal(t, int64(1), data.Used)
	resets, err := time.Parse(time.RFC3339, data.ResetsAt)
	require.NoError(t, err)
	_, offset := resets.Zone()
	require.Equal(t, 8*3600, offset, "resets_at is in the app's time zone")
	require.Equal(t, 0, resets.Hour())
	retry, err := time.ParseDuration(res.Header.Get("Retry-After") + "s")
	require.NoError(t, err)
	require.InDelta(t, time.Until(resets).Seconds(), retry.Seconds(), 5)

	decodeData(t, send(fmt.Sprintf(`{"channel_id":%d,"receiver":"d@example.com","template_params":{"name":"x"}}`, chID)))
	res = send(fmt.Sprintf(`{"channel_id":%d,"receiver":"e@example.com","template_params":{"name":"x"}}`, chID))
	require.Equal(t, http.StatusTooManyRequests, res.Status)
	require.Equal(t, CodeQuotaExceeded, res.Code)

	logged := f.logs.FilterMessage("send refused over quota").All()
	require.Len(t, logged, 2)
	for _, e := range logged {
		require.Equal(t, f.app.ID, e.ContextMap()["app_id"])
		require.NotContains(t, fmt.Sprint(e.ContextMap()), "example.com", "receivers are never logged")
	}
}

func TestGetQuota(t *testing.T) {
	t.Parallel()
	f, db, chID := quotaFixture(t, 5, 100, nil)
	for i := range 2 {
		decodeData(t, f.call(t, http.MethodPost, "/api/v1/messages",
			fmt.Sprintf(`{"channel_id":%d,"receiver":"q%d@example.com","template_params":{"name":"x"}}`, chID, i)))
	}
	data := decodeData(t, f.call(t, http.MethodGet, "/api/v1/quota", ""))
	require.Equal(t, "Asia/Shanghai", data["time_zone"])
	quotas := data["quotas"].([]any)
	require.Len(t, quotas, 2)
	day := quotas[0].(map[string]any)
	require.Equal(t, "daily", day["quota"])
	require.Equal(t, "app", day["scope"])
	require.EqualValues(t, 5, day["limit"])
	require.EqualValues(t, 2, day["reserved"])
	require.EqualValues(t, 0, day["committed"])
	require.EqualValues(t, 3, day["remaining"])
	require.Equal(t, "monthly", quotas[1].(map[string]any)["quota"])

	// A message that fails before any provider took it gives its unit back.
	msgs := []store.Message{}
	require.NoError(t, db.Bun().NewSelect().Model(&msgs).Scan(context.Background()))
	require.NoError(t, db.UpdateMessage(context.Background(), msgs[0].TaskID, store.MessagePatch{Status: ptr("failed")}))
	data = decodeData(t, f.call(t, http.MethodGet, "/api/v1/quota", ""))
	require.EqualValues(t, 4, data["quotas"].([]any)[0].(map[string]any)["remaining"])

	res := f.call(t, http.MethodGet, "/api/v1/quota", "", withoutAuth())
	require.Equal(t, http.StatusUnauthorized, res.Status)
}
