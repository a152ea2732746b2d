package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
)

// LatencyBuckets is the number of buckets of a latency histogram. Bucket 0
// holds latencies under LatencyBase, bucket i (1 <= i < LatencyBuckets-1)
// those from LatencyBase*2^(i-1) up to LatencyBase*2^i, and the last one
// everything longer (from about 4.9 days).
const LatencyBuckets = 24

// LatencyBase is the upper bound of the first latency bucket.
const LatencyBase = 100 * time.Millisecond

// statsShards is how many rows share the counts of one key: a write adds
// to one picked at random, so concurrent status changes of messages
// accepted in the same minute seldom queue on one row lock.
const statsShards = 4

// Stats tables: the minute rollup, and the hour rollup that answers hour
// and day questions with a sixtieth of the rows.
const (
	statsMinuteTable = "message_stats_minute"
	statsHourTable   = "message_stats_hour"
	// statsChannelTable is the hour rollup by channel and status only:
	// app and provider kind empty, account 0. Questions that group by
	// neither app, account nor provider kind read it: a few rows an hour
	// instead of one per app, account and status.
	statsChannelTable = "message_stats_hour_channel"
	// statsQuarterTable holds the minute rollup's rows older than
	// StatsMinutesKept, folded into quarter hours (FoldStatsMinutes).
	statsQuarterTable = "message_stats_quarter"
)

// StatsMinutesKept is how long the minute rollup keeps its rows; the
// workers' sweep folds older ones into quarter hours. Questions in whole
// minutes reach back this far; questions in quarter hours (which hour and
// day intervals are in every time zone in use) reach back as far as the
// hour rollup.
const StatsMinutesKept = 7 * 24 * time.Hour

// statsQuarter is a quarter hour in seconds.
const statsQuarter = 15 * 60

// OnStatsQuarter reports whether t starts a quarter hour: the finest
// bound the minutes folded into quarter hours still answer.
func OnStatsQuarter(t time.Time) bool { return t.Unix()%statsQuarter == 0 }

// statsTables are the rollups in the order every writer locks their rows.
var statsTables = []string{statsMinuteTable, statsHourTable, statsChannelTable}

// LatencyBucket returns the histogram bucket of a latency.
func LatencyBucket(d time.Duration) int {
	if d < LatencyBase {
		return 0
	}
	i := 1
	for bound := 2 * LatencyBase; d >= bound && i < LatencyBuckets-1; bound *= 2 {
		i++
	}
	return i
}

// LatencyBucketBounds returns the lower and upper bound of a histogram
// bucket; the last bucket's upper bound is its lower bound (it is open).
func LatencyBucketBounds(i int) (lo, hi time.Duration) {
	switch {
	case i <= 0:
		return 0, LatencyBase
	case i >= LatencyBuckets-1:
		lo = LatencyBase << (LatencyBuckets - 2)
		return lo, lo
	}
	return LatencyBase << (i - 1), LatencyBase << i
}

// finalStatus reports whether a message status never changes again.
func finalStatus(status string) bool {
	return status == "success" || status == "failed" || status == "cancelled"
}

// statsKey is what a rollup row counts, but for its shard.
type statsKey struct {
	minute    int64 // start of the accept minute, Unix seconds
	appID     string
	channelID int64
	accountID int64
	kind      string
	status    string
}

func compareStatsKeys(a, b statsKey) int {
	return cmp.Or(cmp.Compare(a.minute, b.minute), cmp.Compare(a.appID, b.appID), cmp.Compare(a.channelID, b.channelID),
		cmp.Compare(a.accountID, b.accountID), cmp.Compare(a.kind, b.kind), cmp.Compare(a.status, b.status))
}

// statsDelta is what one transaction adds to one key.
type statsDelta struct {
	key      statsKey
	messages int64
	segments int64
	final    [LatencyBuckets]int64
	receipt  [LatencyBuckets]int64
}

