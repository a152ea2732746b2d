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
	"go.uber.org/zap"

	"github.com/heraldhq/herald/store"
)

// quotaShowOptions are the arguments of `herald quota show`.
type quotaShowOptions struct {
	app string
}

// Validate says what is missing.
func (o *quotaShowOptions) Validate() error {
	if strings.TrimSpace(o.app) == "" {
		return errors.New("name the app: herald quota show APP")
	}
	return nil
}

func newQuotaCommand(stdout io.Writer, getenv func(string) string) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "quota",
		Short: "Show an app's message quotas and their usage",
		Long: `An app may have a daily and a monthly message quota, for all its messages
and for its messages on single channels (set them with herald apply, under
the app's quota). A message counts from its acceptance in the period
(in the app's time zone, default Asia/Shanghai) it was accepted in:
reserved while under way, committed once a provider accepted it or its
outcome is unknown, given back when it ends without any provider taking it.
A send over a quota is refused with HTTP 429 and code 30002.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return errors.New("choose a quota command: show (see herald quota --help)")
		},
	}
	c := newConfigured(cmd.PersistentFlags(), getenv)
	cmd.AddCommand(newQuotaShowCommand(stdout, c))
	return cmd
}

func newQuotaShowCommand(stdout io.Writer, c *configured) *cobra.Command {
	o := &quotaShowOptions{}
	return &cobra.Command{
		Use:   "show APP",
		Short: "Show the usage of an app's quotas in the current periods",
		Example: `  herald quota show shop
  herald quota show shop --database-url postgres://herald@db/herald --master-key ...`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				o.app = args[0]
			}
			if err := o.Validate(); err != nil {
				return err
			}
			s, err := openToolStack(cmd.Context(), c, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer s.Close()
			return showQuota(cmd.Context(), stdout, s.db, o.app, time.Now())
		},
	}
}

func showQuota(ctx context.Context, out io.Writer, db *store.DB, appID string, now time.Time) error {
	rows, err := db.QuotaReport(ctx, appID, now)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no app %q", appID)
	}
	if err != nil {
		return err
	}
	if len(rows) == 0 {
		_, err := fmt.Fprintf(out, "app %s has no quota\n", appID)
		return err
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "QUOTA\tSCOPE\tLIMIT\tRESERVED\tCOMMITTED\tREMAINING\tRESETS AT")
	for _, r := range rows {
		scope := "app"
		if r.ChannelID != 0 {
			scope = fmt.Sprintf("channel %d", r.ChannelID)
		}
		loc, lerr := store.LoadTimeZone(r.TimeZone)
		if lerr != nil {
			loc = time.UTC
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%s\n", store.Periodly(r.Period), scope, r.Limit, r.Reserved, r.Committed,
			r.Remaining, r.ResetsAt.In(loc).Format(time.RFC3339))
	}
	return tw.Flush()
}

// reconcileQuotas rebuilds the quota ledger of the current periods from
// the messages, on every sweep (by default twice a minute), so units a
// crash or a hand edit left behind are returned within a minute.
func (s *stack) reconcileQuotas(ctx context.Context) {
	n, err := s.db.ReconcileQuotas(ctx, time.Now())
	if err != nil {
		s.log.Warn("sweep: reconcile quotas", zap.Error(err))
		return
	}
	if n > 0 {
		s.log.Info("sweep: corrected the quota ledger", zap.Int64("rows", n))
	}
	s.reportQuotaUsage(ctx)
}

// reportQuotaUsage sets the quota gauges of every app with a quota, so
// "quota near its limit" is seen without anyone asking GET /quota.
func (s *stack) reportQuotaUsage(ctx context.Context) {
	if s.tel == nil {
		return
	}
	apps, err := s.db.QuotaAppIDs(ctx)
	if err != nil {
		s.log.Warn("sweep: list apps with quotas", zap.Error(err))
		return
	}
	now := time.Now()
	for _, app := range apps {
		rows, err := s.db.QuotaReport(ctx, app, now)
		if err != nil {
			s.log.Warn("sweep: read quota usage", zap.String("app_id", app), zap.Error(err))
			continue
		}
		for _, r := range rows {
			s.tel.rec.QuotaUsage(app, r.ChannelID, r.Period, r.Limit, r.Reserved+r.Committed)
		}
	}
}
