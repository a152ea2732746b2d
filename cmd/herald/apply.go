package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/heraldhq/herald/internal/apply"
	"github.com/heraldhq/herald/internal/config"
)

// defaultPublicURL is the API address receipt callback URLs are printed
// with when --public-url is not set: where `herald dev` listens.
const defaultPublicURL = "http://127.0.0.1:8080"

// applyOptions are the flags of `herald apply`.
type applyOptions struct {
	file   string
	dryRun bool
	prune  bool
}

// Validate lists every missing or malformed flag.
func (o *applyOptions) Validate() error {
	if o.file == "" {
		return errors.New("-f/--file is required: a YAML file, or - for standard input")
	}
	return nil
}

func newApplyCommand(stdout io.Writer, getenv func(string) string) *cobra.Command {
	o := &applyOptions{}
	cmd := &cobra.Command{
		Use:   "apply -f herald.yaml",
		Short: "Create or update apps (and their channel grants), templates, provider accounts, channels and rules from a YAML file",
		Long: `Make the store match a YAML file: apps (matched by id), templates, provider
accounts, channels and rules (matched by name) are created when missing and
updated when different; objects already as described are left alone, so
applying a file twice changes nothing the second time.

The whole file is checked before anything is written: provider account
configs by their provider, rules by the rule engine, channel types,
template variables against their {{placeholders}}, and every reference by
name (to an object in the file or already in the store). All problems are
listed together with their place in the file. Then everything is written in
one transaction, so a failure leaves the store as it was.

Values may name environment variables as ${VAR}, for secrets; a variable that
is not set is an error. A quoted "${VAR}" is always text; unquoted, the
value is read as YAML would read it written in place (a number, true, ...).
Write $${ for a literal ${.

App secrets, account callback tokens and app callback secrets missing from
the file are generated when the object is created and printed once; store
them then. Receipt callback URLs, to be configured at each provider, are
built with --public-url (default ` + defaultPublicURL + `).

An app's grants key lists the channels it may use (send, list, read);
any other channel answers the app as if it did not exist. An app without
the key keeps the grants it has (a new one has none); grants: [] takes
them all away. The dry run shows grants given and revoked.

Nothing is deleted or disabled unless --prune is given. With --prune the file
describes every provider account and rule: enabled accounts and rules it does
not name are disabled (not deleted, so message history keeps them), and
accounts it does not list in the pool of a channel it describes leave that
pool. Apps, templates, channels and template mappings are never pruned.

See deploy/herald.example.yaml for every setting. Without --database-url the
dev store in --data-dir is used; otherwise --master-key must be the key the
store's secrets are encrypted with.`,
		Example: `  herald apply -f herald.yaml --dry-run
  herald apply -f herald.yaml --database-url postgres://... --master-key "$HERALD_MASTER_KEY"
  herald apply -f - < herald.yaml`,
		Args: cobra.NoArgs,
	}
	c := newConfigured(cmd.Flags(), getenv)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := o.Validate(); err != nil {
			return err
		}
		raw, source, err := readApplyFile(o.file, cmd.InOrStdin())
		if err != nil {
			return err
		}
		s, err := openToolStack(cmd.Context(), c, cmd.ErrOrStderr())
		if err != nil {
			return err
		}
		defer s.Close()
		base := s.cfg.HTTP.PublicURL
		if base == "" {
			base = defaultPublicURL
		}
		return apply.Run(cmd.Context(), stdout, s.db, s.registry, apply.Options{
			Source: source, Raw: raw, Getenv: getenv, DryRun: o.dryRun, Prune: o.prune, PublicURL: base,
		})
	}
	f := cmd.Flags()
	f.StringVarP(&o.file, "file", "f", "", "YAML file to apply, or - for standard input")
	f.BoolVar(&o.dryRun, "dry-run", false, "check the file and print what would change, writing nothing")
	f.BoolVar(&o.prune, "prune", false, "disable accounts and rules the file does not name and drop pool members it does not list")
	return cmd
}

// openToolStack opens the store for an operator command that reads and
// writes secrets: the dev store (and its key) without --database-url, as
// migrate does, otherwise the given database with the required master key.
// The schema must be current. Providers are built for config checks and
// test sends.
func openToolStack(ctx context.Context, c *configured, logOut io.Writer) (*stack, error) {
	s, err := c.newStack(config.ModeTool, logOut)
	if err != nil {
		return nil, err
	}
	if s.cfg.Database.URL == "" {
		if err := s.prepareDev(); err != nil {
			return nil, err
		}
	} else if s.cfg.MasterKey == "" {
		// Unlike migrations, this command reads and writes sealed
		// secrets; a throwaway key would make them unreadable.
		return nil, fmt.Errorf("master-key is required with a database URL (flag --master-key, env %s): the store's secrets are encrypted with it", config.EnvName("master-key"))
	}
	if err := s.openStore(ctx, schemaRequireCurrent); err != nil {
		_ = s.Close()
		return nil, err
	}
	s.buildProviders()
	return s, nil
}

func readApplyFile(path string, stdin io.Reader) ([]byte, string, error) {
	if path == "-" {
		raw, err := io.ReadAll(stdin)
		if err != nil {
			return nil, "", fmt.Errorf("read standard input: %w", err)
		}
		return raw, "standard input", nil
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, "", fmt.Errorf("read %s: %w", path, err)
	}
	return raw, path, nil
}