func (d *statsDelta) zero() bool {
	return d.messages == 0 && d.segments == 0 && d.final == [LatencyBuckets]int64{} && d.receipt == [LatencyBuckets]int64{}
}

// statsBatch collects a transaction's changes to the rollups, written at
// the end of the transaction (apply) so every writer takes the rollup
// rows' locks last and in one order: after the message and quota rows,
// sorted by key. Two transactions then never wait on each other in a
// cycle.
type statsBatch struct {
	deltas []*statsDelta
	// kinds, when set, remembers account kinds read by countChange, for
	// writers that change many messages to the same account.
	kinds map[int64]string
}

func (b *statsBatch) at(k statsKey) *statsDelta {
	for _, d := range b.deltas {
		if d.key == k {
			return d
		}
	}
	d := &statsDelta{key: k}
	b.deltas = append(b.deltas, d)
	return d
}

// move counts a message out of one key and into another.
func (b *statsBatch) move(from, to statsKey, segments int64) {
	if from == to {
		return
	}
	f, t := b.at(from), b.at(to)
	f.messages--
	f.segments -= segments
	t.messages++
	t.segments += segments
}

// apply writes the batch's non-zero deltas to the minute and hour
// rollups, all in one shard picked at random.
func (b *statsBatch) apply(ctx context.Context, idb bun.IDB) error {
	ds := make([]*statsDelta, 0, len(b.deltas))
	for _, d := range b.deltas {
		if !d.zero() {
			ds = append(ds, d)
		}
	}
	if len(ds) == 0 {
		return nil
	}
	slices.SortFunc(ds, func(a, b *statsDelta) int { return compareStatsKeys(a.key, b.key) })
	// SQLite has one writer: there is no lock to spread.
	shard := 0
	if idb.Dialect().Name() == dialect.PG {
		shard = rand.IntN(statsShards) //nolint:gosec // spreads writes over rows; nothing secret depends on it
	}
	// The hour tables take the deltas summed per hour (and the channel
	// table per channel and status only): a statement must not meet one
	// row twice.
	hour := mergeStats(ds, func(k statsKey) statsKey {
		k.minute -= k.minute % 3600
		return k
	})
	channel := mergeStats(ds, func(k statsKey) statsKey {
		k.minute -= k.minute % 3600
		k.appID, k.accountID, k.kind = "", 0, ""
		return k
	})
	for _, t := range []struct {
		table  string
		deltas []*statsDelta
	}{{statsMinuteTable, ds}, {statsHourTable, hour}, {statsChannelTable, channel}} {
		// A few hundred rows at most per statement: a bulk change over
		// many minutes, accounts and statuses has many keys.
		for part := range slices.Chunk(t.deltas, 500) {
			if err := upsertStats(ctx, idb, t.table, shard, part); err != nil {
				return err
			}
		}
	}
	return nil
}

// mergeStats sums ds by key as keyOf maps them, dropping sums that are
// zero, in key order.
func mergeStats(ds []*statsDelta, keyOf func(statsKey) statsKey) []*statsDelta {
	byKey := make(map[statsKey]*statsDelta, len(ds))
	out := make([]*statsDelta, 0, len(ds))
	for _, d := range ds {
		k := keyOf(d.key)
		m, ok := byKey[k]
		if !ok {
			m = &statsDelta{key: k}
			byKey[k] = m
			out = append(out, m)
		}
		m.messages += d.messages
		m.segments += d.segments
		for i := range LatencyBuckets {
			m.final[i] += d.final[i]
			m.receipt[i] += d.receipt[i]
		}
	}
	out = slices.DeleteFunc(out, (*statsDelta).zero)
	slices.SortFunc(out, func(a, b *statsDelta) int { return compareStatsKeys(a.key, b.key) })
	return out
}

