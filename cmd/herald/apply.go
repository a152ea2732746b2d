package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/netip"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/heraldhq/herald/activities"
	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/providers"
	"github.com/heraldhq/herald/providers/webhook"
	"github.com/heraldhq/herald/rules"
	"github.com/heraldhq/herald/store"
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
		Short: "Create or update apps, templates, provider accounts, channels and rules from a YAML file",
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
		return runApply(cmd.Context(), stdout, s.db, s.registry, applyRun{
			source: source, raw: raw, getenv: getenv, dryRun: o.dryRun, prune: o.prune, publicURL: base,
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

// applyRun is one apply: the file and what to do with it.
type applyRun struct {
	source    string
	raw       []byte
	getenv    func(string) string
	dryRun    bool
	prune     bool
	publicURL string
}

// runApply parses and checks the file, then plans and applies it in one
// transaction. The report is printed only once the transaction committed
// (or, for a dry run, once the plan is complete).
func runApply(ctx context.Context, out io.Writer, db *store.DB, reg *providers.Registry, r applyRun) error {
	f, problems := parseApplyFile(r.raw, r.getenv)
	if f != nil {
		problems = append(problems, validateApplyFile(f, reg)...)
	}
	if f == nil {
		return problems.err(r.source)
	}
	a := &applier{f: f, reg: reg, dryRun: r.dryRun, prune: r.prune, publicURL: r.publicURL, problems: problems}
	// errDryRun rolls back the transaction of a dry run.
	errDryRun := errors.New("dry run")
	err := db.RunInTx(ctx, func(ctx context.Context, tx *store.DB) error {
		if err := a.load(ctx, tx); err != nil {
			return err
		}
		if len(a.problems) > 0 {
			return a.problems.err(r.source)
		}
		if err := a.execute(ctx, tx); err != nil {
			return err
		}
		if r.dryRun {
			return errDryRun
		}
		return nil
	})
	if err != nil && !errors.Is(err, errDryRun) {
		return err
	}
	if r.dryRun {
		fmt.Fprintln(out, "dry run: nothing was written")
	}
	for _, line := range a.report {
		fmt.Fprintln(out, line)
	}
	return nil
}

// --- the file ---

// applyFile is the YAML document `herald apply` reads.
type applyFile struct {
	Apps      []fileApp      `yaml:"apps"`
	Templates []fileTemplate `yaml:"templates"`
	Accounts  []fileAccount  `yaml:"accounts"`
	Channels  []fileChannel  `yaml:"channels"`
	Rules     []fileRule     `yaml:"rules"`
}

type fileApp struct {
	ID   string `yaml:"id"`
	Name string `yaml:"name"`
	// Secret, when empty, keeps the stored one or is generated on create.
	Secret             string   `yaml:"secret"`
	Enabled            *bool    `yaml:"enabled"`
	IPAllowlist        []string `yaml:"ip_allowlist"`
	RateLimitPerSecond int      `yaml:"rate_limit_per_second"`
	// RequestsPerMinute with Burst is the predecessor's shape of the
	// request limit; when set it replaces rate_limit_per_second.
	RequestsPerMinute int `yaml:"requests_per_minute"`
	Burst             int `yaml:"burst"`
	// MessagesPerMinute caps accepted messages, a batch counting its
	// receivers; 0 means the server default.
	MessagesPerMinute int    `yaml:"messages_per_minute"`
	StatusCallbackURL string `yaml:"status_callback_url"`
	// CallbackSecret, when empty, keeps the stored one, or is generated
	// when the app has a status callback URL and no secret yet.
	CallbackSecret string `yaml:"callback_secret"`
}

type fileTemplate struct {
	Name        string        `yaml:"name"`
	ContentType string        `yaml:"content_type"`
	Subject     string        `yaml:"subject"`
	Content     string        `yaml:"content"`
	Variables   []string      `yaml:"variables"`
	Description string        `yaml:"description"`
	Mappings    []fileMapping `yaml:"mappings"`
}

// fileMapping is how one account sends a template.
type fileMapping struct {
	Account      string            `yaml:"account"`
	ProviderCode string            `yaml:"provider_code"`
	ParamOrder   []string          `yaml:"param_order"`
	ParamNames   map[string]string `yaml:"param_names"`
}

type fileAccount struct {
	Name string `yaml:"name"`
	Kind string `yaml:"kind"`
	// Config is kept as a node so it can be turned into the provider's
	// JSON as written, whatever its shape.
	Config             yaml.Node `yaml:"config"`
	Weight             *int      `yaml:"weight"`
	Enabled            *bool     `yaml:"enabled"`
	RateLimitPerMinute int       `yaml:"rate_limit_per_minute"`
	// CallbackToken, when empty, keeps the stored one or is generated.
	CallbackToken string `yaml:"callback_token"`

	// config is Config as canonical JSON, filled by validation.
	config json.RawMessage
}

type fileChannel struct {
	Name                  string           `yaml:"name"`
	Type                  string           `yaml:"type"`
	Template              string           `yaml:"template"`
	SignatureNames        []string         `yaml:"signature_names"`
	SignatureRequired     bool             `yaml:"signature_required"`
	Enabled               *bool            `yaml:"enabled"`
	ReceiptTimeoutSeconds int              `yaml:"receipt_timeout_seconds"`
	MaxAttempts           int              `yaml:"max_attempts"`
	Pool                  []filePoolMember `yaml:"pool"`
}

type filePoolMember struct {
	Account string `yaml:"account"`
	// Weight defaults to the account's own weight.
	Weight *int `yaml:"weight"`
}

type fileRule struct {
	Name          string     `yaml:"name"`
	Scene         string     `yaml:"scene"`
	Priority      int        `yaml:"priority"`
	ProviderKind  string     `yaml:"provider_kind"`
	MessageType   string     `yaml:"message_type"`
	ErrorCodes    stringList `yaml:"error_codes"`
	ErrorKeywords stringList `yaml:"error_keywords"`
	Action        string     `yaml:"action"`
	MaxRetry      int        `yaml:"max_retry"`
	DelaySeconds  int        `yaml:"delay_seconds"`
	BackoffRate   float64    `yaml:"backoff_rate"`
	ThenAction    string     `yaml:"then_action"`
	Enabled       *bool      `yaml:"enabled"`
}

// stringList is a YAML list of strings, or one comma-separated string as
// rules store them.
type stringList []string

// UnmarshalYAML accepts a sequence or a comma-separated scalar.
func (l *stringList) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*l = rules.ParseList(n.Value)
		return nil
	}
	var items []string
	if err := n.Decode(&items); err != nil {
		return err
	}
	*l = items
	return nil
}

func boolOr(p *bool, def bool) bool {
	if p == nil {
		return def
	}
	return *p
}

