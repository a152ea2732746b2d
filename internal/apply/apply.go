// Package apply makes the store match a YAML description of apps,
// templates, provider accounts, channels (with their pools and the apps
// granted them) and rules: `herald apply`. It parses the file (YAML,
// ${VAR} expansion, unknown fields) and hands its objects to package
// resources, which checks and writes them in one transaction, the same way
// the operators' API does.
package apply

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/heraldhq/herald/internal/resources"
	"github.com/heraldhq/herald/providers"
	"github.com/heraldhq/herald/store"
)

// Options is one apply: the file and what to do with it.
type Options struct {
	// Source names the file in problem reports ("herald.yaml", "standard
	// input").
	Source string
	// Raw is the file's content.
	Raw []byte
	// Getenv resolves ${VAR} references.
	Getenv func(string) string
	// DryRun checks and reports the plan, writing nothing.
	DryRun bool
	// Prune disables accounts and rules the file does not name and drops
	// pool members it does not list.
	Prune bool
	// PublicURL is the API's address, for the receipt callback URLs printed
	// for each account.
	PublicURL string
	// Actor names who applies in the audit log: "cli:<os user>".
	Actor string
}

// Run parses and checks the file, then plans and applies it in one
// transaction. The report is printed to out only once the transaction
// committed (or, for a dry run, once the plan is complete). Problems with
// the file are returned as one error listing each with its place.
func Run(ctx context.Context, out io.Writer, db *store.DB, reg *providers.Registry, o Options) error {
	f, problems := parseFile(o.Raw, o.Getenv)
	if f == nil {
		return problems.Err(o.Source)
	}
	actor := o.Actor
	if actor == "" {
		actor = CLIActor()
	}
	// errDryRun rolls back the transaction of a dry run.
	errDryRun := errors.New("dry run")
	var res *resources.Result
	err := db.RunInTx(ctx, func(ctx context.Context, tx *store.DB) error {
		var err error
		res, err = resources.Apply(ctx, tx, reg, f, resources.Options{
			Source: o.Source, DryRun: o.DryRun, Prune: o.Prune, PublicURL: o.PublicURL, Actor: actor,
		})
		if err != nil {
			return err
		}
		if o.DryRun {
			return errDryRun
		}
		return nil
	})
	if err != nil && !errors.Is(err, errDryRun) {
		return err
	}
	if o.DryRun {
		fmt.Fprintln(out, "dry run: nothing was written")
	}
	for _, line := range res.Report {
		fmt.Fprintln(out, line)
	}
	return nil
}