// upsertStats adds ds (distinct keys, in key order; key.minute is the
// table's bucket) to table's rows of shard, in one statement: the rows'
// latency columns are those any delta has, zero for the others. One
// statement rather than one per delta, as every status change writes two
// deltas to three tables: on SQLite each statement is parsed anew, on
// PostgreSQL it is a round trip in the message's transaction.
func upsertStats(ctx context.Context, idb bun.IDB, table string, shard int, ds []*statsDelta) error {
	if len(ds) == 0 {
		return nil
	}
	cols := []string{"bucket", "app_id", "channel_id", "account_id", "provider_kind", "status", "shard", "messages", "sms_segments"}
	sets := []string{"messages = s.messages + excluded.messages", "sms_segments = s.sms_segments + excluded.sms_segments"}
	type latencyCol struct {
		at     int
		counts func(*statsDelta) *[LatencyBuckets]int64
	}
	var latency []latencyCol
	for _, h := range []struct {
		prefix string
		counts func(*statsDelta) *[LatencyBuckets]int64
	}{{"f", func(d *statsDelta) *[LatencyBuckets]int64 { return &d.final }}, {"r", func(d *statsDelta) *[LatencyBuckets]int64 { return &d.receipt }}} {
		for i := range LatencyBuckets {
			if !slices.ContainsFunc(ds, func(d *statsDelta) bool { return h.counts(d)[i] != 0 }) {
				continue
			}
			col := fmt.Sprintf("%s%02d", h.prefix, i)
			cols = append(cols, col)
			sets = append(sets, fmt.Sprintf("%[1]s = s.%[1]s + excluded.%[1]s", col))
			latency = append(latency, latencyCol{at: i, counts: h.counts})
		}
	}
	row := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ") + ")"
	rows := make([]string, len(ds))
	args := make([]any, 0, len(ds)*len(cols))
	for i, d := range ds {
		args = append(args, d.key.minute, d.key.appID, d.key.channelID, d.key.accountID, d.key.kind, d.key.status, shard, d.messages, d.segments)
		for _, l := range latency {
			args = append(args, l.counts(d)[l.at])
		}
		rows[i] = row
	}
	q := fmt.Sprintf(`INSERT INTO %s AS s (%s) VALUES %s
ON CONFLICT (bucket, app_id, channel_id, account_id, provider_kind, status, shard) DO UPDATE SET %s`,
		table, strings.Join(cols, ", "), strings.Join(rows, ", "), strings.Join(sets, ", "))
	if _, err := idb.NewRaw(q, args...).Exec(ctx); err != nil {
		return fmt.Errorf("count message statistics: %w", mapErr(err))
	}
	return nil
}

// statsCompactAge is how old a bucket must be before its shards are
// folded together: late changes to older messages still come (a receipt
// hours later, a scheduled message), but rarely enough not to contend.
const statsCompactAge = 2 * time.Hour

// CompactStats folds the shard rows of rollup buckets that started more
// than two hours before now into shard 0, so queries over older ranges
// read a quarter of the rows, and returns how many rows it removed. Later
// writes to those buckets go to random shards again until the next
// compaction. It does nothing on SQLite, which writes one shard only.
func (db *DB) CompactStats(ctx context.Context, now time.Time) (int64, error) {
	if db.dialect != DialectPostgres {
		return 0, nil
	}
	var removed int64
	for _, table := range statsTables {
		before := now.Add(-statsCompactAge).Unix()
		moved, inserted, err := db.moveStatsRows(ctx, table, table, fmt.Sprintf("bucket < %d AND shard <> 0", before), "bucket")
		if err != nil {
			return removed, fmt.Errorf("compact %s: %w", table, err)
		}
		removed += moved - inserted
	}
	return removed, nil
}

// statsCounterColumns are the counting columns of a rollup row: all but
// its key and shard.
func statsCounterColumns() []string {
	cols := []string{"messages", "sms_segments"}
	for _, p := range []string{"f", "r"} {
		for i := range LatencyBuckets {
			cols = append(cols, fmt.Sprintf("%s%02d", p, i))
		}
	}
	return cols
}

