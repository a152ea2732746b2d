package store

import (
	"context"
	"errors"
	"fmt"
	"time"
	// Quota periods follow the app's time zone, wherever the binary runs.
	_ "time/tzdata"

	"github.com/uptrace/bun"
)

// DefaultTimeZone is the zone of an app's quota periods when it sets none.
const DefaultTimeZone = "Asia/Shanghai"

// Quota periods.
const (
	PeriodDay   = "day"
	PeriodMonth = "month"
)

// Quota states of a message.
const (
	QuotaReserved  = "reserved"
	QuotaCommitted = "committed"
	QuotaReleased  = "released"
)

// Quota scopes a message reserved, as bits of Message.QuotaScopes.
const (
	ScopeAppDay = 1 << iota
	ScopeAppMonth
	ScopeChannelDay
	ScopeChannelMonth
)

// Quota is the message quota of an app (ChannelID 0) or of an app on one
// channel. A limit of 0 means none.
type Quota struct {
	bun.BaseModel `bun:"table:quotas,alias:q"`

	AppID     string `bun:"app_id,pk"`
	ChannelID int64  `bun:"channel_id,pk"`
	Daily     int64  `bun:"daily,notnull"`
	Monthly   int64  `bun:"monthly,notnull"`
}

// QuotaUsage is the ledger row of one quota scope in one period:
// Reserved counts accepted messages not yet settled, Committed those a
// provider accepted (or whose outcome is unknown).
type QuotaUsage struct {
	bun.BaseModel `bun:"table:quota_usage,alias:qu"`

	AppID       string `bun:"app_id,pk"`
	ChannelID   int64  `bun:"channel_id,pk"`
	Period      string `bun:"period,pk"`
	PeriodStart string `bun:"period_start,pk"`
	Reserved    int64  `bun:"reserved,notnull"`
	Committed   int64  `bun:"committed,notnull"`
}

// QuotaExceededError refuses messages that do not fit a quota; nothing
// was stored.
type QuotaExceededError struct {
	AppID string
	// ChannelID is 0 for the app's own quota.
	ChannelID int64
	Period    string
	Limit     int64
	// Used is what the period had reserved and committed before the
	// refused request; Asked is what the request needed.
	Used     int64
	Asked    int64
	ResetsAt time.Time
}

func (e *QuotaExceededError) Error() string {
	scope := "app"
	if e.ChannelID != 0 {
		scope = fmt.Sprintf("app on channel %d", e.ChannelID)
	}
	return fmt.Sprintf("%s %s quota exceeded: limit %d, used %d, asked %d, resets at %s",
		scope, Periodly(e.Period), e.Limit, e.Used, e.Asked, e.ResetsAt.Format(time.RFC3339))
}

// Periodly names a period as an adjective: "daily" or "monthly".
func Periodly(period string) string {
	if period == PeriodMonth {
		return "monthly"
	}
	return "daily"
}

// LoadTimeZone returns the location of an app's time zone, the default
// for an empty one.
func LoadTimeZone(name string) (*time.Location, error) {
	if name == "" {
		name = DefaultTimeZone
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("time zone %q: %w", name, err)
	}
	return loc, nil
}

// QuotaPeriod returns the key of the period holding t in loc ("2006-01-02"
// for a day, "2006-01" for a month) and when that period ends.
func QuotaPeriod(period string, t time.Time, loc *time.Location) (key string, resetsAt time.Time) {
	l := t.In(loc)
	if period == PeriodMonth {
		start := time.Date(l.Year(), l.Month(), 1, 0, 0, 0, 0, loc)
		return start.Format("2006-01"), start.AddDate(0, 1, 0)
	}
	start := time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, loc)
	return start.Format("2006-01-02"), start.AddDate(0, 0, 1)
}

