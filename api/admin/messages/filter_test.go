package messages

import (
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/adminhttp"
	"github.com/heraldhq/herald/store"
)

func TestParseFilter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	t.Run("OK", func(t *testing.T) {
		q, err := url.ParseQuery("app=shop&channel=3&status=failed,cancelled,failed&provider=Aliyun&account=7&since=1d2h&until=2026-03-01T11:00:00Z&receiver=+%2B861&limit=20")
		require.NoError(t, err)
		f, err := ParseFilter(q, now)
		require.NoError(t, err)
		require.Equal(t, Filter{
			MessageFilter: store.MessageFilter{
				AppID: "shop", ChannelID: 3, Statuses: []string{"failed", "cancelled"}, ProviderKind: "aliyun",
				AccountID: 7, Since: now.Add(-26 * time.Hour), Until: now.Add(-time.Hour), Limit: 20,
			},
			Receiver: "+861",
		}, f)
	})
	t.Run("Cursor", func(t *testing.T) {
		c := store.MessageCursor{CreatedAt: now.Add(123 * time.Microsecond), TaskID: "t1"}
		f, err := ParseFilter(url.Values{"cursor": {EncodeCursor(c)}}, now)
		require.NoError(t, err)
		require.Equal(t, &c, f.After)
	})
	for name, tc := range map[string]struct{ query, field string }{
		"ErrStatus":        {"status=lost", "status"},
		"ErrSince":         {"since=-1h", "since"},
		"ErrHugeDays":      {"since=99999999d", "since"},
		"ErrUntilBefore":   {"since=1h&until=2h", "until"},
		"ErrLimit":         {"limit=0", "limit"},
		"ErrCursor":        {"cursor=bm9wZQ", "cursor"},
		"ErrUnknown":       {"colour=red", "colour"},
		"ErrTwice":         {"app=a&app=b", "app"},
		"ErrAccount":       {"account=x", "account"},
		"ErrLongReceiver":  {"receiver=" + string(make([]byte, 400)), "receiver"},
		"ErrEmptyDuration": {"since=d", "since"},
	} {
		t.Run(name, func(t *testing.T) {
			q, err := url.ParseQuery(tc.query)
			require.NoError(t, err)
			_, err = ParseFilter(q, now)
			p, ok := adminhttp.AsProblem(err)
			require.True(t, ok, "error %v", err)
			require.Equal(t, 400, p.Status)
			require.Equal(t, tc.field, p.Field)
		})
	}
}

func TestReceiverKeys(t *testing.T) {
	t.Parallel()
	k := store.NewReceiverKeyer([]byte("k"))
	require.Nil(t, ReceiverKeys(k, ""))
	require.Equal(t, []string{k.Key(store.ChannelSMS, "+8613800138000")}, ReceiverKeys(k, "+8613800138000"))
	require.Equal(t, []string{k.Key(store.ChannelSMS, "A@x.test"), k.Key(store.ChannelEmail, "a@x.test")}, ReceiverKeys(k, "A@x.test"))
}

// FuzzParseFilter checks that no query makes the parser panic, and that
// every refusal is a 400 naming a parameter.
func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{
		"status=failed&since=1h", "app=a&channel=1&until=2026-01-01T00:00:00Z", "since=7d", "since=1d1h",
		"cursor=MjAyNi0wMy0wMVQxMjowMDowMFp8dDE", "limit=500", "receiver=%2B86", "since=9223372036854775807ns",
	} {
		f.Add(s)
	}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		flt, err := ParseFilter(q, now)
		if err != nil {
			p, ok := adminhttp.AsProblem(err)
			if !ok || p.Status != 400 || p.Field == "" {
				t.Fatalf("ParseFilter(%q) = %v, want a 400 naming a field", raw, err)
			}
			return
		}
		if flt.Limit < 0 || flt.Limit > store.MaxMessagePage {
			t.Fatalf("limit %d out of range", flt.Limit)
		}
		if !flt.Since.IsZero() && !flt.Until.IsZero() && !flt.Since.Before(flt.Until) {
			t.Fatalf("since %v not before until %v", flt.Since, flt.Until)
		}
	})
}
