// Package accounttest sends test messages through one provider account for
// the operators' API (POST /admin/api/v1/accounts/{id}/test).
//
// A test message is an ordinary message of the built-in operators' app
// (AppID): it is stored pending like a client's send, its workflow is
// started by redrive.Start with the account forced, and it is followed
// like any other message. The app is created on first use with a random
// secret that is never shown, so no client can sign requests as it;
// `herald apply` leaves apps it does not name alone, so it survives
// pruning, and the operators' API refuses to create, change or re-key it.
//
// The test does not check the app's grants: the operators' app is no
// client, and an operator allowed to test an account may test it through
// any channel whose pool holds it. Admission (receiver caps, message rate,
// opt-outs) is skipped for the same reason: the operator names one
// receiver on purpose.
//
// Usage:
//
//	t := accounttest.New(accounttest.Deps{Store: db, Engine: workflows.NewClient(c), Log: log})
//	resources.Register(g, resources.Deps{Store: db, AccountTester: t})
package accounttest

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/nyaruka/phonenumbers"
	"go.uber.org/zap"

	"github.com/heraldhq/herald/api/admin/resources"
	"github.com/heraldhq/herald/internal/adminhttp"
	"github.com/heraldhq/herald/internal/redrive"
	"github.com/heraldhq/herald/internal/render"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/workflows"
)

// AppID is the id of the built-in operators' app that test messages are
// sent on behalf of.
const AppID = resources.OperatorsAppID

// defaultMaxAttempts bounds the attempts of a test message whose channel
// sets none; all of them go through the tested account.
const defaultMaxAttempts = 3

// Deps are what a Tester needs.
type Deps struct {
	Store  *store.DB
	Engine redrive.Engine
	Log    *zap.Logger
	// Now defaults to time.Now; NewID to random UUIDs.
	Now   func() time.Time
	NewID func() string
}

// Tester implements resources.AccountTester.
type Tester struct {
	deps Deps
}

var _ resources.AccountTester = (*Tester)(nil)

// New returns a Tester.
func New(deps Deps) *Tester {
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if deps.NewID == nil {
		deps.NewID = uuid.NewString
	}
	if deps.Log == nil {
		deps.Log = zap.NewNop()
	}
	return &Tester{deps: deps}
}

// TestAccount stores a test message through t.Account and starts its
// workflow with the account forced. Errors an operator can fix are
// *adminhttp.Problem.
func (t *Tester) TestAccount(ctx context.Context, at resources.AccountTest) (string, error) {
	acc := at.Account
	if !acc.Enabled {
		return "", adminhttp.Conflict(fmt.Sprintf("account %d (%s) is disabled: enable it before testing it", acc.ID, acc.Name))
	}
	ch, tpl, err := t.channelFor(ctx, acc, at.TemplateParams)
	if err != nil {
		return "", err
	}
	receiver, err := normalizeReceiver(ch.Type, at.Receiver)
	if err != nil {
		return "", err
	}
	if err := t.ensureApp(ctx); err != nil {
		return "", err
	}
	m := t.message(ch, tpl, receiver, at.TemplateParams)
	if err := t.deps.Store.CreateMessages(ctx, []*store.Message{m}, nil); err != nil {
		return "", fmt.Errorf("store test message: %w", err)
	}
	redrive.Start(ctx, t.deps.Engine, m, acc.ID, t.deps.Log)
	return m.TaskID, nil
}

// channelFor picks the enabled channel, lowest id first, whose pool holds
// the account and whose template the parameters fill exactly.
func (t *Tester) channelFor(ctx context.Context, acc *store.ProviderAccount, params map[string]string) (*store.Channel, *store.Template, error) {
	chans, _, err := t.deps.Store.ListChannels(ctx, store.ChannelFilter{})
	if err != nil {
		return nil, nil, fmt.Errorf("list channels: %w", err)
	}
	var inPool, disabled, mismatched []string
	for i := range chans {
		ch := &chans[i]
		pool, err := t.deps.Store.ChannelPool(ctx, ch.ID)
		if err != nil {
			return nil, nil, fmt.Errorf("load pool of channel %d: %w", ch.ID, err)
		}
		if !holds(pool, acc.ID) {
			continue
		}
		inPool = append(inPool, ch.Name)
		if !ch.Enabled {
			disabled = append(disabled, ch.Name)
			continue
		}
		tpl, err := t.template(ctx, ch)
		if err != nil {
			return nil, nil, err
		}
		if tpl == nil {
			mismatched = append(mismatched, ch.Name+" (no template)")
			continue
		}
		if why := paramsMismatch(tpl, params); why != "" {
			mismatched = append(mismatched, ch.Name+" ("+why+")")
			continue
		}
		return ch, tpl, nil
	}
	switch {
	case len(inPool) == 0:
		return nil, nil, adminhttp.Conflict(fmt.Sprintf("account %d (%s) is in no channel's pool: add it to a channel pool to test it", acc.ID, acc.Name))
	case len(mismatched) == 0:
		return nil, nil, adminhttp.Conflict(fmt.Sprintf("every channel whose pool holds account %d is disabled (%s): enable one to test the account", acc.ID, strings.Join(disabled, ", ")))
	}
	return nil, nil, adminhttp.Invalid("template_params", "fit no template of the channels holding the account: "+strings.Join(mismatched, "; "))
}

