// Package resourcecli holds the commands that manage configuration
// objects through the operators' API: herald apps, channels, accounts,
// templates and rules, each with list, get, create, update and, where it
// applies, enable and disable. They sign in with the credentials
// `herald login` stored (package adminclient).
package resourcecli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"

	"github.com/heraldhq/herald/internal/adminclient"
)

// Commands returns the resource commands, to add to the root command.
// getenv reads HERALD_CREDENTIALS; httpClient nil means the default.
func Commands(stdout io.Writer, getenv func(string) string, httpClient *http.Client) []*cobra.Command {
	out := make([]*cobra.Command, 0, len(kinds))
	for _, k := range kinds {
		out = append(out, newKindCommand(stdout, getenv, httpClient, k))
	}
	return out
}

// column is one column of a list table.
type column struct {
	header string
	value  func(obj map[string]any) string
}

// setFlag maps a command-line flag to a field of the request body.
type setFlag struct {
	name, field, usage string
	// kind is "string", "int", "bool" or "strings" (comma-separated).
	kind string
}

// kind describes one resource for the commands.
type kind struct {
	name     string // "apps"
	singular string // "app"
	short    string
	idHelp   string
	columns  []column
	flags    []setFlag
	// enable says whether the resource has enable and disable.
	enable bool
	// extra are further commands (apps rotate-secret, rules delete).
	extra   []func(stdout io.Writer, o *commonOptions, k kind) *cobra.Command
	example string
}

// commonOptions are the flags every resource command has.
type commonOptions struct {
	credentials string
	output      string
	getenv      func(string) string
	httpClient  *http.Client
}

// Validate checks the output format.
func (o *commonOptions) Validate() error {
	if o.output != "table" && o.output != "json" {
		return fmt.Errorf("-o/--output %q: use table or json", o.output)
	}
	return nil
}

// client loads the stored credentials: --credentials, else
// HERALD_CREDENTIALS, else the default path.
func (o *commonOptions) client() (*adminclient.Client, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	return adminclient.Open(o.credentials, o.getenv, o.httpClient)
}

func newKindCommand(stdout io.Writer, getenv func(string) string, httpClient *http.Client, k kind) *cobra.Command {
	o := &commonOptions{getenv: getenv, httpClient: httpClient}
	cmd := &cobra.Command{
		Use:     k.name,
		Short:   k.short,
		Example: k.example,
	}
	cmd.PersistentFlags().StringVar(&o.credentials, "credentials", "", "credentials file written by herald login (default: $HERALD_CREDENTIALS, else the user config directory's herald/credentials.json)")
	cmd.PersistentFlags().StringVarP(&o.output, "output", "o", "table", "output format: table or json")
	cmd.AddCommand(newListCommand(stdout, o, k), newGetCommand(stdout, o, k), newCreateCommand(stdout, o, k), newUpdateCommand(stdout, o, k))
	if k.enable {
		cmd.AddCommand(newEnableCommand(stdout, o, k, true), newEnableCommand(stdout, o, k, false))
	}
	for _, extra := range k.extra {
		cmd.AddCommand(extra(stdout, o, k))
	}
	return cmd
}

func newListCommand(stdout io.Writer, o *commonOptions, k kind) *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Short:   "List " + k.name,
		Args:    cobra.NoArgs,
		Example: fmt.Sprintf("  herald %s list\n  herald %s list -o json", k.name, k.name),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			items, err := listAll(cmd.Context(), c, "/"+k.name)
			if err != nil {
				return err
			}
			if o.output == "json" {
				return writeJSON(stdout, items)
			}
			return writeTable(stdout, k.columns, items)
		},
	}
}

