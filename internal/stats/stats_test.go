package stats

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/store"
)

var now = time.Date(2026, 12, 3, 10, 17, 42, 0, time.UTC)

func TestParseQuery(t *testing.T) {
	t.Parallel()
	parse := func(s string) (Query, error) {
		v, err := url.ParseQuery(s)
		require.NoError(t, err)
		return ParseQuery(v, now, AdminGroups)
	}
	t.Run("Defaults", func(t *testing.T) {
		q, err := parse("")
		require.NoError(t, err)
		require.Equal(t, IntervalHour, q.Interval)
		require.Equal(t, time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC), q.From)
		require.Equal(t, time.Date(2026, 12, 3, 11, 0, 0, 0, time.UTC), q.To)
		require.Len(t, q.Bounds(), 26)
	})
	t.Run("DaysInTimeZone", func(t *testing.T) {
		q, err := parse("from=2026-12-01T00:00:00Z&to=2026-12-03T00:00:00Z&interval=day&tz=Asia/Shanghai&group_by=channel")
		require.NoError(t, err)
		sh, _ := time.LoadLocation("Asia/Shanghai")
		require.Equal(t, []time.Time{
			time.Date(2026, 12, 1, 0, 0, 0, 0, sh), time.Date(2026, 12, 2, 0, 0, 0, 0, sh),
			time.Date(2026, 12, 3, 0, 0, 0, 0, sh), time.Date(2026, 12, 4, 0, 0, 0, 0, sh),
		}, q.Bounds())
		require.Equal(t, store.StatsByChannel, q.GroupBy)
	})
	t.Run("DaylightSavingDays", func(t *testing.T) {
		q, err := parse("from=2026-03-28T12:00:00Z&to=2026-03-30T12:00:00Z&interval=day&tz=Europe/Berlin")
		require.NoError(t, err)
		b := q.Bounds()
		require.Equal(t, 23*time.Hour, b[2].Sub(b[1]), "the day clocks go forward has 23 hours")
	})
	t.Run("HalfHourZoneHours", func(t *testing.T) {
		q, err := parse("from=2026-12-03T00:00:00Z&to=2026-12-03T02:00:00Z&tz=Asia/Kolkata")
		require.NoError(t, err)
		require.Equal(t, 30, q.Bounds()[0].UTC().Minute())
	})
	for _, c := range []struct{ name, query, field string }{
		{"BadInterval", "interval=week", "interval"},
		{"BadGroup", "group_by=receiver", "group_by"},
		{"BadZone", "tz=Mars/Olympus", "tz"},
		{"LocalZone", "tz=Local", "tz"},
		{"BadFrom", "from=yesterday", "from"},
		{"BadTo", "to=2026-12-03", "to"},
		{"Reversed", "from=2026-12-03T00:00:00Z&to=2026-12-02T00:00:00Z", "from"},
		{"Empty", "from=2026-12-03T00:00:00Z&to=2026-12-03T00:00:00Z", "from"},
		{"TooManyMinutes", "interval=minute&from=2026-12-01T00:00:00Z&to=2026-12-03T00:00:00Z", "from"},
		{"TooManyHours", "from=2026-10-01T00:00:00Z&to=2026-12-03T00:00:00Z", "from"},
		{"TooManyDays", "interval=day&from=2024-10-01T00:00:00Z&to=2026-12-03T00:00:00Z", "from"},
		// Minutes older than the store keeps them are quarter hours now.
		{"MinutesFolded", "interval=minute&from=2026-11-20T00:00:00Z&to=2026-11-20T12:00:00Z", "from"},
		// Local mean time in 1900: offsets of seconds, not quarter hours.
		{"OffQuarterZoneFolded", "from=1900-01-01T00:00:00Z&to=1900-01-02T00:00:00Z&tz=Asia/Kolkata", "tz"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := parse(c.query)
			var fe *FieldError
			require.True(t, errors.As(err, &fe), "%v", err)
			require.Equal(t, c.field, fe.Field)
			require.NotEmpty(t, fe.Message)
		})
	}
	t.Run("FoldedMinutesStillAnswerQuarterHours", func(t *testing.T) {
		_, err := parse("interval=minute&from=2026-11-27T00:00:00Z&to=2026-11-27T12:00:00Z")
		require.NoError(t, err, "minutes within the week kept")
		q, err := parse("from=2026-10-01T00:00:00Z&to=2026-10-03T00:00:00Z&tz=Asia/Kathmandu")
		require.NoError(t, err, "hours a quarter hour off UTC, long ago")
		require.Equal(t, 15, q.Bounds()[0].UTC().Minute())
	})
	t.Run("ClientGroups", func(t *testing.T) {
		_, err := ParseQuery(url.Values{"group_by": {"account"}}, now, ClientGroups)
		var fe *FieldError
		require.True(t, errors.As(err, &fe))
		require.Equal(t, "group_by", fe.Field)
	})
}

