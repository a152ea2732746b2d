package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/store"
)

// Demo data dev mode creates on first start.
const (
	demoAppID       = "demo-app"
	demoChannelName = "demo-sms"
	demoReceiver    = "+8613800138000"
)

func newDevCommand(stdout io.Writer, getenv func(string) string) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run everything in one process with embedded defaults",
		Long: `Run the API, a worker, an in-process Temporal server with its Web UI, an
embedded SQLite store and an in-process Redis-protocol server, all in one
process, with nothing to install but Go. Data lives in --data-dir and
survives restarts.

On first start it creates a demo app, a demo SMS channel backed by the
sandbox provider (which delivers receipts like a real one) and prints a
command that sends a message. It also creates the operators' API user
"admin" with a random password and prints it once; later starts only say
the user exists (set a new password with: herald admin user passwd admin).

Each embedded part can be replaced by the real thing:
  --database-url postgres://...   use PostgreSQL instead of SQLite
  --redis-url redis://...         use Redis instead of the in-process server
  --temporal-address host:7233    use a Temporal cluster (no embedded server)
  --temporal-database-url postgres://...
                                  keep the embedded Temporal server's data in
                                  PostgreSQL (visibility in <database>_visibility)`,
		Args: cobra.NoArgs,
	}
	c := newConfigured(cmd.Flags(), getenv)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		s, err := c.newStack(config.ModeDev, cmd.ErrOrStderr())
		if err != nil {
			return err
		}
		demo, err := s.startDev(cmd.Context())
		if err != nil {
			_ = s.Close()
			return err
		}
		adm, err := ensureDevAdmin(cmd.Context(), s.db, cliActor(getenv))
		if err != nil {
			_ = s.Close()
			return err
		}
		printDevBanner(stdout, s, demo, adm)
		return runUntilDone(cmd.Context(), s)
	}
	return cmd
}

// startDev opens every part of dev mode in dependency order and makes sure
// the demo data exists.
func (s *stack) startDev(ctx context.Context) (demoInfo, error) {
	if err := s.prepareDev(); err != nil {
		return demoInfo{}, err
	}
	if err := s.startAll(ctx); err != nil {
		return demoInfo{}, err
	}
	demo, err := seedDemo(ctx, s.db)
	if err != nil {
		return demoInfo{}, fmt.Errorf("create demo data: %w", err)
	}
	s.log.Info("dev mode ready", zap.String("api", s.apiURL), zap.String("temporal_ui", s.uiURL))
	return demo, nil
}

// startAll runs the store, Redis, Temporal, the worker and the API in one
// process.
func (s *stack) startAll(ctx context.Context) error {
	// The API listens first: the embedded Temporal UI is told the
	// API's /codec address when it starts.
	ln, err := s.listenAPI()
	if err != nil {
		return err
	}
	if err := s.openCore(ctx, schemaMigrate); err != nil {
		_ = ln.Close()
		return err
	}
	if err := s.startWorker(s.apiURL); err != nil {
		_ = ln.Close()
		return err
	}
	s.startSweeper(ctx)
	if err := s.serveAPI(ln); err != nil {
		return err
	}
	return s.startOps()
}

// demoInfo is what the banner prints about the demo data.
type demoInfo struct {
	AppID     string
	Secret    string
	ChannelID int64
	Channels  []demoChannelInfo
	Created   bool
}

type demoChannelInfo struct {
	demoChannel
	id int64
}

// demoChannel is one channel dev mode creates, backed by sandbox accounts
// so it works with nothing configured.
type demoChannel struct {
	name, typ, content, subject, receiver string
	vars                                  []string
	params                                string
}

// demoChannels lists a channel of every type; the SMS one comes first and
// is the one the banner's example uses.
var demoChannels = []demoChannel{
	{name: demoChannelName, typ: store.ChannelSMS, content: "Your verification code is {{code}}. It expires in 5 minutes.", vars: []string{"code"}, receiver: demoReceiver, params: "code=123456"},
	{name: "demo-email", typ: store.ChannelEmail, subject: "Your sign-in code", content: "<p>Your code is <b>{{code}}</b>.</p>", vars: []string{"code"}, receiver: "ann@example.com", params: "code=123456"},
	{name: "demo-wechat-work", typ: store.ChannelWeChatWork, content: "Alert: {{text}}", vars: []string{"text"}, receiver: "zhangsan", params: "text=disk-full"},
	{name: "demo-dingtalk", typ: store.ChannelDingTalk, content: "Alert: {{text}}", vars: []string{"text"}, receiver: "@13800138000", params: "text=disk-full"},
	{name: "demo-feishu", typ: store.ChannelFeishu, content: "Alert: {{text}}", vars: []string{"text"}, receiver: "@all", params: "text=disk-full"},
	{name: "demo-webhook", typ: store.ChannelWebhook, content: "Order {{order}} shipped", vars: []string{"order"}, receiver: "customer-42", params: "order=A-1001"},
}

