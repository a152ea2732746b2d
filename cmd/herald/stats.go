package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/heraldhq/herald/internal/adminclient"
	"github.com/heraldhq/herald/internal/stats"
)

// statsOptions are the arguments of `herald stats`.
type statsOptions struct {
	by          string
	since       time.Duration
	interval    string
	tz          string
	output      string
	credentials string
}

// Validate says what is wrong, naming the flag.
func (o *statsOptions) Validate() error {
	var problems []string
	if o.by != "" && !slices.Contains(stats.AdminGroups, o.by) {
		problems = append(problems, fmt.Sprintf("--by %q: use one of %s", o.by, strings.Join(stats.AdminGroups, ", ")))
	}
	if o.since <= 0 {
		problems = append(problems, "--since must be a positive duration such as 1h or 168h")
	}
	if o.interval != "" && o.interval != stats.IntervalMinute && o.interval != stats.IntervalHour && o.interval != stats.IntervalDay {
		problems = append(problems, fmt.Sprintf("--interval %q: use minute, hour or day", o.interval))
	}
	if o.output != "table" && o.output != "json" {
		problems = append(problems, fmt.Sprintf("-o %q: use table or json", o.output))
	}
	if o.credentials == "" {
		problems = append(problems, "--credentials is empty and no default path is known: give the file herald login wrote")
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// query is the API query the options ask for. Without --interval the
// totals are what is printed, read by the hour (by the day past 31 days)
// so the range is cut as little as possible.
func (o *statsOptions) query(now time.Time) url.Values {
	q := url.Values{}
	q.Set("from", now.Add(-o.since).UTC().Format(time.RFC3339))
	q.Set("to", now.UTC().Format(time.RFC3339))
	interval := o.interval
	if interval == "" {
		interval = stats.IntervalHour
		if o.since > stats.MaxHourRange {
			interval = stats.IntervalDay
		}
	}
	q.Set("interval", interval)
	if o.by != "" {
		q.Set("group_by", o.by)
	}
	if o.tz != "" {
		q.Set("tz", o.tz)
	}
	return q
}

func newStatsCommand(stdout io.Writer, getenv func(string) string, now func() time.Time, httpClient *http.Client) *cobra.Command {
	o := &statsOptions{}
	cmd := &cobra.Command{
		Use:   "stats",
		Short: "Show message statistics: counts, success rate, SMS segments, latencies",
		Long: `Message statistics from the operators' API (GET /admin/api/v1/stats), for
the messages accepted in the last --since: how many, their status now,
the success rate (success / (success + failed)), SMS segments, and the
median and 95th percentile of the time from acceptance to the final status
and to the delivery receipt. Percentiles are estimated from power-of-two
histogram buckets: less than a factor of two off, usually much closer.

Without --interval one line per group sums the whole range; with it, one
line per interval and group (intervals with nothing counted are left out).
The range is widened to whole intervals (hours by default) in --tz.
Sign in first with herald login; any role may read statistics.`,
		Example: `  herald stats --by channel --since 24h
  herald stats --by status --since 2h --interval minute
  herald stats --by app --since 168h --interval day --tz Asia/Shanghai
  herald stats --by account --since 24h -o json | jq '.series[].total.success_rate'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.Validate(); err != nil {
				return err
			}
			creds, err := adminclient.Load(o.credentials)
			if err != nil {
				return err
			}
			client := adminclient.New(creds, o.credentials, httpClient)
			var raw json.RawMessage
			if err := client.Do(cmd.Context(), http.MethodGet, "/stats", o.query(now()), nil, &raw); err != nil {
				return err
			}
			if o.output == "json" {
				return writeIndentedJSON(stdout, raw)
			}
			var rep stats.Report
			if err := json.Unmarshal(raw, &rep); err != nil {
				return fmt.Errorf("decode statistics: %w", err)
			}
			return printStats(stdout, &rep, o.interval != "")
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.by, "by", "", "group by app, channel, account, status or provider_kind (default: no grouping)")
	f.DurationVar(&o.since, "since", 24*time.Hour, "how far back to look, as a duration (1h, 168h)")
	f.StringVar(&o.interval, "interval", "", "print one line per minute, hour or day instead of totals")
	f.StringVar(&o.tz, "tz", "", "IANA time zone of the intervals (default UTC)")
	f.StringVarP(&o.output, "output", "o", "table", "table for people, json for scripts")
	f.StringVar(&o.credentials, "credentials", defaultCredentialsPath(getenv), "the credentials file herald login wrote (env HERALD_CREDENTIALS)")
	return cmd
}

// defaultCredentialsPath is where herald login keeps credentials, shown
// as the flag's default; empty when no default is known.
func defaultCredentialsPath(getenv func(string) string) string {
	p, err := adminclient.CredentialsPath("", getenv)
	if err != nil {
		return ""
	}
	return p
}

func writeIndentedJSON(w io.Writer, raw json.RawMessage) error {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return fmt.Errorf("decode statistics: %w", err)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// printStats prints a report as an aligned table: one line per series
// with its totals, or with perInterval one line per interval and series
// that counted anything.
func printStats(w io.Writer, rep *stats.Report, perInterval bool) error {
	loc, err := time.LoadLocation(rep.TimeZone)
	if err != nil {
		loc = time.UTC
	}
	group := "GROUP"
	if rep.GroupBy != "" {
		group = strings.ToUpper(strings.ReplaceAll(rep.GroupBy, "_", " "))
	}
	fmt.Fprintf(w, "Messages accepted %s to %s (%s)\n", rep.From.In(loc).Format(time.DateTime), rep.To.In(loc).Format(time.DateTime), loc)
	if len(rep.Series) == 0 {
		_, err := fmt.Fprintln(w, "no messages")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	head := []string{group, "ACCEPTED", "SUCCESS", "FAILED", "IN FLIGHT", "CANCELLED", "SUCCESS RATE", "SEGMENTS", "FINAL P50", "FINAL P95", "RECEIPT P50", "RECEIPT P95"}
	if perInterval {
		head = append([]string{"START"}, head...)
	}
	fmt.Fprintln(tw, strings.Join(head, "\t"))
	line := func(prefix []string, s stats.Series, f stats.Figures) {
		key := s.Key
		if s.Name != "" {
			key += " " + s.Name
		}
		cols := append(slices.Clone(prefix), key,
			strconv.FormatInt(f.Accepted, 10), strconv.FormatInt(f.Success, 10), strconv.FormatInt(f.Failed, 10),
			strconv.FormatInt(f.Pending+f.Processing+f.Sent, 10), strconv.FormatInt(f.Cancelled, 10),
			rate(f.SuccessRate), strconv.FormatInt(f.SMSSegments, 10),
			millis(f.FinalLatency.P50Ms), millis(f.FinalLatency.P95Ms), millis(f.ReceiptLatency.P50Ms), millis(f.ReceiptLatency.P95Ms))
		fmt.Fprintln(tw, strings.Join(cols, "\t"))
	}
	if !perInterval {
		for _, s := range rep.Series {
			line(nil, s, s.Total)
		}
		return tw.Flush()
	}
	format := "2006-01-02 15:04"
	if rep.Interval == stats.IntervalDay {
		format = time.DateOnly
	}
	for i := range longestSeries(rep) {
		for _, s := range rep.Series {
			if i >= len(s.Points) {
				continue
			}
			p := s.Points[i]
			if p.Accepted == 0 && p.FinalLatency.Count == 0 && p.ReceiptLatency.Count == 0 {
				continue
			}
			line([]string{p.Start.In(loc).Format(format)}, s, p.Figures)
		}
	}
	return tw.Flush()
}

func longestSeries(rep *stats.Report) int {
	n := 0
	for _, s := range rep.Series {
		n = max(n, len(s.Points))
	}
	return n
}

func rate(r *float64) string {
	if r == nil {
		return "-"
	}
	return strconv.FormatFloat(*r*100, 'f', 1, 64) + "%"
}

// millis prints a latency for people: 850ms, 2.3s, 4m10s.
func millis(ms *int64) string {
	if ms == nil {
		return "-"
	}
	d := time.Duration(*ms) * time.Millisecond
	switch {
	case d < time.Second:
		return d.String()
	case d < time.Minute:
		return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + "s"
	}
	return d.Round(time.Second).String()
}

// compactStats folds the shards of statistics rollup buckets older than
// two hours together on every sweep, so reads of older ranges stay small,
// and minute rows older than the minutes kept into quarter hours, so the
// minute rollup does not grow without end.
func (s *stack) compactStats(ctx context.Context) {
	now := time.Now()
	n, err := s.db.CompactStats(ctx, now)
	if err != nil {
		s.log.Warn("sweep: compact statistics", zap.Error(err))
	} else if n > 0 {
		s.log.Debug("sweep: compacted statistics", zap.Int64("rows", n))
	}
	n, err = s.db.FoldStatsMinutes(ctx, now)
	if err != nil {
		s.log.Warn("sweep: fold minute statistics", zap.Error(err))
	} else if n > 0 {
		s.log.Debug("sweep: folded minute statistics", zap.Int64("rows", n))
	}
}
