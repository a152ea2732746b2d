// Package stats answers statistics questions about messages — counts per
// status, success rate, SMS segments and latency percentiles, per
// interval and group — from the store's rollups, for the operators' API
// (GET /admin/api/v1/stats), the client API (GET /api/v1/stats) and the
// CLI (herald stats), which all share one query syntax and one answer.
//
// Usage:
//
//	q, err := stats.ParseQuery(c.QueryParams(), time.Now(), stats.AdminGroups)
//	if err != nil {
//		var fe *stats.FieldError // 400 naming fe.Field
//	}
//	report, err := stats.Compute(ctx, db, q, nil)
package stats

import (
	"context"
	"fmt"
	"math"
	"net/url"
	"slices"
	"time"

	"github.com/heraldhq/herald/store"
)

// Intervals.
const (
	IntervalMinute = "minute"
	IntervalHour   = "hour"
	IntervalDay    = "day"
)

// Limits on one question, so a request cannot make the server sum years
// of minutes.
const (
	MaxMinuteRange = 24 * time.Hour
	MaxHourRange   = 31 * 24 * time.Hour
	MaxDayRange    = 366 * 24 * time.Hour
	// DefaultRange is the range asked for when from is not given.
	DefaultRange = 24 * time.Hour
)

// AdminGroups are the groupings operators may ask for; ClientGroups those
// an app may ask for about its own messages (accounts are Herald's
// business).
var (
	AdminGroups  = []string{store.StatsByApp, store.StatsByChannel, store.StatsByAccount, store.StatsByStatus, store.StatsByProvider}
	ClientGroups = []string{store.StatsByChannel, store.StatsByStatus}
)

// Query is one statistics question.
type Query struct {
	// From and To are aligned to Interval in Location: From rounded down,
	// To up.
	From, To time.Time
	Interval string
	// GroupBy is a store.StatsBy grouping or empty.
	GroupBy  string
	Location *time.Location
	// AppID, when set, limits the answer to one app's messages.
	AppID string
}

// FieldError is a query parameter that cannot be used, and what to do.
type FieldError struct {
	Field   string
	Message string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

// ParseQuery reads from, to (RFC 3339; default the DefaultRange up to
// now), interval (minute, hour or day; default hour), group_by (one of
// groups, or none) and tz (an IANA zone for the buckets; default UTC). It
// returns a *FieldError naming the first parameter that is wrong. Minute
// intervals reach back store.StatsMinutesKept from now.
func ParseQuery(v url.Values, now time.Time, groups []string) (Query, error) {
	q := Query{Interval: IntervalHour, Location: time.UTC, To: now}
	if s := v.Get("tz"); s != "" {
		loc, err := time.LoadLocation(s)
		if err != nil || s == "Local" {
			return q, &FieldError{"tz", fmt.Sprintf("unknown time zone %q: use an IANA name such as Asia/Shanghai or UTC", s)}
		}
		q.Location = loc
	}
	if s := v.Get("interval"); s != "" {
		if s != IntervalMinute && s != IntervalHour && s != IntervalDay {
			return q, &FieldError{"interval", fmt.Sprintf("unknown interval %q: use minute, hour or day", s)}
		}
		q.Interval = s
	}
	if s := v.Get("group_by"); s != "" {
		if !slices.Contains(groups, s) {
			return q, &FieldError{"group_by", fmt.Sprintf("cannot group by %q: use one of %v", s, groups)}
		}
		q.GroupBy = s
	}
	if s := v.Get("to"); s != "" {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return q, &FieldError{"to", fmt.Sprintf("%q is not an RFC 3339 time such as 2026-12-03T10:00:00Z", s)}
		}
		q.To = t
	}
	q.From = q.To.Add(-DefaultRange)
	if s := v.Get("from"); s != "" {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return q, &FieldError{"from", fmt.Sprintf("%q is not an RFC 3339 time such as 2026-12-03T10:00:00Z", s)}
		}
		q.From = t
	}
	if !q.From.Before(q.To) {
		return q, &FieldError{"from", "from must be before to"}
	}
	limit := map[string]time.Duration{IntervalMinute: MaxMinuteRange, IntervalHour: MaxHourRange, IntervalDay: MaxDayRange}[q.Interval]
	if q.To.Sub(q.From) > limit {
		return q, &FieldError{"from", fmt.Sprintf("%s intervals cover at most %s: ask for a shorter range or a longer interval", q.Interval, human(limit))}
	}
	q.From, q.To = q.align(q.From, false), q.align(q.To, true)
	// Minutes older than the store keeps them are folded into quarter
	// hours: a question that needs them (minute intervals, or a time zone
	// whose offset is not a whole quarter hour) cannot be answered.
	if q.From.Before(now.Add(-store.StatsMinutesKept)) {
		for _, b := range q.Bounds() {
			if store.OnStatsQuarter(b) {
				continue
			}
			if q.Interval == IntervalMinute {
				return q, &FieldError{"from", fmt.Sprintf("minute intervals reach back %s: ask for hour or day intervals for an older range", human(store.StatsMinutesKept))}
			}
			return q, &FieldError{"tz", fmt.Sprintf("%s's intervals start off the quarter hour, and such ranges reach back %s: ask for a more recent range or use UTC", q.Location, human(store.StatsMinutesKept))}
		}
	}
	return q, nil
}

