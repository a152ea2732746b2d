// Package messagescli holds the `herald messages` commands, which talk to
// the admin API's message routes (package api/admin/messages) through
// internal/adminclient. cmd/herald adds NewCommand to its root.
package messagescli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/heraldhq/herald/api/admin/messages"
	"github.com/heraldhq/herald/internal/adminclient"
	"github.com/heraldhq/herald/store"
)

// common are the flags every messages command shares.
type common struct {
	credentials string
	output      string
	getenv      func(string) string
	httpClient  *http.Client
}

func (c *common) Validate() error {
	if c.output != "table" && c.output != "json" {
		return fmt.Errorf("--output must be table or json, not %q", c.output)
	}
	return nil
}

// client loads the stored credentials and returns an admin API client.
func (c *common) client() (*adminclient.Client, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return adminclient.Open(c.credentials, c.getenv, c.httpClient)
}

// NewCommand builds `herald messages`. httpClient may be nil.
func NewCommand(stdout io.Writer, getenv func(string) string, httpClient *http.Client) *cobra.Command {
	if httpClient == nil {
		httpClient = &http.Client{Timeout: 0}
	}
	c := &common{getenv: getenv, httpClient: httpClient}
	cmd := &cobra.Command{
		Use:   "messages",
		Short: "List, inspect, cancel, resend, export and re-drive messages through the admin API",
		Long: `Operators' view of messages, through the admin API of the server you logged
in to with herald login. Viewers see receivers masked and contents hidden;
cancel, resend and redrive need the operator role.`,
		Example: `  herald messages list --status failed --since 1h
  herald messages show 6f1c0f0e-5d2a-4c47-9a55-2d0a3c1e9b10
  herald messages redrive --status failed --provider aliyun --since 2h --account 3`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			return errors.New("choose a messages command: list, show, cancel, resend, export or redrive (see herald messages --help)")
		},
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&c.credentials, "credentials", "", "credentials file written by herald login (default: $HERALD_CREDENTIALS or the user config dir)")
	pf.StringVarP(&c.output, "output", "o", "table", "output: table or json")
	cmd.AddCommand(
		newListCommand(stdout, c),
		newShowCommand(stdout, c),
		newActionCommand(stdout, c, "cancel", "Cancel a message not yet handed to a provider"),
		newActionCommand(stdout, c, "resend", "Send a finished message again as a new task linked to it"),
		newExportCommand(stdout, c),
		newRedriveCommand(stdout, c),
	)
	return cmd
}

// filterFlags are the list's filters as flags.
type filterFlags struct {
	app, status, provider, since, until, receiver string
	channel, account                              int64
}

// add adds the filter flags; accountFlag names the account filter, which
// redrive calls --from-account since its --account forces the account of
// the resends.
func (f *filterFlags) add(cmd *cobra.Command, accountFlag string) {
	fl := cmd.Flags()
	fl.StringVar(&f.app, "app", "", "app id")
	fl.Int64Var(&f.channel, "channel", 0, "channel id")
	fl.StringVar(&f.status, "status", "", "status, or several separated by commas (pending, processing, sent, success, failed, cancelled)")
	fl.StringVar(&f.provider, "provider", "", "provider kind of the account (aliyun, tencent, ...)")
	fl.Int64Var(&f.account, accountFlag, 0, "provider account id the message went through")
	fl.StringVar(&f.since, "since", "", `accepted at or after: RFC 3339 time or a duration back from now ("1h", "7d")`)
	fl.StringVar(&f.until, "until", "", "accepted before: RFC 3339 time or a duration back from now")
	fl.StringVar(&f.receiver, "receiver", "", "one receiver exactly as stored (phone numbers in E.164)")
}