// statsFoldExprs are what a statement that sums rollup rows into others
// needs: the counting columns, their sums, and the upsert's additions.
func statsFoldExprs() (cols, sums, sets []string) {
	cols = statsCounterColumns()
	sums = make([]string, len(cols))
	sets = make([]string, len(cols))
	for i, c := range cols {
		sums[i] = "SUM(" + c + ")"
		sets[i] = fmt.Sprintf("%[1]s = s.%[1]s + excluded.%[1]s", c)
	}
	return cols, sums, sets
}

// moveStatsRows moves the rows of src that match where into dst's shard
// 0, summed per key with bucket computed by bucketExpr (both SQL built
// here from integers, never from a request), on PostgreSQL, and returns
// how many rows it deleted and how many it inserted (rather than added
// to). One statement: the deleted rows and their sums are one snapshot.
// Rows are locked in the order writers lock them (statsBatch.apply: by
// key in byte order), so neither waits on the other in a cycle.
func (db *DB) moveStatsRows(ctx context.Context, src, dst, where, bucketExpr string) (moved, inserted int64, err error) {
	cols, sums, sets := statsFoldExprs()
	const key = `bucket, app_id COLLATE "C", channel_id, account_id, provider_kind COLLATE "C", status COLLATE "C"`
	q := fmt.Sprintf(`WITH locked AS (
  SELECT bucket, app_id, channel_id, account_id, provider_kind, status, shard FROM %[1]s
  WHERE %[3]s ORDER BY %[7]s, shard FOR UPDATE
), moved AS (
  DELETE FROM %[1]s t USING locked l
  WHERE t.bucket = l.bucket AND t.app_id = l.app_id AND t.channel_id = l.channel_id AND t.account_id = l.account_id
    AND t.provider_kind = l.provider_kind AND t.status = l.status AND t.shard = l.shard
  RETURNING t.*
), folded AS (
  INSERT INTO %[2]s AS s (bucket, app_id, channel_id, account_id, provider_kind, status, shard, %[4]s)
  SELECT %[8]s, app_id, channel_id, account_id, provider_kind, status, 0, %[5]s FROM moved
  GROUP BY %[8]s, app_id, channel_id, account_id, provider_kind, status
  ORDER BY 1, app_id COLLATE "C", channel_id, account_id, provider_kind COLLATE "C", status COLLATE "C"
  ON CONFLICT (bucket, app_id, channel_id, account_id, provider_kind, status, shard) DO UPDATE SET %[6]s
  RETURNING (s.xmax = 0) AS inserted
)
SELECT (SELECT COUNT(*) FROM moved), (SELECT COUNT(*) FROM folded WHERE inserted)`,
		src, dst, where, strings.Join(cols, ", "), strings.Join(sums, ", "), strings.Join(sets, ", "), key, bucketExpr)
	if err := db.idb.NewRaw(q).Scan(ctx, &moved, &inserted); err != nil {
		return 0, 0, mapErr(err)
	}
	return moved, inserted, nil
}

// statsFoldSpan is how many hours of minute rows one fold statement
// moves, and statsFoldSteps how many statements one FoldStatsMinutes call
// runs at most: the first fold of a store that kept months of minutes
// runs over many sweeps in short statements, not in one long one.
const (
	statsFoldSpan  = 6 * time.Hour
	statsFoldSteps = 4
)

