package store

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// statsTotals sums QueryStats rows per status over one interval covering
// t's hour and the next.
type statsTotals struct {
	byStatus map[string]int64
	segments int64
	final    [LatencyBuckets]int64
	receipt  [LatencyBuckets]int64
}

func readStats(t *testing.T, db *DB, around time.Time, appID string) statsTotals {
	t.Helper()
	from := around.UTC().Truncate(time.Hour).Add(-time.Hour)
	rows, err := db.QueryStats(t.Context(), StatsQuery{Bounds: []time.Time{from, from.Add(3 * time.Hour)}, AppID: appID})
	require.NoError(t, err)
	// The minute rollup must agree with the hour rollup.
	minute, err := db.QueryStats(t.Context(), StatsQuery{Bounds: []time.Time{from, from.Add(time.Minute), from.Add(3 * time.Hour)}, AppID: appID})
	require.NoError(t, err)
	got := sumStats(rows)
	require.Equal(t, got, sumStats(minute), "minute and hour rollups agree")
	return got
}

// requireRollupsAgree checks that the three rollups count the same
// around t: the hour rollup (grouped by app), the hour rollup by channel
// and the minute rollup.
func requireRollupsAgree(t *testing.T, db *DB, around time.Time) {
	t.Helper()
	from := around.UTC().Truncate(time.Hour).Add(-time.Hour)
	read := func(q StatsQuery) statsTotals {
		rows, err := db.QueryStats(t.Context(), q)
		require.NoError(t, err)
		return sumStats(rows)
	}
	hours := []time.Time{from, from.Add(3 * time.Hour)}
	byApp := read(StatsQuery{Bounds: hours, GroupBy: StatsByApp})
	require.NotEmpty(t, byApp.byStatus)
	require.Equal(t, byApp, read(StatsQuery{Bounds: hours, GroupBy: StatsByChannel}), "hour rollup by channel")
	require.Equal(t, byApp, read(StatsQuery{Bounds: hours}), "hour rollup by channel, ungrouped")
	require.Equal(t, byApp, read(StatsQuery{Bounds: []time.Time{from, from.Add(time.Minute), from.Add(3 * time.Hour)}, GroupBy: StatsByChannel}), "minute rollup")
}

func sumStats(rows []StatsRow) statsTotals {
	s := statsTotals{byStatus: map[string]int64{}}
	for _, r := range rows {
		for status, n := range r.Messages {
			if n != 0 {
				s.byStatus[status] += n
			}
		}
		s.segments += r.SMSSegments
		for i := range LatencyBuckets {
			s.final[i] += r.Final[i]
			s.receipt[i] += r.Receipt[i]
		}
	}
	return s
}

func histogram(pairs ...int) [LatencyBuckets]int64 {
	var h [LatencyBuckets]int64
	for i := 0; i < len(pairs); i += 2 {
		h[pairs[i]] += int64(pairs[i+1])
	}
	return h
}

func TestLatencyBuckets(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		d    time.Duration
		want int
	}{
		{0, 0}, {99 * time.Millisecond, 0}, {100 * time.Millisecond, 1}, {199 * time.Millisecond, 1},
		{200 * time.Millisecond, 2}, {time.Second, 4}, {1600 * time.Millisecond, 5}, {time.Hour, 16},
		{100 * time.Millisecond << 22, LatencyBuckets - 1}, {1000 * time.Hour, LatencyBuckets - 1},
	} {
		require.Equal(t, c.want, LatencyBucket(c.d), "%s", c.d)
		lo, hi := LatencyBucketBounds(c.want)
		require.GreaterOrEqual(t, c.d, lo)
		if c.want < LatencyBuckets-1 {
			require.Less(t, c.d, hi)
		}
	}
}