func holds(pool []store.PoolMember, accountID int64) bool {
	for _, m := range pool {
		if m.Account.ID == accountID {
			return true
		}
	}
	return false
}

func (t *Tester) template(ctx context.Context, ch *store.Channel) (*store.Template, error) {
	if ch.TemplateID == nil {
		return nil, nil
	}
	tpl, err := t.deps.Store.GetTemplate(ctx, *ch.TemplateID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load template of channel %d: %w", ch.ID, err)
	}
	return tpl, nil
}

// paramsMismatch says which declared variables params miss and which it
// has that the template does not declare; empty when they fit.
func paramsMismatch(tpl *store.Template, params map[string]string) string {
	declared := map[string]bool{}
	var missing, unknown []string
	for _, v := range tpl.Variables {
		declared[v] = true
		if _, ok := params[v]; !ok {
			missing = append(missing, v)
		}
	}
	for k := range params {
		if !declared[k] {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(unknown)
	var parts []string
	if len(missing) > 0 {
		parts = append(parts, "missing "+strings.Join(missing, ", "))
	}
	if len(unknown) > 0 {
		parts = append(parts, "unknown "+strings.Join(unknown, ", "))
	}
	return strings.Join(parts, "; ")
}

// normalizeReceiver stores phone numbers in E.164 like the client API;
// other receivers are taken as given.
func normalizeReceiver(channelType, raw string) (string, error) {
	s := strings.TrimSpace(raw)
	if channelType != store.ChannelSMS {
		return s, nil
	}
	num, err := phonenumbers.Parse(s, "CN")
	if err != nil || !phonenumbers.IsValidNumber(num) {
		return "", adminhttp.Invalid("receiver", "is not a valid phone number: write it in E.164 form (+8613800138000)")
	}
	return phonenumbers.Format(num, phonenumbers.E164), nil
}

// ensureApp creates the operators' app unless it exists. Its secret is
// random and never shown: nobody can sign client requests as it.
func (t *Tester) ensureApp(ctx context.Context) error {
	if _, err := t.deps.Store.GetApp(ctx, AppID); err == nil {
		return nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("load operators' app: %w", err)
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return fmt.Errorf("operators' app secret: %w", err)
	}
	err := t.deps.Store.CreateApp(ctx, &store.App{
		ID: AppID, Name: "Herald operators (account tests)", Enabled: true,
		Secret: base64.RawURLEncoding.EncodeToString(secret),
	})
	if err != nil && !errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("create operators' app: %w", err)
	}
	return nil
}

// message builds the pending test message, rendered like a client's send.
func (t *Tester) message(ch *store.Channel, tpl *store.Template, receiver string, params map[string]string) *store.Message {
	now := t.deps.Now().UTC()
	maxAttempts := ch.MaxAttempts
	if maxAttempts <= 0 {
		maxAttempts = defaultMaxAttempts
	}
	m := &store.Message{
		TaskID:         t.deps.NewID(),
		AppID:          AppID,
		ChannelID:      ch.ID,
		MessageType:    ch.Type,
		Receiver:       receiver,
		Subject:        render.Text(tpl.Subject, params, render.Plain),
		Content:        render.Text(tpl.Content, params, render.For(ch.Type, tpl.ContentType)),
		TemplateParams: params,
		Status:         workflows.StatusPending,
		MaxAttempts:    maxAttempts,
		CreatedAt:      now,
		UpdatedAt:      now,
	}
	if len(ch.SignatureNames) > 0 {
		m.SignatureName = ch.SignatureNames[0]
	}
	ttl := tpl.TTLSeconds
	if ttl <= 0 {
		ttl = ch.DefaultTTLSeconds
	}
	if ttl > 0 {
		exp := now.Add(time.Duration(ttl) * time.Second)
		m.ExpiresAt = &exp
	}
	return m
}