func TestPercentileOfKnownDistributions(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	for _, c := range []struct {
		name string
		draw func() time.Duration
		// tolerance is the relative error allowed for this distribution.
		tolerance float64
	}{
		// A distribution that ends inside a bucket is the worst case short
		// of the factor of two: the estimate assumes the bucket is filled.
		{"Uniform1to5s", func() time.Duration { return time.Second + time.Duration(rng.Int64N(int64(4*time.Second))) }, 0.25},
		{"LogUniform", func() time.Duration {
			return time.Duration(float64(200*time.Millisecond) * math.Pow(2, rng.Float64()*10))
		}, 0.05},
		{"Exponential", func() time.Duration { return time.Duration(rng.ExpFloat64() * float64(3*time.Second)) }, 0.25},
	} {
		t.Run(c.name, func(t *testing.T) {
			var h [store.LatencyBuckets]int64
			samples := make([]time.Duration, 20000)
			for i := range samples {
				samples[i] = c.draw()
				h[store.LatencyBucket(samples[i])]++
			}
			slices.Sort(samples)
			for _, p := range []float64{0.5, 0.95} {
				want := samples[int(p*float64(len(samples)))-1]
				got := Percentile(h, p)
				// Always in the same power-of-two bucket...
				require.Equal(t, store.LatencyBucket(want), store.LatencyBucket(got), "p%v: got %s want %s", p*100, got, want)
				// ...and close for these smooth distributions.
				require.InEpsilon(t, want.Seconds(), got.Seconds(), c.tolerance, "p%v: got %s want %s", p*100, got, want)
			}
		})
	}
	t.Run("Edges", func(t *testing.T) {
		var h [store.LatencyBuckets]int64
		require.Zero(t, Percentile(h, 0.5))
		h[store.LatencyBuckets-1] = 3
		lo, _ := store.LatencyBucketBounds(store.LatencyBuckets - 1)
		require.Equal(t, lo, Percentile(h, 0.95))
		h = [store.LatencyBuckets]int64{}
		h[0] = 10
		require.Equal(t, 50*time.Millisecond, Percentile(h, 0.5))
	})
}

func add(a, b [store.LatencyBuckets]int64) [store.LatencyBuckets]int64 {
	for i := range a {
		a[i] += b[i]
	}
	return a
}

type rowsReader []store.StatsRow

func (r rowsReader) QueryStats(context.Context, store.StatsQuery) ([]store.StatsRow, error) {
	return r, nil
}

func TestComputeMath(t *testing.T) {
	t.Parallel()
	q, err := ParseQuery(url.Values{"from": {"2026-12-03T00:00:00Z"}, "to": {"2026-12-03T03:00:00Z"}, "group_by": {"channel"}}, now, AdminGroups)
	require.NoError(t, err)
	var fast, slow [store.LatencyBuckets]int64
	fast[store.LatencyBucket(time.Second)] = 9
	slow[store.LatencyBucket(10*time.Second)] = 1
	rows := rowsReader{
		{Interval: 0, Group: "1", Messages: map[string]int64{"success": 9, "failed": 1}, SMSSegments: 13, Final: add(fast, slow), Receipt: fast},
		{Interval: 2, Group: "1", Messages: map[string]int64{"pending": 4}, SMSSegments: 4},
		{Interval: 2, Group: "2", Messages: map[string]int64{"cancelled": 2}},
	}
	rep, err := Compute(t.Context(), rows, q, map[string]string{"1": "sms-otp"})
	require.NoError(t, err)
	require.Len(t, rep.Series, 2)
	s := rep.Series[0]
	require.Equal(t, "1", s.Key)
	require.Equal(t, "sms-otp", s.Name)
	require.Len(t, s.Points, 3, "every interval present")
	p := s.Points[0]
	require.Equal(t, int64(10), p.Accepted)
	require.InDelta(t, 0.9, *p.SuccessRate, 1e-9)
	require.Equal(t, int64(13), p.SMSSegments)
	require.Equal(t, int64(10), p.FinalLatency.Count)
	require.Equal(t, int64(9), p.ReceiptLatency.Count)
	// 9 of 10 samples in [800ms, 1.6s): the median is there, the 95th
	// percentile in the slow sample's bucket [6.4s, 12.8s).
	require.True(t, *p.FinalLatency.P50Ms >= 800 && *p.FinalLatency.P50Ms < 1600, "%d", *p.FinalLatency.P50Ms)
	require.True(t, *p.FinalLatency.P95Ms >= 6400 && *p.FinalLatency.P95Ms < 12800, "%d", *p.FinalLatency.P95Ms)
	require.Nil(t, s.Points[1].SuccessRate)
	require.Nil(t, s.Points[1].FinalLatency.P50Ms)
	require.Equal(t, int64(14), s.Total.Accepted)
	require.Equal(t, int64(4), s.Total.Pending)
	require.InDelta(t, 0.9, *s.Total.SuccessRate, 1e-9)
	require.Equal(t, int64(2), rep.Series[1].Total.Cancelled)
	require.Nil(t, rep.Series[1].Total.SuccessRate, "cancelled messages are not failures")
}