func (f *filterFlags) values() url.Values {
	q := url.Values{}
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	set("app", f.app)
	set("status", f.status)
	set("provider", f.provider)
	set("since", f.since)
	set("until", f.until)
	set("receiver", f.receiver)
	if f.channel != 0 {
		q.Set("channel", strconv.FormatInt(f.channel, 10))
	}
	if f.account != 0 {
		q.Set("account", strconv.FormatInt(f.account, 10))
	}
	return q
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func newListCommand(stdout io.Writer, c *common) *cobra.Command {
	var f filterFlags
	var limit int
	var cursor string
	cmd := &cobra.Command{
		Use:   "list [filters]",
		Short: "List messages, newest first",
		Example: `  herald messages list --status failed --since 1h
  herald messages list --app shop --channel 2 --since 7d -o json
  herald messages list --receiver +8613800138000`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := c.client()
			if err != nil {
				return err
			}
			q := f.values()
			if limit != 0 {
				q.Set("limit", strconv.Itoa(limit))
			}
			if cursor != "" {
				q.Set("cursor", cursor)
			}
			var page messages.ListResponse
			if err := cl.Do(cmd.Context(), http.MethodGet, "/messages", q, nil, &page); err != nil {
				return err
			}
			if c.output == "json" {
				return writeJSON(stdout, page)
			}
			return listTable(stdout, page)
		},
	}
	f.add(cmd, "account")
	cmd.Flags().IntVar(&limit, "limit", 0, "messages per page (default 50, at most 500)")
	cmd.Flags().StringVar(&cursor, "cursor", "", "the next page's cursor, printed under the previous page")
	return cmd
}

func listTable(w io.Writer, page messages.ListResponse) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TASK ID\tACCEPTED\tAPP\tCHANNEL\tSTATUS\tRECEIVER\tACCOUNT\tATTEMPTS\tLAST ERROR")
	for _, m := range page.Items {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\t%d\t%s\n", m.TaskID, m.CreatedAt, m.AppID, m.ChannelID, m.Status,
			m.Receiver, optID(m.AccountID), m.AttemptCount, clip(m.LastError, 40))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if page.NextCursor != "" {
		fmt.Fprintf(w, "\nmore: --cursor %s\n", page.NextCursor)
	}
	return nil
}

func optID(id *int64) string {
	if id == nil {
		return "-"
	}
	return strconv.FormatInt(*id, 10)
}

func clip(s string, n int) string {
	r := []rune(strings.ReplaceAll(s, "\n", " "))
	if len(r) <= n {
		return string(r)
	}
	return string(r[:n-1]) + "…"
}

func newShowCommand(stdout io.Writer, c *common) *cobra.Command {
	return &cobra.Command{
		Use:     "show TASK_ID",
		Short:   "Show a message with its timeline and its Temporal UI link",
		Example: `  herald messages show 6f1c0f0e-5d2a-4c47-9a55-2d0a3c1e9b10`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.client()
			if err != nil {
				return err
			}
			var d messages.DetailResponse
			if err := cl.Do(cmd.Context(), http.MethodGet, "/messages/"+url.PathEscape(args[0]), nil, nil, &d); err != nil {
				return err
			}
			if c.output == "json" {
				return writeJSON(stdout, d)
			}
			return detailTable(stdout, d)
		},
	}
}

func detailTable(w io.Writer, d messages.DetailResponse) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	rows := [][2]string{
		{"task", d.TaskID}, {"app", d.AppID}, {"channel", strconv.FormatInt(d.ChannelID, 10)},
		{"type", d.MessageType}, {"receiver", d.Receiver}, {"status", d.Status},
		{"receipt", d.CallbackStatus}, {"account", optID(d.AccountID)},
		{"attempts", fmt.Sprintf("%d of %d", d.AttemptCount, d.MaxAttempts)},
		{"accepted", d.CreatedAt}, {"last error", d.LastError},
		{"resent as", d.RedrivenTo}, {"resends", d.RedrivenFrom}, {"temporal", d.TemporalURL},
	}
	for _, r := range rows {
		if r[1] != "" {
			fmt.Fprintf(tw, "%s\t%s\n", r[0], r[1])
		}
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "SEQ\tAT\tKIND\tSTATUS\tACCOUNT\tCODE\tDETAIL")
	for _, e := range d.Timeline {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Seq, e.CreatedAt, e.Kind, e.Status, optID(e.AccountID), e.Code, clip(e.Detail, 60))
	}
	return tw.Flush()
}