// seedDemo creates the demo app and a sandbox-backed channel of every type
// unless they exist.
func seedDemo(ctx context.Context, db *store.DB) (demoInfo, error) {
	app, err := db.GetApp(ctx, demoAppID)
	created := false
	switch {
	case errors.Is(err, store.ErrNotFound):
		secret, err := randomHex(32)
		if err != nil {
			return demoInfo{}, err
		}
		app = &store.App{ID: demoAppID, Name: "Demo app", Secret: secret, Enabled: true}
		if err := db.CreateApp(ctx, app); err != nil {
			return demoInfo{}, err
		}
		created = true
	case err != nil:
		return demoInfo{}, err
	}
	info := demoInfo{AppID: app.ID, Secret: app.Secret, Created: created}
	for _, d := range demoChannels {
		ch, err := db.FindChannelByName(ctx, d.name)
		chCreated := false
		switch {
		case errors.Is(err, store.ErrNotFound):
			if ch, err = createDemoChannel(ctx, db, d); err != nil {
				return demoInfo{}, err
			}
			chCreated = true
		case err != nil:
			return demoInfo{}, err
		}
		// Grants are seeded with what they bind only, so one an operator
		// revoked stays revoked across restarts.
		if created || chCreated {
			if err := db.GrantChannel(ctx, app.ID, ch.ID); err != nil {
				return demoInfo{}, err
			}
		}
		if d.name == demoChannelName {
			info.ChannelID = ch.ID
		}
		info.Channels = append(info.Channels, demoChannelInfo{demoChannel: d, id: ch.ID})
	}
	return info, nil
}

func createDemoChannel(ctx context.Context, db *store.DB, d demoChannel) (*store.Channel, error) {
	contentType := "text"
	if d.typ == store.ChannelEmail {
		contentType = "html"
	}
	tpl := &store.Template{
		Name:        d.name,
		ContentType: contentType,
		Subject:     d.subject,
		Content:     d.content,
		Variables:   d.vars,
		Description: "Demo template of " + d.name,
	}
	if err := db.CreateTemplate(ctx, tpl); err != nil {
		return nil, err
	}
	ch := &store.Channel{
		Name:                  d.name,
		Type:                  d.typ,
		TemplateID:            &tpl.ID,
		Enabled:               true,
		ReceiptTimeoutSeconds: 60,
		MaxAttempts:           5,
	}
	if d.typ == store.ChannelSMS {
		ch.SignatureNames = []string{"Herald"}
	}
	if err := db.CreateChannel(ctx, ch); err != nil {
		return nil, err
	}
	// Two sandbox accounts weighted 3:1 show the balancing and give the
	// failover rules somewhere to switch to.
	for i, weight := range []int{3, 1} {
		token, err := randomHex(16)
		if err != nil {
			return nil, err
		}
		cfg, _ := json.Marshal(map[string]any{"latency_ms": 20, "receipt_delay_ms": 200})
		acc := &store.ProviderAccount{
			Name:          fmt.Sprintf("%s-sandbox-%c", d.name, 'a'+i),
			Kind:          "sandbox",
			Config:        cfg,
			Weight:        weight,
			Enabled:       true,
			CallbackToken: token,
		}
		if err := db.CreateAccount(ctx, acc); err != nil {
			return nil, err
		}
		if err := db.SetPoolMember(ctx, ch.ID, acc.ID, weight); err != nil {
			return nil, err
		}
	}
	return ch, nil
}

func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// printDevAdmin tells how to sign in to the operators' API and the
// console, served at adminURL.
func printDevAdmin(w io.Writer, adminURL string, a devAdmin) {
	fmt.Fprintf(w, "\nOperators' API  %s/admin/api/v1 (OpenAPI: %s/admin/api/v1/openapi.yaml)\n", adminURL, adminURL)
	if a.Created {
		fmt.Fprintf(w, "  user admin, password %s (shown only now)\n", a.Password)
	} else {
		fmt.Fprintln(w, "  user admin exists; set a new password with: herald admin user passwd admin")
	}
	fmt.Fprintf(w, "  sign in:  go run ./cmd/herald login --url %s --username admin\n", adminURL)
}

func printDevBanner(w io.Writer, s *stack, d demoInfo, adm devAdmin) {
	ui := s.uiURL
	if ui == "" {
		ui = "(disabled; using " + s.cfg.Temporal.Address + ")"
	}
	metricsURL := "(off: http.health-addr is empty)"
	if s.opsURL != "" {
		metricsURL = s.opsURL + "/metrics"
	}
	fmt.Fprintf(w, `
Herald is running (dev mode).

  API          %s
  Console      %s/console/  (user admin, see below)
  Temporal UI  %s
  Health       %s/health
  Metrics      %s
  Data         %s

Demo app (dev only; keep the secret out of logs elsewhere):
  app id      %s
  app secret  %s
  channel     %d (%s, sandbox provider)

Send a message and follow it to its final state:

  go run ./cmd/herald send --url %s \
    --app-id %s --app-secret %s \
    --channel %d --receiver %s --param code=123456

Watch it in the Temporal UI (filter: HeraldApp = "%s"), or:

  curl -s %s/health

Sandbox receivers ending in 4000..4007 simulate failures (see README).
`, s.apiURL, s.adminURL, ui, s.apiURL, metricsURL, s.cfg.DataDir, d.AppID, d.Secret, d.ChannelID, demoChannelName,
		s.apiURL, d.AppID, d.Secret, d.ChannelID, demoReceiver, d.AppID, s.apiURL)
	fmt.Fprintln(w, "\nDemo channels (all on the sandbox provider; pass --channel, --receiver, --param):")
	for _, c := range d.Channels {
		fmt.Fprintf(w, "  %3d  %-18s %-12s e.g. --receiver %s --param %s\n", c.id, c.name, c.typ, c.receiver, c.params)
	}
	printDevAdmin(w, s.adminURL, adm)
	fmt.Fprintln(w, "\nPress Ctrl-C to stop.")
}
