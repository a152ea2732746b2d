package apply

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/providers"
	"github.com/heraldhq/herald/providers/aliyun"
	"github.com/heraldhq/herald/providers/dingtalk"
	"github.com/heraldhq/herald/providers/feishu"
	"github.com/heraldhq/herald/providers/sandbox"
	"github.com/heraldhq/herald/providers/smtp"
	"github.com/heraldhq/herald/providers/tencent"
	"github.com/heraldhq/herald/providers/webhook"
	"github.com/heraldhq/herald/providers/wechatwork"
	"github.com/heraldhq/herald/providers/zrwinfo"
	"github.com/heraldhq/herald/store"
)

// applyStore is a migrated SQLite store with every provider, to apply
// files to.
type applyStore struct {
	t   *testing.T
	db  *store.DB
	reg *providers.Registry
}

func newApplyStore(t *testing.T) *applyStore {
	t.Helper()
	c, err := store.NewCipher(bytes.Repeat([]byte{7}, 32))
	require.NoError(t, err)
	db, err := store.Open(t.Context(), store.Options{URL: "sqlite://" + filepath.Join(t.TempDir(), "x.db"), Cipher: c})
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	_, err = db.MigrateUp(t.Context())
	require.NoError(t, err)
	sb := sandbox.New()
	t.Cleanup(func() { _ = sb.Close() })
	reg := providers.NewRegistry(sb, tencent.New(), aliyun.New(), zrwinfo.New(), smtp.New(),
		wechatwork.New(), wechatwork.NewRobot(), dingtalk.New(), feishu.New(), webhook.New())
	return &applyStore{t: t, db: db, reg: reg}
}

// result is what one apply printed, or the error it returned.
type result struct {
	code   int
	stdout string
	err    string
}

// apply applies doc with the given flags (--dry-run, --prune).
func (s *applyStore) apply(env map[string]string, doc string, flags ...string) result {
	s.t.Helper()
	var out bytes.Buffer
	err := Run(s.t.Context(), &out, s.db, s.reg, Options{
		Source: "herald.yaml", Raw: []byte(doc), Getenv: func(k string) string { return env[k] },
		DryRun: slices.Contains(flags, "--dry-run"), Prune: slices.Contains(flags, "--prune"),
		PublicURL: "http://127.0.0.1:8080",
	})
	if err != nil {
		return result{code: 1, stdout: out.String(), err: err.Error()}
	}
	return result{stdout: out.String()}
}

// mustApply applies doc and requires success.
func (s *applyStore) mustApply(env map[string]string, doc string, flags ...string) string {
	s.t.Helper()
	res := s.apply(env, doc, flags...)
	require.Equal(s.t, 0, res.code, "error: %s\nstdout: %s", res.err, res.stdout)
	return res.stdout
}

// requireEmpty checks that nothing was written.
func (s *applyStore) requireEmpty() {
	s.t.Helper()
	db := s.db
	ctx := s.t.Context()
	accs, err := db.ListAccounts(ctx)
	require.NoError(s.t, err)
	require.Empty(s.t, accs)
	rs, err := db.ListAllRules(ctx)
	require.NoError(s.t, err)
	require.Empty(s.t, rs)
	_, total, err := db.ListChannels(ctx, store.ChannelFilter{})
	require.NoError(s.t, err)
	require.Zero(s.t, total)
	_, err = db.GetApp(ctx, "shop")
	require.ErrorIs(s.t, err, store.ErrNotFound)
}

// lines returns the output lines that start with prefix.
func lines(out, prefix string) []string {
	var got []string
	for l := range strings.SplitSeq(out, "\n") {
		if strings.HasPrefix(l, prefix) {
			got = append(got, l)
		}
	}
	return got
}

const applyBase = `
apps:
  - id: shop
    name: Shop
    ip_allowlist: [10.0.0.0/8]
    rate_limit_per_second: 50
templates:
  - name: code
    content: "Code {{code}}, valid {{minutes}} min"
    variables: [code, minutes]
    mappings:
      - account: sbx-a
        provider_code: T1
        param_order: [minutes, code]
accounts:
  - name: sbx-a
    kind: sandbox
    config: {latency_ms: 1, receipt_delay_ms: 10}
    weight: 2
  - name: sbx-b
    kind: sandbox
    config: {latency_ms: 1}
channels:
  - name: sms
    type: sms
    template: code
    signature_names: [Herald]
    max_attempts: 3
    pool:
      - account: sbx-a
        weight: 3
      - account: sbx-b
rules:
  - name: throttled
    scene: send_failure
    provider_kind: sandbox
    error_codes: [THROTTLED]
    action: retry
    max_retry: 2
    delay_seconds: 1
  - name: undelivered
    scene: callback_failure
    action: switch
`