func TestStatsRollup(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		acc := &ProviderAccount{Name: "ali", Kind: "aliyun", Config: json.RawMessage(`{}`), Weight: 1, Enabled: true}
		require.NoError(t, db.CreateAccount(ctx, acc))
		other := &ProviderAccount{Name: "tc", Kind: "tencent", Config: json.RawMessage(`{}`), Weight: 1, Enabled: true}
		require.NoError(t, db.CreateAccount(ctx, other))
		accepted := time.Now().UTC().Truncate(time.Minute).Add(10 * time.Second)
		db.now = func() time.Time { return accepted }

		m := newMessage("stats-1")
		m.AppID, m.Content = "stats-app", "hello"
		require.NoError(t, db.CreateMessages(ctx, []*Message{m}, nil))

		t.Run("Accept", func(t *testing.T) {
			got := readStats(t, db, accepted, "stats-app")
			require.Equal(t, map[string]int64{"pending": 1}, got.byStatus)
			require.Equal(t, int64(1), got.segments)
		})
		t.Run("TransitionsMoveTheMessage", func(t *testing.T) {
			require.NoError(t, db.RecordMessage(ctx, m.TaskID, MessagePatch{Status: ptr("processing"), AccountID: ptr(acc.ID)}, nil))
			// A retried write of the same change moves nothing.
			require.NoError(t, db.RecordMessage(ctx, m.TaskID, MessagePatch{Status: ptr("processing"), AccountID: ptr(acc.ID)}, nil))
			got := readStats(t, db, accepted, "stats-app")
			require.Equal(t, map[string]int64{"processing": 1}, got.byStatus)

			// A failover to another account moves it between accounts.
			require.NoError(t, db.RecordAccepted(ctx, m.TaskID, other.ID, "pm-1", MessagePatch{Status: ptr("sent")}, nil))
			rows, err := db.QueryStats(ctx, StatsQuery{Bounds: []time.Time{accepted.Truncate(time.Hour), accepted.Truncate(time.Hour).Add(time.Hour)}, GroupBy: StatsByProvider})
			require.NoError(t, err)
			var live []string
			for _, r := range rows {
				for status, n := range r.Messages {
					live = append(live, fmt.Sprintf("%s/%s=%d", r.Group, status, n))
				}
			}
			require.Equal(t, []string{"tencent/sent=1"}, live)
		})
		t.Run("FinalAndReceiptOnce", func(t *testing.T) {
			db.now = func() time.Time { return accepted.Add(3 * time.Second) }
			fin := accepted.Add(3 * time.Second)
			patch := MessagePatch{Status: ptr("success"), CallbackStatus: ptr("delivered"), FinishedAt: &fin}
			require.NoError(t, db.RecordMessage(ctx, m.TaskID, patch, nil))
			for range 3 { // Temporal re-running the local activity
				require.NoError(t, db.RecordMessage(ctx, m.TaskID, patch, nil))
			}
			require.NoError(t, db.UpdateMessage(ctx, m.TaskID, MessagePatch{CallbackStatus: ptr("delivered")}))
			got := readStats(t, db, accepted, "stats-app")
			require.Equal(t, map[string]int64{"success": 1}, got.byStatus)
			require.Equal(t, int64(1), got.segments)
			require.Equal(t, histogram(LatencyBucket(3*time.Second), 1), got.final)
			require.Equal(t, histogram(LatencyBucket(3*time.Second), 1), got.receipt)
		})
		t.Run("LateReceiptCountsOnce", func(t *testing.T) {
			n := newMessage("stats-2")
			n.AppID = "late-app"
			db.now = func() time.Time { return accepted }
			require.NoError(t, db.CreateMessages(ctx, []*Message{n}, nil))
			db.now = func() time.Time { return accepted.Add(time.Second) }
			require.NoError(t, db.RecordMessage(ctx, n.TaskID, MessagePatch{Status: ptr("failed")}, nil))
			db.now = func() time.Time { return accepted.Add(time.Minute) }
			require.NoError(t, db.UpdateMessage(ctx, n.TaskID, MessagePatch{CallbackStatus: ptr("failed")}))
			got := readStats(t, db, accepted, "late-app")
			require.Equal(t, map[string]int64{"failed": 1}, got.byStatus)
			require.Equal(t, histogram(LatencyBucket(time.Second), 1), got.final)
			require.Equal(t, histogram(LatencyBucket(time.Minute), 1), got.receipt)
		})
		t.Run("RolledBackChangeCountsNothing", func(t *testing.T) {
			err := db.UpdateMessage(ctx, "missing-task", MessagePatch{Status: ptr("failed")})
			require.ErrorIs(t, err, ErrNotFound)
			dup := newMessage("stats-1") // task id taken: the whole create fails
			dup.AppID = "stats-app"
			require.ErrorIs(t, db.CreateMessages(ctx, []*Message{newMessage("stats-3"), dup}, nil), ErrConflict)
			got := readStats(t, db, accepted, "stats-app")
			require.Equal(t, map[string]int64{"success": 1}, got.byStatus)
		})
		t.Run("ScheduledCountsFromSchedule", func(t *testing.T) {
			db.now = func() time.Time { return accepted }
			s := newMessage("stats-4")
			s.AppID = "sched-app"
			at := accepted.Add(time.Hour)
			s.ScheduledAt = &at
			require.NoError(t, db.CreateMessages(ctx, []*Message{s}, nil))
			db.now = func() time.Time { return at.Add(500 * time.Millisecond) }
			require.NoError(t, db.RecordMessage(ctx, s.TaskID, MessagePatch{Status: ptr("cancelled")}, nil))
			got := readStats(t, db, accepted, "sched-app")
			require.Equal(t, histogram(LatencyBucket(500*time.Millisecond), 1), got.final)
		})
		requireRollupsAgree(t, db, accepted)
	})
}

