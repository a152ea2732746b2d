package resources

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/heraldhq/herald/internal/breaker"
	"github.com/heraldhq/herald/rules"
	"github.com/heraldhq/herald/store"
)

// The functions below describe stored objects as the Set that would
// leave them as they are: a change through the admin API starts from one
// and alters what the request names. Secrets are left empty, which keeps
// the stored ones; Version is left for the caller to set.

// AppSpec describes an app without its grants and quotas (absent keeps
// them).
func AppSpec(app *store.App) App {
	enabled := app.Enabled
	return App{
		ID: app.ID, Name: app.Name, Enabled: &enabled, IPAllowlist: slices.Clone(app.IPAllowlist),
		RateLimitPerSecond: app.RateLimitPerSecond, RequestsPerMinute: app.RequestsPerMinute, Burst: app.Burst,
		MessagesPerMinute: app.MessagesPerMinute, StatusCallbackURL: app.StatusCallbackURL,
		QuietHours: cloneQuietHours(app.QuietHours), TimeZone: app.TimeZone,
		RetentionDays: app.RetentionDays,
	}
}

// AccountSpec describes a provider account, its config included (the
// caller masks it before showing it).
func AccountSpec(acc *store.ProviderAccount) Account {
	weight, enabled := acc.Weight, acc.Enabled
	spec := Account{
		Name: acc.Name, Kind: acc.Kind, ConfigJSON: slices.Clone(acc.Config), Weight: &weight, Enabled: &enabled,
		RateLimitPerMinute: acc.RateLimitPerMinute,
	}
	if spec.ConfigJSON == nil {
		spec.ConfigJSON = json.RawMessage(`{}`)
	}
	if acc.Breaker != "" {
		var s breaker.Settings
		if json.Unmarshal([]byte(acc.Breaker), &s) == nil {
			spec.Breaker = &s
		}
	}
	return spec
}

// TemplateSpec describes a template with the mappings given (named by
// account).
func TemplateSpec(t *store.Template, mappings []Mapping) Template {
	return Template{
		Name: t.Name, ContentType: t.ContentType, Subject: t.Subject, Content: t.Content,
		Variables: slices.Clone(t.Variables), Description: t.Description, Kind: t.Kind,
		ReceiverCaps: specCaps(t.ReceiverCaps), Mappings: mappings, TTLSeconds: t.TTLSeconds, Critical: t.Critical,
	}
}

// ChannelSpec describes a channel with its template (by name, "" for
// none) and pool.
func ChannelSpec(ch *store.Channel, template string, pool []store.PoolMember) Channel {
	enabled := ch.Enabled
	spec := Channel{
		Name: ch.Name, Type: ch.Type, Template: template, SignatureNames: slices.Clone(ch.SignatureNames),
		SignatureRequired: ch.SignatureRequired, Enabled: &enabled, ReceiptTimeoutSeconds: ch.ReceiptTimeoutSeconds,
		MaxAttempts: ch.MaxAttempts, ReceiverCaps: specCaps(ch.ReceiverCaps), AllowedCountries: slices.Clone(ch.AllowedCountries),
		DefaultTTLSeconds: ch.DefaultTTLSeconds, QuietHours: cloneQuietHours(ch.QuietHours),
		Pool: []PoolMember{},
	}
	for _, m := range pool {
		w := m.Weight
		spec.Pool = append(spec.Pool, PoolMember{Account: m.Account.Name, Weight: &w})
	}
	return spec
}

// RuleSpec describes a rule.
func RuleSpec(r *store.Rule) Rule {
	enabled := r.Enabled
	return Rule{
		Name: r.Name, Scene: r.Scene, Priority: r.Priority, ProviderKind: r.ProviderKind, MessageType: r.MessageType,
		ErrorCodes: StringList(rules.ParseList(r.ErrorCodes)), ErrorKeywords: StringList(rules.ParseList(r.ErrorKeywords)),
		Action: r.Action, MaxRetry: r.MaxRetry, DelaySeconds: r.DelaySeconds, BackoffRate: r.BackoffRate,
		ThenAction: r.ThenAction, Enabled: &enabled,
	}
}

func specCaps(c *store.ReceiverCaps) *Caps {
	if c == nil {
		return nil
	}
	return &Caps{PerMinute: c.PerMinute, PerHour: c.PerHour, PerDay: c.PerDay}
}

func cloneQuietHours(qh *store.QuietHours) *store.QuietHours {
	if qh == nil {
		return nil
	}
	c := *qh
	return &c
}

// Redacted stands for a secret in audit diffs.
const Redacted = "[redacted]"

// secretFields are the fields whose values never reach an audit diff:
// app secrets, account credentials (the whole config) and callback tokens.
var secretFields = []string{"secret", "callback_secret", "callback_token", "config"}

// diffOf maps each of fields to [before, after] as the two descriptions
// write them in JSON, secrets redacted. A nil before is a creation: every
// field of after that is set is listed.
func diffOf(fields []string, before, after any) map[string]any {
	am := jsonFields(after)
	diff := map[string]any{}
	if before == nil {
		for k, v := range am {
			if isZeroJSON(v) || k == "version" {
				continue
			}
			diff[k] = []any{nil, redact(k, v)}
		}
		return diff
	}
	bm := jsonFields(before)
	for _, f := range fields {
		if slices.Contains(secretFields, f) {
			diff[f] = []any{Redacted, Redacted}
			continue
		}
		diff[f] = []any{bm[f], am[f]}
	}
	return diff
}

func redact(field string, v any) any {
	if slices.Contains(secretFields, field) && !isZeroJSON(v) {
		return Redacted
	}
	return v
}

func jsonFields(v any) map[string]any {
	raw, err := json.Marshal(v)
	if err != nil {
		return map[string]any{}
	}
	m := map[string]any{}
	if json.Unmarshal(raw, &m) != nil {
		return map[string]any{}
	}
	return m
}

func isZeroJSON(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case float64:
		return x == 0
	case bool:
		return !x
	case []any:
		return len(x) == 0
	case map[string]any:
		return len(x) == 0
	}
	return false
}

// audit records a write of this run, in its transaction.
func (a *applier) audit(ctx context.Context, tx *store.DB, action, objectType, objectID string, diff map[string]any) error {
	if a.dryRun {
		return nil
	}
	rec := &store.AuditRecord{Actor: a.actor, Action: action, ObjectType: objectType, ObjectID: objectID, Diff: diff, ClientIP: a.clientIP}
	if err := tx.InsertAudit(ctx, rec); err != nil {
		return fmt.Errorf("audit %s of %s %s: %w", action, objectType, objectID, err)
	}
	return nil
}

// staleError refuses a change made against an older version.
func staleError(what, id string, asked, current int64) error {
	return fmt.Errorf("%s %s: %w: the change was made against version %d, the current one is %d; read it again and redo the change",
		what, id, store.ErrStale, asked, current)
}

// checkVersion refuses a change made against another version than cur's.
func checkVersion(what, id string, asked, current int64) error {
	if asked != 0 && asked != current {
		return staleError(what, id, asked, current)
	}
	return nil
}

// bump raises the version of an object whose parts (grants, quotas, pool,
// mappings) changed, once per run: an update of the object itself raised
// it already. update is given the version read when the run began, so a
// concurrent change of the object refuses this one (store.ErrStale).
func (a *applier) bump(key string, update func(ifVersion int64) error) error {
	if a.dryRun || a.bumped[key] {
		return nil
	}
	a.bumped[key] = true
	return update(a.versions[key])
}
