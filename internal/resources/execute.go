package resources

import (
	"encoding/json"

	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/heraldhq/herald/internal/breaker"
	"maps"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/heraldhq/herald/activities"
	"github.com/heraldhq/herald/providers"
	"github.com/heraldhq/herald/providers/webhook"
	"github.com/heraldhq/herald/store"
)

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
	for i := range a.f.Apps {
		if err := a.applyGrants(ctx, tx, i); err != nil {
			return err
		}
		if err := a.applyQuotas(ctx, tx, a.f.Apps[i]); err != nil {
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

func (a *applier) applyApp(ctx context.Context, tx *store.DB, fa App, cur *store.App) error {
	name := fa.Name
	if name == "" {
		name = fa.ID
	}
	want := store.App{
		ID: fa.ID, Name: name, Secret: fa.Secret, Enabled: boolOr(fa.Enabled, true), IPAllowlist: fa.IPAllowlist,
		RateLimitPerSecond: fa.RateLimitPerSecond, StatusCallbackURL: fa.StatusCallbackURL, CallbackSecret: fa.CallbackSecret,
		RequestsPerMinute: fa.RequestsPerMinute, Burst: fa.Burst, MessagesPerMinute: fa.MessagesPerMinute,
		QuietHours: fa.QuietHours, TimeZone: fa.TimeZone, RetentionDays: fa.RetentionDays,
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
			a.result.Generated = append(a.result.Generated, Secret{Object: "app", ID: fa.ID, Kind: "secret", Value: secret})
		}
		if want.CallbackSecret == "" && want.StatusCallbackURL != "" && !a.dryRun {
			secret, err := webhook.GenerateSecret()
			if err != nil {
				return err
			}
			want.CallbackSecret = secret
			generated = append(generated, "  callback secret: "+secret+"  (generated; shown only now, the app verifies status callbacks with it)")
			a.result.Generated = append(a.result.Generated, Secret{Object: "app", ID: fa.ID, Kind: "callback_secret", Value: secret})
		}
		a.say("app %s: %s", fa.ID, a.verb("create"))
		a.report = append(a.report, generated...)
		if fa.Grants == nil {
			a.say("  grants: none; the app can use no channel until the file lists some under grants")
		}
		if a.dryRun {
			return nil
		}
		if err := tx.CreateApp(ctx, &want); err != nil {
			return fmt.Errorf("create app %q: %w", fa.ID, err)
		}
		a.bumped["app:"+fa.ID] = true
		diff := diffOf(nil, nil, AppSpec(&want))
		if want.Secret != "" {
			diff["secret"] = []any{nil, Redacted}
		}
		if want.CallbackSecret != "" {
			diff["callback_secret"] = []any{nil, Redacted}
		}
		return a.audit(ctx, tx, "app.create", "app", fa.ID, diff)
	}

	if err := checkVersion("app", fa.ID, fa.Version, cur.Version); err != nil {
		return err
	}
	patch := store.AppPatch{IfVersion: cur.Version}
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
	if !sameQuietHours(want.QuietHours, cur.QuietHours) {
		patch.QuietHours, fields = &want.QuietHours, append(fields, "quiet_hours")
	}
	if want.TimeZone != cur.TimeZone {
		patch.TimeZone, fields = &want.TimeZone, append(fields, "time_zone")
	}
	if want.RetentionDays != cur.RetentionDays {
		patch.RetentionDays, fields = &want.RetentionDays, append(fields, "retention_days")
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
			a.result.Generated = append(a.result.Generated, Secret{Object: "app", ID: fa.ID, Kind: "callback_secret", Value: secret})
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
	a.bumped["app:"+fa.ID] = true
	return a.audit(ctx, tx, "app.update", "app", fa.ID, diffOf(fields, AppSpec(cur), AppSpec(&want)))
}

func (a *applier) applyAccount(ctx context.Context, tx *store.DB, fa *Account, cur *store.ProviderAccount) error {
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
			a.result.Generated = append(a.result.Generated, Secret{Object: "account", ID: fa.Name, Kind: "callback_token", Value: t})
		}
		a.say("account %s: %s", fa.Name, a.verb("create"))
		if a.dryRun {
			return nil
		}
		acc := &store.ProviderAccount{
			Name: fa.Name, Kind: fa.Kind, Config: fa.config, Weight: weight, Enabled: enabled,
			CallbackToken: token, RateLimitPerMinute: fa.RateLimitPerMinute, Breaker: breakerJSON(fa.Breaker),
			Countries: fa.Countries,
		}
		if err := tx.CreateAccount(ctx, acc); err != nil {
			return fmt.Errorf("create account %q: %w", fa.Name, err)
		}
		a.accountIDs[fa.Name] = acc.ID
		a.printCallbackURLs(acc, tokenShown, fa.CallbackToken != "")
		diff := diffOf(nil, nil, AccountSpec(acc))
		diff["callback_token"] = []any{nil, Redacted}
		return a.audit(ctx, tx, "account.create", "account", strconv.FormatInt(acc.ID, 10), diff)
	}

	if err := checkVersion("account", fa.Name, fa.Version, cur.Version); err != nil {
		return err
	}
	patch := store.AccountPatch{IfVersion: cur.Version}
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
	if b := breakerJSON(fa.Breaker); b != cur.Breaker {
		patch.Breaker, fields = &b, append(fields, "breaker")
	}
	if !slices.Equal(fa.Countries, cur.Countries) && (len(fa.Countries) > 0 || len(cur.Countries) > 0) {
		countries := fa.Countries
		if countries == nil {
			countries = []string{}
		}
		patch.Countries, fields = &countries, append(fields, "countries")
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
			a.result.Generated = append(a.result.Generated, Secret{Object: "account", ID: fa.Name, Kind: "callback_token", Value: t})
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
			after := *fa
			after.Weight, after.Enabled = &weight, &enabled
			if err := a.audit(ctx, tx, "account.update", "account", strconv.FormatInt(cur.ID, 10), diffOf(fields, AccountSpec(cur), after)); err != nil {
				return err
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

func (a *applier) applyTemplate(ctx context.Context, tx *store.DB, ft Template, cur *store.Template) error {
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
				Variables: vars, Description: ft.Description, Kind: ft.Kind, ReceiverCaps: ft.ReceiverCaps.storeCaps(),
				TTLSeconds: ft.TTLSeconds, Critical: ft.Critical,
			}
			if err := tx.CreateTemplate(ctx, tpl); err != nil {
				return fmt.Errorf("create template %q: %w", ft.Name, err)
			}
			id = tpl.ID
			a.templateIDs[ft.Name] = id
			a.bumped["template:"+ft.Name] = true
			if err := a.audit(ctx, tx, "template.create", "template", strconv.FormatInt(id, 10), diffOf(nil, nil, TemplateSpec(tpl, nil))); err != nil {
				return err
			}
		}
	} else {
		id = cur.ID
		if err := checkVersion("template", ft.Name, ft.Version, cur.Version); err != nil {
			return err
		}
		patch := store.TemplatePatch{IfVersion: cur.Version}
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
		if ft.Kind != cur.Kind {
			patch.Kind, fields = &ft.Kind, append(fields, "kind")
		}
		if caps := ft.ReceiverCaps.storeCaps(); !sameCaps(caps, cur.ReceiverCaps) {
			patch.ReceiverCaps, fields = &caps, append(fields, "receiver_caps")
		}
		if ft.TTLSeconds != cur.TTLSeconds {
			patch.TTLSeconds, fields = &ft.TTLSeconds, append(fields, "ttl_seconds")
		}
		if ft.Critical != cur.Critical {
			patch.Critical, fields = &ft.Critical, append(fields, "critical")
		}
		if len(fields) == 0 {
			a.say("template %s: unchanged", ft.Name)
		} else {
			a.say("template %s: %s%s", ft.Name, a.verb("update"), changed(fields))
			if !a.dryRun {
				if err := tx.UpdateTemplate(ctx, id, patch); err != nil {
					return fmt.Errorf("update template %q: %w", ft.Name, err)
				}
				a.bumped["template:"+ft.Name] = true
				after := ft
				after.ContentType, after.Variables, after.Mappings = contentType, vars, nil
				if err := a.audit(ctx, tx, "template.update", "template", strconv.FormatInt(id, 10), diffOf(fields, TemplateSpec(cur, nil), after)); err != nil {
					return err
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

func (a *applier) applyMapping(ctx context.Context, tx *store.DB, tplName string, tplID int64, m Mapping) error {
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
	if err := a.bump("template:"+tplName, func(v int64) error { return tx.UpdateTemplate(ctx, tplID, store.TemplatePatch{IfVersion: v}) }); err != nil {
		return fmt.Errorf("template %q: %w", tplName, err)
	}
	return a.audit(ctx, tx, "template.mapping", "template", strconv.FormatInt(tplID, 10), map[string]any{
		"mappings." + m.Account: []any{verb, m.ProviderCode},
	})
}

func (a *applier) applyChannel(ctx context.Context, tx *store.DB, fc Channel, cur *store.Channel) error {
	enabled := boolOr(fc.Enabled, true)
	countries := fc.AllowedCountries
	if countries == nil {
		countries = []string{}
	}
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
				ReceiverCaps: fc.ReceiverCaps.storeCaps(), AllowedCountries: countries,
				DefaultTTLSeconds: fc.DefaultTTLSeconds, QuietHours: fc.QuietHours,
			}
			if err := tx.CreateChannel(ctx, ch); err != nil {
				return fmt.Errorf("create channel %q: %w", fc.Name, err)
			}
			id = ch.ID
			a.channelIDs[fc.Name] = id
			a.bumped["channel:"+fc.Name] = true
			after := fc
			after.Enabled, after.Pool = &enabled, nil
			if err := a.audit(ctx, tx, "channel.create", "channel", strconv.FormatInt(id, 10), diffOf(nil, nil, after)); err != nil {
				return err
			}
		}
	} else {
		id = cur.ID
		if err := checkVersion("channel", fc.Name, fc.Version, cur.Version); err != nil {
			return err
		}
		patch := store.ChannelPatch{IfVersion: cur.Version}
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
		if caps := fc.ReceiverCaps.storeCaps(); !sameCaps(caps, cur.ReceiverCaps) {
			patch.ReceiverCaps, fields = &caps, append(fields, "receiver_caps")
		}
		if !slices.Equal(countries, cur.AllowedCountries) && (len(countries) > 0 || len(cur.AllowedCountries) > 0) {
			patch.AllowedCountries, fields = &countries, append(fields, "allowed_countries")
		}
		if fc.DefaultTTLSeconds != cur.DefaultTTLSeconds {
			patch.DefaultTTLSeconds, fields = &fc.DefaultTTLSeconds, append(fields, "default_ttl_seconds")
		}
		if !sameQuietHours(fc.QuietHours, cur.QuietHours) {
			patch.QuietHours, fields = &fc.QuietHours, append(fields, "quiet_hours")
		}
		if len(fields) == 0 {
			a.say("channel %s: unchanged", fc.Name)
		} else {
			a.say("channel %s: %s%s", fc.Name, a.verb("update"), changed(fields))
			if !a.dryRun {
				if err := tx.UpdateChannel(ctx, id, patch); err != nil {
					return fmt.Errorf("update channel %q: %w", fc.Name, err)
				}
				a.bumped["channel:"+fc.Name] = true
				after := fc
				after.Enabled, after.Pool = &enabled, nil
				before := ChannelSpec(cur, a.templateName(cur.TemplateID), nil)
				before.Pool = nil
				if err := a.audit(ctx, tx, "channel.update", "channel", strconv.FormatInt(id, 10), diffOf(fields, before, after)); err != nil {
					return err
				}
			}
		}
	}
	return a.applyPool(ctx, tx, fc, id)
}

// applyGrants makes the channels an app is granted those its grants list
// names. An app without the key keeps its grants; a new one without it
// has none (applyApp says so).
func (a *applier) applyGrants(ctx context.Context, tx *store.DB, i int) error {
	fa := a.f.Apps[i]
	if fa.Grants == nil {
		return nil
	}
	want := slices.Sorted(slices.Values(*fa.Grants))
	want = slices.Compact(want)
	have := a.grantedNow[i]
	var add, remove []string
	for _, name := range want {
		if !slices.Contains(have, name) {
			add = append(add, name)
		}
	}
	for _, name := range have {
		if !slices.Contains(want, name) {
			remove = append(remove, name)
		}
	}
	if len(add) == 0 && len(remove) == 0 {
		a.say("grants of app %s: unchanged", fa.ID)
		return nil
	}
	var parts []string
	if len(add) > 0 {
		parts = append(parts, a.verb("grant")+" "+strings.Join(add, ", "))
	}
	if len(remove) > 0 {
		parts = append(parts, a.verb("revoke")+" "+strings.Join(remove, ", "))
	}
	a.say("grants of app %s: %s", fa.ID, strings.Join(parts, "; "))
	if a.dryRun {
		return nil
	}
	ids := make([]int64, 0, len(want))
	for _, name := range want {
		ids = append(ids, a.channelIDs[name])
	}
	if err := tx.SetAppGrants(ctx, fa.ID, ids); err != nil {
		return fmt.Errorf("set grants of app %q: %w", fa.ID, err)
	}
	if err := a.bump("app:"+fa.ID, func(v int64) error { return tx.UpdateApp(ctx, fa.ID, store.AppPatch{IfVersion: v}) }); err != nil {
		return fmt.Errorf("set grants of app %q: %w", fa.ID, err)
	}
	if have == nil {
		have = []string{}
	}
	return a.audit(ctx, tx, "app.grants", "app", fa.ID, map[string]any{"grants": []any{have, want}})
}

func (a *applier) applyPool(ctx context.Context, tx *store.DB, fc Channel, chID int64) error {
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
	poolDiff := map[string]any{}
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
		var before any
		if ok {
			before = cur.Weight
		}
		poolDiff["pool."+m.Account] = []any{before, weight}
	}
	var extra []store.PoolMember
	for id, m := range current {
		if !listed[id] {
			extra = append(extra, m)
		}
	}
	sort.Slice(extra, func(i, j int) bool { return extra[i].Account.ID < extra[j].Account.ID })
	for _, m := range extra {
		if !a.prunePools {
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
		poolDiff["pool."+m.Account.Name] = []any{m.Weight, nil}
	}
	if len(poolDiff) == 0 {
		return nil
	}
	if err := a.bump("channel:"+fc.Name, func(v int64) error { return tx.UpdateChannel(ctx, chID, store.ChannelPatch{IfVersion: v}) }); err != nil {
		return fmt.Errorf("channel %q: %w", fc.Name, err)
	}
	return a.audit(ctx, tx, "channel.pool", "channel", strconv.FormatInt(chID, 10), poolDiff)
}

func (a *applier) applyRule(ctx context.Context, tx *store.DB, fr Rule, cur *store.Rule) error {
	want := storeRule(fr)
	if cur == nil {
		a.say("rule %s: %s", fr.Name, a.verb("create"))
		if a.dryRun {
			return nil
		}
		if err := tx.CreateRule(ctx, &want); err != nil {
			return fmt.Errorf("create rule %q: %w", fr.Name, err)
		}
		return a.audit(ctx, tx, "rule.create", "rule", strconv.FormatInt(want.ID, 10), diffOf(nil, nil, RuleSpec(&want)))
	}
	if err := checkVersion("rule", fr.Name, fr.Version, cur.Version); err != nil {
		return err
	}
	patch := store.RulePatch{IfVersion: cur.Version}
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
	return a.audit(ctx, tx, "rule.update", "rule", strconv.FormatInt(cur.ID, 10), diffOf(fields, RuleSpec(cur), RuleSpec(&want)))
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
		if err := a.audit(ctx, tx, "account.disable", "account", strconv.FormatInt(acc.ID, 10), map[string]any{"enabled": []any{true, false}}); err != nil {
			return err
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
		if err := a.audit(ctx, tx, "rule.disable", "rule", strconv.FormatInt(r.ID, 10), map[string]any{"enabled": []any{true, false}}); err != nil {
			return err
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

// sameCaps reports whether two stored caps say the same.
func sameCaps(a, b *store.ReceiverCaps) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}

// sameQuietHours reports whether two quiet-hour settings are equal, nil
// meaning none.
func sameQuietHours(a, b *store.QuietHours) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b

}

// breakerJSON is an account's breaker setting as stored: empty for the
// defaults.
func breakerJSON(s *breaker.Settings) string {
	if s == nil || *s == (breaker.Settings{}) {
		return ""
	}
	raw, err := json.Marshal(s)
	if err != nil {
		// Validation refuses what cannot encode (a NaN ratio).
		return ""
	}
	return string(raw)
}

// applyQuotas makes an app's quotas those of the file, when it has a
// quota section: quotas it no longer lists are removed.
func (a *applier) applyQuotas(ctx context.Context, tx *store.DB, fa App) error {
	if fa.Quota == nil {
		return nil
	}
	want := map[int64]store.Quota{}
	names := map[int64]string{0: "app"}
	for name, id := range a.channelIDs {
		names[id] = "channel " + name
	}
	if fa.Quota.Daily > 0 || fa.Quota.Monthly > 0 {
		want[0] = store.Quota{AppID: fa.ID, Daily: fa.Quota.Daily, Monthly: fa.Quota.Monthly}
	}
	for name, l := range fa.Quota.Channels {
		id, ok := a.channelIDs[name]
		if !ok && !a.dryRun {
			return fmt.Errorf("quota of app %q: no channel named %q", fa.ID, name)
		}
		names[id] = "channel " + name
		if l.Daily > 0 || l.Monthly > 0 {
			want[id] = store.Quota{AppID: fa.ID, ChannelID: id, Daily: l.Daily, Monthly: l.Monthly}
		}
	}
	var have []store.Quota
	if _, err := tx.GetApp(ctx, fa.ID); err == nil {
		var lerr error
		if have, lerr = tx.ListQuotas(ctx, fa.ID); lerr != nil {
			return lerr
		}
	}
	var changes []string
	var set []store.Quota
	var drop []int64
	for _, q := range have {
		w, ok := want[q.ChannelID]
		if !ok {
			drop = append(drop, q.ChannelID)
			changes = append(changes, a.verb("remove")+" "+quotaName(names, q.ChannelID))
			continue
		}
		if w.Daily != q.Daily || w.Monthly != q.Monthly {
			set = append(set, w)
			changes = append(changes, fmt.Sprintf("%s %s daily %d monthly %d", a.verb("set"), quotaName(names, q.ChannelID), w.Daily, w.Monthly))
		}
		delete(want, q.ChannelID)
	}
	for _, id := range slices.Sorted(maps.Keys(want)) {
		w := want[id]
		set = append(set, w)
		changes = append(changes, fmt.Sprintf("%s %s daily %d monthly %d", a.verb("set"), quotaName(names, id), w.Daily, w.Monthly))
	}
	if len(changes) == 0 {
		a.say("quotas of app %s: unchanged", fa.ID)
		return nil
	}
	a.say("quotas of app %s: %s", fa.ID, strings.Join(changes, "; "))
	if a.dryRun {
		return nil
	}
	for _, id := range drop {
		if err := tx.DeleteQuota(ctx, fa.ID, id); err != nil {
			return err
		}
	}
	for i := range set {
		if err := tx.SetQuota(ctx, &set[i]); err != nil {
			return err
		}
	}
	if err := a.bump("app:"+fa.ID, func(v int64) error { return tx.UpdateApp(ctx, fa.ID, store.AppPatch{IfVersion: v}) }); err != nil {
		return fmt.Errorf("quotas of app %q: %w", fa.ID, err)
	}
	return a.audit(ctx, tx, "app.quotas", "app", fa.ID, map[string]any{"quotas": []any{nil, changes}})
}

func quotaName(names map[int64]string, channelID int64) string {
	if n, ok := names[channelID]; ok {
		return n
	}
	return fmt.Sprintf("channel %d", channelID)
}

// randomHex returns n random bytes as hex, for generated secrets and
// tokens.
func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// templateName names a stored template by id, for reports and diffs.
func (a *applier) templateName(id *int64) string {
	if id == nil {
		return ""
	}
	for name, tid := range a.templateIDs {
		if tid == *id {
			return name
		}
	}
	return "#" + strconv.FormatInt(*id, 10)
}
