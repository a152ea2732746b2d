package main

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/store"
)

// rotateOptions are the flags of `herald keys rotate`.
type rotateOptions struct {
	batchSize int
	dryRun    bool
	// every is how often progress is printed while a table is read.
	every time.Duration
}

// Validate lists every malformed flag.
func (o *rotateOptions) Validate() error {
	if o.batchSize < 1 || o.batchSize > 10000 {
		return fmt.Errorf("--batch-size must be from 1 to 10000, got %d", o.batchSize)
	}
	return nil
}

func newKeysCommand(stdout io.Writer, getenv func(string) string) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "Rotate the master key that encrypts secrets and personal data",
		Long: `The master key (master-key) encrypts app secrets, provider credentials and
personal data (receivers, contents, template parameters, attachments,
replies) in the store. To rotate it:

  1. Pin the receiver index key, so receiver lookups and suppressions
     survive the change: set receiver-index-key to what
     "herald keys index-key" prints under the current master key.
  2. Set master-key to a new key (openssl rand -base64 32) and
     previous-master-keys to the old one, on every serve and worker
     process, and restart them: they encrypt under the new key and still
     decrypt under the old.
  3. Run "herald keys rotate" with the same settings: it encrypts every row
     again under the new key, in batches, while the service runs.
  4. Once every workflow started before the change has ended and its
     history has passed temporal.retention (Temporal payloads stay sealed
     under the old key), remove previous-master-keys and restart. Keep
     receiver-index-key.

Without --database-url the dev store in --data-dir is used.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return errors.New("choose a keys command: rotate or index-key (see herald keys --help)")
		},
	}
	c := newConfigured(cmd.PersistentFlags(), getenv)
	cmd.AddCommand(newKeysRotateCommand(stdout, c), newKeysIndexKeyCommand(stdout, c))
	return cmd
}

func newKeysRotateCommand(stdout io.Writer, c *configured) *cobra.Command {
	o := &rotateOptions{every: 5 * time.Second}
	cmd := &cobra.Command{
		Use:   "rotate [--batch-size N] [--dry-run]",
		Short: "Encrypt every stored secret and personal datum again under master-key",
		Long: `Encrypt again, under master-key, every app secret, provider configuration and
piece of personal data that previous-master-keys encrypted or that is still
stored in clear text (rows written before personal data was encrypted), and
give messages stored before receiver keys existed their receiver key.

Run it once every serve and worker process encrypts under the new
master-key. It reads and rewrites rows in batches while the service runs:
a row changed by the service in the meantime is left to the service. It can
be stopped at any time and run again; rows done already are passed over.
When it reports nothing left, the store no longer needs previous-master-keys;
Temporal histories still do until they pass temporal.retention.`,
		Example: `  HERALD_MASTER_KEY=<new> HERALD_PREVIOUS_MASTER_KEYS=<old> \
  HERALD_RECEIVER_INDEX_KEY=<pinned> herald keys rotate --database-url postgres://...`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.Validate(); err != nil {
				return err
			}
			s, err := openToolStack(cmd.Context(), c, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer s.Close()
			return runRotate(cmd, stdout, s, o)
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.batchSize, "batch-size", store.DefaultResealBatch, "rows read and rewritten per statement")
	f.BoolVar(&o.dryRun, "dry-run", false, "count what would be encrypted again and change nothing")
	return cmd
}

func runRotate(cmd *cobra.Command, stdout io.Writer, s *stack, o *rotateOptions) error {
	verb := "encrypted again"
	if o.dryRun {
		verb = "to encrypt again"
	}
	last := time.Now()
	report := func(p store.ResealProgress) {
		if !p.Done && time.Since(last) < o.every {
			return
		}
		last = time.Now()
		state := "reading"
		if p.Done {
			state = "done"
		}
		fmt.Fprintf(stdout, "%-18s %s: %d rows read, %d %s, %d changed meanwhile (left as written), %d receivers keyed\n",
			p.Table, state, p.Scanned, p.Resealed, verb, p.Skipped, p.Keyed)
	}
	got, err := s.db.Reseal(cmd.Context(), store.ResealOptions{BatchSize: o.batchSize, DryRun: o.dryRun, Progress: report})
	if err != nil {
		if errors.Is(err, store.ErrUnknownKey) || errors.Is(err, store.ErrDecrypt) {
			return fmt.Errorf("%w; every master key the stored data was encrypted under must be master-key or in previous-master-keys (env %s)", err, config.EnvName("previous-master-keys"))
		}
		return fmt.Errorf("%w (run it again to resume)", err)
	}
	total := 0
	for _, p := range got {
		total += p.Resealed + p.Skipped
	}
	switch {
	case o.dryRun:
		fmt.Fprintf(stdout, "dry run: %d rows to encrypt again under key %s\n", total, s.db.KeyID())
	case total == 0:
		fmt.Fprintf(stdout, "every row is encrypted under key %s; the store no longer needs previous-master-keys (Temporal histories do until they pass temporal.retention)\n", s.db.KeyID())
	default:
		fmt.Fprintf(stdout, "rows are encrypted under key %s; run again to confirm nothing is left before removing previous-master-keys\n", s.db.KeyID())
	}
	return nil
}

func newKeysIndexKeyCommand(stdout io.Writer, c *configured) *cobra.Command {
	return &cobra.Command{
		Use:   "index-key",
		Short: "Print the receiver index key, to pin it as receiver-index-key before a rotation",
		Long: `Print, in base64, the key that turns receivers into the keyed hashes that
suppressions, receiver caps and message search look receivers up by: the
receiver-index-key setting when set, else the subkey derived from
master-key. Set receiver-index-key to it before changing master-key, so the
hashes already stored keep matching. It is a secret: store it like the
master key.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := c.newStack(config.ModeTool, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer s.Close()
			if s.cfg.ReceiverIndexKey != "" {
				key, err := store.ParseMasterKey(s.cfg.ReceiverIndexKey)
				if err != nil {
					return fmt.Errorf("receiver index key: %w", err)
				}
				fmt.Fprintln(stdout, base64.StdEncoding.EncodeToString(key))
				return nil
			}
			if s.cfg.Database.URL == "" && s.cfg.MasterKey == "" {
				if err := s.prepareDev(); err != nil {
					return err
				}
			}
			if s.cfg.MasterKey == "" {
				return fmt.Errorf("master-key is required (flag --master-key, env %s)", config.EnvName("master-key"))
			}
			master, err := store.ParseMasterKey(s.cfg.MasterKey)
			if err != nil {
				return fmt.Errorf("master key: %w", err)
			}
			fmt.Fprintln(stdout, base64.StdEncoding.EncodeToString(store.ReceiverIndexKey(master)))
			return nil
		},
	}
}