// SetQuota creates or replaces a quota.
func (db *DB) SetQuota(ctx context.Context, q *Quota) error {
	_, err := db.idb.NewInsert().Model(q).
		On("CONFLICT (app_id, channel_id) DO UPDATE").
		Set("daily = EXCLUDED.daily").Set("monthly = EXCLUDED.monthly").
		Exec(ctx)
	if err != nil {
		return fmt.Errorf("set quota of app %q channel %d: %w", q.AppID, q.ChannelID, mapErr(err))
	}
	return nil
}

// DeleteQuota removes a quota; removing a missing one does nothing.
func (db *DB) DeleteQuota(ctx context.Context, appID string, channelID int64) error {
	_, err := db.idb.NewDelete().Model((*Quota)(nil)).Where("app_id = ?", appID).Where("channel_id = ?", channelID).Exec(ctx)
	if err != nil {
		return fmt.Errorf("delete quota of app %q channel %d: %w", appID, channelID, mapErr(err))
	}
	return nil
}

// ListQuotas returns an app's quotas, the app's own (channel 0) first.
func (db *DB) ListQuotas(ctx context.Context, appID string) ([]Quota, error) {
	qs := []Quota{}
	if err := db.idb.NewSelect().Model(&qs).Where("app_id = ?", appID).Order("channel_id").Scan(ctx); err != nil {
		return nil, fmt.Errorf("list quotas of app %q: %w", appID, mapErr(err))
	}
	return qs, nil
}

// QuotaAppIDs returns the ids of the apps that have a quota.
func (db *DB) QuotaAppIDs(ctx context.Context) ([]string, error) {
	var ids []string
	if err := db.idb.NewSelect().Model((*Quota)(nil)).ColumnExpr("DISTINCT app_id").Order("app_id").Scan(ctx, &ids); err != nil {
		return nil, fmt.Errorf("list apps with quotas: %w", mapErr(err))
	}
	return ids, nil
}

// GetQuotaUsage returns the ledger row of a quota scope and period; a
// period with no message yet reads as zero.
func (db *DB) GetQuotaUsage(ctx context.Context, appID string, channelID int64, period, periodStart string) (QuotaUsage, error) {
	u := QuotaUsage{AppID: appID, ChannelID: channelID, Period: period, PeriodStart: periodStart}
	err := db.idb.NewSelect().Model(&u).WherePK().Scan(ctx)
	if err != nil && !errors.Is(mapErr(err), ErrNotFound) {
		return u, fmt.Errorf("quota usage of app %q: %w", appID, mapErr(err))
	}
	return u, nil
}

// reserveQuotas counts msgs against their apps' quotas, setting their
// quota fields, or returns a *QuotaExceededError when any quota cannot
// take all of them; the caller's transaction then stores nothing. Each
// quota is one conditional upsert: the row lock it takes makes
// concurrent reservations, from any process, queue behind each other and
// re-check the sum, so the ledger never passes the limit.
func reserveQuotas(ctx context.Context, idb bun.IDB, msgs []*Message) error {
	type group struct {
		appID     string
		channelID int64
		at        time.Time
		msgs      []*Message
	}
	var groups []*group
	for _, m := range msgs {
		var g *group
		for _, x := range groups {
			if x.appID == m.AppID && x.channelID == m.ChannelID {
				g = x
				break
			}
		}
		if g == nil {
			g = &group{appID: m.AppID, channelID: m.ChannelID, at: m.CreatedAt}
			groups = append(groups, g)
		}
		g.msgs = append(g.msgs, m)
	}
	for _, g := range groups {
		mark, err := reserveQuotaGroup(ctx, idb, g.appID, g.channelID, g.at, int64(len(g.msgs)))
		if err != nil {
			return err
		}
		if mark.scopes == 0 {
			continue
		}
		for _, m := range g.msgs {
			m.QuotaState, m.QuotaScopes, m.QuotaDay, m.QuotaMonth = QuotaReserved, mark.scopes, mark.day, mark.month
		}
	}
	return nil
}

// quotaMark is what a reservation records on each message it counts: the
// quotas (QuotaScope bits) and their periods; scopes 0 means no quota
// applies.
type quotaMark struct {
	scopes     int
	day, month string
}

