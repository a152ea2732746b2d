package stats

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/uptrace/bun/driver/pgdriver"

	"github.com/heraldhq/herald/internal/adminhttp/adminhttptest"
	"github.com/heraldhq/herald/store"
)

// The operators' read benchmark: GET /stats and the message list's named
// filter sets over a PostgreSQL store of a million messages (set
// HERALD_BENCH_MESSAGES for another size). Opt-in: it runs only with
// HERALD_TEST_DATABASE_URL set, and only under -bench:
//
//	task bench:queries
//
// Each sub-benchmark runs one query per iteration and reports the 95th
// percentile of their times as p95-ms; -benchtime 100x makes that p95
// over 100 queries.
//
// The message list's own query code is not part of this package: the
// list benchmarks run the SQL shape the list needs (filters, newest
// first, a page of 50) against the indexes benchIndexes creates. Those
// indexes, and the receiver_key column, stand in for the ones the message
// list adds in its own migration; keep the two in step.

var benchNow = time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)

const (
	benchApps     = 20
	benchChannels = 8
	// Each channel has two accounts weighted 3:1.
	benchAccounts = 2 * benchChannels
)

// benchIndexes are the message list's indexes: one per named filter set.
var benchIndexes = []string{
	`ALTER TABLE messages ADD COLUMN IF NOT EXISTS receiver_key TEXT NOT NULL DEFAULT ''`,
	`CREATE INDEX IF NOT EXISTS messages_status_created_idx ON messages (status, created_at DESC, id DESC)`,
	`CREATE INDEX IF NOT EXISTS messages_app_channel_created_idx ON messages (app_id, channel_id, created_at DESC, id DESC)`,
	`CREATE INDEX IF NOT EXISTS messages_receiver_key_idx ON messages (receiver_key, created_at DESC, id DESC) WHERE receiver_key <> ''`,
}

func BenchmarkOperatorQueries(b *testing.B) {
	if os.Getenv("HERALD_TEST_DATABASE_URL") == "" {
		b.Skip("set HERALD_TEST_DATABASE_URL to run the operators' query benchmark on PostgreSQL")
	}
	n := 1_000_000
	if s := os.Getenv("HERALD_BENCH_MESSAGES"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v <= 0 {
			b.Fatalf("HERALD_BENCH_MESSAGES=%q: want a positive count", s)
		}
		n = v
	}
	db := benchStore(b)
	ctx := context.Background()
	start := time.Now()
	loadBenchMessages(b, db, n)
	b.Logf("loaded %d messages and their rollups in %s", n, time.Since(start).Round(time.Second))

	e := echo.New()
	e.HTTPErrorHandler = problemHandler
	Register(e.Group("/admin/api/v1", adminhttptest.Auth("")), Deps{Store: db, Now: func() time.Time { return benchNow }})

	getStats := func(b *testing.B, groupBy string) {
		query := url.Values{"from": {benchNow.Add(-24 * time.Hour).Format(time.RFC3339)}, "to": {benchNow.Format(time.RFC3339)},
			"interval": {"hour"}, "group_by": {groupBy}}.Encode()
		measure(b, func(int) error {
			req := httptest.NewRequest(http.MethodGet, "/admin/api/v1/stats?"+query, nil)
			req.Header.Set("Authorization", "Bearer test-viewer")
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				return fmt.Errorf("status %d: %s", rec.Code, rec.Body.String())
			}
			return nil
		})
	}
	b.Run("GET_stats_day_by_hour_by_channel", func(b *testing.B) { getStats(b, "channel") })
	// Not a target: grouping by app reads the full hour rollup.
	b.Run("GET_stats_day_by_hour_by_app", func(b *testing.B) { getStats(b, "app") })
	list := func(where string, args ...any) error {
		ms := []store.Message{}
		return db.Bun().NewSelect().Model(&ms).Where(where, args...).
			OrderExpr("m.created_at DESC, m.id DESC").Limit(50).Scan(ctx)
	}
	b.Run("list_failed_last_hour", func(b *testing.B) {
		measure(b, func(int) error {
			return list("m.status = ? AND m.created_at >= ? AND m.created_at < ?", "failed", benchNow.Add(-time.Hour), benchNow)
		})
	})
	b.Run("list_app_channel_week", func(b *testing.B) {
		measure(b, func(i int) error {
			app := fmt.Sprintf("app-%02d", i%benchApps)
			return list("m.app_id = ? AND m.channel_id = ? AND m.created_at >= ? AND m.created_at < ?",
				app, benchChannelOf(i%benchApps, i), benchNow.Add(-7*24*time.Hour), benchNow)
		})
	})
	b.Run("list_exact_receiver", func(b *testing.B) {
		measure(b, func(i int) error {
			return list("m.receiver_key = ?", benchReceiverKey(i*7919%benchReceivers(n)))
		})
	})
}