// listAll follows next_cursor to the end of the list.
func listAll(ctx context.Context, c *adminclient.Client, path string) ([]map[string]any, error) {
	items := []map[string]any{}
	cursor := ""
	for {
		q := url.Values{"limit": {"500"}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		var page struct {
			Items      []map[string]any `json:"items"`
			NextCursor string           `json:"next_cursor"`
		}
		if err := c.Do(ctx, http.MethodGet, path, q, nil, &page); err != nil {
			return nil, err
		}
		items = append(items, page.Items...)
		if page.NextCursor == "" {
			return items, nil
		}
		cursor = page.NextCursor
	}
}

func newGetCommand(stdout io.Writer, o *commonOptions, k kind) *cobra.Command {
	return &cobra.Command{
		Use:     "get " + strings.ToUpper(k.idHelp),
		Short:   "Show one " + k.singular,
		Args:    cobra.ExactArgs(1),
		Example: fmt.Sprintf("  herald %s get %s\n  herald %s get %s -o json", k.name, exampleID(k), k.name, exampleID(k)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			var obj map[string]any
			if err := c.Do(cmd.Context(), http.MethodGet, objectPath(k, args[0]), nil, nil, &obj); err != nil {
				return err
			}
			return writeObject(stdout, o.output, obj)
		},
	}
}

func exampleID(k kind) string {
	if k.name == "apps" {
		return "shop"
	}
	return "3"
}

func objectPath(k kind, id string) string { return "/" + k.name + "/" + url.PathEscape(id) }

// bodyOptions are the flags of create and update.
type bodyOptions struct {
	file string
	// version is the version an update is made against; 0 reads the
	// current one first.
	version int64
}

// addBodyFlags declares -f and the resource's field flags on fs; the
// values are read in body.
func addBodyFlags(fs *pflag.FlagSet, b *bodyOptions, k kind) {
	fs.StringVarP(&b.file, "file", "f", "", "YAML or JSON file with the fields to set (- for standard input); flags override it")
	for _, f := range k.flags {
		switch f.kind {
		case "int":
			fs.Int(f.name, 0, f.usage)
		case "bool":
			fs.Bool(f.name, false, f.usage)
		case "strings":
			fs.StringSlice(f.name, nil, f.usage+" (comma-separated)")
		default:
			fs.String(f.name, "", f.usage)
		}
	}
}

// body builds the request body: the file's fields, then every flag given.
func (b *bodyOptions) body(cmd *cobra.Command, k kind) (map[string]any, error) {
	body := map[string]any{}
	if b.file != "" {
		var raw []byte
		var err error
		if b.file == "-" {
			raw, err = io.ReadAll(cmd.InOrStdin())
		} else {
			raw, err = os.ReadFile(b.file)
		}
		if err != nil {
			return nil, fmt.Errorf("read -f %s: %w", b.file, err)
		}
		if err := yaml.Unmarshal(raw, &body); err != nil {
			return nil, fmt.Errorf("read -f %s: not a YAML or JSON object: %w", b.file, err)
		}
		if body == nil {
			body = map[string]any{}
		}
	}
	fs := cmd.Flags()
	for _, f := range k.flags {
		if !fs.Changed(f.name) {
			continue
		}
		var v any
		var err error
		switch f.kind {
		case "int":
			v, err = fs.GetInt(f.name)
		case "bool":
			v, err = fs.GetBool(f.name)
		case "strings":
			v, err = fs.GetStringSlice(f.name)
		default:
			v, err = fs.GetString(f.name)
		}
		if err != nil {
			return nil, err
		}
		body[f.field] = v
	}
	return body, nil
}

func newCreateCommand(stdout io.Writer, o *commonOptions, k kind) *cobra.Command {
	b := &bodyOptions{}
	cmd := &cobra.Command{
		Use:     "create",
		Short:   "Create a " + k.singular + " from flags or a file",
		Args:    cobra.NoArgs,
		Example: createExample(k),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			body, err := b.body(cmd, k)
			if err != nil {
				return err
			}
			if len(body) == 0 {
				return errors.New("nothing to create: give -f FILE or field flags (see --help)")
			}
			var obj map[string]any
			if err := c.Do(cmd.Context(), http.MethodPost, "/"+k.name, nil, body, &obj); err != nil {
				return err
			}
			return writeObject(stdout, o.output, obj)
		},
	}
	addBodyFlags(cmd.Flags(), b, k)
	return cmd
}

func newUpdateCommand(stdout io.Writer, o *commonOptions, k kind) *cobra.Command {
	b := &bodyOptions{}
	cmd := &cobra.Command{
		Use:   "update " + strings.ToUpper(k.idHelp),
		Short: "Change the fields of a " + k.singular + " that flags or a file name",
		Long: "Change only the fields given; the others stay. The change is made against\n" +
			"the version --version names, or the current one, read first: if someone\n" +
			"changes the " + k.singular + " meanwhile the update is refused (conflict) and nothing is written.",
		Args:    cobra.ExactArgs(1),
		Example: updateExample(k),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			body, err := b.body(cmd, k)
			if err != nil {
				return err
			}
			if len(body) == 0 {
				return errors.New("nothing to change: give -f FILE or field flags (see --help)")
			}
			path := objectPath(k, args[0])
			if _, ok := body["version"]; !ok {
				version := b.version
				if version == 0 {
					var cur struct {
						Version int64 `json:"version"`
					}
					if err := c.Do(cmd.Context(), http.MethodGet, path, nil, nil, &cur); err != nil {
						return err
					}
					version = cur.Version
				}
				body["version"] = version
			}
			var obj map[string]any
			if err := c.Do(cmd.Context(), http.MethodPatch, path, nil, body, &obj); err != nil {
				return err
			}
			return writeObject(stdout, o.output, obj)
		},
	}
	addBodyFlags(cmd.Flags(), b, k)
	cmd.Flags().Int64Var(&b.version, "version", 0, "the version the change is made against (default: the current one)")
	return cmd
}