func human(d time.Duration) string {
	if d >= 48*time.Hour {
		return fmt.Sprintf("%d days", int(d/(24*time.Hour)))
	}
	return fmt.Sprintf("%d hours", int(d/time.Hour))
}

// align rounds t down (or up) to the start of its interval in q.Location.
func (q Query) align(t time.Time, up bool) time.Time {
	l := t.In(q.Location)
	var start time.Time
	switch q.Interval {
	case IntervalMinute:
		start = t.Truncate(time.Minute)
	case IntervalHour:
		start = time.Date(l.Year(), l.Month(), l.Day(), l.Hour(), 0, 0, 0, q.Location)
	default:
		start = time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, q.Location)
	}
	if up && start.Before(t) {
		start = q.next(start)
	}
	return start
}

// next returns the start of the interval after the one starting at t.
func (q Query) next(t time.Time) time.Time {
	switch q.Interval {
	case IntervalMinute:
		return t.Add(time.Minute)
	case IntervalHour:
		return t.Add(time.Hour)
	}
	l := t.In(q.Location)
	return time.Date(l.Year(), l.Month(), l.Day()+1, 0, 0, 0, 0, q.Location)
}

// Bounds returns the interval boundaries from From to To.
func (q Query) Bounds() []time.Time {
	var b []time.Time
	for t := q.From; t.Before(q.To); t = q.next(t) {
		b = append(b, t)
	}
	return append(b, q.To)
}

// Figures are the statistics of one interval (or the whole range) of one
// group.
type Figures struct {
	// Accepted counts the messages accepted in the interval; the status
	// fields split them by their status now.
	Accepted   int64 `json:"accepted"`
	Pending    int64 `json:"pending"`
	Processing int64 `json:"processing"`
	Sent       int64 `json:"sent"`
	Success    int64 `json:"success"`
	Failed     int64 `json:"failed"`
	Cancelled  int64 `json:"cancelled"`
	// SuccessRate is success / (success + failed), null before any
	// message succeeded or failed.
	SuccessRate    *float64 `json:"success_rate"`
	SMSSegments    int64    `json:"sms_segments"`
	FinalLatency   Latency  `json:"final_latency"`
	ReceiptLatency Latency  `json:"receipt_latency"`

	final, receipt [store.LatencyBuckets]int64
}

// Latency summarises a latency histogram: how many samples, and the
// estimated median and 95th percentile in milliseconds (null without
// samples).
type Latency struct {
	Count int64  `json:"count"`
	P50Ms *int64 `json:"p50_ms"`
	P95Ms *int64 `json:"p95_ms"`
}

// Point is one interval's figures.
type Point struct {
	Start time.Time `json:"start"`
	Figures
}

// Series is one group's points, every interval present (zeros where
// nothing was counted), and its total over the range.
type Series struct {
	// Key is the group's value (app id, channel or account id, status,
	// provider kind); "all" without grouping.
	Key string `json:"key"`
	// Name is the channel's or account's name, when known.
	Name   string  `json:"name,omitempty"`
	Total  Figures `json:"total"`
	Points []Point `json:"points"`
}