// measure runs query b.N times and reports the 95th percentile.
func measure(b *testing.B, query func(i int) error) {
	b.Helper()
	times := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		t0 := time.Now()
		if err := query(i); err != nil {
			b.Fatal(err)
		}
		times = append(times, time.Since(t0))
	}
	b.StopTimer()
	slices.Sort(times)
	p95 := times[min(len(times)-1, (len(times)*95+99)/100-1)]
	b.ReportMetric(float64(p95.Microseconds())/1000, "p95-ms")
}

func benchStore(b *testing.B) *store.DB {
	b.Helper()
	adminURL := os.Getenv("HERALD_TEST_DATABASE_URL")
	admin := sql.OpenDB(pgdriver.NewConnector(pgdriver.WithDSN(adminURL)))
	b.Cleanup(func() { _ = admin.Close() })
	// HERALD_BENCH_DATABASE names a database to keep and reuse between
	// runs (loading takes minutes); by default a fresh one is dropped.
	name := os.Getenv("HERALD_BENCH_DATABASE")
	if name == "" {
		name = fmt.Sprintf("herald_bench_%d", time.Now().UnixNano())
		b.Cleanup(func() { _, _ = admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)") })
	}
	var exists bool
	if err := admin.QueryRow("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		b.Fatal(err)
	}
	if !exists {
		if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
			b.Fatal(err)
		}
	}
	u, err := url.Parse(adminURL)
	if err != nil {
		b.Fatal(err)
	}
	u.Path = "/" + name
	// Loading a million rows takes longer than the driver's default read
	// timeout.
	q := u.Query()
	q.Set("read_timeout", "30m")
	u.RawQuery = q.Encode()
	key := make([]byte, 32)
	c, err := store.NewCipher(key)
	if err != nil {
		b.Fatal(err)
	}
	db, err := store.Open(context.Background(), store.Options{URL: u.String(), Cipher: c})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = db.Close() })
	if _, err := db.MigrateUp(context.Background()); err != nil {
		b.Fatal(err)
	}
	return db
}

// benchReceivers is how many distinct receivers n messages go to: a few
// messages each, as with verification codes.
func benchReceivers(n int) int { return max(n/4, 1) }

// benchReceiverKey stands in for the keyed hash of receiver r; the
// benchmark measures the lookup, not the hash.
func benchReceiverKey(r int) string { return fmt.Sprintf("rk-%08d", r) }

// benchChannelOf is one of the three channels app a uses.
func benchChannelOf(a, i int) int { return (a+i%3)%benchChannels + 1 }

