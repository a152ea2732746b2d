package traffic_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/api/admin/traffic"
	"github.com/heraldhq/herald/internal/adminhttp"
	"github.com/heraldhq/herald/internal/adminhttp/adminhttptest"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/store/storetest"
	"github.com/heraldhq/herald/workflows"
)

var testNow = time.Date(2026, 3, 14, 9, 30, 0, 0, time.UTC)

// fakeEngine records the orders handed to breaker workflows.
type fakeEngine struct {
	mu     sync.Mutex
	orders map[int64][]workflows.BreakerForce
	err    error
}

func (e *fakeEngine) ForceBreaker(_ context.Context, accountID int64, f workflows.BreakerForce) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.err != nil {
		return e.err
	}
	e.orders[accountID] = append(e.orders[accountID], f)
	return nil
}

func (e *fakeEngine) ordersOf(id int64) []workflows.BreakerForce {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.orders[id]
}

type fixture struct {
	db     *store.DB
	engine *fakeEngine
	srv    *httptest.Server
}

func setup(t *testing.T, dialect string) *fixture {
	t.Helper()
	rawURL := "sqlite://" + t.TempDir() + "/herald.db"
	if dialect == store.DialectPostgres {
		rawURL = storetest.PostgresURL(t, "herald_admin_traffic_test")
	}
	key := make([]byte, 32)
	_, err := rand.Read(key)
	require.NoError(t, err)
	c, err := store.NewCipher(key)
	require.NoError(t, err)
	db, err := store.Open(t.Context(), store.Options{URL: rawURL, Cipher: c})
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	_, err = db.MigrateUp(t.Context())
	require.NoError(t, err)

	f := &fixture{db: db, engine: &fakeEngine{orders: map[int64][]workflows.BreakerForce{}}}
	e := echo.New()
	e.HTTPErrorHandler = adminhttptest.WriteProblem
	traffic.Register(e.Group("/admin/api/v1", adminhttptest.Auth("-user")), traffic.Deps{Store: db, Engine: f.engine, Now: func() time.Time { return testNow }})
	f.srv = httptest.NewServer(e)
	t.Cleanup(f.srv.Close)
	return f
}

// call sends a request as role and decodes the JSON answer into out.
func (f *fixture) call(t *testing.T, role, method, path, body string, out any) int {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, f.srv.URL+"/admin/api/v1"+path, rd)
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	if role != "" {
		req.Header.Set("Authorization", "Bearer test-"+role)
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	if out != nil {
		require.NoError(t, json.Unmarshal(raw, out), string(raw))
	}
	return res.StatusCode
}

func (f *fixture) account(t *testing.T, name, kind string) *store.ProviderAccount {
	t.Helper()
	acc := &store.ProviderAccount{Name: name, Kind: kind, Config: []byte(`{}`), Weight: 1, Enabled: true}
	require.NoError(t, f.db.CreateAccount(t.Context(), acc))
	return acc
}

type problem struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field"`
}