func intOr(p *int, def int) int {
	if p == nil {
		return def
	}
	return *p
}

// --- problems ---

// problem is one thing wrong with the file, at a YAML path
// ("accounts[1].config") or a line ("line 12").
type problem struct {
	path, msg string
}

type problemList []problem

func (l *problemList) add(path, format string, args ...any) {
	*l = append(*l, problem{path: path, msg: fmt.Sprintf(format, args...)})
}

// err lists every problem in one error, or returns nil.
func (l problemList) err(source string) error {
	if len(l) == 0 {
		return nil
	}
	l = slices.Clone(l)
	// In file order: by section, then by item; the checks of one item
	// keep the order they ran in.
	sort.SliceStable(l, func(i, j int) bool {
		si, ii := problemPlace(l[i].path)
		sj, ij := problemPlace(l[j].path)
		if si != sj {
			return si < sj
		}
		return ii < ij
	})
	var b strings.Builder
	noun := "problems"
	if len(l) == 1 {
		noun = "problem"
	}
	fmt.Fprintf(&b, "%s has %d %s; nothing was written:", source, len(l), noun)
	for _, p := range l {
		b.WriteString("\n  - ")
		if p.path != "" {
			b.WriteString(p.path + ": ")
		}
		b.WriteString(p.msg)
	}
	return errors.New(b.String())
}

// problemPlace ranks a problem's path by section (in the file's usual
// order) and item index; paths without either (lines) come first.
func problemPlace(path string) (section, item int) {
	name, rest, _ := strings.Cut(path, "[")
	section = slices.Index([]string{"apps", "templates", "accounts", "channels", "rules"}, name) + 1
	if digits, _, ok := strings.Cut(rest, "]"); ok {
		item, _ = strconv.Atoi(digits)
	}
	return section, item
}

func at(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }

func field(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// --- parsing ---

// parseApplyFile reads the YAML document, expands ${VAR} references in its
// values, refuses unknown fields and decodes it. The file is nil, and the
// problems say why, when it cannot be read as a whole; the checks of its
// content (validateApplyFile) then cannot run.
func parseApplyFile(raw []byte, getenv func(string) string) (*applyFile, problemList) {
	var problems problemList
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		problems.add("", "not valid YAML: %s", strings.TrimPrefix(err.Error(), "yaml: "))
		return nil, problems
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		problems.add("", "the file is empty")
		return nil, problems
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		problems.add("", "the file must be a mapping with apps, templates, accounts, channels and rules")
		return nil, problems
	}
	// Variables are expanded in the parsed values rather than in the raw
	// text, so a secret holding ": " or a quote cannot change the file's
	// structure; a missing variable is reported at its path.
	expandNode(root, "", getenv, &problems)
	checkFields(root, reflect.TypeFor[applyFile](), "", &problems)
	if len(problems) > 0 {
		return nil, problems
	}
	var f applyFile
	if err := root.Decode(&f); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			for _, e := range te.Errors {
				line, msg, ok := strings.Cut(e, ": ")
				if !ok {
					line, msg = "", e
				}
				problems.add(line, "%s", msg)
			}
		} else {
			problems.add("", "%v", err)
		}
		return nil, problems
	}
	return &f, nil
}

// envRefPattern matches ${NAME} and the escape $${.
func envRefPattern() *regexp.Regexp { return regexp.MustCompile(`\$\$\{|\$\{([^}]*)\}`) }

