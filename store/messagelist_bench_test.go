package store

import (
	"os"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// BenchmarkListMessages measures the admin list's three named queries on
// PostgreSQL over HERALD_BENCH_MESSAGES messages (default 200000; the
// README's figures use 1000000) spread over 30 days, 20 apps, 10 channels,
// 5% failed, and reports the p95 of 100 runs of each.
func BenchmarkListMessages(b *testing.B) {
	n := 200000
	if s := os.Getenv("HERALD_BENCH_MESSAGES"); s != "" {
		v, err := strconv.Atoi(s)
		require.NoError(b, err)
		n = v
	}
	db := setup(b, DialectPostgres)
	db.keys = NewReceiverKeyer([]byte("bench"))
	ctx := b.Context()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	// Generated in SQL, in chunks that each finish within the driver's
	// read timeout: inserting a million rows through the driver would
	// dominate the run.
	const chunk = 50000
	for from := 1; from <= n; from += chunk {
		_, err := db.Bun().ExecContext(ctx, `
INSERT INTO messages (task_id, app_id, channel_id, message_type, receiver, receiver_key, status, created_at, updated_at)
SELECT md5(i::text), 'app' || (i % 20), 1 + i % 10, 'sms', '+86138' || lpad((i % 100000)::text, 8, '0'),
       md5('r' || (i % 100000)), CASE WHEN i % 20 = 0 THEN 'failed' ELSE 'success' END,
       ?::timestamptz - (i * (2592000.0 / ?)) * interval '1 second', ?::timestamptz
FROM generate_series(?, ?) AS i`, now, n, now, from, min(from+chunk-1, n))
		require.NoError(b, err)
	}
	_, err := db.Bun().ExecContext(ctx, "ANALYZE messages")
	require.NoError(b, err)

	queries := map[string]MessageFilter{
		"FailedLastHour":    {Statuses: []string{"failed"}, Since: now.Add(-time.Hour)},
		"AppChannelWeek":    {AppID: "app3", ChannelID: 4, Since: now.Add(-7 * 24 * time.Hour)},
		"ExactReceiverNone": {ReceiverKeys: []string{"0f1ea2d8ab4c2a5d5d6e0bcd0e7a2e0b"}},
		"ExactReceiverSeen": {},
	}
	var key string
	require.NoError(b, db.Bun().NewRaw("SELECT receiver_key FROM messages LIMIT 1").Scan(ctx, &key))
	queries["ExactReceiverSeen"] = MessageFilter{ReceiverKeys: []string{key}}
	for name, f := range queries {
		b.Run(name, func(b *testing.B) {
			f.Limit = DefaultMessagePage + 1
			var times []time.Duration
			for b.Loop() {
				for range 100 {
					start := time.Now()
					_, err := db.ListMessages(ctx, f)
					require.NoError(b, err)
					times = append(times, time.Since(start))
				}
			}
			sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
			b.ReportMetric(float64(times[len(times)*95/100].Microseconds())/1000, "p95-ms")
		})
	}
}