func TestBreakers(t *testing.T) {
	t.Parallel()
	for _, dialect := range []string{store.DialectPostgres, store.DialectSQLite} {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			f := setup(t, dialect)
			ctx := t.Context()
			quiet := f.account(t, "sandbox-quiet", "sandbox")
			tripped := f.account(t, "tencent-main", "tencent")
			held := f.account(t, "aliyun-main", "aliyun")
			openedAt := time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)
			require.NoError(t, f.db.PublishBreaker(ctx,
				&store.BreakerState{AccountID: tripped.ID, State: "open", Since: openedAt, Reason: "52 of 80 sends failed", WindowFailures: 52, WindowTotal: 80},
				&store.BreakerEvent{AccountID: tripped.ID, From: "closed", To: "open", Reason: "52 of 80 sends failed", Actor: "breaker", At: openedAt}))
			require.NoError(t, f.db.PublishBreaker(ctx,
				&store.BreakerState{AccountID: held.ID, State: "closed", Since: openedAt.Add(time.Minute), Reason: "vendor bug", Forced: true},
				&store.BreakerEvent{AccountID: held.ID, From: "open", To: "closed", Reason: "vendor bug", Actor: "olga", Forced: true, At: openedAt.Add(time.Minute)}))

			t.Run("ViewerListsEveryAccount", func(t *testing.T) {
				var list struct {
					Items []map[string]any `json:"items"`
				}
				require.Equal(t, http.StatusOK, f.call(t, "viewer", http.MethodGet, "/breakers", "", &list))
				require.Len(t, list.Items, 3)
				byName := map[string]map[string]any{}
				for _, it := range list.Items {
					byName[it["account_name"].(string)] = it
					require.ElementsMatch(t, []string{"account_id", "account_name", "provider_kind", "state", "since", "failures", "forced"}, keys(it))
					_, err := time.Parse(time.RFC3339, it["since"].(string))
					require.NoError(t, err)
				}
				require.Equal(t, map[string]any{"account_id": float64(tripped.ID), "account_name": "tencent-main", "provider_kind": "tencent",
					"state": "open", "since": "2026-03-14T09:00:00Z", "failures": float64(52), "forced": ""}, byName["tencent-main"])
				require.Equal(t, "closed", byName["aliyun-main"]["state"])
				require.Equal(t, "closed", byName["aliyun-main"]["forced"])
				// Never heard of a send: closed since the account exists.
				require.Equal(t, "closed", byName["sandbox-quiet"]["state"])
				require.Equal(t, "", byName["sandbox-quiet"]["forced"])
				require.Equal(t, float64(quiet.ID), byName["sandbox-quiet"]["account_id"])
			})
			t.Run("ViewerReadsHistory", func(t *testing.T) {
				var hist struct {
					Items []map[string]any `json:"items"`
				}
				require.Equal(t, http.StatusOK, f.call(t, "viewer", http.MethodGet, fmt.Sprintf("/breakers/%d/history", held.ID), "", &hist))
				require.Equal(t, []map[string]any{{"at": "2026-03-14T09:01:00Z", "from": "open", "to": "closed", "forced": true, "actor": "olga", "reason": "vendor bug"}}, hist.Items)

				require.Equal(t, http.StatusOK, f.call(t, "viewer", http.MethodGet, fmt.Sprintf("/breakers/%d/history", quiet.ID), "", &hist))
				require.Empty(t, hist.Items)
				require.NotNil(t, hist.Items, "an empty history is [], not null")
			})
			t.Run("ErrUnknownAccount", func(t *testing.T) {
				for _, path := range []string{"/breakers/999999/history", "/breakers/abc/history"} {
					var p problem
					require.Equal(t, http.StatusNotFound, f.call(t, "viewer", http.MethodGet, path, "", &p))
					require.Equal(t, adminhttp.CodeNotFound, p.Code)
					require.Contains(t, p.Message, "provider account")
				}
				var p problem
				require.Equal(t, http.StatusNotFound, f.call(t, "operator", http.MethodPost, "/breakers/999999/force", `{"order":"open","reason":"x"}`, &p))
				require.Equal(t, "provider account 999999 not found", p.Message)
			})
			t.Run("ErrViewerMayNotForce", func(t *testing.T) {
				var p problem
				require.Equal(t, http.StatusForbidden, f.call(t, "viewer", http.MethodPost, fmt.Sprintf("/breakers/%d/force", quiet.ID), `{"order":"open","reason":"maintenance"}`, &p))
				require.Equal(t, adminhttp.CodeForbidden, p.Code)
				require.Empty(t, f.engine.ordersOf(quiet.ID))
				require.Equal(t, http.StatusUnauthorized, f.call(t, "", http.MethodGet, "/breakers", "", nil))
			})
			t.Run("ErrBadOrder", func(t *testing.T) {
				path := fmt.Sprintf("/breakers/%d/force", quiet.ID)
				for _, tc := range []struct{ body, field, says string }{
					{`{"order":"open"}`, "reason", "reason is required"},
					{`{"order":"open","reason":"   "}`, "reason", "reason is required"},
					{`{"order":"open","reason":"` + strings.Repeat("x", 501) + `"}`, "reason", "at most 500"},
					{`{"order":"close","reason":"x"}`, "order", `"close" is not one of open, closed or auto`},
					{`{"reason":"x"}`, "order", "order is required"},
					{`{"order":"open","reason":"x","actor":"root"}`, "", "JSON object"},
					{`not json`, "", "JSON object"},
					{``, "", "JSON object"},
				} {
					var p problem
					require.Equal(t, http.StatusBadRequest, f.call(t, "operator", http.MethodPost, path, tc.body, &p), tc.body)
					require.Equal(t, adminhttp.CodeInvalid, p.Code, tc.body)
					require.Equal(t, tc.field, p.Field, tc.body)
					require.Contains(t, p.Message, tc.says, tc.body)
				}
				require.Empty(t, f.engine.ordersOf(quiet.ID))
			})
			t.Run("OperatorForces", func(t *testing.T) {
				for _, tc := range []struct{ order, signal string }{
					{"open", workflows.BreakerForceOpen}, {"closed", workflows.BreakerForceClosed}, {"auto", workflows.BreakerForceAuto},
				} {
					var ack map[string]any
					require.Equal(t, http.StatusAccepted, f.call(t, "operator", http.MethodPost, fmt.Sprintf("/breakers/%d/force", tripped.ID),
						`{"order":"`+tc.order+`","reason":" vendor maintenance "}`, &ack))
					require.Equal(t, map[string]any{"account_id": float64(tripped.ID), "order": tc.order}, ack)
					orders := f.engine.ordersOf(tripped.ID)
					require.Equal(t, workflows.BreakerForce{Order: tc.signal, Reason: "vendor maintenance", Actor: "operator-user"}, orders[len(orders)-1])
				}
				audit, err := f.db.ListAudit(ctx, store.AuditFilter{Action: "breaker.force"})
				require.NoError(t, err)
				require.Len(t, audit, 3)
				for _, a := range audit {
					require.Equal(t, "user:operator-user", a.Actor)
					require.Equal(t, "account", a.ObjectType)
					require.Equal(t, fmt.Sprint(tripped.ID), a.ObjectID)
					require.Equal(t, "vendor maintenance", a.Diff["reason"])
				}
			})
			t.Run("ErrEngineDown", func(t *testing.T) {
				g := setup(t, store.DialectSQLite)
				acc := g.account(t, "a", "sandbox")
				g.engine.err = errors.New("connection refused")
				var p problem
				require.Equal(t, http.StatusServiceUnavailable, g.call(t, "admin", http.MethodPost, fmt.Sprintf("/breakers/%d/force", acc.ID), `{"order":"open","reason":"x"}`, &p))
				require.Equal(t, adminhttp.CodeUnavailable, p.Code)
				require.NotContains(t, p.Message, "connection refused")
				audit, err := g.db.ListAudit(t.Context(), store.AuditFilter{Action: "breaker.force"})
				require.NoError(t, err)
				require.Empty(t, audit, "nothing ordered, nothing audited")
			})
		})
	}
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestQuotas(t *testing.T) {
	t.Parallel()
	f := setup(t, store.DialectPostgres)
	ctx := t.Context()
	for _, app := range []*store.App{
		{ID: "shop", Name: "Shop", Secret: "s1", Enabled: true, TimeZone: "UTC"},
		{ID: "bank", Name: "Bank", Secret: "s2", Enabled: true, TimeZone: "Asia/Shanghai"},
		{ID: "free", Name: "Free", Secret: "s3", Enabled: true},
	} {
		require.NoError(t, f.db.CreateApp(ctx, app))
	}
	require.NoError(t, f.db.SetQuota(ctx, &store.Quota{AppID: "shop", Daily: 100, Monthly: 1000}))
	require.NoError(t, f.db.SetQuota(ctx, &store.Quota{AppID: "bank", ChannelID: 7, Daily: 10}))
	day, _ := store.QuotaPeriod(store.PeriodDay, testNow, time.UTC)
	_, err := f.db.Bun().NewInsert().Model(&store.QuotaUsage{AppID: "shop", Period: store.PeriodDay, PeriodStart: day, Reserved: 3, Committed: 40}).Exec(ctx)
	require.NoError(t, err)

	type quota struct {
		AppID     string `json:"app_id"`
		Period    string `json:"period"`
		ChannelID int64  `json:"channel_id"`
		Limit     int64  `json:"limit"`
		Reserved  int64  `json:"reserved"`
		Committed int64  `json:"committed"`
		Remaining int64  `json:"remaining"`
		ResetsAt  string `json:"resets_at"`
	}
	var list struct {
		Items []quota `json:"items"`
	}
	t.Run("EveryApp", func(t *testing.T) {
		require.Equal(t, http.StatusOK, f.call(t, "viewer", http.MethodGet, "/quotas", "", &list))
		require.Equal(t, []quota{
			{AppID: "bank", Period: "day", ChannelID: 7, Limit: 10, Remaining: 10, ResetsAt: "2026-03-14T16:00:00Z"},
			{AppID: "shop", Period: "day", Limit: 100, Reserved: 3, Committed: 40, Remaining: 57, ResetsAt: "2026-03-15T00:00:00Z"},
			{AppID: "shop", Period: "month", Limit: 1000, Remaining: 1000, ResetsAt: "2026-04-01T00:00:00Z"},
		}, list.Items)
	})
	t.Run("OneApp", func(t *testing.T) {
		require.Equal(t, http.StatusOK, f.call(t, "viewer", http.MethodGet, "/quotas?app_id=bank", "", &list))
		require.Len(t, list.Items, 1)
		require.Equal(t, "bank", list.Items[0].AppID)
		require.Equal(t, http.StatusOK, f.call(t, "viewer", http.MethodGet, "/quotas?app_id=free", "", &list))
		require.NotNil(t, list.Items)
		require.Empty(t, list.Items)
	})
	t.Run("ErrUnknownApp", func(t *testing.T) {
		var p problem
		require.Equal(t, http.StatusNotFound, f.call(t, "viewer", http.MethodGet, "/quotas?app_id=nope", "", &p))
		require.Equal(t, `app "nope" not found`, p.Message)
		require.Equal(t, http.StatusUnauthorized, f.call(t, "", http.MethodGet, "/quotas", "", nil))
	})
}