// topLines returns the report's object lines, without the indented details.
func topLines(out string) []string {
	var got []string
	for l := range strings.SplitSeq(out, "\n") {
		if l != "" && !strings.HasPrefix(l, " ") {
			got = append(got, l)
		}
	}
	return got
}

func TestApply(t *testing.T) {
	t.Parallel()

	t.Run("CreateThenUnchanged", func(t *testing.T) {
		t.Parallel()
		s := newApplyStore(t)
		out := s.mustApply(nil, applyBase)
		require.Equal(t, []string{
			"app shop: created",
			"account sbx-a: created",
			"account sbx-b: created",
			"template code: created",
			"channel sms: created",
			"rule throttled: created",
			"rule undelivered: created",
		}, topLines(out))
		require.Equal(t, []string{"  mapping for account sbx-a: created"}, lines(out, "  mapping"))
		require.Equal(t, []string{"  pool member sbx-a: created (weight 3)", "  pool member sbx-b: created (weight 1)"}, lines(out, "  pool member"))

		db := s.db
		ctx := t.Context()
		m := regexp.MustCompile(`(?m)^  secret: ([0-9a-f]{64}) `).FindStringSubmatch(out)
		require.NotNil(t, m, out)
		app, err := db.GetApp(ctx, "shop")
		require.NoError(t, err)
		require.Equal(t, m[1], app.Secret)
		require.Equal(t, "Shop", app.Name)
		require.True(t, app.Enabled)
		require.Equal(t, []string{"10.0.0.0/8"}, app.IPAllowlist)
		require.Equal(t, 50, app.RateLimitPerSecond)

		a, err := db.FindAccountByName(ctx, "sbx-a")
		require.NoError(t, err)
		require.Equal(t, "sandbox", a.Kind)
		require.JSONEq(t, `{"latency_ms":1,"receipt_delay_ms":10}`, string(a.Config))
		require.Equal(t, 2, a.Weight)
		require.True(t, a.Enabled)
		require.Len(t, a.CallbackToken, 32)
		urls := regexp.MustCompile(`(?m)^  receipt callback URL: (\S+)$`).FindAllStringSubmatch(out, -1)
		require.Len(t, urls, 2)
		require.Equal(t, "http://127.0.0.1:8080/callbacks/sandbox/"+itoa(a.ID)+"?token="+a.CallbackToken, urls[0][1])

		tpl, err := db.FindTemplateByName(ctx, "code")
		require.NoError(t, err)
		require.Equal(t, "text", tpl.ContentType)
		require.Equal(t, []string{"code", "minutes"}, tpl.Variables)
		mp, err := db.GetTemplateMapping(ctx, tpl.ID, a.ID)
		require.NoError(t, err)
		require.Equal(t, "T1", mp.ProviderCode)
		require.Equal(t, []string{"minutes", "code"}, mp.ParamOrder)

		ch, err := db.FindChannelByName(ctx, "sms")
		require.NoError(t, err)
		require.Equal(t, store.ChannelSMS, ch.Type)
		require.Equal(t, tpl.ID, *ch.TemplateID)
		require.Equal(t, []string{"Herald"}, ch.SignatureNames)
		require.Equal(t, 3, ch.MaxAttempts)
		require.True(t, ch.Enabled)
		pool, err := db.ChannelPool(ctx, ch.ID)
		require.NoError(t, err)
		require.Len(t, pool, 2)
		require.Equal(t, 3, pool[0].Weight)
		require.Equal(t, 1, pool[1].Weight)

		rs, err := db.ListRules(ctx, "")
		require.NoError(t, err)
		require.Len(t, rs, 2)
		require.Equal(t, "throttled", rs[0].Name)
		require.Equal(t, "THROTTLED", rs[0].ErrorCodes)
		require.Equal(t, "sandbox", rs[0].ProviderKind)

		again := s.mustApply(nil, applyBase)
		require.Equal(t, []string{
			"app shop: unchanged",
			"account sbx-a: unchanged",
			"account sbx-b: unchanged",
			"template code: unchanged",
			"channel sms: unchanged",
			"rule throttled: unchanged",
			"rule undelivered: unchanged",
		}, topLines(again))
		require.NotContains(t, again, "created")
		require.NotContains(t, again, "updated")
		// Secrets and tokens are printed once, when they are set.
		require.NotContains(t, again, app.Secret)
		require.NotContains(t, again, a.CallbackToken)
		require.Contains(t, again, "?token=<callback token, shown when it was generated>")
	})

	t.Run("Update", func(t *testing.T) {
		t.Parallel()
		s := newApplyStore(t)
		s.mustApply(nil, applyBase)
		changed := strings.NewReplacer(
			"rate_limit_per_second: 50", "rate_limit_per_second: 60",
			`content: "Code {{code}}, valid {{minutes}} min"`, `content: "Your code {{code}} ({{minutes}} min)"`,
			"config: {latency_ms: 1, receipt_delay_ms: 10}\n    weight: 2", "config: {latency_ms: 2, receipt_delay_ms: 10}\n    weight: 5",
			"max_attempts: 3", "max_attempts: 4",
			"      - account: sbx-b\n", "      - account: sbx-b\n        weight: 2\n",
			"max_retry: 2", "max_retry: 3",
		).Replace(applyBase)
		out := s.mustApply(nil, changed)
		require.Equal(t, []string{
			"app shop: updated (rate_limit_per_second)",
			"account sbx-a: updated (config, weight)",
			"account sbx-b: unchanged",
			"template code: updated (content)",
			"channel sms: updated (max_attempts)",
			"rule throttled: updated (max_retry)",
			"rule undelivered: unchanged",
		}, topLines(out))
		require.Equal(t, []string{"  pool member sbx-a: unchanged", "  pool member sbx-b: updated (weight 1 -> 2)"}, lines(out, "  pool member"))

		db := s.db
		ctx := t.Context()
		app, err := db.GetApp(ctx, "shop")
		require.NoError(t, err)
		require.Equal(t, 60, app.RateLimitPerSecond)
		a, err := db.FindAccountByName(ctx, "sbx-a")
		require.NoError(t, err)
		require.JSONEq(t, `{"latency_ms":2,"receipt_delay_ms":10}`, string(a.Config))
		require.Equal(t, 5, a.Weight)
		tpl, err := db.FindTemplateByName(ctx, "code")
		require.NoError(t, err)
		require.Equal(t, "Your code {{code}} ({{minutes}} min)", tpl.Content)
		ch, err := db.FindChannelByName(ctx, "sms")
		require.NoError(t, err)
		require.Equal(t, 4, ch.MaxAttempts)
		pool, err := db.ChannelPool(ctx, ch.ID)
		require.NoError(t, err)
		require.Equal(t, 2, pool[1].Weight)
		rs, err := db.ListRules(ctx, "send_failure")
		require.NoError(t, err)
		require.Equal(t, 3, rs[0].MaxRetry)

		require.NotContains(t, s.mustApply(nil, changed), "updated")
	})

	t.Run("ValidationErrorsListedTogether", func(t *testing.T) {
		t.Parallel()
		s := newApplyStore(t)
		res := s.apply(nil, `
apps:
  - id: shop
    status_callback_url: not-a-url
    ip_allowlist: [10.0.0.300]
templates:
  - name: t
    content: "Hi {{name}}"
    variables: [nme]
    mappings:
      - account: ghost
accounts:
  - name: tc
    kind: tencent
    config: {secret_id: AKIDx}
  - name: odd
    kind: carrier-pigeon
channels:
  - name: c
    type: fax
    template: missing
    signature_required: true
    pool:
      - account: nobody
rules:
  - name: r
    scene: sometimes
    action: retry
    provider_kind: pigeon
`)
		require.Equal(t, 1, res.code, res.stdout)
		require.Empty(t, res.stdout)
		for _, want := range []string{
			"has 14 problems; nothing was written",
			"apps[0].status_callback_url: must be an absolute http(s) URL",
			`apps[0].ip_allowlist[0]: "10.0.0.300" is not an IP address or CIDR range`,
			"templates[0].variables: {{name}} is used in the subject or content but not declared",
			`templates[0].variables: "nme" is declared but the subject and content never use {{nme}}`,
			`templates[0].mappings[0].account: no account named "ghost" in the file or the store`,
			"accounts[0].config: invalid tencent config: secret_key is required; sdk_app_id is required",
			`accounts[1].kind: "carrier-pigeon" is not a provider kind (one of aliyun, dingtalk, feishu, sandbox, smtp, tencent, webhook, wechatwork, wechatwork_robot, zrwinfo)`,
			`channels[0].type: "fax" is not a channel type`,
			`channels[0].template: no template named "missing" in the file or the store`,
			"channels[0].signature_required: needs at least one of signature_names",
			`channels[0].pool[0].account: no account named "nobody" in the file or the store`,
			`rules[0].provider_kind: "pigeon" is not a provider kind`,
			`rules[0]: unknown scene "sometimes"`,
			"rules[0]: max_retry must be at least 1 for a rule that retries",
		} {
			require.Contains(t, res.err, want)
		}
		s.requireEmpty()
	})

	t.Run("UnknownFieldsAndBadTypes", func(t *testing.T) {
		t.Parallel()
		s := newApplyStore(t)
		res := s.apply(nil, "acounts: []\nchannels:\n  - name: c\n    type: sms\n    pol: []\n")
		require.Equal(t, 1, res.code)
		require.Contains(t, res.err, "acounts: unknown field (line 1)")
		require.Contains(t, res.err, "channels[0].pol: unknown field (line 5)")

		res = s.apply(nil, "accounts:\n  - name: a\n    kind: sandbox\n    weight: heavy\n")
		require.Equal(t, 1, res.code)
		require.Contains(t, res.err, "line 4: cannot unmarshal !!str `heavy` into int")

		res = s.apply(nil, "apps: [\n")
		require.Equal(t, 1, res.code)
		require.Contains(t, res.err, "not valid YAML")
		s.requireEmpty()
	})

	t.Run("EnvironmentVariables", func(t *testing.T) {
		t.Parallel()
		s := newApplyStore(t)
		doc := `
apps:
  - id: shop
    secret: ${SHOP_SECRET}
templates:
  - name: price
    content: "Total {{total}}"
    variables: [total]
    description: "costs $${PRICE}"
accounts:
  - name: tc
    kind: tencent
    config:
      secret_id: ${TC_ID}
      secret_key: "${TC_KEY}"
      sdk_app_id: "${TC_APP}"
      timeout_seconds: ${TC_TIMEOUT}
`
		env := map[string]string{
			// Values YAML would misread if they were pasted into the text.
			"SHOP_SECRET": `s3cret: with # "quotes" and, commas`,
			"TC_ID":       "AKID-from-env",
			"TC_KEY":      "key: {not a map}",
			"TC_APP":      "1400000001",
			"TC_TIMEOUT":  "7",
		}

		t.Run("Missing", func(t *testing.T) {
			partial := map[string]string{"TC_ID": "x", "TC_APP": "1400000001", "TC_TIMEOUT": "7"}
			res := s.apply(partial, doc)
			require.Equal(t, 1, res.code)
			require.Contains(t, res.err, "apps[0].secret: environment variable SHOP_SECRET is not set")
			require.Contains(t, res.err, "accounts[0].config.secret_key: environment variable TC_KEY is not set")
			s.requireEmpty()
		})

		t.Run("Expanded", func(t *testing.T) {
			out := s.mustApply(env, doc)
			require.Equal(t, []string{"app shop: created", "account tc: created", "template price: created"}, topLines(out))
			for _, v := range env {
				if len(v) > 8 {
					require.NotContains(t, out, v)
				}
			}
			require.NotContains(t, out, "  secret:")
			db := s.db
			app, err := db.GetApp(t.Context(), "shop")
			require.NoError(t, err)
			require.Equal(t, env["SHOP_SECRET"], app.Secret)
			acc, err := db.FindAccountByName(t.Context(), "tc")
			require.NoError(t, err)
			require.JSONEq(t, `{"secret_id":"AKID-from-env","secret_key":"key: {not a map}","sdk_app_id":"1400000001","timeout_seconds":7}`, string(acc.Config))
			tpl, err := db.FindTemplateByName(t.Context(), "price")
			require.NoError(t, err)
			require.Equal(t, "costs ${PRICE}", tpl.Description)

			require.NotContains(t, s.mustApply(env, doc), "updated")
		})
	})

	t.Run("DryRun", func(t *testing.T) {
		t.Parallel()
		s := newApplyStore(t)
		out := s.mustApply(nil, applyBase, "--dry-run")
		require.Equal(t, []string{
			"dry run: nothing was written",
			"app shop: create",
			"account sbx-a: create",
			"account sbx-b: create",
			"template code: create",
			"channel sms: create",
			"rule throttled: create",
			"rule undelivered: create",
		}, topLines(out))
		require.Contains(t, out, "  pool member sbx-a: create (weight 3)")
		require.NotContains(t, out, "secret:")
		s.requireEmpty()

		s.mustApply(nil, applyBase)
		changed := strings.Replace(applyBase, "max_attempts: 3", "max_attempts: 9", 1)
		out = s.mustApply(nil, changed, "--dry-run")
		require.Contains(t, out, "channel sms: update (max_attempts)\n")
		ch, err := s.db.FindChannelByName(t.Context(), "sms")
		require.NoError(t, err)
		require.Equal(t, 3, ch.MaxAttempts)
	})

	t.Run("Prune", func(t *testing.T) {
		t.Parallel()
		s := newApplyStore(t)
		s.mustApply(nil, applyBase)
		smaller := `
templates:
  - name: code
    content: "Code {{code}}, valid {{minutes}} min"
    variables: [code, minutes]
accounts:
  - name: sbx-a
    kind: sandbox
    config: {latency_ms: 1, receipt_delay_ms: 10}
    weight: 2
channels:
  - name: sms
    type: sms
    template: code
    signature_names: [Herald]
    max_attempts: 3
    pool:
      - account: sbx-a
        weight: 3
rules:
  - name: throttled
    scene: send_failure
    provider_kind: sandbox
    error_codes: [THROTTLED]
    action: retry
    max_retry: 2
    delay_seconds: 1
`
		out := s.mustApply(nil, smaller)
		require.Contains(t, out, "account sbx-b: not in the file, kept (--prune disables it)\n")
		require.Contains(t, out, "  pool member sbx-b: not in the file, kept (--prune removes it)\n")
		require.Contains(t, out, "rule undelivered: not in the file, kept (--prune disables it)\n")

		out = s.mustApply(nil, smaller, "--prune", "--dry-run")
		require.Contains(t, out, "account sbx-b: disable (not in the file)\n")
		require.Contains(t, out, "  pool member sbx-b: remove (not in the file)\n")
		require.Contains(t, out, "rule undelivered: disable (not in the file)\n")

		db := s.db
		ctx := t.Context()
		ch, err := db.FindChannelByName(ctx, "sms")
		require.NoError(t, err)
		pool, err := db.ChannelPool(ctx, ch.ID)
		require.NoError(t, err)
		require.Len(t, pool, 2)

		out = s.mustApply(nil, smaller, "--prune")
		require.Contains(t, out, "account sbx-b: disabled (not in the file)\n")
		require.Contains(t, out, "  pool member sbx-b: removed (not in the file)\n")
		require.Contains(t, out, "rule undelivered: disabled (not in the file)\n")
		pool, err = db.ChannelPool(ctx, ch.ID)
		require.NoError(t, err)
		require.Len(t, pool, 1)
		require.Equal(t, "sbx-a", pool[0].Account.Name)
		b, err := db.FindAccountByName(ctx, "sbx-b")
		require.NoError(t, err)
		require.False(t, b.Enabled)
		rs, err := db.ListRules(ctx, "")
		require.NoError(t, err)
		require.Len(t, rs, 1)
		// The template mapping is not pruned.
		tpl, err := db.FindTemplateByName(ctx, "code")
		require.NoError(t, err)
		a, err := db.FindAccountByName(ctx, "sbx-a")
		require.NoError(t, err)
		_, err = db.GetTemplateMapping(ctx, tpl.ID, a.ID)
		require.NoError(t, err)

		out = s.mustApply(nil, smaller, "--prune")
		require.NotContains(t, out, "disabled")
		require.NotContains(t, out, "removed")
		require.NotContains(t, out, "not in the file")
	})

	t.Run("AmbiguousStoreNames", func(t *testing.T) {
		t.Parallel()
		s := newApplyStore(t)
		db := s.db
		ctx := t.Context()
		for range 2 {
			require.NoError(t, db.CreateAccount(ctx, &store.ProviderAccount{Name: "sbx-b", Kind: "sandbox", Config: []byte(`{}`), Enabled: true}))
			require.NoError(t, db.CreateTemplate(ctx, &store.Template{Name: "code", Content: "x"}))
			require.NoError(t, db.CreateRule(ctx, &store.Rule{Name: "undelivered", Scene: "callback_failure", Action: "fail", Enabled: true}))
		}
		res := s.apply(nil, applyBase)
		require.Equal(t, 1, res.code, res.stdout)
		require.Contains(t, res.err, `templates[0].name: several templates in the store are named "code"; rename all but one first`)
		require.Contains(t, res.err, `accounts[1].name: several accounts in the store are named "sbx-b"; rename all but one first`)
		require.Contains(t, res.err, `rules[1].name: several rules in the store are named "undelivered" (ids 1 and 2); rename all but one first`)
		_, err := s.db.GetApp(ctx, "shop")
		require.ErrorIs(t, err, store.ErrNotFound)
	})

	t.Run("Example", func(t *testing.T) {
		t.Parallel()
		s := newApplyStore(t)
		raw, err := os.ReadFile("../../deploy/herald.example.yaml")
		require.NoError(t, err)
		webhookSecret := "whsec_" + base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
		_, dkimKey, err := ed25519.GenerateKey(rand.Reader)
		require.NoError(t, err)
		dkimDER, err := x509.MarshalPKCS8PrivateKey(dkimKey)
		require.NoError(t, err)
		env := map[string]string{
			"SHOP_APP_SECRET":          "shop-app-secret-0123456789",
			"SHOP_CALLBACK_SECRET":     webhookSecret,
			"TENCENT_SECRET_ID":        "AKID0123456789",
			"TENCENT_SECRET_KEY":       "tencent-secret-key",
			"TENCENT_CALLBACK_TOKEN":   "tencent-callback-token-0123",
			"ALIYUN_ACCESS_KEY_ID":     "LTAI0123456789",
			"ALIYUN_ACCESS_KEY_SECRET": "aliyun-secret",
			"ZRWINFO_ACCESS_KEY":       "zrw-access",
			"ZRWINFO_SECRET":           "zrw-secret",
			"SMTP_PASSWORD":            "smtp-password",
			"SMTP_DKIM_PRIVATE_KEY":    string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: dkimDER})),
			"WECHATWORK_CORP_SECRET":   "corp-secret",
			"WECHATWORK_ROBOT_KEY":     "693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa",
			"DINGTALK_ACCESS_TOKEN":    "dingtalk0123456789",
			"DINGTALK_SECRET":          "SEC0123456789abcdef",
			"FEISHU_HOOK_ID":           "0123-4567-89ab",
			"FEISHU_SECRET":            "feishu-secret",
			"ORDERS_WEBHOOK_SECRET":    webhookSecret,
		}
		// Every variable the example names is set here, so the test keeps
		// up with the example.
		for line := range strings.SplitSeq(string(raw), "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "#") {
				continue
			}
			for _, m := range regexp.MustCompile(`\$\{([A-Z0-9_]+)\}`).FindAllStringSubmatch(line, -1) {
				require.Contains(t, env, m[1])
			}
		}

		out := s.mustApply(env, string(raw), "--dry-run")
		require.Contains(t, out, "dry run: nothing was written\n")
		s.requireEmpty()

		out = s.mustApply(env, string(raw))
		kinds := map[string]bool{}
		accs, err := s.db.ListAccounts(t.Context())
		require.NoError(t, err)
		for _, a := range accs {
			kinds[a.Kind] = true
		}
		// The example covers every provider kind this build knows.
		for _, k := range []string{"sandbox", "tencent", "aliyun", "zrwinfo", "smtp", "wechatwork", "wechatwork_robot", "dingtalk", "feishu", "webhook"} {
			require.True(t, kinds[k], "example lacks a %s account", k)
		}
		require.Contains(t, out, "  receipt callback URL: http://127.0.0.1:8080/callbacks/tencent/")
		require.Contains(t, out, "/callbacks/tencent/2?token=<callback_token from the file>\n")
		for name, v := range env {
			require.NotContains(t, out, v, "the output shows %s", name)
		}
		require.Contains(t, out, "  reply callback URL:   http://127.0.0.1:8080/callbacks/aliyun/")
		require.Regexp(t, `(?m)^app ops: created\n  secret: [0-9a-f]{64} `, out)

		again := s.mustApply(env, string(raw))
		require.NotContains(t, again, "created")
		require.NotContains(t, again, "updated")
	})
}