// FoldStatsMinutes moves the minute rollup's rows older than
// StatsMinutesKept (before now, rounded down to a quarter hour) into the
// quarter-hour rollup, summed, and returns how many minute rows it moved.
// Moving and summing is one statement (PostgreSQL) or one transaction
// (SQLite), so a question that reads both tables counts each message
// once, whenever it runs. Late changes to messages of folded minutes
// (a receipt days later) land in the minute rollup again and are folded
// by a later call.
func (db *DB) FoldStatsMinutes(ctx context.Context, now time.Time) (int64, error) {
	cutoff := now.Add(-StatsMinutesKept).Unix()
	cutoff -= cutoff % statsQuarter
	var moved int64
	for range statsFoldSteps {
		var oldest sql.NullInt64
		if err := db.idb.NewSelect().Table(statsMinuteTable).ColumnExpr("MIN(bucket)").Where("bucket < ?", cutoff).Scan(ctx, &oldest); err != nil {
			return moved, fmt.Errorf("fold minute statistics: %w", mapErr(err))
		}
		if !oldest.Valid {
			return moved, nil
		}
		from := oldest.Int64 - oldest.Int64%statsQuarter
		to := min(cutoff, from+int64(statsFoldSpan/time.Second))
		n, err := db.foldStatsMinutes(ctx, from, to)
		if err != nil {
			return moved, err
		}
		moved += n
	}
	return moved, nil
}

