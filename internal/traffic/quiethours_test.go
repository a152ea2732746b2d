package traffic

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/store"
)

func TestParseQuietHours(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		in   store.QuietHours
		want string
	}{
		"OK":           {store.QuietHours{Start: "21:00", End: "08:00", TimeZone: "Asia/Shanghai"}, ""},
		"BadStart":     {store.QuietHours{Start: "9pm", End: "08:00", TimeZone: "UTC"}, "quiet_hours.start"},
		"BadEnd":       {store.QuietHours{Start: "21:00", End: "24:00", TimeZone: "UTC"}, "quiet_hours.end"},
		"Same":         {store.QuietHours{Start: "21:00", End: "21:00", TimeZone: "UTC"}, "both 21:00"},
		"NoZone":       {store.QuietHours{Start: "21:00", End: "08:00"}, "time_zone: is required"},
		"UnknownZone":  {store.QuietHours{Start: "21:00", End: "08:00", TimeZone: "Mars/Olympus"}, "not an IANA"},
		"LocalRefused": {store.QuietHours{Start: "21:00", End: "08:00", TimeZone: "Local"}, "not an IANA"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseQuietHours(tc.in)
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestQuietWindowOpening(t *testing.T) {
	t.Parallel()
	overnight, err := ParseQuietHours(store.QuietHours{Start: "21:00", End: "08:00", TimeZone: "Asia/Shanghai"})
	require.NoError(t, err)
	daytime, err := ParseQuietHours(store.QuietHours{Start: "12:00", End: "13:30", TimeZone: "UTC"})
	require.NoError(t, err)
	sh := overnight.Location
	for name, tc := range map[string]struct {
		w    QuietWindow
		now  time.Time
		want time.Time
	}{
		"BeforeMidnight": {overnight, time.Date(2026, 12, 3, 22, 15, 0, 0, sh), time.Date(2026, 12, 4, 8, 0, 0, 0, sh)},
		"AfterMidnight":  {overnight, time.Date(2026, 12, 4, 3, 0, 0, 0, sh), time.Date(2026, 12, 4, 8, 0, 0, 0, sh)},
		"AtStart":        {overnight, time.Date(2026, 12, 31, 21, 0, 0, 0, sh), time.Date(2027, 1, 1, 8, 0, 0, 0, sh)},
		"Open":           {overnight, time.Date(2026, 12, 3, 8, 0, 0, 0, sh), time.Time{}},
		"OpenEvening":    {overnight, time.Date(2026, 12, 3, 20, 59, 0, 0, sh), time.Time{}},
		"OtherZoneInput": {overnight, time.Date(2026, 12, 3, 14, 0, 0, 0, time.UTC), time.Date(2026, 12, 4, 8, 0, 0, 0, sh)},
		"Daytime":        {daytime, time.Date(2026, 12, 3, 12, 10, 0, 0, time.UTC), time.Date(2026, 12, 3, 13, 30, 0, 0, time.UTC)},
		"DaytimeOpen":    {daytime, time.Date(2026, 12, 3, 13, 30, 0, 0, time.UTC), time.Time{}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, quiet := tc.w.Opening(tc.now)
			require.Equal(t, !tc.want.IsZero(), quiet)
			require.True(t, tc.want.Equal(got), "got %v, want %v", got, tc.want)
		})
	}
}