func TestApplyGrants(t *testing.T) {
	t.Parallel()
	names := func(t *testing.T, s *applyStore, app string) []string {
		t.Helper()
		chs, _, err := s.db.ListChannels(t.Context(), store.ChannelFilter{AppID: &app})
		require.NoError(t, err)
		out := []string{}
		for _, ch := range chs {
			out = append(out, ch.Name)
		}
		slices.Sort(out)
		return out
	}
	doc := func(grants string) string {
		return strings.NewReplacer(
			"    rate_limit_per_second: 50\n", "    rate_limit_per_second: 50\n"+grants,
			"channels:\n", "channels:\n  - name: mail\n    type: email\n    template: code\n",
		).Replace(applyBase)
	}

	t.Run("CreateWithGrants", func(t *testing.T) {
		t.Parallel()
		s := newApplyStore(t)
		out := s.mustApply(nil, doc("    grants: [sms]\n"), "--dry-run")
		require.Contains(t, out, "grants of app shop: grant sms\n")
		s.requireEmpty()
		out = s.mustApply(nil, doc("    grants: [sms]\n"))
		require.Contains(t, out, "grants of app shop: granted sms\n")
		require.Equal(t, []string{"sms"}, names(t, s, "shop"))
		require.Contains(t, s.mustApply(nil, doc("    grants: [sms]\n")), "grants of app shop: unchanged\n")
	})

	t.Run("AbsentKeyKeepsEmptyListClears", func(t *testing.T) {
		t.Parallel()
		s := newApplyStore(t)
		s.mustApply(nil, doc("    grants: [sms, mail]\n"))
		require.Equal(t, []string{"mail", "sms"}, names(t, s, "shop"))

		out := s.mustApply(nil, doc(""), "--prune")
		require.NotContains(t, out, "grants of app shop")
		require.Equal(t, []string{"mail", "sms"}, names(t, s, "shop"), "an app without grants keeps its grants, even with --prune")

		out = s.mustApply(nil, doc("    grants: [mail]\n"), "--dry-run")
		require.Contains(t, out, "grants of app shop: revoke sms\n")
		require.Equal(t, []string{"mail", "sms"}, names(t, s, "shop"))

		out = s.mustApply(nil, doc("    grants: []\n"))
		require.Contains(t, out, "grants of app shop: revoked mail, sms\n")
		require.Empty(t, names(t, s, "shop"))
	})

	t.Run("ChannelFromStore", func(t *testing.T) {
		t.Parallel()
		s := newApplyStore(t)
		s.mustApply(nil, doc(""))
		out := s.mustApply(nil, "apps:\n  - id: ops\n    grants: [mail, sms]\n")
		require.Contains(t, out, "grants of app ops: granted mail, sms\n")
		require.Equal(t, []string{"mail", "sms"}, names(t, s, "ops"))
		require.Empty(t, names(t, s, "shop"), "a new app without grants has none")
	})

	t.Run("ErrUnknownChannel", func(t *testing.T) {
		t.Parallel()
		s := newApplyStore(t)
		res := s.apply(nil, doc("    grants: [sms, fax, sms, \"\"]\n"))
		require.Equal(t, 1, res.code, res.stdout)
		require.Contains(t, res.err, `apps[0].grants[1]: no channel named "fax" in the file or the store`)
		require.Contains(t, res.err, `apps[0].grants[2]: grant of channel "sms" is also apps[0].grants[0]`)
		require.Contains(t, res.err, `apps[0].grants[3]: must name a channel`)
		s.requireEmpty()
	})
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