// reserveQuotaGroup reserves n messages of one app and channel, accepted
// at at, against every quota that applies to them, in one conditional
// upsert per quota, whatever n is.
func reserveQuotaGroup(ctx context.Context, idb bun.IDB, appID string, channelID int64, at time.Time, n int64) (quotaMark, error) {
	qs := []Quota{}
	err := idb.NewSelect().Model(&qs).Where("app_id = ?", appID).Where("channel_id IN (0, ?)", channelID).
		// Every writer locks ledger rows in the order (channel, day
		// before month), so they queue instead of deadlocking.
		Order("channel_id").Scan(ctx)
	if err != nil {
		return quotaMark{}, fmt.Errorf("load quotas of app %q: %w", appID, mapErr(err))
	}
	if len(qs) == 0 {
		return quotaMark{}, nil
	}
	var zone string
	if err := idb.NewSelect().Table("apps").Column("time_zone").Where("id = ?", appID).Scan(ctx, &zone); err != nil {
		return quotaMark{}, fmt.Errorf("load time zone of app %q: %w", appID, mapErr(err))
	}
	loc, err := LoadTimeZone(zone)
	if err != nil {
		return quotaMark{}, err
	}
	day, dayEnd := QuotaPeriod(PeriodDay, at, loc)
	month, monthEnd := QuotaPeriod(PeriodMonth, at, loc)
	mark := quotaMark{day: day, month: month}
	for _, q := range qs {
		dayBit, monthBit := ScopeAppDay, ScopeAppMonth
		if q.ChannelID != 0 {
			dayBit, monthBit = ScopeChannelDay, ScopeChannelMonth
		}
		for _, p := range []struct {
			bit    int
			period string
			key    string
			limit  int64
			end    time.Time
		}{
			{dayBit, PeriodDay, day, q.Daily, dayEnd},
			{monthBit, PeriodMonth, month, q.Monthly, monthEnd},
		} {
			if p.limit <= 0 {
				continue
			}
			err := reserve(ctx, idb, QuotaUsage{AppID: appID, ChannelID: q.ChannelID, Period: p.period, PeriodStart: p.key}, n, p.limit)
			var qe *QuotaExceededError
			if errors.As(err, &qe) {
				qe.ResetsAt = p.end
			}
			if err != nil {
				return quotaMark{}, err
			}
			mark.scopes |= p.bit
		}
	}
	return mark, nil
}

// reserve adds n to a ledger row's reserved units if reserved plus
// committed plus n stays within limit.
func reserve(ctx context.Context, idb bun.IDB, key QuotaUsage, n, limit int64) error {
	if n <= limit {
		res, err := idb.NewRaw(`INSERT INTO quota_usage AS qu (app_id, channel_id, period, period_start, reserved, committed)
VALUES (?, ?, ?, ?, ?, 0)
ON CONFLICT (app_id, channel_id, period, period_start)
DO UPDATE SET reserved = qu.reserved + excluded.reserved
WHERE qu.reserved + qu.committed + excluded.reserved <= ?`,
			key.AppID, key.ChannelID, key.Period, key.PeriodStart, n, limit).Exec(ctx)
		if err != nil {
			return fmt.Errorf("reserve quota of app %q: %w", key.AppID, mapErr(err))
		}
		if rows, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("reserve quota: rows affected: %w", err)
		} else if rows == 1 {
			return nil
		}
	}
	u := key
	if err := idb.NewSelect().Model(&u).WherePK().Scan(ctx); err != nil && !errors.Is(mapErr(err), ErrNotFound) {
		return fmt.Errorf("read quota usage of app %q: %w", key.AppID, mapErr(err))
	}
	return &QuotaExceededError{AppID: key.AppID, ChannelID: key.ChannelID, Period: key.Period, Limit: limit, Used: u.Reserved + u.Committed, Asked: n}
}

