package traffic

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestResolveExpiry(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	later := now.Add(time.Hour)
	at := func(d time.Duration) *time.Time { v := now.Add(d); return &v }
	secs := func(n int) *int { return &n }
	for name, tc := range map[string]struct {
		due      time.Time
		req      ExpiryRequest
		tpl      time.Duration
		want     time.Time
		errField string
	}{
		"ChannelDefault":       {due: now, want: now.Add(DefaultChannelTTL)},
		"TemplateDefault":      {due: now, tpl: TemplateTTL(0, true), want: now.Add(10 * time.Minute)},
		"TemplateOwn":          {due: now, tpl: TemplateTTL(60, true), want: now.Add(time.Minute)},
		"TTLFromSchedule":      {due: later, req: ExpiryRequest{TTLSeconds: secs(30)}, want: later.Add(30 * time.Second)},
		"ExpiresAt":            {due: now, req: ExpiryRequest{ExpiresAt: at(time.Minute)}, tpl: time.Hour, want: now.Add(time.Minute)},
		"ErrBoth":              {due: now, req: ExpiryRequest{ExpiresAt: at(time.Minute), TTLSeconds: secs(1)}, errField: "expires_at"},
		"ErrPast":              {due: now, req: ExpiryRequest{ExpiresAt: at(-time.Minute)}, errField: "expires_at"},
		"ErrBeforeSchedule":    {due: later, req: ExpiryRequest{ExpiresAt: at(time.Minute)}, errField: "expires_at"},
		"ErrTooFar":            {due: now, req: ExpiryRequest{ExpiresAt: at(MaxTTL + time.Second)}, errField: "expires_at"},
		"ErrTTLZero":           {due: now, req: ExpiryRequest{TTLSeconds: secs(0)}, errField: "ttl_seconds"},
		"ErrTTLTooLong":        {due: now, req: ExpiryRequest{TTLSeconds: secs(int(MaxTTL/time.Second) + 1)}, errField: "ttl_seconds"},
		"PastScheduleCountsAt": {due: now.Add(-time.Hour), req: ExpiryRequest{TTLSeconds: secs(5)}, want: now.Add(5 * time.Second)},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := ResolveExpiry(now, tc.due, tc.req, tc.tpl, ChannelTTL(0))
			if tc.errField != "" {
				var ee *ExpiryError
				require.ErrorAs(t, err, &ee)
				require.Equal(t, tc.errField, ee.Field)
				return
			}
			require.NoError(t, err)
			require.True(t, tc.want.Equal(got), "got %v, want %v", got, tc.want)
		})
	}
}