// Report is the answer to a Query.
type Report struct {
	From     time.Time `json:"from"`
	To       time.Time `json:"to"`
	Interval string    `json:"interval"`
	GroupBy  string    `json:"group_by,omitempty"`
	TimeZone string    `json:"time_zone"`
	Series   []Series  `json:"series"`
}

// Reader is the store's statistics query.
type Reader interface {
	QueryStats(ctx context.Context, q store.StatsQuery) ([]store.StatsRow, error)
}

// Compute answers q from the rollups. names, when not nil, gives display
// names of the series keys (channel and account names).
func Compute(ctx context.Context, r Reader, q Query, names map[string]string) (*Report, error) {
	bounds := q.Bounds()
	rows, err := r.QueryStats(ctx, store.StatsQuery{Bounds: bounds, AppID: q.AppID, GroupBy: q.GroupBy})
	if err != nil {
		return nil, err
	}
	rep := &Report{From: q.From.UTC(), To: q.To.UTC(), Interval: q.Interval, GroupBy: q.GroupBy, TimeZone: q.Location.String(), Series: []Series{}}
	index := map[string]int{}
	for _, row := range rows {
		key := row.Group
		if q.GroupBy == "" {
			key = "all"
		}
		i, ok := index[key]
		if !ok {
			i = len(rep.Series)
			index[key] = i
			s := Series{Key: key, Name: names[key], Points: make([]Point, len(bounds)-1)}
			for j := range s.Points {
				s.Points[j].Start = bounds[j].In(q.Location)
			}
			rep.Series = append(rep.Series, s)
		}
		s := &rep.Series[i]
		s.Points[row.Interval].add(row)
		s.Total.add(row)
	}
	for i := range rep.Series {
		s := &rep.Series[i]
		s.Total.finish()
		for j := range s.Points {
			s.Points[j].finish()
		}
	}
	return rep, nil
}

func (f *Figures) add(r store.StatsRow) {
	for status, n := range r.Messages {
		f.Accepted += n
		switch status {
		case "pending":
			f.Pending += n
		case "processing":
			f.Processing += n
		case "sent":
			f.Sent += n
		case "success":
			f.Success += n
		case "failed":
			f.Failed += n
		case "cancelled":
			f.Cancelled += n
		}
	}
	f.SMSSegments += r.SMSSegments
	for i := range store.LatencyBuckets {
		f.final[i] += r.Final[i]
		f.receipt[i] += r.Receipt[i]
	}
}

func (f *Figures) finish() {
	if done := f.Success + f.Failed; done > 0 {
		rate := float64(f.Success) / float64(done)
		f.SuccessRate = &rate
	}
	f.FinalLatency = summarise(f.final)
	f.ReceiptLatency = summarise(f.receipt)
}

func summarise(h [store.LatencyBuckets]int64) Latency {
	var l Latency
	for _, n := range h {
		l.Count += n
	}
	if l.Count <= 0 {
		return l
	}
	p50, p95 := Percentile(h, 0.5).Milliseconds(), Percentile(h, 0.95).Milliseconds()
	l.P50Ms, l.P95Ms = &p50, &p95
	return l
}

// Percentile estimates the p-quantile (0 < p <= 1) of the latencies a
// histogram counts. It finds the bucket holding the sample of that rank
// and interpolates inside it, geometrically (the buckets grow by powers
// of two) or linearly in the first bucket; the open last bucket answers
// its lower bound. The true quantile lies in the same bucket, so the
// estimate is off by less than a factor of two, and by much less when
// samples spread evenly within their bucket.
func Percentile(h [store.LatencyBuckets]int64, p float64) time.Duration {
	var total int64
	for _, n := range h {
		total += n
	}
	if total <= 0 {
		return 0
	}
	rank := p * float64(total)
	var below int64
	for i, n := range h {
		if n <= 0 || float64(below+n) < rank {
			below += max(n, 0)
			continue
		}
		frac := (rank - float64(below)) / float64(n)
		lo, hi := store.LatencyBucketBounds(i)
		switch i {
		case 0:
			return time.Duration(float64(hi) * frac)
		case store.LatencyBuckets - 1:
			return lo
		}
		return time.Duration(float64(lo) * math.Pow(float64(hi)/float64(lo), frac))
	}
	lo, _ := store.LatencyBucketBounds(store.LatencyBuckets - 1)
	return lo
}