func TestStatsBatchSegments(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		long := ""
		for range 100 {
			long += "é汉"
		}
		msgs := []*Message{newMessage("seg-1"), newMessage("seg-2"), newMessage("seg-3")}
		msgs[2].Content = long // 200 UCS-2 characters: 3 parts of 67
		require.NoError(t, db.CreateMessages(ctx, msgs, &Batch{ID: "b-seg", AppID: "app", ChannelID: 1, TotalCount: 3}))
		got := readStats(t, db, msgs[0].CreatedAt, "app")
		require.Equal(t, map[string]int64{"pending": 3}, got.byStatus)
		require.Equal(t, int64(1+1+3), got.segments)
	})
}

func TestStatsConcurrentUpdates(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		const n = 24
		msgs := make([]*Message, n)
		for i := range msgs {
			msgs[i] = newMessage(fmt.Sprintf("conc-%d", i))
			msgs[i].AppID = "conc-app"
		}
		require.NoError(t, db.CreateMessages(ctx, msgs, nil))
		var wg sync.WaitGroup
		errs := make(chan error, 4*n)
		for i, m := range msgs {
			status := "success"
			if i%3 == 0 {
				status = "failed"
			}
			// Four writers race to record the same final status of every
			// message, and every message changes at the same time as the
			// others accepted in the same minute.
			for range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs <- db.RecordMessage(ctx, m.TaskID, MessagePatch{Status: ptr(status)}, nil)
				}()
			}
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		got := readStats(t, db, msgs[0].CreatedAt, "conc-app")
		require.Equal(t, map[string]int64{"success": n - n/3, "failed": n / 3}, got.byStatus)
		var finals int64
		for _, c := range got.final {
			finals += c
		}
		require.Equal(t, int64(n), finals, "one latency sample per message")
		requireRollupsAgree(t, db, msgs[0].CreatedAt)
	})
}

func TestQueryStatsBounds(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		h := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
		_, err := db.QueryStats(ctx, StatsQuery{Bounds: []time.Time{h}})
		require.Error(t, err)
		_, err = db.QueryStats(ctx, StatsQuery{Bounds: []time.Time{h, h.Add(30 * time.Second)}})
		require.ErrorContains(t, err, "whole minute")
		_, err = db.QueryStats(ctx, StatsQuery{Bounds: []time.Time{h.Add(time.Hour), h}})
		require.ErrorContains(t, err, "ascending")
		_, err = db.QueryStats(ctx, StatsQuery{Bounds: []time.Time{h, h.Add(time.Hour)}, GroupBy: "receiver"})
		require.ErrorContains(t, err, "unknown grouping")
		rows, err := db.QueryStats(ctx, StatsQuery{Bounds: []time.Time{h, h.Add(time.Hour)}, GroupBy: StatsByChannel})
		require.NoError(t, err)
		require.Empty(t, rows)
	})
}

