package stats

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/heraldhq/herald/store/storetest"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/heraldhq/herald/internal/adminhttp"
	"github.com/heraldhq/herald/internal/adminhttp/adminhttptest"
	istats "github.com/heraldhq/herald/internal/stats"
	"github.com/heraldhq/herald/store"
)

// problemHandler writes admin errors as the admin server does.
func problemHandler(err error, c echo.Context) {
	if p, ok := adminhttp.AsProblem(err); ok {
		_ = c.JSON(p.Status, p)
		return
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		_ = c.JSON(he.Code, map[string]any{"code": "error", "message": fmt.Sprint(he.Message)})
		return
	}
	_ = c.JSON(http.StatusInternalServerError, map[string]any{"code": adminhttp.CodeInternal})
}

func openStore(t *testing.T, dialect string) *store.DB {
	t.Helper()
	rawURL := "sqlite://" + filepath.Join(t.TempDir(), "herald.db")
	if dialect == store.DialectPostgres {
		rawURL = postgresURL(t)
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	c, err := store.NewCipher(key)
	require.NoError(t, err)
	db, err := store.Open(t.Context(), store.Options{URL: rawURL, Cipher: c})
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	_, err = db.MigrateUp(t.Context())
	require.NoError(t, err)
	return db
}

func postgresURL(t *testing.T) string {
	t.Helper()
	return storetest.PostgresURL(t, "herald_stats_test")
}

type fixture struct {
	db  *store.DB
	e   *echo.Echo
	now time.Time
	sms *store.Channel
}

func setup(t *testing.T, dialect string) *fixture {
	t.Helper()
	db := openStore(t, dialect)
	now := time.Now().UTC().Truncate(time.Hour).Add(30 * time.Minute)
	e := echo.New()
	e.HTTPErrorHandler = problemHandler
	g := e.Group("/admin/api/v1", adminhttptest.Auth(""))
	Register(g, Deps{Store: db, Now: func() time.Time { return now }})
	sms := &store.Channel{Name: "sms-otp", Type: store.ChannelSMS, Enabled: true, ReceiptTimeoutSeconds: 60, MaxAttempts: 3}
	require.NoError(t, db.CreateChannel(t.Context(), sms))
	return &fixture{db: db, e: e, now: now, sms: sms}
}

func (f *fixture) get(t *testing.T, token, query string) (*httptest.ResponseRecorder, map[string]any) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/admin/api/v1/stats?"+query, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	f.e.ServeHTTP(rec, req)
	var body map[string]any
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body), rec.Body.String())
	return rec, body
}

func eachDialect(t *testing.T, fn func(t *testing.T, f *fixture)) {
	for _, d := range []string{store.DialectPostgres, store.DialectSQLite} {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			fn(t, setup(t, d))
		})
	}
}

func TestRoles(t *testing.T) {
	t.Parallel()
	f := setup(t, store.DialectSQLite)
	for token, want := range map[string]int{
		"": http.StatusUnauthorized, "garbage": http.StatusUnauthorized,
		"test-viewer": http.StatusOK, "test-operator": http.StatusOK, "test-admin": http.StatusOK,
	} {
		rec, _ := f.get(t, token, "")
		require.Equal(t, want, rec.Code, "token %q", token)
	}
}

func TestValidation(t *testing.T) {
	t.Parallel()
	f := setup(t, store.DialectSQLite)
	for query, field := range map[string]string{
		"interval=week":   "interval",
		"group_by=nobody": "group_by",
		"tz=Nowhere/City": "tz",
		"from=yesterday":  "from",
		"to=later":        "to",
		"interval=minute&from=2026-01-01T00:00:00Z&to=2026-01-03T00:00:00Z": "from",
	} {
		rec, body := f.get(t, "test-viewer", query)
		require.Equal(t, http.StatusBadRequest, rec.Code, query)
		require.Equal(t, adminhttp.CodeInvalid, body["code"], query)
		require.Equal(t, field, body["field"], query)
		require.NotEmpty(t, body["message"], query)
	}
}

