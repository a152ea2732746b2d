package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/heraldhq/herald/internal/traffic"
	"github.com/heraldhq/herald/store"
)

// Message priorities of the request's priority field. Only critical
// changes anything: a critical message ignores quiet hours.
const (
	PriorityNormal   = "normal"
	PriorityCritical = "critical"
)

// parseDeliveryFields reads the optional expires_at, ttl_seconds and
// priority members of a send request.
func parseDeliveryFields(f fields) (traffic.ExpiryRequest, string, error) {
	var req traffic.ExpiryRequest
	raw, err := f.str("expires_at")
	if err != nil {
		return req, "", err
	}
	if raw = strings.TrimSpace(raw); raw != "" {
		t, err := time.Parse(time.RFC3339, raw)
		if err != nil {
			return req, "", errInvalidValue("expires_at must be an RFC 3339 time with an offset, such as 2025-01-02T15:04:05+08:00 or 2025-01-02T07:04:05Z")
		}
		t = t.UTC()
		req.ExpiresAt = &t
	}
	if f.has("ttl_seconds") {
		var n int
		dec := json.NewDecoder(bytes.NewReader(f["ttl_seconds"]))
		if err := dec.Decode(&n); err != nil {
			return req, "", errInvalidParams("ttl_seconds must be an integer number of seconds")
		}
		req.TTLSeconds = &n
	}
	priority, err := f.str("priority")
	if err != nil {
		return req, "", err
	}
	switch strings.ToLower(strings.TrimSpace(priority)) {
	case "", PriorityNormal:
		priority = ""
	case PriorityCritical:
		priority = PriorityCritical
	default:
		return req, "", errInvalidValue("priority must be %q or %q, got %q", PriorityNormal, PriorityCritical, priority)
	}
	return req, priority, nil
}

// messageExpiry resolves when a message accepted now expires (see
// traffic.ResolveExpiry); an unusable request expiry is a 10004 naming
// the field.
func messageExpiry(now time.Time, sched *time.Time, req traffic.ExpiryRequest, tpl *store.Template, ch *store.Channel) (time.Time, error) {
	due := now
	if sched != nil {
		due = *sched
	}
	at, err := traffic.ResolveExpiry(now, due, req, templateTTL(tpl), traffic.ChannelTTL(ch.DefaultTTLSeconds))
	var ee *traffic.ExpiryError
	if errors.As(err, &ee) {
		return time.Time{}, errInvalidValue("%s %s", ee.Field, ee.Message)
	}
	// Stores keep microseconds at best; the workflow must see what is stored.
	return at.UTC().Truncate(time.Millisecond), err
}

// templateTTL is the default expiry of the template's messages: its own
// ttl_seconds, else traffic.VerificationTTL for one-time codes, which are
// useless once the user has given up waiting.
func templateTTL(tpl *store.Template) time.Duration {
	return traffic.TemplateTTL(tpl.TTLSeconds, tpl.Kind == store.TemplateKindVerification)
}

// priorityName is a stored priority as the API reports it.
func priorityName(stored string) string {
	if stored == "" {
		return PriorityNormal
	}
	return stored
}
