package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/heraldhq/herald/internal/config"
)

func newMigrateCommand(stdout io.Writer, getenv func(string) string) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Apply, roll back or list database migrations",
		Long: `Manage the store's schema. Migrations run under a lock, so several
processes may call "herald migrate up" at once. Without --database-url the
dev store in --data-dir is used.`,
		// A typo in the subcommand must fail, not print help and succeed.
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return fmt.Errorf("choose a migration command: up, down or status (see herald migrate --help)")
		},
	}
	var c *configured
	open := func(ctx context.Context, cmd *cobra.Command) (*stack, error) {
		s, err := c.newStack(config.ModeTool, cmd.ErrOrStderr())
		if err != nil {
			return nil, err
		}
		if s.cfg.Database.URL == "" {
			if err := s.prepareDev(); err != nil {
				return nil, err
			}
		} else if s.cfg.MasterKey == "" {
			// Migrations never decrypt anything; a throwaway key lets them
			// run without the production secret.
			s.cfg.MasterKey = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
		}
		if err := s.openStore(ctx, schemaAsIs); err != nil {
			_ = s.Close()
			return nil, err
		}
		return s, nil
	}
	up := &cobra.Command{
		Use:   "up",
		Short: "Apply every pending migration",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := open(cmd.Context(), cmd)
			if err != nil {
				return err
			}
			defer s.Close()
			applied, err := s.db.MigrateUp(cmd.Context())
			if err != nil {
				return err
			}
			if len(applied) == 0 {
				fmt.Fprintln(stdout, "database is up to date")
			}
			for _, name := range applied {
				fmt.Fprintln(stdout, "applied", name)
			}
			return nil
		},
	}
	down := &cobra.Command{
		Use:   "down",
		Short: "Roll back the last group of applied migrations",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := open(cmd.Context(), cmd)
			if err != nil {
				return err
			}
			defer s.Close()
			rolled, err := s.db.MigrateDown(cmd.Context())
			if err != nil {
				return err
			}
			if len(rolled) == 0 {
				fmt.Fprintln(stdout, "nothing to roll back")
			}
			for _, name := range rolled {
				fmt.Fprintln(stdout, "rolled back", name)
			}
			return nil
		},
	}
	status := &cobra.Command{
		Use:   "status",
		Short: "List migrations and whether each is applied",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := open(cmd.Context(), cmd)
			if err != nil {
				return err
			}
			defer s.Close()
			states, err := s.db.MigrationStatus(cmd.Context())
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "MIGRATION\tSTATUS\tGROUP")
			for _, st := range states {
				state, group := "pending", "-"
				if st.Applied {
					state, group = "applied", fmt.Sprint(st.GroupID)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\n", st.Name, state, group)
			}
			return tw.Flush()
		},
	}
	// The settings flags live on the parent so every subcommand shares them.
	c = newConfigured(cmd.PersistentFlags(), getenv)
	cmd.AddCommand(up, down, status)
	return cmd
}