func TestCompactStats(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		accepted := time.Now().UTC().Truncate(time.Minute)
		db.now = func() time.Time { return accepted }
		var msgs []*Message
		for i := range 40 {
			m := newMessage(fmt.Sprintf("compact-%d", i))
			m.AppID = "compact-app"
			msgs = append(msgs, m)
			// One transaction each, so their writes land on several shards.
			require.NoError(t, db.CreateMessages(ctx, []*Message{m}, nil))
		}
		for _, m := range msgs[:30] {
			require.NoError(t, db.RecordMessage(ctx, m.TaskID, MessagePatch{Status: ptr("success")}, nil))
		}
		before := readStats(t, db, accepted, "compact-app")
		rows := func() (n int) {
			for _, table := range statsTables {
				var c int
				require.NoError(t, db.bun.NewSelect().Table(table).ColumnExpr("COUNT(*)").Scan(ctx, &c))
				n += c
			}
			return n
		}
		shards := func() (n int) {
			require.NoError(t, db.bun.NewSelect().Table(statsHourTable).ColumnExpr("COUNT(DISTINCT shard)").Scan(ctx, &n))
			return n
		}
		if db.Dialect() == DialectSQLite {
			require.Equal(t, 1, shards(), "SQLite writes one shard")
		} else {
			require.Greater(t, shards(), 1, "40 transactions spread over the shards")
		}
		removed, err := db.CompactStats(ctx, accepted.Add(time.Hour))
		require.NoError(t, err)
		require.Zero(t, removed, "recent buckets keep their shards")
		n := rows()
		removed, err = db.CompactStats(ctx, accepted.Add(3*time.Hour))
		require.NoError(t, err)
		require.Equal(t, int64(n-rows()), removed)
		require.Equal(t, 1, shards())
		require.Equal(t, before, readStats(t, db, accepted, "compact-app"), "compacting changes no figure")
		requireRollupsAgree(t, db, accepted)

		// Writes after compaction add to the folded counts.
		require.NoError(t, db.RecordMessage(ctx, msgs[30].TaskID, MessagePatch{Status: ptr("failed")}, nil))
		got := readStats(t, db, accepted, "compact-app")
		require.Equal(t, map[string]int64{"success": 30, "pending": 9, "failed": 1}, got.byStatus)
	})
}

// One transaction's changes to messages accepted in different minutes of
// one hour (a batch's receipts, say) meet the same hour rows: they are
// summed per row before the write, which a statement can only touch once.
func TestStatsOneTransactionManyMinutes(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		hour := time.Now().UTC().Truncate(time.Hour)
		var b statsBatch
		for i := range 5 {
			minute := hour.Add(time.Duration(i) * time.Minute).Unix()
			for _, acc := range []int64{1, 2} {
				key := statsKey{minute: minute, appID: "many-minutes", channelID: 9, accountID: acc, kind: "sandbox", status: "sent"}
				done := key
				done.status = "success"
				b.move(key, done, 2)
				b.at(done).final[3]++
				b.at(done).receipt[1]++
			}
		}
		require.NoError(t, db.RunInTx(ctx, func(ctx context.Context, tx *DB) error { return b.apply(ctx, tx.idb) }))
		got := readStats(t, db, hour, "many-minutes")
		require.Equal(t, map[string]int64{"sent": -10, "success": 10}, got.byStatus)
		require.Equal(t, histogram(3, 10), got.final)
		require.Equal(t, histogram(1, 10), got.receipt)
		requireRollupsAgree(t, db, hour)
		// One row per account and status in the hour table, in the hour's
		// bucket.
		var buckets []int64
		require.NoError(t, db.bun.NewSelect().Table(statsHourTable).Column("bucket").Where("app_id = ?", "many-minutes").Scan(ctx, &buckets))
		require.Equal(t, []int64{hour.Unix(), hour.Unix(), hour.Unix(), hour.Unix()}, buckets)
	})
}

