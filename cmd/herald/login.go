package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/heraldhq/herald/internal/adminclient"
	"github.com/heraldhq/herald/store"
)

// credentialsFlag is the --credentials flag every command that talks to
// the admin API takes.
type credentialsFlag struct {
	path   string
	getenv func(string) string
}

func (f *credentialsFlag) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.path, "credentials", "", "where the sign-in is kept (default: the user config dir's herald/credentials.json; env HERALD_CREDENTIALS)")
}

// resolve returns the flag, HERALD_CREDENTIALS, or the default path.
func (f *credentialsFlag) resolve() (string, error) {
	return adminclient.CredentialsPath(f.path, f.getenv)
}

// loginOptions are the flags of `herald login`.
type loginOptions struct {
	url           string
	username      string
	passwordStdin bool
	creds         credentialsFlag
}

// Validate says what is missing.
func (o *loginOptions) Validate() error {
	var errs []error
	if o.url == "" {
		errs = append(errs, errors.New("--url is required: the server's base URL, e.g. http://127.0.0.1:8080"))
	}
	if o.passwordStdin && strings.TrimSpace(o.username) == "" {
		errs = append(errs, errors.New("--username is required with --password-stdin"))
	}
	return errors.Join(errs...)
}

func newLoginCommand(stdout io.Writer, getenv func(string) string) *cobra.Command {
	o := &loginOptions{creds: credentialsFlag{getenv: getenv}}
	cmd := &cobra.Command{
		Use:   "login --url URL",
		Short: "Sign in to a Herald server's operators' API",
		Long: `Sign in and keep the tokens in the user's config directory (mode 0600), for
the commands that talk to the operators' API (herald audit, ...). The
password is read from the terminal without echo, or from the first line of
standard input with --password-stdin. The sign-in lasts while it is used at
least every 12 hours, for at most 7 days (the server's settings).`,
		Example: `  herald login --url http://127.0.0.1:8080
  herald login --url https://herald.example.com --username ann
  printf '%s\n' "$HERALD_PASSWORD" | herald login --url https://herald.example.com --username ci --password-stdin`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.Validate(); err != nil {
				return err
			}
			path, err := o.creds.resolve()
			if err != nil {
				return err
			}
			in := bufio.NewReader(cmd.InOrStdin())
			name := strings.TrimSpace(o.username)
			if name == "" {
				fmt.Fprint(cmd.ErrOrStderr(), "Username: ")
				line, err := in.ReadString('\n')
				if err != nil && !errors.Is(err, io.EOF) {
					return fmt.Errorf("read username: %w", err)
				}
				if name = strings.TrimSpace(line); name == "" {
					return errors.New("no username given")
				}
			}
			src := passwordSource{fromStdin: o.passwordStdin, stdin: cmd.InOrStdin(), prompt: cmd.ErrOrStderr()}
			if o.passwordStdin {
				src.stdin = in
			}
			pw, err := src.read(false)
			if err != nil {
				return err
			}
			creds, err := adminclient.Login(cmd.Context(), nil, o.url, name, pw)
			if err != nil {
				return err
			}
			if err := creds.Save(path); err != nil {
				return err
			}
			_, err = fmt.Fprintf(stdout, "signed in to %s as %s (%s)\n", creds.URL, creds.Username, creds.Role)
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.url, "url", "", "the server's base URL, e.g. http://127.0.0.1:8080")
	f.StringVar(&o.username, "username", "", "the username (prompted for when not given)")
	f.BoolVar(&o.passwordStdin, "password-stdin", false, "read the password from the first line of standard input")
	o.creds.register(cmd)
	return cmd
}

