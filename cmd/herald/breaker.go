package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/heraldhq/herald/internal/breakerstatus"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/workflows"
)

// breakerOrderOptions are the flags of `herald breaker open|close|auto`.
type breakerOrderOptions struct {
	order   string
	account string
	reason  string
	actor   string
}

// Validate lists every missing or malformed argument.
func (o *breakerOrderOptions) Validate() error {
	var p []string
	if strings.TrimSpace(o.account) == "" {
		p = append(p, "the account name or id is required")
	}
	if strings.TrimSpace(o.reason) == "" {
		p = append(p, "--reason is required: it goes into the audit trail and the alert")
	}
	if len(o.reason) > breakerstatus.MaxReasonLength {
		p = append(p, fmt.Sprintf("--reason must be at most %d characters", breakerstatus.MaxReasonLength))
	}
	if len(p) > 0 {
		return errors.New(strings.Join(p, "; "))
	}
	return nil
}

func newBreakerCommand(stdout io.Writer, getenv func(string) string) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "breaker",
		Short: "Show and override the circuit breakers of provider accounts",
		Long: `Every provider account has a circuit breaker, shared by all workers and kept
across restarts. It opens when, within its window, both a minimum number of
sends fail and their share reaches a ratio (by default 50 failures and 50 %
in 60 s); messages then skip the account. After a cool-down (60 s) it
half-opens and lets a few probe sends through (5); 3 successes in a row
close it, a failure opens it again. Set the thresholds per account with
"breaker" in herald apply.

Without --database-url the dev store in --data-dir is used. open, close and
auto talk to the account's breaker workflow through Temporal at
--temporal-address (default: herald dev's embedded server on 127.0.0.1 at
--temporal-port).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return errors.New("choose a breaker command: list, history, open, close or auto (see herald breaker --help)")
		},
	}
	c := newConfigured(cmd.PersistentFlags(), getenv)
	cmd.AddCommand(newBreakerListCommand(stdout, c), newBreakerHistoryCommand(stdout, c))
	for _, order := range []struct{ name, order, short, example string }{
		{"open", breakerstatus.OrderOpen, "Force an account's breaker open: no message is sent through it until auto",
			"  herald breaker open tencent-main --reason 'vendor maintenance until 02:00'"},
		{"close", breakerstatus.OrderClosed, "Force an account's breaker closed: failures do not open it until auto",
			"  herald breaker close 3 --reason 'failures are a known vendor reporting bug'"},
		{"auto", breakerstatus.OrderAuto, "Hand an account's breaker back to its thresholds (a forced-open one half-opens and probes)",
			"  herald breaker auto tencent-main --reason 'maintenance over'"},
	} {
		cmd.AddCommand(newBreakerOrderCommand(stdout, c, order.name, order.order, order.short, order.example))
	}
	return cmd
}

func newBreakerListCommand(stdout io.Writer, c *configured) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List every account's breaker: state, since when, failures in the window, forced",
		Long: `List every provider account with its breaker as last published: its state
(closed, open, half_open), since when, the failures and all sends counted in
the current window, and whether an operator forced it. An account whose
breaker has never heard of a send reads closed.`,
		Example: "  herald breaker list\n  herald breaker list --database-url postgres://herald@db/herald --master-key ...",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := openToolStack(cmd.Context(), c, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer s.Close()
			return listBreakers(cmd.Context(), stdout, s.db)
		},
	}
}

func listBreakers(ctx context.Context, out io.Writer, db *store.DB) error {
	rows, err := breakerstatus.List(ctx, db)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tACCOUNT\tKIND\tSTATE\tSINCE\tFAILURES/TOTAL\tFORCED\tREASON")
	for _, r := range rows {
		since := "-"
		if r.Published {
			since = r.Since.Format(time.RFC3339)
		}
		forced := "no"
		if r.Forced != breakerstatus.ForcedNone {
			forced = "yes"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%d/%d\t%s\t%s\n", r.AccountID, r.AccountName, r.ProviderKind, r.State,
			since, r.Failures, r.Total, forced, r.Reason)
	}
	return tw.Flush()
}

func newBreakerHistoryCommand(stdout io.Writer, c *configured) *cobra.Command {
	return &cobra.Command{
		Use:   "history <account-name-or-id>",
		Short: "Show an account's breaker transitions, oldest first: when, from, to, forced, by whom and why",
		Long: `Show the audit trail of an account's circuit breaker: every transition the
breaker workflow recorded, oldest first, with its time, the states before
and after, whether an operator forced it, who (the breaker itself, or the
actor of an order) and the reason (the window's counts for an automatic
opening, the operator's words for an order).`,
		Example: "  herald breaker history tencent-main\n  herald breaker history 3 --database-url postgres://herald@db/herald --master-key ...",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := openToolStack(cmd.Context(), c, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer s.Close()
			acc, err := findAccount(cmd.Context(), s.db, args[0])
			if err != nil {
				return err
			}
			return breakerHistory(cmd.Context(), stdout, s.db, acc)
		},
	}
}

func breakerHistory(ctx context.Context, out io.Writer, db *store.DB, acc *store.ProviderAccount) error {
	events, err := breakerstatus.History(ctx, db, acc.ID)
	if err != nil {
		return err
	}
	if len(events) == 0 {
		fmt.Fprintf(out, "the breaker of account %s (id %d) has never changed state\n", acc.Name, acc.ID)
		return nil
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "AT\tFROM\tTO\tFORCED\tACTOR\tREASON")
	for _, e := range events {
		forced := "no"
		if e.Forced {
			forced = "yes"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", e.At.UTC().Format(time.RFC3339), e.From, e.To, forced, e.Actor, e.Reason)
	}
	return tw.Flush()
}

func newBreakerOrderCommand(stdout io.Writer, c *configured, name, order, short, example string) *cobra.Command {
	o := &breakerOrderOptions{order: order}
	cmd := &cobra.Command{
		Use:   name + " <account-name-or-id> --reason TEXT",
		Short: short,
		Long: short + `.

The order goes to the account's breaker workflow, which records the
transition with the reason in the audit trail, posts an alert and publishes
the new state; workers follow it within two seconds. A forced state holds
until "herald breaker auto".`,
		Example: example,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.account = args[0]
			if err := o.Validate(); err != nil {
				return err
			}
			s, err := openToolStack(cmd.Context(), c, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer s.Close()
			acc, err := findAccount(cmd.Context(), s.db, o.account)
			if err != nil {
				return err
			}
			if s.cfg.Temporal.Address == "" {
				s.cfg.Temporal.Address = fmt.Sprintf("127.0.0.1:%d", s.cfg.Temporal.Port)
			}
			if err := s.openTemporal(cmd.Context()); err != nil {
				return err
			}
			order := breakerstatus.Force{Order: o.order, Reason: o.reason, Actor: o.actor}
			if err := breakerstatus.Send(cmd.Context(), workflows.NewClient(s.temporal), acc.ID, order); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "breaker of account %s (id %d): %s sent (%s)\n", acc.Name, acc.ID, name, o.reason)
			return nil
		},
	}
	cmd.Flags().StringVar(&o.reason, "reason", "", "why (required; recorded in the audit trail and the alert)")
	cmd.Flags().StringVar(&o.actor, "actor", "cli", "who gives the order, for the audit trail")
	return cmd
}