// settleQuota moves a message's reservation to state (committed or
// released) once: a message not reserved, or already settled, is left
// alone, so retries, failovers and replayed writes never count twice.
func settleQuota(ctx context.Context, idb bun.IDB, taskID, state string) error {
	m := new(Message)
	err := idb.NewSelect().Model(m).Column("app_id", "channel_id", "quota_state", "quota_scopes", "quota_day", "quota_month").
		Where("task_id = ?", taskID).Scan(ctx)
	if err != nil {
		if errors.Is(mapErr(err), ErrNotFound) {
			return nil
		}
		return fmt.Errorf("read quota state of %q: %w", taskID, mapErr(err))
	}
	if m.QuotaState != QuotaReserved {
		return nil
	}
	// The conditional update takes the message's row lock: of two
	// concurrent settlements, the second finds the state changed.
	res, err := idb.NewUpdate().Model((*Message)(nil)).Set("quota_state = ?", state).
		Where("task_id = ?", taskID).Where("quota_state = ?", QuotaReserved).Exec(ctx)
	if err != nil {
		return fmt.Errorf("settle quota of %q: %w", taskID, mapErr(err))
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return err
	}
	for _, s := range []struct {
		bit       int
		channelID int64
		period    string
		key       string
	}{
		{ScopeAppDay, 0, PeriodDay, m.QuotaDay},
		{ScopeAppMonth, 0, PeriodMonth, m.QuotaMonth},
		{ScopeChannelDay, m.ChannelID, PeriodDay, m.QuotaDay},
		{ScopeChannelMonth, m.ChannelID, PeriodMonth, m.QuotaMonth},
	} {
		if m.QuotaScopes&s.bit == 0 {
			continue
		}
		q := idb.NewUpdate().Model((*QuotaUsage)(nil)).
			Set("reserved = CASE WHEN reserved > 0 THEN reserved - 1 ELSE 0 END").
			Where("app_id = ?", m.AppID).Where("channel_id = ?", s.channelID).
			Where("period = ?", s.period).Where("period_start = ?", s.key)
		if state == QuotaCommitted {
			q = q.Set("committed = committed + 1")
		}
		if _, err := q.Exec(ctx); err != nil {
			return fmt.Errorf("settle quota of %q: %w", taskID, mapErr(err))
		}
	}
	return nil
}

// settleFinalQuota settles the quota reservation of a message whose patch
// sets a final status: a message that ends without any provider
// accepting it gives its unit back, unless the patch says an attempt's
// outcome was unknown (MaybeSent), for then the provider may have sent it.
func settleFinalQuota(ctx context.Context, idb bun.IDB, taskID string, p MessagePatch) error {
	if p.Status == nil {
		return nil
	}
	state := quotaStateFor(*p.Status)
	if state == QuotaReleased && p.MaybeSent {
		state = QuotaCommitted
	}
	if state == "" {
		return nil
	}
	return settleQuota(ctx, idb, taskID, state)
}

// quotaStateFor returns the quota state a final status settles a message
// to, or "" for a status that settles nothing.
func quotaStateFor(status string) string {
	switch status {
	case "success", "sent":
		return QuotaCommitted
	case "failed", "cancelled":
		return QuotaReleased
	}
	return ""
}

// QuotaStatus is the usage of one quota in its current period.
type QuotaStatus struct {
	// ChannelID is 0 for the app's own quota.
	ChannelID int64
	Period    string
	Limit     int64
	Reserved  int64
	Committed int64
	// Remaining is what may still be accepted in the period.
	Remaining int64
	ResetsAt  time.Time
	TimeZone  string
}

