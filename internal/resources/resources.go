// Package resources is the one place configuration objects (apps,
// templates, provider accounts, channels with their pools, grants and
// quotas, and rules) are checked and written. `herald apply` hands it the
// objects of a YAML file; the operators' API hands it the one object a
// request creates or changes. Both get the same validation, the same
// transaction rules and an audit record for every write.
//
// A change is a description of the wanted state (a Set): Apply compares
// it with the store and writes the difference, in the steps of its files:
// validate (everything that needs no store), plan (what the store holds,
// references by name) and execute (write, or only report in a dry run).
package resources

import (
	"context"

	"github.com/heraldhq/herald/providers"
	"github.com/heraldhq/herald/store"
)

// Options is how to apply a Set.
type Options struct {
	// Source names the description in problem reports ("herald.yaml",
	// "request").
	Source string
	// DryRun checks and reports the plan, writing nothing.
	DryRun bool
	// Prune disables accounts and rules the set does not name and drops
	// pool members it does not list.
	Prune bool
	// PrunePools drops pool members a channel of the set does not list,
	// without Prune's other effects: a channel's pool is replaced.
	PrunePools bool
	// PublicURL is the API's address, for the receipt callback URLs
	// reported for each account.
	PublicURL string
	// Actor is who writes, for the audit log: "cli:<os user>" or
	// "user:<name>". ClientIP is where an API request came from.
	Actor    string
	ClientIP string
}

// Result is what Apply did.
type Result struct {
	// Report says what was (or, in a dry run, would be) done, a line per
	// change.
	Report []string
	// Generated holds the secrets this run generated, by object and kind
	// ("app demo secret"): shown once, to the one who made the change.
	Generated []Secret
}

// Secret is a generated secret, shown only in the answer to the change
// that made it.
type Secret struct {
	// Object is "app" or "account"; ID is the app's id or the account's
	// name.
	Object, ID string
	// Kind is "secret", "callback_secret" or "callback_token".
	Kind  string
	Value string
}

// Apply checks set and makes the store match it, in tx: the caller's
// transaction, which rolls back on an error (and, for a dry run, should be
// rolled back by the caller). Problems with the set are returned as one
// *ProblemsError listing each with its path; an update made against a
// version that is no longer current fails with store.ErrStale.
func Apply(ctx context.Context, tx *store.DB, reg *providers.Registry, set *Set, o Options) (*Result, error) {
	a := &applier{
		f: set, reg: reg, dryRun: o.DryRun, prune: o.Prune, prunePools: o.Prune || o.PrunePools,
		publicURL: o.PublicURL, actor: o.Actor, clientIP: o.ClientIP, bumped: map[string]bool{},
		problems: validateSet(set, reg),
	}
	if err := a.load(ctx, tx); err != nil {
		return nil, err
	}
	if len(a.problems) > 0 {
		return nil, a.problems.Err(o.Source)
	}
	if err := a.execute(ctx, tx); err != nil {
		return nil, err
	}
	a.result.Report = a.report
	return &a.result, nil
}

// Validate checks set without the store; the problems are those Apply
// would report before reading anything.
func Validate(set *Set, reg *providers.Registry) Problems { return validateSet(set, reg) }