// foldStatsMinutes moves the minute rows of buckets in [from, to), both
// quarter hours, into the quarter-hour rollup.
func (db *DB) foldStatsMinutes(ctx context.Context, from, to int64) (int64, error) {
	if db.dialect == DialectPostgres {
		moved, _, err := db.moveStatsRows(ctx, statsMinuteTable, statsQuarterTable,
			fmt.Sprintf("bucket >= %d AND bucket < %d", from, to), fmt.Sprintf("bucket - bucket %% %d", statsQuarter))
		if err != nil {
			return 0, fmt.Errorf("fold minute statistics: %w", err)
		}
		return moved, nil
	}
	cols, sums, sets := statsFoldExprs()
	const key = "bucket, app_id, channel_id, account_id, provider_kind, status, shard"
	// SQLite has one writer: the copy and the delete in one transaction
	// see the same rows.
	var n int64
	err := db.RunInTx(ctx, func(ctx context.Context, tx *DB) error {
		ins := fmt.Sprintf(`INSERT INTO %[2]s AS s (%[7]s, %[5]s)
SELECT bucket - bucket %% %[8]d, app_id, channel_id, account_id, provider_kind, status, 0, %[6]s FROM %[1]s
WHERE bucket >= %[3]d AND bucket < %[4]d
GROUP BY bucket - bucket %% %[8]d, app_id, channel_id, account_id, provider_kind, status
ON CONFLICT (%[7]s) DO UPDATE SET %[9]s`,
			statsMinuteTable, statsQuarterTable, from, to, strings.Join(cols, ", "), strings.Join(sums, ", "), key, statsQuarter, strings.Join(sets, ", "))
		if _, err := tx.idb.NewRaw(ins).Exec(ctx); err != nil {
			return err
		}
		res, err := tx.idb.NewDelete().Table(statsMinuteTable).Where("bucket >= ? AND bucket < ?", from, to).Exec(ctx)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("fold minute statistics: %w", mapErr(err))
	}
	return n, nil
}

// latencyStart is when a message's latencies start: its acceptance, or
// its scheduled time when it was scheduled later (the wait was asked for).
func latencyStart(created time.Time, scheduled *time.Time) time.Time {
	if scheduled != nil && scheduled.After(created) {
		return *scheduled
	}
	return created
}

// countAccepted adds newly stored messages to the rollups.
func (b *statsBatch) countAccepted(ctx context.Context, idb bun.IDB, msgs []*Message) error {
	kinds := map[int64]string{}
	for _, m := range msgs {
		k := statsKey{minute: minuteOf(m.CreatedAt), appID: m.AppID, channelID: m.ChannelID, status: m.Status}
		if m.AccountID != nil {
			k.accountID = *m.AccountID
			kind, ok := kinds[k.accountID]
			if !ok {
				var err error
				if kind, err = accountKind(ctx, idb, k.accountID); err != nil {
					return err
				}
				kinds[k.accountID] = kind
			}
			k.kind = kind
		}
		d := b.at(k)
		d.messages++
		d.segments += int64(m.SMSSegments)
		if finalStatus(m.Status) {
			d.final[LatencyBucket(0)]++
		}
	}
	return nil
}

func minuteOf(t time.Time) int64 {
	s := t.Unix()
	return s - ((s%60)+60)%60
}

func accountKind(ctx context.Context, idb bun.IDB, accountID int64) (string, error) {
	var kind string
	err := idb.NewSelect().Table("provider_accounts").Column("kind").Where("id = ?", accountID).Scan(ctx, &kind)
	if err != nil && !errors.Is(mapErr(err), ErrNotFound) {
		return "", fmt.Errorf("read kind of account %d: %w", accountID, mapErr(err))
	}
	return kind, nil
}

// statsTouched reports whether a patch can change what the rollups count.
func statsTouched(p MessagePatch) bool {
	return p.Status != nil || p.CallbackStatus != nil || p.AccountID != nil
}

// messageState is what the rollups need of a message before a change.
type messageState struct {
	AppID          string     `bun:"app_id"`
	ChannelID      int64      `bun:"channel_id"`
	AccountID      *int64     `bun:"account_id"`
	Kind           *string    `bun:"kind"`
	Status         string     `bun:"status"`
	CallbackStatus string     `bun:"callback_status"`
	SMSSegments    int64      `bun:"sms_segments"`
	CreatedAt      time.Time  `bun:"created_at"`
	ScheduledAt    *time.Time `bun:"scheduled_at"`
}

// lockMessageState reads a message's counted state, locking its row on
// PostgreSQL so a concurrent change of the same message waits and then
// sees this one's result: each transition is counted exactly once.
// (SQLite has a single writer.)
func lockMessageState(ctx context.Context, idb bun.IDB, taskID string) (*messageState, error) {
	st := new(messageState)
	q := `SELECT m.app_id, m.channel_id, m.account_id, pa.kind, m.status, m.callback_status, m.sms_segments, m.created_at, m.scheduled_at
FROM messages m LEFT JOIN provider_accounts pa ON pa.id = m.account_id WHERE m.task_id = ?`
	if idb.Dialect().Name() == dialect.PG {
		q += " FOR UPDATE OF m"
	}
	if err := idb.NewRaw(q, taskID).Scan(ctx, st); err != nil {
		return nil, fmt.Errorf("update message %q: %w", taskID, mapErr(err))
	}
	return st, nil
}

// countChange adds the effect of patch on a message in state st to the
// batch: the move between keys when its status or account changes, and
// a latency sample the first time it reaches a final status or gets a
// receipt. A patch that repeats what is stored adds nothing.
func (b *statsBatch) countChange(ctx context.Context, idb bun.IDB, st *messageState, p MessagePatch, now time.Time) error {
	old := statsKey{minute: minuteOf(st.CreatedAt), appID: st.AppID, channelID: st.ChannelID, status: st.Status}
	if st.AccountID != nil {
		old.accountID = *st.AccountID
	}
	if st.Kind != nil {
		old.kind = *st.Kind
	}
	next := old
	if p.Status != nil {
		next.status = *p.Status
	}
	if p.AccountID != nil && *p.AccountID != old.accountID {
		kind, ok := b.kinds[*p.AccountID]
		if !ok {
			var err error
			if kind, err = accountKind(ctx, idb, *p.AccountID); err != nil {
				return err
			}
			if b.kinds != nil {
				b.kinds[*p.AccountID] = kind
			}
		}
		next.accountID, next.kind = *p.AccountID, kind
	}
	b.move(old, next, st.SMSSegments)
	start := latencyStart(st.CreatedAt, st.ScheduledAt)
	if !finalStatus(st.Status) && finalStatus(next.status) {
		at := now
		if p.FinishedAt != nil {
			at = *p.FinishedAt
		}
		b.at(next).final[LatencyBucket(at.Sub(start))]++
	}
	if st.CallbackStatus == "" && p.CallbackStatus != nil && *p.CallbackStatus != "" {
		b.at(next).receipt[LatencyBucket(now.Sub(start))]++
	}
	return nil
}

// intervalExpr is the SQL expression of a rollup row's interval index:
// arithmetic when the intervals are all as long (minutes, hours, UTC
// days), else a search through the bounds (days of a time zone with
// daylight saving). The values are integers formatted here, never text
// from a request.
func intervalExpr(bounds []time.Time) string {
	step := bounds[1].Unix() - bounds[0].Unix()
	even := true
	for i := 1; i < len(bounds); i++ {
		if bounds[i].Unix()-bounds[i-1].Unix() != step {
			even = false
			break
		}
	}
	if even {
		return fmt.Sprintf("((s.bucket - %d) / %d)", bounds[0].Unix(), step)
	}
	var sb strings.Builder
	sb.WriteString("(CASE")
	for i := 1; i < len(bounds)-1; i++ {
		fmt.Fprintf(&sb, " WHEN s.bucket < %d THEN %d", bounds[i].Unix(), i-1)
	}
	fmt.Fprintf(&sb, " ELSE %d END)", len(bounds)-2)
	return sb.String()
}

// Stats groupings.
const (
	StatsByApp      = "app"
	StatsByChannel  = "channel"
	StatsByAccount  = "account"
	StatsByStatus   = "status"
	StatsByProvider = "provider_kind"
)

// StatsQuery asks for message statistics over intervals.
type StatsQuery struct {
	// Bounds are the interval boundaries, ascending: interval i runs from
	// Bounds[i] (inclusive) to Bounds[i+1]. They must be whole minutes,
	// and whole hours for the hour rollup to answer.
	Bounds []time.Time
	// AppID, when set, counts only that app's messages.
	AppID string
	// GroupBy is one of the StatsBy groupings, or empty for no grouping.
	GroupBy string
}

// StatsStatuses are the message statuses the rollups are read by.
var StatsStatuses = []string{"pending", "processing", "sent", "success", "failed", "cancelled"}

// StatsRow is what the rollups hold for one interval and group.
type StatsRow struct {
	// Interval indexes StatsQuery.Bounds.
	Interval int
	// Group is the grouping's value: app id, channel or account id,
	// status or provider kind; empty without grouping.
	Group string
	// Messages counts the messages by status (StatsStatuses).
	Messages    map[string]int64
	SMSSegments int64
	Final       [LatencyBuckets]int64
	Receipt     [LatencyBuckets]int64
}

// QueryStats sums the rollups over each interval of q, per group. Groups
// with nothing counted in an interval are left out. It reads the hour
// rollups when every bound is a whole hour (the one by channel when the
// question needs no app, account or provider kind), else the minute
// rollup, together with the quarter-hour one when every bound is a
// quarter hour. Whole-minute bounds before StatsMinutesKept ago find only
// what has not been folded yet: the callers refuse such questions.
func (db *DB) QueryStats(ctx context.Context, q StatsQuery) ([]StatsRow, error) {
	if len(q.Bounds) < 2 {
		return nil, errors.New("query stats: fewer than two bounds")
	}
	table := statsHourTable
	for i, t := range q.Bounds {
		if t.Unix()%60 != 0 || t.Nanosecond() != 0 {
			return nil, fmt.Errorf("query stats: bound %s is not a whole minute", t.Format(time.RFC3339Nano))
		}
		if t.Unix()%3600 != 0 {
			table = statsMinuteTable
		}
		if i > 0 && !t.After(q.Bounds[i-1]) {
			return nil, errors.New("query stats: bounds are not ascending")
		}
	}
	if table == statsHourTable && q.AppID == "" && (q.GroupBy == "" || q.GroupBy == StatsByChannel || q.GroupBy == StatsByStatus) {
		table = statsChannelTable
	}
	from := table
	if table == statsMinuteTable && !slices.ContainsFunc(q.Bounds, func(t time.Time) bool { return !OnStatsQuarter(t) }) {
		// Quarter-hour bounds (hour and day intervals in a time zone
		// whose offset is not a whole hour): the minutes folded into
		// quarter hours count too. A fold moves rows from one table to
		// the other in one statement, so each counts once.
		cols := "bucket, app_id, channel_id, account_id, provider_kind, status, shard, " + strings.Join(statsCounterColumns(), ", ")
		from = fmt.Sprintf("(SELECT %[1]s FROM %[2]s UNION ALL SELECT %[1]s FROM %[3]s)", cols, statsMinuteTable, statsQuarterTable)
	}
	group := "''"
	switch q.GroupBy {
	case "":
	case StatsByApp:
		group = "s.app_id"
	case StatsByChannel:
		group = "CAST(s.channel_id AS TEXT)"
	case StatsByAccount:
		group = "CAST(s.account_id AS TEXT)"
	case StatsByStatus:
		group = "s.status"
	case StatsByProvider:
		group = "s.provider_kind"
	default:
		return nil, fmt.Errorf("query stats: unknown grouping %q", q.GroupBy)
	}
	var sb strings.Builder
	// One row per interval and group, the statuses side by side: a sixth
	// of the rows to send and scan than grouping by status too.
	sb.WriteString("SELECT " + intervalExpr(q.Bounds) + " AS iv, " + group + " AS grp, SUM(s.sms_segments)")
	for _, st := range StatsStatuses {
		fmt.Fprintf(&sb, ", SUM(CASE WHEN s.status = '%s' THEN s.messages ELSE 0 END)", st)
	}
	for _, p := range []string{"f", "r"} {
		for i := range LatencyBuckets {
			fmt.Fprintf(&sb, ", SUM(s.%s%02d)", p, i)
		}
	}
	// The range predicate is on the primary key's first column: one index
	// range scan over the rows of the whole range.
	fmt.Fprintf(&sb, " FROM %s s WHERE s.bucket >= %d AND s.bucket < %d", from, q.Bounds[0].Unix(), q.Bounds[len(q.Bounds)-1].Unix())
	var args []any
	if q.AppID != "" {
		sb.WriteString(" AND s.app_id = ?")
		args = append(args, q.AppID)
	}
	sb.WriteString(" GROUP BY 1")
	if q.GroupBy != "" {
		sb.WriteString(", " + group)
	}
	sb.WriteString(" ORDER BY 1, 2")
	rows, err := db.idb.QueryContext(ctx, sb.String(), args...)
	if err != nil {
		return nil, fmt.Errorf("query stats: %w", mapErr(err))
	}
	defer func() { _ = rows.Close() }()
	out := []StatsRow{}
	for rows.Next() {
		r := StatsRow{Messages: make(map[string]int64, len(StatsStatuses))}
		counts := make([]int64, len(StatsStatuses))
		dest := []any{&r.Interval, &r.Group, &r.SMSSegments}
		for i := range counts {
			dest = append(dest, &counts[i])
		}
		for i := range LatencyBuckets {
			dest = append(dest, &r.Final[i])
		}
		for i := range LatencyBuckets {
			dest = append(dest, &r.Receipt[i])
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("query stats: %w", mapErr(err))
		}
		zero := r.SMSSegments == 0 && r.Final == [LatencyBuckets]int64{} && r.Receipt == [LatencyBuckets]int64{}
		for i, n := range counts {
			if n != 0 {
				r.Messages[StatsStatuses[i]] = n
				zero = false
			}
		}
		if zero {
			continue
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("query stats: %w", mapErr(err))
	}
	return out, nil
}