// QuotaReport returns the usage of every quota of an app in the periods
// holding now, in the app's time zone: the app's own quotas first, daily
// before monthly.
func (db *DB) QuotaReport(ctx context.Context, appID string, now time.Time) ([]QuotaStatus, error) {
	app, err := db.GetApp(ctx, appID)
	if err != nil {
		return nil, err
	}
	loc, err := LoadTimeZone(app.TimeZone)
	if err != nil {
		return nil, err
	}
	qs, err := db.ListQuotas(ctx, appID)
	if err != nil {
		return nil, err
	}
	out := []QuotaStatus{}
	for _, q := range qs {
		for _, p := range []struct {
			period string
			limit  int64
		}{{PeriodDay, q.Daily}, {PeriodMonth, q.Monthly}} {
			if p.limit <= 0 {
				continue
			}
			key, end := QuotaPeriod(p.period, now, loc)
			u, err := db.GetQuotaUsage(ctx, appID, q.ChannelID, p.period, key)
			if err != nil {
				return nil, err
			}
			out = append(out, QuotaStatus{ChannelID: q.ChannelID, Period: p.period, Limit: p.limit,
				Reserved: u.Reserved, Committed: u.Committed, Remaining: max(p.limit-u.Reserved-u.Committed, 0),
				ResetsAt: end, TimeZone: loc.String()})
		}
	}
	return out, nil
}

// ReconcileQuotas recomputes the reserved and committed units of the
// ledger rows of recent periods (from the day before now's UTC day, and
// from the month before now's UTC month, which covers every time zone's
// current period) from the messages themselves, and returns how many rows
// it changed. On PostgreSQL it first locks those rows, so the count sees
// every accept and settlement that touched them and none can slip in
// between count and write: the ledger never undercounts, hence never lets
// a quota be passed.
func (db *DB) ReconcileQuotas(ctx context.Context, now time.Time) (int64, error) {
	day := now.UTC().AddDate(0, 0, -1).Format("2006-01-02")
	month := time.Date(now.UTC().Year(), now.UTC().Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, -1, 0).Format("2006-01")
	var changed int64
	err := db.RunInTx(ctx, func(ctx context.Context, tx *DB) error {
		if tx.dialect == DialectPostgres {
			// Locked in the order accepts and settlements lock them.
			if _, err := tx.idb.NewRaw(`SELECT 1 FROM quota_usage
WHERE (period = ? AND period_start >= ?) OR (period = ? AND period_start >= ?)
ORDER BY app_id, channel_id, period FOR UPDATE`, PeriodDay, day, PeriodMonth, month).Exec(ctx); err != nil {
				return fmt.Errorf("lock quota usage: %w", mapErr(err))
			}
		}
		// Staged batch members hold reservations their rows will carry:
		// the count below needs them as rows.
		if _, err := tx.ExpandStagedMembers(ctx); err != nil {
			return fmt.Errorf("reconcile quotas: %w", err)
		}
		for _, p := range []struct {
			period, since, column string
			appBit, channelBit    int
		}{
			{PeriodDay, day, "quota_day", ScopeAppDay, ScopeChannelDay},
			{PeriodMonth, month, "quota_month", ScopeAppMonth, ScopeChannelMonth},
		} {
			count := func(state string) string {
				return fmt.Sprintf(`(SELECT COUNT(*) FROM messages m WHERE m.app_id = quota_usage.app_id
 AND m.%[1]s = quota_usage.period_start AND m.quota_state = '%[2]s'
 AND (m.quota_scopes & (CASE WHEN quota_usage.channel_id = 0 THEN %[3]d ELSE %[4]d END)) <> 0
 AND (quota_usage.channel_id = 0 OR m.channel_id = quota_usage.channel_id))`, p.column, state, p.appBit, p.channelBit)
			}
			res, err := tx.idb.NewRaw(fmt.Sprintf(`UPDATE quota_usage SET reserved = %[1]s, committed = %[2]s
WHERE period = ? AND period_start >= ? AND (reserved <> %[1]s OR committed <> %[2]s)`,
				count(QuotaReserved), count(QuotaCommitted)), p.period, p.since).Exec(ctx)
			if err != nil {
				return fmt.Errorf("reconcile %s quotas: %w", p.period, mapErr(err))
			}
			n, err := res.RowsAffected()
			if err != nil {
				return fmt.Errorf("reconcile quotas: rows affected: %w", err)
			}
			changed += n
		}
		return nil
	})
	return changed, err
}
