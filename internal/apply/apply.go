// Package apply makes the store match a YAML description of apps,
// templates, provider accounts, channels (with their pools and the apps
// granted them) and rules: `herald apply`. It runs in steps, each in its
// own file: parse (YAML, ${VAR} expansion, unknown fields), validate
// (everything that needs no store), plan (what the store holds, references
// by name) and execute (write, or only report in a dry run), all in one
// transaction.
package apply

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

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
}

// Run parses and checks the file, then plans and applies it in one
// transaction. The report is printed to out only once the transaction
// committed (or, for a dry run, once the plan is complete). Problems with
// the file are returned as one error listing each with its place.
func Run(ctx context.Context, out io.Writer, db *store.DB, reg *providers.Registry, o Options) error {
	f, problems := parseFile(o.Raw, o.Getenv)
	if f == nil {
		return problems.err(o.Source)
	}
	problems = append(problems, validateFile(f, reg)...)
	a := &applier{f: f, reg: reg, dryRun: o.DryRun, prune: o.Prune, publicURL: o.PublicURL, problems: problems}
	// errDryRun rolls back the transaction of a dry run.
	errDryRun := errors.New("dry run")
	err := db.RunInTx(ctx, func(ctx context.Context, tx *store.DB) error {
		if err := a.load(ctx, tx); err != nil {
			return err
		}
		if len(a.problems) > 0 {
			return a.problems.err(o.Source)
		}
		if err := a.execute(ctx, tx); err != nil {
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
	for _, line := range a.report {
		fmt.Fprintln(out, line)
	}
	return nil
}

// randomHex returns n random bytes as hex, for generated secrets and
// tokens.
func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random: %w", err)
	}
	return hex.EncodeToString(b), nil
}