func newActionCommand(stdout io.Writer, c *common, action, short string) *cobra.Command {
	return &cobra.Command{
		Use:     action + " TASK_ID",
		Short:   short,
		Example: "  herald messages " + action + " 6f1c0f0e-5d2a-4c47-9a55-2d0a3c1e9b10",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.client()
			if err != nil {
				return err
			}
			var a messages.ActionResponse
			if err := cl.Do(cmd.Context(), http.MethodPost, "/messages/"+url.PathEscape(args[0])+"/"+action, nil, nil, &a); err != nil {
				return err
			}
			if c.output == "json" {
				return writeJSON(stdout, a)
			}
			if a.ResentAs != "" {
				_, err = fmt.Fprintf(stdout, "task %s resent as %s\n", a.TaskID, a.ResentAs)
				return err
			}
			_, err = fmt.Fprintf(stdout, "task %s is %s\n", a.TaskID, a.Status)
			return err
		},
	}
}

func newExportCommand(stdout io.Writer, c *common) *cobra.Command {
	var f filterFlags
	cmd := &cobra.Command{
		Use:   "export [filters]",
		Short: "Write the messages matching the filters as CSV to standard output",
		Example: `  herald messages export --status failed --since 24h > failed.csv
  herald messages export --app shop --since 7d`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := c.client()
			if err != nil {
				return err
			}
			resp, err := cl.Raw(cmd.Context(), http.MethodGet, "/messages/export.csv", f.values(), nil)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			if _, err := io.Copy(stdout, resp.Body); err != nil {
				return fmt.Errorf("read export: %w", err)
			}
			return nil
		},
	}
	f.add(cmd, "account")
	return cmd
}

type redriveOptions struct {
	filterFlags
	forceAccount int64
	rate         float64
	noWait       bool
	poll         time.Duration
}

func newRedriveCommand(stdout io.Writer, c *common) *cobra.Command {
	o := &redriveOptions{}
	cmd := &cobra.Command{
		Use:   "redrive [filters] [--account N]",
		Short: "Resend every finished message matching the filters, as a durable re-drive",
		Long: `Starts a re-drive on the server: a workflow that resends the matching
messages page by page at a bounded rate, skipping those resent already, and
follows its progress until it ends (Ctrl-C stops following, not the
re-drive). --account sends every resend through that provider account.`,
		Example: `  herald messages redrive --status failed --provider aliyun --since 2h
  herald messages redrive --status failed --since 2h --account 3 --rate 20`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := c.client()
			if err != nil {
				return err
			}
			filter := map[string]any{}
			for k, v := range o.values() {
				filter[k] = v[0]
			}
			if len(filter) == 0 {
				return errors.New("give at least one filter (--status, --since, --provider, ...): a re-drive of every message is surely a mistake")
			}
			var r messages.RedriveView
			body := messages.RedriveRequest{Filter: filter, AccountID: o.forceAccount, PerSecond: o.rate}
			if err := cl.Do(cmd.Context(), http.MethodPost, "/messages/redrive", nil, body, &r); err != nil {
				return err
			}
			if o.noWait {
				if c.output == "json" {
					return writeJSON(stdout, r)
				}
				_, err := fmt.Fprintf(stdout, "redrive %s started; GET /admin/api/v1/redrives/%s shows its progress\n", r.ID, r.ID)
				return err
			}
			final, err := follow(cmd.Context(), cl, r.ID, o.poll, c.output == "table", cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			if c.output == "json" {
				return writeJSON(stdout, final)
			}
			_, err = fmt.Fprintf(stdout, "redrive %s %s: %d matched, %d resent, %d skipped, %d failed\n",
				final.ID, final.Status, final.Matched, final.Resent, final.Skipped, final.Failed)
			return err
		},
	}
	o.add(cmd, "from-account")
	cmd.Flags().Int64Var(&o.forceAccount, "account", 0, "send every resend through this provider account")
	cmd.Flags().Float64Var(&o.rate, "rate", 0, "resends per second (default 10, at most 100)")
	cmd.Flags().BoolVar(&o.noWait, "no-wait", false, "start the re-drive and return at once")
	cmd.Flags().DurationVar(&o.poll, "poll", time.Second, "how often to read the progress")
	return cmd
}

