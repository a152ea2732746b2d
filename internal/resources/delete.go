package resources

import (
	"context"
	"fmt"
	"strconv"

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
