package messages

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald/internal/adminhttp"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/workflows"
)

// Filter is a parsed message query: the store filter, and the receiver as
// typed, which becomes receiver keys only where the keyer is at hand.
type Filter struct {
	store.MessageFilter
	Receiver string
}

// Statuses a filter may name.
var statuses = []string{
	workflows.StatusPending, workflows.StatusProcessing, workflows.StatusSent,
	workflows.StatusSuccess, workflows.StatusFailed, workflows.StatusCancelled,
}

// filterParams are the query parameters ParseFilter reads; anything else
// is refused, so a misspelt filter does not silently match everything.
var filterParams = []string{"app", "channel", "status", "provider", "account", "since", "until", "receiver", "limit", "cursor"}

// maxDuration bounds "since=90d"-style look-backs; longer is surely a typo.
const maxDuration = 10 * 365 * 24 * time.Hour

// ParseFilter turns the query parameters of a message list into a Filter.
// since and until take an RFC 3339 time or a duration back from now
// ("90s", "15m", "1h", "7d"); status takes a comma-separated list. Bad
// input is a 400 *adminhttp.Problem naming the parameter.
func ParseFilter(q url.Values, now time.Time) (Filter, error) {
	var f Filter
	for name := range q {
		if name == "" {
			// "?=x" or a stray "&=": a parameter without a name says
			// nothing to filter on, and has no name to report.
			return f, adminhttp.Invalid("query", "a query parameter has no name; write name=value, e.g. status=failed")
		}
		if !slices.Contains(filterParams, name) {
			return f, adminhttp.Invalid(name, fmt.Sprintf("unknown parameter %q; filters are %s", name, strings.Join(filterParams, ", ")))
		}
		if len(q[name]) > 1 {
			return f, adminhttp.Invalid(name, fmt.Sprintf("give %s once", name))
		}
	}
	f.AppID = strings.TrimSpace(q.Get("app"))
	var err error
	if f.ChannelID, err = parseID(q, "channel"); err != nil {
		return f, err
	}
	if f.AccountID, err = parseID(q, "account"); err != nil {
		return f, err
	}
	if s := q.Get("status"); s != "" {
		for st := range strings.SplitSeq(s, ",") {
			st = strings.ToLower(strings.TrimSpace(st))
			if !slices.Contains(statuses, st) {
				return f, adminhttp.Invalid("status", fmt.Sprintf("unknown status %q; use %s", st, strings.Join(statuses, ", ")))
			}
			if !slices.Contains(f.Statuses, st) {
				f.Statuses = append(f.Statuses, st)
			}
		}
	}
	f.ProviderKind = strings.ToLower(strings.TrimSpace(q.Get("provider")))
	if f.Since, err = parseTime(q, "since", now); err != nil {
		return f, err
	}
	if f.Until, err = parseTime(q, "until", now); err != nil {
		return f, err
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		return f, adminhttp.Invalid("until", "until must be after since")
	}
	f.Receiver = strings.TrimSpace(q.Get("receiver"))
	if len(f.Receiver) > 320 {
		return f, adminhttp.Invalid("receiver", "receiver is longer than any phone number or address (320 characters)")
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > store.MaxMessagePage {
			return f, adminhttp.Invalid("limit", fmt.Sprintf("limit must be a whole number from 1 to %d", store.MaxMessagePage))
		}
		f.Limit = n
	}
	if s := q.Get("cursor"); s != "" {
		c, err := decodeCursor(s)
		if err != nil {
			return f, adminhttp.Invalid("cursor", "cursor is not one this API returned; start again without it")
		}
		f.After = &c
	}
	return f, nil
}

func parseID(q url.Values, name string) (int64, error) {
	s := q.Get(name)
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 1 {
		return 0, adminhttp.Invalid(name, name+" must be a positive id")
	}
	return n, nil
}

// parseTime reads an RFC 3339 time or a duration back from now.
func parseTime(q url.Values, name string, now time.Time) (time.Time, error) {
	s := strings.TrimSpace(q.Get(name))
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	d, err := parseDuration(s)
	if err != nil {
		return time.Time{}, adminhttp.Invalid(name, name+` must be an RFC 3339 time ("2026-03-01T08:00:00Z") or a duration back from now ("30m", "2h", "7d")`)
	}
	return now.Add(-d).UTC(), nil
}

// parseDuration is time.ParseDuration with days ("7d", "1d12h") and
// without negative or absurd values.
func parseDuration(s string) (time.Duration, error) {
	var days int64
	if i := strings.IndexByte(s, 'd'); i > 0 {
		n, err := strconv.ParseInt(s[:i], 10, 32)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("bad day count in %q", s)
		}
		days, s = n, s[i+1:]
	}
	var d time.Duration
	if s != "" {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, err
		}
	}
	if days > int64(maxDuration/(24*time.Hour)) {
		return 0, fmt.Errorf("duration too long")
	}
	d += time.Duration(days) * 24 * time.Hour
	if d <= 0 || d > maxDuration {
		return 0, fmt.Errorf("duration out of range")
	}
	return d, nil
}

// ReceiverKeys returns the keys a typed receiver may be stored under: as a
// non-e-mail receiver (trimmed) and, when it looks like an address, as an
// e-mail one (lower-cased), since the filter does not know the channel.
func ReceiverKeys(keys *store.ReceiverKeyer, receiver string) []string {
	if receiver == "" || keys == nil {
		return nil
	}
	out := []string{keys.Key(store.ChannelSMS, receiver)}
	if strings.Contains(receiver, "@") {
		if k := keys.Key(store.ChannelEmail, receiver); k != out[0] {
			out = append(out, k)
		}
	}
	return out
}

// EncodeCursor is the opaque cursor of the page after c.
func EncodeCursor(c store.MessageCursor) string {
	return base64.RawURLEncoding.EncodeToString([]byte(c.CreatedAt.UTC().Format(time.RFC3339Nano) + "|" + c.TaskID))
}

func decodeCursor(s string) (store.MessageCursor, error) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return store.MessageCursor{}, err
	}
	at, id, ok := strings.Cut(string(raw), "|")
	if !ok || id == "" {
		return store.MessageCursor{}, fmt.Errorf("cursor without task id")
	}
	t, err := time.Parse(time.RFC3339Nano, at)
	if err != nil {
		return store.MessageCursor{}, err
	}
	return store.MessageCursor{CreatedAt: t.UTC(), TaskID: id}, nil
}
