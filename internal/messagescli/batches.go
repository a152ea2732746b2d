package messagescli

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/heraldhq/herald/api/admin/messages"
)

// NewBatchesCommand builds `herald batches`. httpClient may be nil.
func NewBatchesCommand(stdout io.Writer, getenv func(string) string, httpClient *http.Client) *cobra.Command {
	if httpClient == nil {
		httpClient = &http.Client{Timeout: 0}
	}
	c := &common{getenv: getenv, httpClient: httpClient}
	cmd := &cobra.Command{
		Use:   "batches",
		Short: "List batches, show their progress, and pause, resume or cancel them through the admin API",
		Long: `Operators' view of batch sends, through the admin API of the server you logged
in to with herald login. A batch runs as one workflow that sends its
receivers in chunks; pausing it stops new chunks, resuming continues, and
cancelling ends what is not yet sent (members already handed to a provider
finish as usual). Pause, resume and cancel need the operator role.

Batches accepted before batches ran as one workflow show the status
"legacy": their messages each run on their own, and are cancelled one by
one with herald messages cancel.`,
		Example: `  herald batches list --app shop --status running
  herald batches show 0b7d4f7e-3c55-4a0e-8f6b-1d2c3e4f5a6b
  herald batches pause 0b7d4f7e-3c55-4a0e-8f6b-1d2c3e4f5a6b`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			return errors.New("choose a batches command: list, show, pause, resume or cancel (see herald batches --help)")
		},
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&c.credentials, "credentials", "", "credentials file written by herald login (default: $HERALD_CREDENTIALS or the user config dir)")
	pf.StringVarP(&c.output, "output", "o", "table", "output: table or json")
	cmd.AddCommand(
		newBatchListCommand(stdout, c),
		newBatchShowCommand(stdout, c),
		newBatchActionCommand(stdout, c, "pause", "Pause a running batch: no new chunk starts until it is resumed"),
		newBatchActionCommand(stdout, c, "resume", "Resume a paused batch"),
		newBatchActionCommand(stdout, c, "cancel", "Cancel what a batch has not yet sent"),
	)
	return cmd
}

func newBatchListCommand(stdout io.Writer, c *common) *cobra.Command {
	var app, status, cursor string
	var limit int
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List batches, newest first",
		Example: `  herald batches list
  herald batches list --app shop --status paused -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := c.client()
			if err != nil {
				return err
			}
			q := url.Values{}
			for k, v := range map[string]string{"app_id": app, "status": status, "cursor": cursor} {
				if v != "" {
					q.Set(k, v)
				}
			}
			if limit != 0 {
				q.Set("limit", strconv.Itoa(limit))
			}
			var page messages.BatchPage
			if err := cl.Do(cmd.Context(), http.MethodGet, "/batches", q, nil, &page); err != nil {
				return err
			}
			if c.output == "json" {
				return writeJSON(stdout, page)
			}
			return batchListTable(stdout, page)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&app, "app", "", "app id")
	fl.StringVar(&status, "status", "", "running, paused, cancelled or finished")
	fl.IntVar(&limit, "limit", 0, "batches per page (default 50, at most 500)")
	fl.StringVar(&cursor, "cursor", "", "the next page's cursor, printed under the previous page")
	return cmd
}

func batchListTable(w io.Writer, page messages.BatchPage) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "BATCH ID\tACCEPTED\tAPP\tCHANNEL\tSTATUS\tRECEIVERS\tREJECTED\tFINISHED\tFINISHED AT")
	for _, b := range page.Items {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%d\t%d\t%d\t%s\n", b.ID, b.CreatedAt, b.AppID, b.ChannelID, b.Status,
			b.SuccessCount, b.FailedCount, b.Finished, optTime(b.FinishedAt))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if page.NextCursor != "" {
		fmt.Fprintf(w, "\nmore: --cursor %s\n", page.NextCursor)
	}
	return nil
}

func optTime(s *string) string {
	if s == nil {
		return "-"
	}
	return *s
}

func newBatchShowCommand(stdout io.Writer, c *common) *cobra.Command {
	return &cobra.Command{
		Use:     "show BATCH_ID",
		Short:   "Show a batch's progress: its members counted by status",
		Example: `  herald batches show 0b7d4f7e-3c55-4a0e-8f6b-1d2c3e4f5a6b -o json`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.client()
			if err != nil {
				return err
			}
			var b messages.BatchView
			if err := cl.Do(cmd.Context(), http.MethodGet, "/batches/"+url.PathEscape(args[0]), nil, nil, &b); err != nil {
				return err
			}
			return c.printBatch(stdout, b)
		},
	}
}

func newBatchActionCommand(stdout io.Writer, c *common, action, short string) *cobra.Command {
	return &cobra.Command{
		Use:     action + " BATCH_ID",
		Short:   short,
		Example: "  herald batches " + action + " 0b7d4f7e-3c55-4a0e-8f6b-1d2c3e4f5a6b",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.client()
			if err != nil {
				return err
			}
			var b messages.BatchView
			if err := cl.Do(cmd.Context(), http.MethodPost, "/batches/"+url.PathEscape(args[0])+"/"+action, nil, nil, &b); err != nil {
				return err
			}
			return c.printBatch(stdout, b)
		},
	}
}

func (c *common) printBatch(w io.Writer, b messages.BatchView) error {
	if c.output == "json" {
		return writeJSON(w, b)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k string, v any) { fmt.Fprintf(tw, "%s\t%v\n", k, v) }
	row("batch id", b.ID)
	row("app", b.AppID)
	row("channel", b.ChannelID)
	row("status", b.Status)
	row("receivers", fmt.Sprintf("%d accepted, %d rejected, %d in the request", b.SuccessCount, b.FailedCount, b.TotalCount))
	n := b.Counts
	row("members", fmt.Sprintf("pending %d, processing %d, sent %d, success %d, failed %d, cancelled %d",
		n.Pending, n.Processing, n.Sent, n.Success, n.Failed, n.Cancelled))
	row("finished", fmt.Sprintf("%d of %d", b.Finished, b.SuccessCount))
	row("accepted", b.CreatedAt)
	row("scheduled", optTime(b.ScheduledAt))
	row("updated", optTime(b.UpdatedAt))
	row("finished at", optTime(b.FinishedAt))
	if b.TemporalURL != "" {
		row("workflow", b.TemporalURL)
	}
	return tw.Flush()
}