// TestFoldStatsMinutes checks that minute rows older than the minutes
// kept move into quarter hours without changing any figure a
// quarter-hour question reads, that recent minutes stay, and that a late
// change to a folded minute counts too and is folded in turn.
func TestFoldStatsMinutes(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		now := time.Now().UTC()
		// Seven minutes into a quarter hour, ten days ago.
		old := now.Add(-10 * 24 * time.Hour).Truncate(time.Hour).Add(37 * time.Minute)
		var msgs []*Message
		for i := range 12 {
			db.now = func() time.Time { return old.Add(time.Duration(i) * time.Minute) }
			m := newMessage(fmt.Sprintf("fold-%d", i))
			m.AppID = "fold-app"
			msgs = append(msgs, m)
			require.NoError(t, db.CreateMessages(ctx, []*Message{m}, nil))
		}
		db.now = func() time.Time { return now }
		recent := newMessage("fold-recent")
		recent.AppID = "fold-app"
		require.NoError(t, db.CreateMessages(ctx, []*Message{recent}, nil))
		for _, m := range msgs[:8] {
			require.NoError(t, db.RecordMessage(ctx, m.TaskID, MessagePatch{Status: ptr("success")}, nil))
		}

		// Hour intervals in a zone half an hour off UTC: quarter-hour
		// bounds, read from the minute rollup (and the folded quarters).
		india := time.FixedZone("IST", 5*3600+1800)
		start := time.Date(old.In(india).Year(), old.In(india).Month(), old.In(india).Day(), old.In(india).Hour()-1, 0, 0, 0, india)
		quarters := StatsQuery{Bounds: []time.Time{start, start.Add(time.Hour), start.Add(2 * time.Hour), start.Add(3 * time.Hour)}, AppID: "fold-app"}
		read := func(q StatsQuery) []StatsRow {
			rows, err := db.QueryStats(ctx, q)
			require.NoError(t, err)
			return rows
		}
		before := read(quarters)
		require.Equal(t, map[string]int64{"success": 8, "pending": 4}, sumStats(before).byStatus)
		hours := readStats(t, db, old, "fold-app")
		count := func(table string) (n int) {
			require.NoError(t, db.bun.NewSelect().Table(table).ColumnExpr("COUNT(*)").Where("app_id = ?", "fold-app").Scan(ctx, &n))
			return n
		}
		minuteRows := count(statsMinuteTable)

		moved, err := db.FoldStatsMinutes(ctx, now)
		require.NoError(t, err)
		require.Positive(t, moved)
		require.Equal(t, int64(minuteRows-count(statsMinuteTable)), moved)
		require.Equal(t, 1, count(statsMinuteTable), "the recent minute stays")
		require.Positive(t, count(statsQuarterTable))
		var misaligned int
		require.NoError(t, db.bun.NewSelect().Table(statsQuarterTable).ColumnExpr("COUNT(*)").Where("bucket % 900 <> 0").Scan(ctx, &misaligned))
		require.Zero(t, misaligned)
		require.Equal(t, before, read(quarters), "folding changes no figure")
		require.Equal(t, hours.byStatus, sumStats(read(StatsQuery{Bounds: []time.Time{old.Truncate(time.Hour).Add(-time.Hour), old.Truncate(time.Hour).Add(2 * time.Hour)}, AppID: "fold-app"})).byStatus,
			"the hour rollup is not folded")
		again, err := db.FoldStatsMinutes(ctx, now)
		require.NoError(t, err)
		require.Zero(t, again, "nothing left to fold")

		// A receipt days late counts in its accept minute, then is folded.
		require.NoError(t, db.RecordMessage(ctx, msgs[9].TaskID, MessagePatch{Status: ptr("failed")}, nil))
		require.Equal(t, map[string]int64{"success": 8, "pending": 3, "failed": 1}, sumStats(read(quarters)).byStatus)
		moved, err = db.FoldStatsMinutes(ctx, now)
		require.NoError(t, err)
		require.Equal(t, int64(2), moved, "the late change's two minute rows (one less pending, one more failed)")
		require.Equal(t, map[string]int64{"success": 8, "pending": 3, "failed": 1}, sumStats(read(quarters)).byStatus)
	})
}