func envNamePattern() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`) }

// expandNode replaces ${VAR} in every scalar value under n (mapping keys
// are left alone). An expanded plain scalar is re-read as YAML would read
// its new text, as if the value had been written in place; a quoted one
// stays text.
func expandNode(n *yaml.Node, path string, getenv func(string) string, problems *problemList) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			expandNode(n.Content[i+1], field(path, n.Content[i].Value), getenv, problems)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			expandNode(c, at(path, i), getenv, problems)
		}
	case yaml.ScalarNode:
		if !strings.Contains(n.Value, "${") {
			return
		}
		expanded := envRefPattern().ReplaceAllStringFunc(n.Value, func(m string) string {
			if m == "$${" {
				return "${"
			}
			name := m[2 : len(m)-1]
			if !envNamePattern().MatchString(name) {
				problems.add(path, "%q is not a valid environment variable reference", m)
				return m
			}
			v := getenv(name)
			if v == "" {
				problems.add(path, "environment variable %s is not set", name)
			}
			return v
		})
		if expanded == n.Value {
			return
		}
		n.Value = expanded
		if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) == 0 {
			n.Tag = ""
		}
	}
}

// checkFields reports mapping keys that name no field of t, at their path,
// so a misspelt setting is not silently ignored.
func checkFields(n *yaml.Node, t reflect.Type, path string, problems *problemList) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	switch {
	case t == reflect.TypeFor[yaml.Node]():
		return
	case t.Kind() == reflect.Struct && n.Kind == yaml.MappingNode:
		fields := map[string]reflect.Type{}
		var names []string
		for i := range t.NumField() {
			sf := t.Field(i)
			name, _, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
			if name == "" || name == "-" {
				continue
			}
			fields[name] = sf.Type
			names = append(names, name)
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := n.Content[i].Value
			ft, ok := fields[key]
			if !ok {
				problems.add(field(path, key), "unknown field (line %d); known fields: %s", n.Content[i].Line, strings.Join(names, ", "))
				continue
			}
			checkFields(n.Content[i+1], ft, field(path, key), problems)
		}
	case t.Kind() == reflect.Slice && n.Kind == yaml.SequenceNode:
		for i, c := range n.Content {
			checkFields(c, t.Elem(), at(path, i), problems)
		}
	}
}

// nodeJSON turns a YAML node into the value its JSON form holds: mappings
// become objects (keys as written), scalars keep the type YAML reads.
func nodeJSON(n *yaml.Node) (any, error) {
	switch n.Kind {
	case yaml.AliasNode:
		if n.Alias == nil {
			return nil, errors.New("alias without anchor")
		}
		return nodeJSON(n.Alias)
	case yaml.MappingNode:
		obj := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("line %d: keys must be plain text", k.Line)
			}
			v, err := nodeJSON(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			obj[k.Value] = v
		}
		return obj, nil
	case yaml.SequenceNode:
		arr := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := nodeJSON(c)
			if err != nil {
				return nil, err
			}
			arr = append(arr, v)
		}
		return arr, nil
	case yaml.ScalarNode:
		var v any
		if err := n.Decode(&v); err != nil {
			return nil, fmt.Errorf("line %d: %w", n.Line, err)
		}
		return v, nil
	}
	return nil, nil
}

// --- checks that need no store ---

// placeholderPattern matches {{name}} and {{ name }}, as the API renders
// them.
func placeholderPattern() *regexp.Regexp { return regexp.MustCompile(`\{\{\s*([^{}\s]+)\s*\}\}`) }

// validateApplyFile checks everything that can be checked without the
// store: required fields, duplicates, provider configs, rules, channel
// types, template variables and references inside the file.
func validateApplyFile(f *applyFile, reg *providers.Registry) problemList {
	var p problemList
	dup := func(seen map[string]string, path, name, what string) {
		if first, ok := seen[name]; ok {
			p.add(path, "%s %q is also %s", what, name, first)
			return
		}
		seen[name] = path
	}

	seen := map[string]string{}
	for i, a := range f.Apps {
		path := at("apps", i)
		switch {
		case a.ID == "":
			p.add(field(path, "id"), "is required")
		case strings.ContainsFunc(a.ID, func(r rune) bool { return r <= ' ' || r == 0x7f }):
			p.add(field(path, "id"), "must not contain spaces or control characters")
		default:
			dup(seen, field(path, "id"), a.ID, "app id")
		}
		if a.Secret != "" && len(a.Secret) < 16 {
			p.add(field(path, "secret"), "must be at least 16 characters")
		}
		for j, entry := range a.IPAllowlist {
			if !validIPEntry(entry) {
				p.add(at(field(path, "ip_allowlist"), j), "%q is not an IP address or CIDR range", entry)
			}
		}
		if a.RateLimitPerSecond < 0 {
			p.add(field(path, "rate_limit_per_second"), "must not be negative (0 means the server default)")
		}
		for _, n := range []struct {
			name  string
			value int
		}{{"requests_per_minute", a.RequestsPerMinute}, {"burst", a.Burst}, {"messages_per_minute", a.MessagesPerMinute}} {
			if n.value < 0 {
				p.add(field(path, n.name), "must not be negative (0 means the server default)")
			}
		}
		if a.Burst > 0 && a.RequestsPerMinute == 0 {
			p.add(field(path, "burst"), "needs requests_per_minute")
		}
		if a.StatusCallbackURL != "" && !absoluteHTTPURL(a.StatusCallbackURL) {
			p.add(field(path, "status_callback_url"), "must be an absolute http(s) URL")
		}
		if a.CallbackSecret != "" {
			if _, err := webhook.NewSigner(a.CallbackSecret); err != nil {
				p.add(field(path, "callback_secret"), "%v", err)
			}
		}
	}

	seen = map[string]string{}
	for i := range f.Accounts {
		a := &f.Accounts[i]
		path := at("accounts", i)
		if a.Name == "" {
			p.add(field(path, "name"), "is required")
		} else {
			dup(seen, field(path, "name"), a.Name, "account")
		}
		cfg, err := accountConfigJSON(&a.Config)
		if err != nil {
			p.add(field(path, "config"), "%v", err)
		}
		a.config = cfg
		switch prov, perr := reg.Get(a.Kind); {
		case a.Kind == "":
			p.add(field(path, "kind"), "is required (one of %s)", strings.Join(reg.Kinds(), ", "))
		case perr != nil:
			p.add(field(path, "kind"), "%q is not a provider kind (one of %s)", a.Kind, strings.Join(reg.Kinds(), ", "))
		case err == nil:
			if verr := prov.ValidateConfig(cfg); verr != nil {
				p.add(field(path, "config"), "%v", verr)
			}
		}
		if a.Weight != nil && *a.Weight < 0 {
			p.add(field(path, "weight"), "must not be negative")
		}
		if a.RateLimitPerMinute < 0 {
			p.add(field(path, "rate_limit_per_minute"), "must not be negative (0 means the provider's own cap)")
		}
		if a.CallbackToken != "" && len(a.CallbackToken) < 16 {
			p.add(field(path, "callback_token"), "must be at least 16 characters")
		}
	}

	seen = map[string]string{}
	for i, t := range f.Templates {
		path := at("templates", i)
		if t.Name == "" {
			p.add(field(path, "name"), "is required")
		} else {
			dup(seen, field(path, "name"), t.Name, "template")
		}
		if strings.TrimSpace(t.Content) == "" {
			p.add(field(path, "content"), "is required")
		}
		declared := map[string]bool{}
		for j, v := range t.Variables {
			switch {
			case v == "" || strings.ContainsAny(v, "{} \t\n"):
				p.add(at(field(path, "variables"), j), "%q is not a variable name", v)
			case declared[v]:
				p.add(at(field(path, "variables"), j), "%q is listed twice", v)
			}
			declared[v] = true
		}
		used := map[string]bool{}
		for _, text := range []string{t.Subject, t.Content} {
			for _, m := range placeholderPattern().FindAllStringSubmatch(text, -1) {
				used[m[1]] = true
			}
		}
		for _, v := range sortedKeys(used) {
			if !declared[v] {
				p.add(field(path, "variables"), "{{%s}} is used in the subject or content but not declared", v)
			}
		}
		for _, v := range t.Variables {
			if v != "" && !used[v] {
				p.add(field(path, "variables"), "%q is declared but the subject and content never use {{%s}}", v, v)
			}
		}
		mapped := map[string]string{}
		for j, m := range t.Mappings {
			mpath := at(field(path, "mappings"), j)
			if m.Account == "" {
				p.add(field(mpath, "account"), "is required")
			} else {
				dup(mapped, field(mpath, "account"), m.Account, "mapping for account")
			}
			inOrder := map[string]bool{}
			for k, v := range m.ParamOrder {
				switch {
				case !declared[v]:
					p.add(at(field(mpath, "param_order"), k), "%q is not one of the template's variables", v)
				case inOrder[v]:
					p.add(at(field(mpath, "param_order"), k), "%q is listed twice", v)
				}
				inOrder[v] = true
			}
			for _, v := range sortedKeys(m.ParamNames) {
				if !declared[v] {
					p.add(field(field(mpath, "param_names"), v), "%q is not one of the template's variables", v)
				}
			}
		}
	}

	seen = map[string]string{}
	for i, ch := range f.Channels {
		path := at("channels", i)
		if ch.Name == "" {
			p.add(field(path, "name"), "is required")
		} else {
			dup(seen, field(path, "name"), ch.Name, "channel")
		}
		if !slices.Contains(store.ChannelTypes, ch.Type) {
			p.add(field(path, "type"), "%q is not a channel type (one of %s)", ch.Type, strings.Join(store.ChannelTypes, ", "))
		}
		for j, s := range ch.SignatureNames {
			if strings.TrimSpace(s) == "" {
				p.add(at(field(path, "signature_names"), j), "must not be blank")
			}
		}
		if ch.SignatureRequired && len(ch.SignatureNames) == 0 {
			p.add(field(path, "signature_required"), "needs at least one of signature_names")
		}
		if ch.ReceiptTimeoutSeconds < 0 {
			p.add(field(path, "receipt_timeout_seconds"), "must not be negative (0 means the default)")
		}
		if ch.MaxAttempts < 0 {
			p.add(field(path, "max_attempts"), "must not be negative (0 means the default)")
		}
		members := map[string]string{}
		for j, m := range ch.Pool {
			mpath := at(field(path, "pool"), j)
			if m.Account == "" {
				p.add(field(mpath, "account"), "is required")
			} else {
				dup(members, field(mpath, "account"), m.Account, "pool member")
			}
			if m.Weight != nil && *m.Weight < 0 {
				p.add(field(mpath, "weight"), "must not be negative")
			}
		}
	}

	seen = map[string]string{}
	for i, r := range f.Rules {
		path := at("rules", i)
		if r.Name != "" {
			dup(seen, field(path, "name"), r.Name, "rule")
		}
		if r.ProviderKind != "" {
			if _, err := reg.Get(strings.ToLower(r.ProviderKind)); err != nil {
				p.add(field(path, "provider_kind"), "%q is not a provider kind (one of %s)", r.ProviderKind, strings.Join(reg.Kinds(), ", "))
			}
		}
		if r.MessageType != "" && !slices.Contains(store.ChannelTypes, strings.ToLower(r.MessageType)) {
			p.add(field(path, "message_type"), "%q is not a channel type (one of %s)", r.MessageType, strings.Join(store.ChannelTypes, ", "))
		}
		rr := engineRule(storeRule(r))
		if err := rr.Validate(); err != nil {
			var ve *rules.ValidationError
			if !errors.As(err, &ve) {
				p.add(path, "%v", err)
				continue
			}
			for _, msg := range ve.Problems {
				p.add(path, "%s", msg)
			}
		}
	}
	return p
}

func validIPEntry(s string) bool {
	if _, err := netip.ParseAddr(s); err == nil {
		return true
	}
	_, err := netip.ParsePrefix(s)
	return err == nil
}

func absoluteHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// accountConfigJSON turns an account's config mapping into canonical JSON
// (keys sorted), so a stored config compares equal to the same file.
func accountConfigJSON(n *yaml.Node) (json.RawMessage, error) {
	if n.Kind == 0 || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null") {
		return json.RawMessage(`{}`), nil
	}
	if n.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("must be a mapping of the provider's settings (line %d)", n.Line)
	}
	v, err := nodeJSON(n)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("cannot be written as JSON: %w", err)
	}
	return b, nil
}

// canonicalJSON re-encodes a JSON document with sorted keys, so two
// spellings of one config compare equal.
func canonicalJSON(raw json.RawMessage) string {
	var v any
	if len(raw) == 0 {
		return "{}"
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return string(raw)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return string(raw)
	}
	return string(b)
}

// storeRule is a file rule as stored: names lower-cased, lists joined.
func storeRule(r fileRule) store.Rule {
	norm := func(s string) string { return strings.ToLower(strings.TrimSpace(s)) }
	return store.Rule{
		Name:          r.Name,
		Scene:         norm(r.Scene),
		Priority:      r.Priority,
		ProviderKind:  norm(r.ProviderKind),
		MessageType:   norm(r.MessageType),
		ErrorCodes:    strings.Join(r.ErrorCodes, ","),
		ErrorKeywords: strings.Join(r.ErrorKeywords, ","),
		Action:        norm(r.Action),
		MaxRetry:      r.MaxRetry,
		DelaySeconds:  r.DelaySeconds,
		BackoffRate:   r.BackoffRate,
		ThenAction:    norm(r.ThenAction),
		Enabled:       boolOr(r.Enabled, true),
	}
}

// engineRule is the rule engine's view of a stored rule, without the
// parsing that stops at the first problem, so Validate can list them all.
func engineRule(r store.Rule) rules.Rule {
	return rules.Rule{
		Name:          r.Name,
		Scene:         rules.Scene(r.Scene),
		Priority:      r.Priority,
		ProviderKind:  r.ProviderKind,
		MessageType:   r.MessageType,
		ErrorCodes:    rulesList(r.ErrorCodes),
		ErrorKeywords: rulesList(r.ErrorKeywords),
		Action:        rules.Action(r.Action),
		MaxRetry:      r.MaxRetry,
		Delay:         time.Duration(r.DelaySeconds) * time.Second,
		BackoffRate:   r.BackoffRate,
		Then:          rules.Action(r.ThenAction),
	}
}

// rulesList splits a stored list keeping blank items, which Validate
// reports.
func rulesList(s string) []string {
	if s == "" {
		return nil
	}
	items := strings.Split(s, ",")
	for i := range items {
		items[i] = strings.TrimSpace(items[i])
	}
	return items
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// --- planning and applying ---

// applier compares the file with the store and makes the store match.
type applier struct {
	f         *applyFile
	reg       *providers.Registry
	dryRun    bool
	prune     bool
	publicURL string
	problems  problemList

	// What the store holds for each object of the file, aligned with the
	// file's lists; nil for an object to create.
	apps      []*store.App
	templates []*store.Template
	accounts  []*store.ProviderAccount
	channels  []*store.Channel
	rules     []*store.Rule

	// accountIDs and templateIDs resolve names used in references, for
	// objects in the store; objects created by this run are added as
	// they are created.
	accountIDs  map[string]int64
	templateIDs map[string]int64
	// accountWeights are the weights of referenced accounts, the default
	// weight of a pool member.
	accountWeights map[string]int

	allAccounts []store.ProviderAccount
	allRules    []store.Rule

	report []string
}

// load reads what the store holds for every object of the file and checks
// references by name; problems are added to a.problems.
func (a *applier) load(ctx context.Context, tx *store.DB) error {
	a.accountIDs = map[string]int64{}
	a.templateIDs = map[string]int64{}
	a.accountWeights = map[string]int{}
	p := &a.problems

	a.apps = make([]*store.App, len(a.f.Apps))
	for i, fa := range a.f.Apps {
		app, err := tx.GetApp(ctx, fa.ID)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return fmt.Errorf("read app %q: %w", fa.ID, err)
		default:
			a.apps[i] = app
		}
	}

	a.accounts = make([]*store.ProviderAccount, len(a.f.Accounts))
	inFile := map[string]bool{}
	for i, fa := range a.f.Accounts {
		inFile[fa.Name] = true
		a.accountWeights[fa.Name] = intOr(fa.Weight, 1)
		acc, err := tx.FindAccountByName(ctx, fa.Name)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case errors.Is(err, store.ErrConflict):
			p.add(field(at("accounts", i), "name"), "several accounts in the store are named %q; rename all but one first", fa.Name)
		case err != nil:
			return fmt.Errorf("read account %q: %w", fa.Name, err)
		default:
			a.accounts[i] = acc
			a.accountIDs[fa.Name] = acc.ID
			if acc.Kind != fa.Kind && fa.Kind != "" {
				p.add(field(at("accounts", i), "kind"), "account %q is a %s account in the store; the kind of an account cannot change (give the new one another name)", fa.Name, acc.Kind)
			}
		}
	}
	refAccount := func(path, name string) error {
		if name == "" || inFile[name] {
			return nil
		}
		if _, ok := a.accountIDs[name]; ok {
			return nil
		}
		acc, err := tx.FindAccountByName(ctx, name)
		switch {
		case errors.Is(err, store.ErrNotFound):
			p.add(path, "no account named %q in the file or the store", name)
		case errors.Is(err, store.ErrConflict):
			p.add(path, "several accounts in the store are named %q; rename all but one first", name)
		case err != nil:
			return fmt.Errorf("read account %q: %w", name, err)
		default:
			a.accountIDs[name] = acc.ID
			a.accountWeights[name] = acc.Weight
		}
		return nil
	}

	a.templates = make([]*store.Template, len(a.f.Templates))
	tplInFile := map[string]bool{}
	for i, ft := range a.f.Templates {
		tplInFile[ft.Name] = true
		tpl, err := tx.FindTemplateByName(ctx, ft.Name)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case errors.Is(err, store.ErrConflict):
			p.add(field(at("templates", i), "name"), "several templates in the store are named %q; rename all but one first", ft.Name)
		case err != nil:
			return fmt.Errorf("read template %q: %w", ft.Name, err)
		default:
			a.templates[i] = tpl
			a.templateIDs[ft.Name] = tpl.ID
		}
		for j, m := range ft.Mappings {
			if err := refAccount(field(at(field(at("templates", i), "mappings"), j), "account"), m.Account); err != nil {
				return err
			}
		}
	}

	a.channels = make([]*store.Channel, len(a.f.Channels))
	for i, fc := range a.f.Channels {
		path := at("channels", i)
		ch, err := tx.FindChannelByName(ctx, fc.Name)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return fmt.Errorf("read channel %q: %w", fc.Name, err)
		default:
			a.channels[i] = ch
		}
		if fc.Template != "" && !tplInFile[fc.Template] {
			if _, ok := a.templateIDs[fc.Template]; !ok {
				tpl, err := tx.FindTemplateByName(ctx, fc.Template)
				switch {
				case errors.Is(err, store.ErrNotFound):
					p.add(field(path, "template"), "no template named %q in the file or the store", fc.Template)
				case errors.Is(err, store.ErrConflict):
					p.add(field(path, "template"), "several templates in the store are named %q; rename all but one first", fc.Template)
				case err != nil:
					return fmt.Errorf("read template %q: %w", fc.Template, err)
				default:
					a.templateIDs[fc.Template] = tpl.ID
				}
			}
		}
		for j, m := range fc.Pool {
			if err := refAccount(field(at(field(path, "pool"), j), "account"), m.Account); err != nil {
				return err
			}
		}
	}

	all, err := tx.ListAllRules(ctx)
	if err != nil {
		return err
	}
	a.allRules = all
	byName := map[string][]store.Rule{}
	for _, r := range all {
		byName[r.Name] = append(byName[r.Name], r)
	}
	a.rules = make([]*store.Rule, len(a.f.Rules))
	for i, fr := range a.f.Rules {
		switch found := byName[fr.Name]; len(found) {
		case 0:
		case 1:
			a.rules[i] = &found[0]
		default:
			p.add(field(at("rules", i), "name"), "several rules in the store are named %q (ids %d and %d); rename all but one first", fr.Name, found[0].ID, found[1].ID)
		}
	}

	if a.allAccounts, err = tx.ListAccounts(ctx); err != nil {
		return err
	}
	return nil
}

// verb words an action for the report: "create" in a dry run, "created"
// otherwise.
func (a *applier) verb(v string) string {
	if a.dryRun {
		return v
	}
	switch v {
	case "create":
		return "created"
	case "update":
		return "updated"
	case "disable":
		return "disabled"
	case "remove":
		return "removed"
	}
	return v
}

func (a *applier) say(format string, args ...any) {
	a.report = append(a.report, fmt.Sprintf(format, args...))
}

// changed words a list of changed fields for the report.
func changed(fields []string) string {
	if len(fields) == 0 {
		return ""
	}
	return " (" + strings.Join(fields, ", ") + ")"
}

// execute writes the plan (or, in a dry run, only reports it), in the
// order references need: accounts before the templates and channels that
// name them.
func (a *applier) execute(ctx context.Context, tx *store.DB) error {
	for i := range a.f.Apps {
		if err := a.applyApp(ctx, tx, a.f.Apps[i], a.apps[i]); err != nil {
			return err
		}
	}
	for i := range a.f.Accounts {
		if err := a.applyAccount(ctx, tx, &a.f.Accounts[i], a.accounts[i]); err != nil {
			return err
		}
	}
	for i := range a.f.Templates {
		if err := a.applyTemplate(ctx, tx, a.f.Templates[i], a.templates[i]); err != nil {
			return err
		}
	}
	for i := range a.f.Channels {
		if err := a.applyChannel(ctx, tx, a.f.Channels[i], a.channels[i]); err != nil {
			return err
		}
	}
	for i := range a.f.Rules {
		if err := a.applyRule(ctx, tx, a.f.Rules[i], a.rules[i]); err != nil {
			return err
		}
	}
	return a.pruneRest(ctx, tx)
}

func (a *applier) applyApp(ctx context.Context, tx *store.DB, fa fileApp, cur *store.App) error {
	name := fa.Name
	if name == "" {
		name = fa.ID
	}
	want := store.App{
		ID: fa.ID, Name: name, Secret: fa.Secret, Enabled: boolOr(fa.Enabled, true), IPAllowlist: fa.IPAllowlist,
		RateLimitPerSecond: fa.RateLimitPerSecond, StatusCallbackURL: fa.StatusCallbackURL, CallbackSecret: fa.CallbackSecret,
		RequestsPerMinute: fa.RequestsPerMinute, Burst: fa.Burst, MessagesPerMinute: fa.MessagesPerMinute,
	}
	if cur == nil {
		var generated []string
		if want.Secret == "" && !a.dryRun {
			secret, err := randomHex(32)
			if err != nil {
				return err
			}
			want.Secret = secret
			generated = append(generated, "  secret: "+secret+"  (generated; shown only now, hand it to the app's developers)")
		}
		if want.CallbackSecret == "" && want.StatusCallbackURL != "" && !a.dryRun {
			secret, err := webhook.GenerateSecret()
			if err != nil {
				return err
			}
			want.CallbackSecret = secret
			generated = append(generated, "  callback secret: "+secret+"  (generated; shown only now, the app verifies status callbacks with it)")
		}
		a.say("app %s: %s", fa.ID, a.verb("create"))
		a.report = append(a.report, generated...)
		if a.dryRun {
			return nil
		}
		if err := tx.CreateApp(ctx, &want); err != nil {
			return fmt.Errorf("create app %q: %w", fa.ID, err)
		}
		return nil
	}

	var patch store.AppPatch
	var fields, notes []string
	if want.Name != cur.Name {
		patch.Name, fields = &want.Name, append(fields, "name")
	}
	if want.Secret != "" && want.Secret != cur.Secret {
		patch.Secret, fields = &want.Secret, append(fields, "secret")
	}
	if want.Enabled != cur.Enabled {
		patch.Enabled, fields = &want.Enabled, append(fields, "enabled")
	}
	if !slices.Equal(want.IPAllowlist, cur.IPAllowlist) {
		list := want.IPAllowlist
		if list == nil {
			list = []string{}
		}
		patch.IPAllowlist, fields = &list, append(fields, "ip_allowlist")
	}
	if want.RateLimitPerSecond != cur.RateLimitPerSecond {
		patch.RateLimitPerSecond, fields = &want.RateLimitPerSecond, append(fields, "rate_limit_per_second")
	}
	if want.RequestsPerMinute != cur.RequestsPerMinute {
		patch.RequestsPerMinute, fields = &want.RequestsPerMinute, append(fields, "requests_per_minute")
	}
	if want.Burst != cur.Burst {
		patch.Burst, fields = &want.Burst, append(fields, "burst")
	}
	if want.MessagesPerMinute != cur.MessagesPerMinute {
		patch.MessagesPerMinute, fields = &want.MessagesPerMinute, append(fields, "messages_per_minute")
	}
	if want.StatusCallbackURL != cur.StatusCallbackURL {
		patch.StatusCallbackURL, fields = &want.StatusCallbackURL, append(fields, "status_callback_url")
	}
	switch {
	case want.CallbackSecret != "" && want.CallbackSecret != cur.CallbackSecret:
		patch.CallbackSecret, fields = &want.CallbackSecret, append(fields, "callback_secret")
	case want.CallbackSecret == "" && cur.CallbackSecret == "" && want.StatusCallbackURL != "":
		fields = append(fields, "callback_secret")
		if !a.dryRun {
			secret, err := webhook.GenerateSecret()
			if err != nil {
				return err
			}
			patch.CallbackSecret = &secret
			notes = append(notes, "  callback secret: "+secret+"  (generated; shown only now, the app verifies status callbacks with it)")
		}
	}
	if len(fields) == 0 {
		a.say("app %s: unchanged", fa.ID)
		return nil
	}
	a.say("app %s: %s%s", fa.ID, a.verb("update"), changed(fields))
	a.report = append(a.report, notes...)
	if a.dryRun {
		return nil
	}
	if err := tx.UpdateApp(ctx, fa.ID, patch); err != nil {
		return fmt.Errorf("update app %q: %w", fa.ID, err)
	}
	return nil
}

func (a *applier) applyAccount(ctx context.Context, tx *store.DB, fa *fileAccount, cur *store.ProviderAccount) error {
	weight := intOr(fa.Weight, 1)
	enabled := boolOr(fa.Enabled, true)
	// tokenShown is the token to print in the callback URL: only one this
	// run generated, so it is printed once. A token from the file is the
	// operator's already and stays out of the output.
	var tokenShown string
	if cur == nil {
		token := fa.CallbackToken
		if token == "" && !a.dryRun {
			t, err := randomHex(16)
			if err != nil {
				return err
			}
			token, tokenShown = t, t
		}
		a.say("account %s: %s", fa.Name, a.verb("create"))
		if a.dryRun {
			return nil
		}
		acc := &store.ProviderAccount{
			Name: fa.Name, Kind: fa.Kind, Config: fa.config, Weight: weight, Enabled: enabled,
			CallbackToken: token, RateLimitPerMinute: fa.RateLimitPerMinute,
		}
		if err := tx.CreateAccount(ctx, acc); err != nil {
			return fmt.Errorf("create account %q: %w", fa.Name, err)
		}
		a.accountIDs[fa.Name] = acc.ID
		a.printCallbackURLs(acc, tokenShown, fa.CallbackToken != "")
		return nil
	}

	var patch store.AccountPatch
	var fields []string
	if canonicalJSON(fa.config) != canonicalJSON(cur.Config) {
		patch.Config, fields = &fa.config, append(fields, "config")
	}
	if weight != cur.Weight {
		patch.Weight, fields = &weight, append(fields, "weight")
	}
	if enabled != cur.Enabled {
		patch.Enabled, fields = &enabled, append(fields, "enabled")
	}
	if fa.RateLimitPerMinute != cur.RateLimitPerMinute {
		patch.RateLimitPerMinute, fields = &fa.RateLimitPerMinute, append(fields, "rate_limit_per_minute")
	}
	token := cur.CallbackToken
	switch {
	case fa.CallbackToken != "" && fa.CallbackToken != cur.CallbackToken:
		token = fa.CallbackToken
		patch.CallbackToken, fields = &token, append(fields, "callback_token")
	case fa.CallbackToken == "" && cur.CallbackToken == "":
		fields = append(fields, "callback_token")
		if !a.dryRun {
			t, err := randomHex(16)
			if err != nil {
				return err
			}
			token, tokenShown = t, t
			patch.CallbackToken = &token
		}
	}
	if len(fields) == 0 {
		a.say("account %s: unchanged", fa.Name)
	} else {
		a.say("account %s: %s%s", fa.Name, a.verb("update"), changed(fields))
		if !a.dryRun {
			if err := tx.UpdateAccount(ctx, cur.ID, patch); err != nil {
				return fmt.Errorf("update account %q: %w", fa.Name, err)
			}
		}
	}
	acc := *cur
	acc.CallbackToken = token
	a.printCallbackURLs(&acc, tokenShown, fa.CallbackToken != "")
	return nil
}

// printCallbackURLs reports where the account's provider must push
// receipts (and replies, for providers that push them). The token is shown
// only when this run generated it; otherwise it is masked.
func (a *applier) printCallbackURLs(acc *store.ProviderAccount, tokenShown string, fromFile bool) {
	prov, err := a.reg.Get(acc.Kind)
	if err != nil {
		return
	}
	receipts := prov.ReceiptHandler() != nil
	var replies bool
	if rp, ok := prov.(providers.ReplyProvider); ok {
		replies = rp.ReplyHandler() != nil
	}
	if !receipts && !replies {
		return
	}
	base := activities.CallbackURL(a.publicURL, acc.Kind, acc.ID, "")
	token := "<callback token, shown when it was generated>"
	switch {
	case fromFile:
		token = "<callback_token from the file>"
	case tokenShown != "":
		token = url.QueryEscape(tokenShown)
	}
	path, query, _ := strings.Cut(base, "?")
	if receipts {
		a.say("  receipt callback URL: %s?%s%s", path, query, token)
	}
	if replies {
		a.say("  reply callback URL:   %s/replies?%s%s", path, query, token)
	}
}

func (a *applier) applyTemplate(ctx context.Context, tx *store.DB, ft fileTemplate, cur *store.Template) error {
	contentType := ft.ContentType
	if contentType == "" {
		contentType = "text"
	}
	vars := ft.Variables
	if vars == nil {
		vars = []string{}
	}
	var id int64
	if cur == nil {
		a.say("template %s: %s", ft.Name, a.verb("create"))
		if !a.dryRun {
			tpl := &store.Template{
				Name: ft.Name, ContentType: contentType, Subject: ft.Subject, Content: ft.Content,
				Variables: vars, Description: ft.Description,
			}
			if err := tx.CreateTemplate(ctx, tpl); err != nil {
				return fmt.Errorf("create template %q: %w", ft.Name, err)
			}
			id = tpl.ID
			a.templateIDs[ft.Name] = id
		}
	} else {
		id = cur.ID
		var patch store.TemplatePatch
		var fields []string
		if contentType != cur.ContentType {
			patch.ContentType, fields = &contentType, append(fields, "content_type")
		}
		if ft.Subject != cur.Subject {
			patch.Subject, fields = &ft.Subject, append(fields, "subject")
		}
		if ft.Content != cur.Content {
			patch.Content, fields = &ft.Content, append(fields, "content")
		}
		if !slices.Equal(vars, cur.Variables) {
			patch.Variables, fields = &vars, append(fields, "variables")
		}
		if ft.Description != cur.Description {
			patch.Description, fields = &ft.Description, append(fields, "description")
		}
		if len(fields) == 0 {
			a.say("template %s: unchanged", ft.Name)
		} else {
			a.say("template %s: %s%s", ft.Name, a.verb("update"), changed(fields))
			if !a.dryRun {
				if err := tx.UpdateTemplate(ctx, id, patch); err != nil {
					return fmt.Errorf("update template %q: %w", ft.Name, err)
				}
			}
		}
	}
	for _, m := range ft.Mappings {
		if err := a.applyMapping(ctx, tx, ft.Name, id, m); err != nil {
			return err
		}
	}
	return nil
}

func (a *applier) applyMapping(ctx context.Context, tx *store.DB, tplName string, tplID int64, m fileMapping) error {
	accID := a.accountIDs[m.Account]
	want := &store.TemplateMapping{TemplateID: tplID, AccountID: accID, ProviderCode: m.ProviderCode, ParamOrder: m.ParamOrder, ParamNames: m.ParamNames}
	if want.ParamOrder == nil {
		want.ParamOrder = []string{}
	}
	if want.ParamNames == nil {
		want.ParamNames = map[string]string{}
	}
	verb := "create"
	var fields []string
	if tplID != 0 && accID != 0 {
		cur, err := tx.GetTemplateMapping(ctx, tplID, accID)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return fmt.Errorf("read mapping of template %q for account %q: %w", tplName, m.Account, err)
		default:
			verb = "update"
			if cur.ProviderCode != want.ProviderCode {
				fields = append(fields, "provider_code")
			}
			if !slices.Equal(cur.ParamOrder, want.ParamOrder) {
				fields = append(fields, "param_order")
			}
			if !maps.Equal(cur.ParamNames, want.ParamNames) {
				fields = append(fields, "param_names")
			}
			if len(fields) == 0 {
				a.say("  mapping for account %s: unchanged", m.Account)
				return nil
			}
		}
	}
	a.say("  mapping for account %s: %s%s", m.Account, a.verb(verb), changed(fields))
	if a.dryRun {
		return nil
	}
	if err := tx.UpsertTemplateMapping(ctx, want); err != nil {
		return fmt.Errorf("template %q: %w", tplName, err)
	}
	return nil
}

func (a *applier) applyChannel(ctx context.Context, tx *store.DB, fc fileChannel, cur *store.Channel) error {
	enabled := boolOr(fc.Enabled, true)
	sigs := fc.SignatureNames
	if sigs == nil {
		sigs = []string{}
	}
	var tplID *int64
	if fc.Template != "" {
		id := a.templateIDs[fc.Template]
		tplID = &id
	}
	var id int64
	if cur == nil {
		a.say("channel %s: %s", fc.Name, a.verb("create"))
		if !a.dryRun {
			ch := &store.Channel{
				Name: fc.Name, Type: fc.Type, TemplateID: tplID, SignatureNames: sigs, SignatureRequired: fc.SignatureRequired,
				Enabled: enabled, ReceiptTimeoutSeconds: fc.ReceiptTimeoutSeconds, MaxAttempts: fc.MaxAttempts,
			}
			if err := tx.CreateChannel(ctx, ch); err != nil {
				return fmt.Errorf("create channel %q: %w", fc.Name, err)
			}
			id = ch.ID
		}
	} else {
		id = cur.ID
		var patch store.ChannelPatch
		var fields []string
		if fc.Type != cur.Type {
			patch.Type, fields = &fc.Type, append(fields, "type")
		}
		switch {
		case tplID == nil && cur.TemplateID != nil:
			zero := int64(0)
			patch.TemplateID, fields = &zero, append(fields, "template")
		case tplID != nil && (cur.TemplateID == nil || *cur.TemplateID != *tplID):
			// A template created by this run has no id in a dry run.
			patch.TemplateID, fields = tplID, append(fields, "template")
		}
		if !slices.Equal(sigs, cur.SignatureNames) {
			patch.SignatureNames, fields = &sigs, append(fields, "signature_names")
		}
		if fc.SignatureRequired != cur.SignatureRequired {
			patch.SignatureRequired, fields = &fc.SignatureRequired, append(fields, "signature_required")
		}
		if enabled != cur.Enabled {
			patch.Enabled, fields = &enabled, append(fields, "enabled")
		}
		if fc.ReceiptTimeoutSeconds != cur.ReceiptTimeoutSeconds {
			patch.ReceiptTimeoutSeconds, fields = &fc.ReceiptTimeoutSeconds, append(fields, "receipt_timeout_seconds")
		}
		if fc.MaxAttempts != cur.MaxAttempts {
			patch.MaxAttempts, fields = &fc.MaxAttempts, append(fields, "max_attempts")
		}
		if len(fields) == 0 {
			a.say("channel %s: unchanged", fc.Name)
		} else {
			a.say("channel %s: %s%s", fc.Name, a.verb("update"), changed(fields))
			if !a.dryRun {
				if err := tx.UpdateChannel(ctx, id, patch); err != nil {
					return fmt.Errorf("update channel %q: %w", fc.Name, err)
				}
			}
		}
	}
	return a.applyPool(ctx, tx, fc, id)
}

func (a *applier) applyPool(ctx context.Context, tx *store.DB, fc fileChannel, chID int64) error {
	current := map[int64]store.PoolMember{}
	if chID != 0 {
		pool, err := tx.ChannelPool(ctx, chID)
		if err != nil {
			return err
		}
		for _, m := range pool {
			current[m.Account.ID] = m
		}
	}
	listed := map[int64]bool{}
	for _, m := range fc.Pool {
		weight := intOr(m.Weight, a.accountWeights[m.Account])
		accID := a.accountIDs[m.Account]
		listed[accID] = true
		cur, ok := current[accID]
		switch {
		case accID != 0 && ok && cur.Weight == weight:
			a.say("  pool member %s: unchanged", m.Account)
			continue
		case accID != 0 && ok:
			a.say("  pool member %s: %s (weight %d -> %d)", m.Account, a.verb("update"), cur.Weight, weight)
		default:
			a.say("  pool member %s: %s (weight %d)", m.Account, a.verb("create"), weight)
		}
		if a.dryRun {
			continue
		}
		if err := tx.SetPoolMember(ctx, chID, accID, weight); err != nil {
			return fmt.Errorf("channel %q: %w", fc.Name, err)
		}
	}
	var extra []store.PoolMember
	for id, m := range current {
		if !listed[id] {
			extra = append(extra, m)
		}
	}
	sort.Slice(extra, func(i, j int) bool { return extra[i].Account.ID < extra[j].Account.ID })
	for _, m := range extra {
		if !a.prune {
			a.say("  pool member %s: not in the file, kept (--prune removes it)", m.Account.Name)
			continue
		}
		a.say("  pool member %s: %s (not in the file)", m.Account.Name, a.verb("remove"))
		if a.dryRun {
			continue
		}
		if err := tx.RemovePoolMember(ctx, chID, m.Account.ID); err != nil {
			return fmt.Errorf("channel %q: %w", fc.Name, err)
		}
	}
	return nil
}

func (a *applier) applyRule(ctx context.Context, tx *store.DB, fr fileRule, cur *store.Rule) error {
	want := storeRule(fr)
	if cur == nil {
		a.say("rule %s: %s", fr.Name, a.verb("create"))
		if a.dryRun {
			return nil
		}
		if err := tx.CreateRule(ctx, &want); err != nil {
			return fmt.Errorf("create rule %q: %w", fr.Name, err)
		}
		return nil
	}
	var patch store.RulePatch
	var fields []string
	diff := func(name string, differs bool, set func()) {
		if differs {
			set()
			fields = append(fields, name)
		}
	}
	diff("scene", want.Scene != cur.Scene, func() { patch.Scene = &want.Scene })
	diff("priority", want.Priority != cur.Priority, func() { patch.Priority = &want.Priority })
	diff("provider_kind", want.ProviderKind != cur.ProviderKind, func() { patch.ProviderKind = &want.ProviderKind })
	diff("message_type", want.MessageType != cur.MessageType, func() { patch.MessageType = &want.MessageType })
	diff("error_codes", want.ErrorCodes != cur.ErrorCodes, func() { patch.ErrorCodes = &want.ErrorCodes })
	diff("error_keywords", want.ErrorKeywords != cur.ErrorKeywords, func() { patch.ErrorKeywords = &want.ErrorKeywords })
	diff("action", want.Action != cur.Action, func() { patch.Action = &want.Action })
	diff("max_retry", want.MaxRetry != cur.MaxRetry, func() { patch.MaxRetry = &want.MaxRetry })
	diff("delay_seconds", want.DelaySeconds != cur.DelaySeconds, func() { patch.DelaySeconds = &want.DelaySeconds })
	diff("backoff_rate", want.BackoffRate != cur.BackoffRate, func() { patch.BackoffRate = &want.BackoffRate })
	diff("then_action", want.ThenAction != cur.ThenAction, func() { patch.ThenAction = &want.ThenAction })
	diff("enabled", want.Enabled != cur.Enabled, func() { patch.Enabled = &want.Enabled })
	if len(fields) == 0 {
		a.say("rule %s: unchanged", fr.Name)
		return nil
	}
	a.say("rule %s: %s%s", fr.Name, a.verb("update"), changed(fields))
	if a.dryRun {
		return nil
	}
	if err := tx.UpdateRule(ctx, cur.ID, patch); err != nil {
		return fmt.Errorf("update rule %q: %w", fr.Name, err)
	}
	return nil
}

// pruneRest handles the accounts and rules the file does not name: with
// --prune enabled ones are disabled, otherwise they are only reported.
func (a *applier) pruneRest(ctx context.Context, tx *store.DB) error {
	named := map[string]bool{}
	for _, fa := range a.f.Accounts {
		named[fa.Name] = true
	}
	for _, acc := range a.allAccounts {
		if named[acc.Name] || !acc.Enabled {
			continue
		}
		if !a.prune {
			a.say("account %s: not in the file, kept (--prune disables it)", acc.Name)
			continue
		}
		a.say("account %s: %s (not in the file)", acc.Name, a.verb("disable"))
		if a.dryRun {
			continue
		}
		off := false
		if err := tx.UpdateAccount(ctx, acc.ID, store.AccountPatch{Enabled: &off}); err != nil {
			return fmt.Errorf("disable account %q: %w", acc.Name, err)
		}
	}
	named = map[string]bool{}
	for _, fr := range a.f.Rules {
		named[fr.Name] = true
	}
	for _, r := range a.allRules {
		if named[r.Name] || !r.Enabled {
			continue
		}
		if !a.prune {
			a.say("rule %s: not in the file, kept (--prune disables it)", ruleLabel(r))
			continue
		}
		a.say("rule %s: %s (not in the file)", ruleLabel(r), a.verb("disable"))
		if a.dryRun {
			continue
		}
		off := false
		if err := tx.UpdateRule(ctx, r.ID, store.RulePatch{Enabled: &off}); err != nil {
			return fmt.Errorf("disable rule %q: %w", r.Name, err)
		}
	}
	return nil
}

func ruleLabel(r store.Rule) string {
	if r.Name == "" {
		return "#" + strconv.FormatInt(r.ID, 10)
	}
	return r.Name
}
