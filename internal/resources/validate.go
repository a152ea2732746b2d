package resources

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/nyaruka/phonenumbers"

	"github.com/heraldhq/herald/activities"
	"github.com/heraldhq/herald/internal/render"
	"github.com/heraldhq/herald/internal/traffic"
	"github.com/heraldhq/herald/providers"
	"github.com/heraldhq/herald/providers/webhook"
	"github.com/heraldhq/herald/rules"
	"github.com/heraldhq/herald/store"
	"gopkg.in/yaml.v3"
)

// validateSet checks everything that can be checked without the
// store: required fields, duplicates, provider configs, rules, channel
// types, template variables and references inside the file.
// MaxRetentionDays bounds an app's retention: a hundred years, far past
// any legal retention period, so a typo of a few zeros is refused.
const MaxRetentionDays = 36500

func validateSet(f *Set, reg *providers.Registry) Problems {
	var p Problems
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
		if a.RetentionDays < 0 || a.RetentionDays > MaxRetentionDays {
			p.add(field(path, "retention_days"), "must be 0 (keep for ever) to %d days", MaxRetentionDays)
		}
		checkQuietHours(&p, path, a.QuietHours)
		if a.TimeZone != "" {
			if _, err := store.LoadTimeZone(a.TimeZone); err != nil {
				p.add(field(path, "time_zone"), "%q is not a known IANA time zone (for example Asia/Shanghai)", a.TimeZone)
			}
		}
		if q := a.Quota; q != nil {
			qpath := field(path, "quota")
			if q.Daily < 0 || q.Monthly < 0 {
				p.add(qpath, "daily and monthly must not be negative (0 means no quota)")
			}
			for name, l := range q.Channels {
				if l.Daily < 0 || l.Monthly < 0 {
					p.add(field(field(qpath, "channels"), name), "daily and monthly must not be negative (0 means no quota)")
				}
			}
		}
		if a.Grants != nil {
			granted := map[string]string{}
			for j, name := range *a.Grants {
				gpath := at(field(path, "grants"), j)
				if name == "" {
					p.add(gpath, "must name a channel")
					continue
				}
				dup(granted, gpath, name, "grant of channel")
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
		cfg, err := accountConfig(a)
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
		if a.Breaker != nil {
			if a.Breaker.WindowSeconds < 0 || a.Breaker.CoolDownSeconds < 0 {
				p.add(field(path, "breaker"), "window_seconds and cool_down_seconds must not be negative")
			} else if err := a.Breaker.Config().Validate(); err != nil {
				p.add(field(path, "breaker"), "%v", err)
			}
		}
		checkAccountCountries(&p, field(path, "countries"), a.Countries)
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
		checkTTL(&p, field(path, "ttl_seconds"), t.TTLSeconds, "the channel's default")
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
		used := render.Placeholders(t.Subject, t.Content)
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
		if t.Kind != "" && t.Kind != store.TemplateKindVerification {
			p.add(field(path, "kind"), "%q is not a template kind (%q, or leave it out)", t.Kind, store.TemplateKindVerification)
		}
		validateCaps(&p, field(path, "receiver_caps"), t.ReceiverCaps)
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
		validateCaps(&p, field(path, "receiver_caps"), ch.ReceiverCaps)
		if len(ch.AllowedCountries) > 0 && ch.Type != store.ChannelSMS {
			p.add(field(path, "allowed_countries"), "applies to sms channels only")
		}
		for j, c := range ch.AllowedCountries {
			if !knownRegion(c) {
				p.add(at(field(path, "allowed_countries"), j), "%q is not an ISO 3166 country code with phone numbers (e.g. CN, HK, US)", c)
			}
		}
		checkTTL(&p, field(path, "default_ttl_seconds"), ch.DefaultTTLSeconds, "24 hours")
		checkQuietHours(&p, path, ch.QuietHours)
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
		for _, l := range []struct {
			name  string
			items []string
		}{{"error_codes", r.ErrorCodes}, {"error_keywords", r.ErrorKeywords}} {
			if slices.ContainsFunc(l.items, func(s string) bool { return strings.TrimSpace(s) == "" }) {
				p.add(field(path, l.name), "has a blank item")
			}
		}
		if err := activities.EngineRule(storeRule(r)).Validate(); err != nil {
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

// accountConfig is the account's config as canonical JSON, from the API's
// JSON or the file's mapping.
func accountConfig(a *Account) (json.RawMessage, error) {
	if a.ConfigJSON == nil {
		return accountConfigJSON(&a.Config)
	}
	var obj map[string]any
	if err := json.Unmarshal(a.ConfigJSON, &obj); err != nil || obj == nil {
		return nil, errors.New("must be a JSON object of the provider's settings")
	}
	b, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("cannot be written as JSON: %w", err)
	}
	return b, nil
}

// canonicalJSON re-encodes a JSON Set with sorted keys, so two
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
func storeRule(r Rule) store.Rule {
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

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// validateCaps checks receiver caps: each window is a count, 0 for none.
func validateCaps(p *Problems, path string, c *Caps) {
	if c == nil {
		return
	}
	for _, w := range []struct {
		name string
		v    int
	}{{"per_minute", c.PerMinute}, {"per_hour", c.PerHour}, {"per_day", c.PerDay}} {
		if w.v < 0 {
			p.add(field(path, w.name), "must not be negative (0 or absent means no cap)")
		}
	}
}

// checkAccountCountries checks an account's countries: ISO 3166 regions,
// or "international" on its own.
func checkAccountCountries(p *Problems, path string, countries []string) {
	if slices.Contains(countries, traffic.International) {
		if len(countries) > 1 {
			p.add(path, "%q stands for every country but mainland China and must be the only entry", traffic.International)
		}
		return
	}
	for j, c := range countries {
		if !knownRegion(c) {
			p.add(at(path, j), "%q is not an ISO 3166 country code with phone numbers (e.g. CN, HK, US) nor %q", c, traffic.International)
		}
	}
}

// knownRegion reports whether code is an upper-case ISO 3166 region that
// has phone numbers.
func knownRegion(code string) bool {
	return len(code) == 2 && code == strings.ToUpper(code) && phonenumbers.GetCountryCodeForRegion(code) != 0
}

// checkTTL checks an expiry default in seconds; 0 means zeroMeans.
func checkTTL(p *Problems, path string, seconds int, zeroMeans string) {
	if maxSeconds := int(traffic.MaxTTL / time.Second); seconds < 0 || seconds > maxSeconds {
		p.add(path, "must be between 0 (%s) and %d (30 days)", zeroMeans, maxSeconds)
	}
}

// checkQuietHours checks the quiet_hours of the app or channel at path.
func checkQuietHours(p *Problems, path string, qh *store.QuietHours) {
	if qh == nil {
		return
	}
	var qe *traffic.QuietHoursError
	if _, err := traffic.ParseQuietHours(*qh); errors.As(err, &qe) {
		p.add(field(field(path, "quiet_hours"), qe.Field), "%s", qe.Message)
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