func newLogoutCommand(stdout io.Writer, getenv func(string) string) *cobra.Command {
	creds := credentialsFlag{getenv: getenv}
	cmd := &cobra.Command{
		Use:   "logout",
		Short: "Sign out: end the sign-in on the server and forget the tokens",
		Example: `  herald logout
  herald logout --credentials ./ci-credentials.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path, err := creds.resolve()
			if err != nil {
				return err
			}
			c, err := adminclient.Load(path)
			if err != nil {
				return err
			}
			// The tokens are forgotten even when the server cannot be
			// reached; its sign-in then ends by expiry.
			serverErr := adminclient.New(c, path, nil).Logout(cmd.Context())
			if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("remove credentials: %w", err)
			}
			if serverErr != nil {
				return fmt.Errorf("forgot the local sign-in, but the server did not confirm the sign-out: %w", serverErr)
			}
			_, err = fmt.Fprintf(stdout, "signed out of %s\n", c.URL)
			return err
		},
	}
	creds.register(cmd)
	return cmd
}

// auditOptions are the flags of `herald audit`.
type auditOptions struct {
	actor, action, objectType, objectID string
	since, until                        string
	limit                               int
	cursor                              string
	output                              string
	creds                               credentialsFlag
}

// query checks the flags, every problem at once, and builds the request's
// query.
func (o *auditOptions) query(now time.Time) (url.Values, error) {
	var errs []error
	q := url.Values{}
	for k, v := range map[string]string{"actor": o.actor, "action": o.action, "object_type": o.objectType, "object_id": o.objectID, "cursor": o.cursor} {
		if v != "" {
			q.Set(k, v)
		}
	}
	for name, v := range map[string]string{"since": o.since, "until": o.until} {
		if v == "" {
			continue
		}
		t, err := parseSince(v, now)
		if err != nil {
			errs = append(errs, fmt.Errorf("--%s: %w", name, err))
			continue
		}
		q.Set(name, t.UTC().Format(time.RFC3339))
	}
	if o.limit < 1 || o.limit > 500 {
		errs = append(errs, fmt.Errorf("--limit must be from 1 to 500, got %d", o.limit))
	}
	q.Set("limit", strconv.Itoa(o.limit))
	if err := validateOutput(o.output); err != nil {
		errs = append(errs, err)
	}
	return q, errors.Join(errs...)
}

// parseSince reads a time as RFC 3339 or as a duration back from now
// ("90m", "24h").
func parseSince(v string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(v); err == nil {
		if d < 0 {
			return time.Time{}, fmt.Errorf("%q: give a positive duration back from now, e.g. 1h", v)
		}
		return now.Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q: give a duration back from now (1h, 30m) or an RFC 3339 time (2026-12-03T08:00:00Z)", v)
	}
	return t, nil
}

// auditPage is the answer of GET /audit.
type auditPage struct {
	Items      []store.AuditRecord `json:"items"`
	NextCursor string              `json:"next_cursor"`
}

func newAuditCommand(stdout io.Writer, getenv func(string) string) *cobra.Command {
	o := &auditOptions{creds: credentialsFlag{getenv: getenv}}
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Page through the audit log of the signed-in server, newest first",
		Long: `Every write through the operators' API, herald apply and herald admin user
is recorded with its actor (user:<name> or cli:<os user>), action, object, the
fields it changed (secrets redacted), time and client IP. Operators and
admins may read it. Sign in first with herald login.

After a full page, standard error gives the --cursor of the next one.`,
		Example: `  herald audit --since 1h
  herald audit --actor user:ann --action app.update
  herald audit --object-type user --object-id 3 -o json
  herald audit --since 2026-12-01T00:00:00Z --until 2026-12-02T00:00:00Z --limit 500`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			q, err := o.query(time.Now())
			if err != nil {
				return err
			}
			path, err := o.creds.resolve()
			if err != nil {
				return err
			}
			creds, err := adminclient.Load(path)
			if err != nil {
				return err
			}
			var page auditPage
			if err := adminclient.New(creds, path, nil).Do(cmd.Context(), "GET", "/audit", q, nil, &page); err != nil {
				return err
			}
			if err := printAudit(stdout, page, o.output); err != nil {
				return err
			}
			if page.NextCursor != "" && o.output == "table" {
				fmt.Fprintf(cmd.ErrOrStderr(), "more: add --cursor %s\n", page.NextCursor)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.actor, "actor", "", "only this actor, e.g. user:ann or cli:root")
	f.StringVar(&o.action, "action", "", "only this action, e.g. user.update")
	f.StringVar(&o.objectType, "object-type", "", "only objects of this type, e.g. app")
	f.StringVar(&o.objectID, "object-id", "", "only this object id (with --object-type)")
	f.StringVar(&o.since, "since", "", "from this time: a duration back from now (1h) or RFC 3339")
	f.StringVar(&o.until, "until", "", "before this time: a duration back from now or RFC 3339")
	f.IntVar(&o.limit, "limit", 50, "records per page, 1 to 500")
	f.StringVar(&o.cursor, "cursor", "", "continue from a previous page")
	f.StringVarP(&o.output, "output", "o", "table", "table or json")
	o.creds.register(cmd)
	return cmd
}

func printAudit(w io.Writer, page auditPage, output string) error {
	if output == "json" {
		if page.Items == nil {
			page.Items = []store.AuditRecord{}
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(page)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTIME\tACTOR\tACTION\tOBJECT\tCLIENT IP\tCHANGED")
	for _, r := range page.Items {
		object := r.ObjectType
		if r.ObjectID != "" {
			object += " " + r.ObjectID
		}
		fields := make([]string, 0, len(r.Diff))
		for k := range r.Diff {
			fields = append(fields, k)
		}
		sort.Strings(fields)
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.At.UTC().Format(time.RFC3339), r.Actor, r.Action,
			dash(object), dash(r.ClientIP), dash(strings.Join(fields, ",")))
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