func newEnableCommand(stdout io.Writer, o *commonOptions, k kind, on bool) *cobra.Command {
	verb := "enable"
	if !on {
		verb = "disable"
	}
	return &cobra.Command{
		Use:     verb + " " + strings.ToUpper(k.idHelp),
		Short:   strings.ToUpper(verb[:1]) + verb[1:] + " a " + k.singular,
		Args:    cobra.ExactArgs(1),
		Example: fmt.Sprintf("  herald %s %s %s", k.name, verb, exampleID(k)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			var obj map[string]any
			if err := c.Do(cmd.Context(), http.MethodPost, objectPath(k, args[0])+"/"+verb, nil, nil, &obj); err != nil {
				return err
			}
			return writeObject(stdout, o.output, obj)
		},
	}
}

func createExample(k kind) string {
	switch k.name {
	case "apps":
		return "  herald apps create --id shop --name Shop --grants sms,email\n  herald apps create -f app.yaml"
	case "channels":
		return "  herald channels create --name sms --type sms --template code\n  herald channels create -f channel.yaml   # with pool: [{account: aliyun-a, weight: 3}]"
	case "accounts":
		return "  herald accounts create -f account.yaml   # name, kind and config (credentials)"
	case "templates":
		return "  herald templates create --name code --content 'Code {{code}}' --variables code"
	}
	return "  herald rules create --name throttled --scene send_failure --error-codes THROTTLED --action retry --max-retry 2"
}

func updateExample(k kind) string {
	switch k.name {
	case "apps":
		return "  herald apps update shop --rate-limit-per-second 100\n  herald apps update shop --grants sms,email --version 4"
	case "channels":
		return "  herald channels update 3 -f pool.yaml   # pool: [{account: aliyun-a, weight: 5}]"
	case "accounts":
		return "  herald accounts update 2 --weight 5\n  herald accounts update 2 -f new-credentials.yaml"
	case "templates":
		return "  herald templates update 1 --content 'Your code is {{code}}'"
	}
	return "  herald rules update 4 --max-retry 3"
}

// writeObject prints one object: aligned "field  value" lines, or JSON.
func writeObject(w io.Writer, output string, obj map[string]any) error {
	if output == "json" {
		return writeJSON(w, obj)
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, k := range keys {
		fmt.Fprintf(tw, "%s\t%s\n", k, text(obj[k]))
	}
	return tw.Flush()
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func writeTable(w io.Writer, cols []column, items []map[string]any) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	headers := make([]string, len(cols))
	for i, c := range cols {
		headers[i] = c.header
	}
	fmt.Fprintln(tw, strings.Join(headers, "\t"))
	for _, it := range items {
		row := make([]string, len(cols))
		for i, c := range cols {
			row[i] = c.value(it)
		}
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	return tw.Flush()
}

// text writes a JSON value for a table cell.
func text(v any) string {
	switch x := v.(type) {
	case nil:
		return "-"
	case string:
		if x == "" {
			return "-"
		}
		return x
	case float64:
		if x == float64(int64(x)) {
			return strconv.FormatInt(int64(x), 10)
		}
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		if x {
			return "yes"
		}
		return "no"
	case []any:
		if len(x) == 0 {
			return "-"
		}
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = text(e)
		}
		return strings.Join(parts, ",")
	}
	raw, _ := json.Marshal(v)
	return string(raw)
}

func field(name string) func(map[string]any) string {
	return func(obj map[string]any) string { return text(obj[name]) }
}

// poolText writes a channel's pool as "account:weight,...".
func poolText(obj map[string]any) string {
	pool, _ := obj["pool"].([]any)
	parts := []string{}
	for _, m := range pool {
		mm, _ := m.(map[string]any)
		parts = append(parts, text(mm["account"])+":"+text(mm["weight"]))
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ",")
}