// TestStatsMatchWhatWasSent sends messages through the store the way the
// API and workflows do and reads them back through the route.
func TestStatsMatchWhatWasSent(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, f *fixture) {
		ctx := t.Context()
		acc := &store.ProviderAccount{Name: "ali-main", Kind: "aliyun", Config: json.RawMessage(`{}`), Weight: 1, Enabled: true}
		require.NoError(t, f.db.CreateAccount(ctx, acc))
		at := f.now.Add(-2 * time.Hour) // in the hour two before now's
		var msgs []*store.Message
		for i := range 20 {
			msgs = append(msgs, &store.Message{TaskID: fmt.Sprintf("t-%d", i), AppID: "shop", ChannelID: f.sms.ID, MessageType: "sms",
				Receiver: "+8613800000000", Content: "code 1234", Status: "pending", MaxAttempts: 3, CreatedAt: at})
		}
		require.NoError(t, f.db.CreateMessages(ctx, msgs, nil))
		for i, m := range msgs {
			if i == 19 {
				continue // still pending
			}
			require.NoError(t, f.db.RecordAccepted(ctx, m.TaskID, acc.ID, fmt.Sprintf("pm-%d", i), store.MessagePatch{Status: ptr("sent")}, nil))
			status, latency := "success", time.Duration(i+1)*time.Second // 1s..18s
			if i >= 16 {
				status, latency = "failed", time.Minute
			}
			fin := at.Add(latency)
			require.NoError(t, f.db.RecordMessage(ctx, m.TaskID, store.MessagePatch{Status: &status, FinishedAt: &fin}, nil))
			// A retried final write changes nothing.
			require.NoError(t, f.db.RecordMessage(ctx, m.TaskID, store.MessagePatch{Status: &status, FinishedAt: &fin}, nil))
		}

		rec, _ := f.get(t, "test-viewer", "group_by=channel&from="+url.QueryEscape(f.now.Add(-3*time.Hour).Format(time.RFC3339)))
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		var rep istats.Report
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &rep))
		require.Len(t, rep.Series, 1)
		s := rep.Series[0]
		require.Equal(t, fmt.Sprint(f.sms.ID), s.Key)
		require.Equal(t, "sms-otp", s.Name)
		require.Len(t, s.Points, 4, "three hours before now, now's hour")
		require.Equal(t, int64(20), s.Points[1].Accepted)
		require.Equal(t, int64(16), s.Total.Success)
		require.Equal(t, int64(3), s.Total.Failed)
		require.Equal(t, int64(1), s.Total.Pending)
		require.InDelta(t, 16.0/19.0, *s.Total.SuccessRate, 1e-9)
		require.Equal(t, int64(20), s.Total.SMSSegments)
		require.Equal(t, int64(19), s.Total.FinalLatency.Count)
		// True p50 of {1..16 s, 60 s x3} is 10 s, in the bucket [6.4 s, 12.8 s).
		p50 := time.Duration(*s.Total.FinalLatency.P50Ms) * time.Millisecond
		require.Equal(t, store.LatencyBucket(10*time.Second), store.LatencyBucket(p50), "%s", p50)
		p95 := time.Duration(*s.Total.FinalLatency.P95Ms) * time.Millisecond
		require.Equal(t, store.LatencyBucket(time.Minute), store.LatencyBucket(p95), "%s", p95)

		// By status and account, and by day in a zone.
		rec, _ = f.get(t, "test-viewer", "group_by=account&interval=day&tz=Asia/Shanghai")
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &rep))
		byKey := map[string]istats.Series{}
		for _, s := range rep.Series {
			byKey[s.Key] = s
		}
		require.Equal(t, int64(19), byKey[fmt.Sprint(acc.ID)].Total.Accepted)
		require.Equal(t, "ali-main", byKey[fmt.Sprint(acc.ID)].Name)
		require.Equal(t, int64(1), byKey["0"].Total.Pending)
		require.Equal(t, "Asia/Shanghai", rep.TimeZone)
	})
}

func ptr[T any](v T) *T { return &v }

// TestRoutesDocumented checks every route Register adds is in the
// OpenAPI fragment, and that the fragment's schemas name the fields the
// answer has.
func TestRoutesDocumented(t *testing.T) {
	t.Parallel()
	var doc struct {
		Paths      map[string]map[string]any `yaml:"paths"`
		Components struct {
			Schemas map[string]struct {
				Properties map[string]any `yaml:"properties"`
			} `yaml:"schemas"`
		} `yaml:"components"`
	}
	require.NoError(t, yaml.Unmarshal(OpenAPI, &doc))
	e := echo.New()
	Register(e.Group("/admin/api/v1"), Deps{})
	for _, r := range e.Routes() {
		path := strings.TrimPrefix(r.Path, "/admin/api/v1")
		require.Contains(t, doc.Paths, path, "route %s %s", r.Method, r.Path)
		require.Contains(t, doc.Paths[path], strings.ToLower(r.Method), "route %s %s", r.Method, r.Path)
	}
	for schema, v := range map[string]any{"StatsReport": istats.Report{}, "StatsSeries": istats.Series{}, "StatsFigures": istats.Figures{}, "StatsLatency": istats.Latency{}} {
		raw, err := json.Marshal(v)
		require.NoError(t, err)
		var fields map[string]any
		require.NoError(t, json.Unmarshal(raw, &fields))
		for name := range fields {
			require.Contains(t, doc.Components.Schemas[schema].Properties, name, "%s.%s", schema, name)
		}
	}
}