// loadBenchMessages writes n messages in one INSERT ... SELECT, spread
// over a week before benchNow, 20 apps (a few large, many small), the
// three channels of each app, the two accounts of each channel (3:1),
// realistic statuses and latencies; then fills the rollups with the rows
// the per-transaction counting and the workers' compaction leave for
// those messages (a random shard per message in the last two hours, shard
// 0 before), in one INSERT ... SELECT per rollup, in time order as live
// traffic writes them.
func loadBenchMessages(b *testing.B, db *store.DB, n int) {
	b.Helper()
	ctx := context.Background()
	var have int
	if err := db.Bun().NewSelect().Table("messages").ColumnExpr("COUNT(*)").Scan(ctx, &have); err != nil {
		b.Fatal(err)
	}
	if have == n {
		return // a kept database, loaded before
	}
	if have != 0 {
		b.Fatalf("the benchmark database holds %d messages, not %d: drop it or name another", have, n)
	}
	exec := func(q string, args ...any) {
		if _, err := db.Bun().ExecContext(ctx, q, args...); err != nil {
			b.Fatalf("%v\n%s", err, q)
		}
	}
	for i := 1; i <= benchChannels; i++ {
		typ := store.ChannelSMS
		if i > 5 {
			typ = store.ChannelEmail
		}
		if err := db.CreateChannel(ctx, &store.Channel{Name: fmt.Sprintf("channel-%d", i), Type: typ, Enabled: true, MaxAttempts: 3}); err != nil {
			b.Fatal(err)
		}
	}
	for i := 1; i <= benchAccounts; i++ {
		acc := &store.ProviderAccount{Name: fmt.Sprintf("account-%d", i), Kind: []string{"aliyun", "tencent"}[i%2], Config: []byte(`{}`), Weight: 1, Enabled: true}
		if err := db.CreateAccount(ctx, acc); err != nil {
			b.Fatal(err)
		}
	}
	// u1..u6 are independent uniform draws per message.
	exec(`ALTER TABLE messages ADD COLUMN IF NOT EXISTS receiver_key TEXT NOT NULL DEFAULT ''`)
	exec(fmt.Sprintf(`INSERT INTO messages (task_id, app_id, channel_id, message_type, receiver, content, status, callback_status,
  account_id, max_attempts, sms_segments, created_at, updated_at, finished_at, receiver_key)
SELECT 'bench-' || g,
  'app-' || lpad(a::text, 2, '0'),
  ch, CASE WHEN ch <= 5 THEN 'sms' ELSE 'email' END,
  '+86138' || lpad(r::text, 8, '0'), 'code 123456', st,
  CASE WHEN st = 'success' THEN 'delivered' WHEN st = 'failed' AND u5 < 0.5 THEN 'failed' ELSE '' END,
  CASE WHEN st = 'pending' THEN NULL ELSE (ch - 1) * 2 + 1 + (u4 < 0.25)::int END,
  3, CASE WHEN ch <= 5 THEN 1 + (u5 < 0.1)::int ELSE 0 END,
  created, created + lat, CASE WHEN st IN ('success', 'failed', 'cancelled') THEN created + lat END,
  'rk-' || lpad(r::text, 8, '0')
FROM (
  SELECT g, u4, u5, u6, a,
    ((a + floor(u3 * 3)::int) %% %[2]d) + 1 AS ch,
    (g::bigint * 7919) %% %[3]d AS r,
    CASE WHEN u2 < 0.90 THEN 'success' WHEN u2 < 0.96 THEN 'failed' WHEN u2 < 0.98 THEN 'sent'
         WHEN u2 < 0.99 THEN 'cancelled' WHEN u2 < 0.995 THEN 'processing' ELSE 'pending' END AS st,
    TIMESTAMPTZ '%[4]s' - (u1 * interval '7 days') AS created,
    (500 * exp(u6 * 6)) * interval '1 millisecond' AS lat
  FROM (
    SELECT g, random() AS u1, random() AS u2, random() AS u3, random() AS u4, random() AS u5, random() AS u6,
      floor(%[5]d * power(random(), 2))::int AS a
    FROM generate_series(1, %[1]d) AS g
  ) draws
) m`, n, benchChannels, benchReceivers(n), benchNow.Format(time.RFC3339), benchApps))
	for _, q := range benchIndexes {
		exec(q)
	}
	bucket := func(col string) string {
		ms := fmt.Sprintf("(EXTRACT(EPOCH FROM (%s - m.created_at)) * 1000)", col)
		return fmt.Sprintf("CASE WHEN %[1]s < 100 THEN 0 ELSE LEAST(%[2]d, floor(log(2.0, (%[1]s / 100.0)::numeric))::int + 1) END", ms, store.LatencyBuckets-1)
	}
	for _, t := range []struct{ table, size, app, account, kind string }{
		{"message_stats_minute", "60", "m.app_id", "COALESCE(m.account_id, 0)", "COALESCE(pa.kind, '')"},
		{"message_stats_hour", "3600", "m.app_id", "COALESCE(m.account_id, 0)", "COALESCE(pa.kind, '')"},
		{"message_stats_hour_channel", "3600", "''", "0", "''"},
	} {
		var cols, sums []string
		for _, p := range []string{"f", "r"} {
			for i := range store.LatencyBuckets {
				cols = append(cols, fmt.Sprintf("%s%02d", p, i))
				sums = append(sums, fmt.Sprintf("SUM(CASE WHEN %sb = %d THEN 1 ELSE 0 END)", p, i))
			}
		}
		exec(fmt.Sprintf(`INSERT INTO %[1]s (bucket, app_id, channel_id, account_id, provider_kind, status, shard, messages, sms_segments, %[3]s)
SELECT bucket, app_id, channel_id, account_id, kind, status, shard, COUNT(*), SUM(sms_segments), %[4]s
FROM (
  SELECT (floor(EXTRACT(EPOCH FROM m.created_at) / %[2]s) * %[2]s)::bigint AS bucket, %[8]s AS app_id, m.channel_id,
    %[9]s AS account_id, %[10]s AS kind, m.status,
    CASE WHEN m.created_at >= TIMESTAMPTZ '%[7]s' THEN floor(random() * 4)::int ELSE 0 END AS shard,
    m.sms_segments,
    CASE WHEN m.finished_at IS NOT NULL THEN %[5]s END AS fb,
    CASE WHEN m.callback_status <> '' THEN %[6]s END AS rb
  FROM messages m LEFT JOIN provider_accounts pa ON pa.id = m.account_id
) x
GROUP BY bucket, app_id, channel_id, account_id, kind, status, shard
ORDER BY bucket`, t.table, t.size, strings.Join(cols, ", "), strings.Join(sums, ", "),
			bucket("m.finished_at"), bucket("m.updated_at"), benchNow.Add(-2*time.Hour).Format(time.RFC3339), t.app, t.account, t.kind))
	}
	exec(`ANALYZE`)
}