// follow polls a re-drive until it ends, drawing a progress bar on w when
// bar is true.
func follow(ctx context.Context, cl *adminclient.Client, id string, poll time.Duration, bar bool, w io.Writer) (messages.RedriveView, error) {
	var pb *progressbar.ProgressBar
	if bar {
		pb = progressbar.NewOptions(-1, progressbar.OptionSetWriter(w), progressbar.OptionSetDescription("redrive "+id),
			progressbar.OptionShowCount(), progressbar.OptionClearOnFinish())
	}
	for {
		var r messages.RedriveView
		if err := cl.Do(ctx, http.MethodGet, "/redrives/"+url.PathEscape(id), nil, nil, &r); err != nil {
			return r, err
		}
		if pb != nil {
			pb.Describe(fmt.Sprintf("redrive %s: %s, %d resent, %d skipped, %d failed", r.ID, r.Status, r.Resent, r.Skipped, r.Failed))
			_ = pb.Set(r.Matched)
		}
		if r.Status == store.RedriveDone || r.Status == store.RedriveCancelled {
			if pb != nil {
				_ = pb.Finish()
			}
			return r, nil
		}
		select {
		case <-ctx.Done():
			return r, ctx.Err()
		case <-time.After(poll):
		}
	}
}

// NewWatchCommand builds `herald watch`, a live tail of message events.
// httpClient may be nil.
func NewWatchCommand(stdout io.Writer, getenv func(string) string, httpClient *http.Client) *cobra.Command {
	if httpClient == nil {
		httpClient = &http.Client{}
	}
	c := &common{getenv: getenv, httpClient: httpClient}
	var f filterFlags
	cmd := &cobra.Command{
		Use:   "watch [filters]",
		Short: "Print message events live as they are stored, filtered like messages list",
		Long: `Follows the timeline events of every message matching the filters from now
on, one line each, until interrupted. -o json prints each event as one JSON
object per line.`,
		Example: `  herald watch
  herald watch --status failed --provider aliyun
  herald watch --app shop -o json | jq .kind`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := c.client()
			if err != nil {
				return err
			}
			q := f.values()
			q.Del("since")
			q.Del("until")
			resp, err := cl.Raw(cmd.Context(), http.MethodGet, "/messages/watch", q, nil)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			return printWatch(stdout, resp.Body, c.output == "json")
		},
	}
	pf := cmd.Flags()
	pf.StringVar(&c.credentials, "credentials", "", "credentials file written by herald login (default: $HERALD_CREDENTIALS or the user config dir)")
	pf.StringVarP(&c.output, "output", "o", "table", "output: table or json")
	f.add(cmd, "account")
	return cmd
}

// printWatch copies the NDJSON stream, as it is or one aligned line per
// event; it ends without error when the stream does.
func printWatch(w io.Writer, r io.Reader, raw bool) error {
	dec := json.NewDecoder(r)
	for {
		var e messages.WatchEvent
		if err := dec.Decode(&e); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, context.Canceled) {
				return nil
			}
			return fmt.Errorf("read events: %w", err)
		}
		var err error
		if raw {
			err = json.NewEncoder(w).Encode(e)
		} else {
			_, err = fmt.Fprintf(w, "%s  %s  %-8s  %-16s  %-10s  %-6s  %s  %s %s\n", e.CreatedAt, e.TaskID, e.AppID, e.Kind, e.Status,
				optID(e.AccountID), e.Receiver, e.Code, clip(e.Detail, 60))
		}
		if err != nil {
			return err
		}
	}
}
