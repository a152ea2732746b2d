package resources

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/heraldhq/herald/store"
)

// DeleteRule removes a rule in tx and records it; version, when
// positive, must be the rule's current one.
func DeleteRule(ctx context.Context, tx *store.DB, id, version int64, o Options) error {
	r, err := tx.GetRule(ctx, id)
	if err != nil {
		return err
	}
	if err := checkVersion("rule", strconv.FormatInt(id, 10), version, r.Version); err != nil {
		return err
	}
	if err := tx.DeleteRule(ctx, id); err != nil {
		return fmt.Errorf("delete rule %d: %w", id, err)
	}
	a := &applier{actor: o.Actor, clientIP: o.ClientIP}
	return a.audit(ctx, tx, "rule.delete", "rule", strconv.FormatInt(id, 10), diffOf(nil, nil, RuleSpec(r)))
}

// InUseError refuses to delete an object others still use.
type InUseError struct {
	What, Name string
	UsedBy     []string
}

func (e *InUseError) Error() string {
	return fmt.Sprintf("%s %q is used by %s: change those first", e.What, e.Name, strings.Join(e.UsedBy, ", "))
}

// DeleteTemplate removes a template and its mappings in tx and records
// it; version, when positive, must be the template's current one. A
// template a channel uses as its default is not deleted (*InUseError).
func DeleteTemplate(ctx context.Context, tx *store.DB, id, version int64, o Options) error {
	t, err := tx.GetTemplate(ctx, id)
	if err != nil {
		return err
	}
	if err := checkVersion("template", strconv.FormatInt(id, 10), version, t.Version); err != nil {
		return err
	}
	chs, _, err := tx.ListChannels(ctx, store.ChannelFilter{})
	if err != nil {
		return err
	}
	var users []string
	for _, ch := range chs {
		if ch.TemplateID != nil && *ch.TemplateID == id {
			users = append(users, "channel "+ch.Name)
		}
	}
	if len(users) > 0 {
		sort.Strings(users)
		return &InUseError{What: "template", Name: t.Name, UsedBy: users}
	}
	if err := tx.DeleteTemplate(ctx, id); err != nil {
		return err
	}
	a := &applier{actor: o.Actor, clientIP: o.ClientIP}
	return a.audit(ctx, tx, "template.delete", "template", strconv.FormatInt(id, 10), diffOf(nil, nil, TemplateSpec(t, nil)))
}
