package activities

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/heraldhq/herald/providers"
	"github.com/heraldhq/herald/rules"
	"github.com/heraldhq/herald/store"
)

func TestLoadPlan(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	in := PlanInput{TaskID: taskID, ChannelID: 3}

	t.Run("Defaults", func(t *testing.T) {
		t.Parallel()
		w := setup(t)
		p, err := w.acts.LoadPlan(ctx, in)
		require.NoError(t, err)
		require.Equal(t, Plan{
			AppID:          "app-1",
			ChannelType:    store.ChannelSMS,
			ReceiptTimeout: DefaultReceiptTimeout,
			MaxAttempts:    DefaultMaxAttempts,
			Accounts:       []PlanAccount{{ID: 11, Kind: "fake", Weight: 1, Enabled: true, ExpectsReceipt: true, SendTimeout: DefaultSendTimeout}},
			MessageStatus:  "pending",
			// The first account comes with the plan.
			FirstAccountID: 11,
		}, p)
	})

	t.Run("ChannelSettings", func(t *testing.T) {
		t.Parallel()
		w := setup(t)
		ch := w.st.channels[3]
		ch.ReceiptTimeoutSeconds, ch.MaxAttempts = 120, 3
		w.st.channels[3] = ch
		p, err := w.acts.LoadPlan(ctx, in)
		require.NoError(t, err)
		require.Equal(t, 2*time.Minute, p.ReceiptTimeout)
		require.Equal(t, 3, p.MaxAttempts)

		// The message's own cap wins over the channel's.
		m := w.st.messages[taskID]
		m.MaxAttempts = 2
		w.st.messages[taskID] = m
		p, err = w.acts.LoadPlan(ctx, in)
		require.NoError(t, err)
		require.Equal(t, 2, p.MaxAttempts)
	})

	t.Run("Accounts", func(t *testing.T) {
		t.Parallel()
		w := setup(t)
		w.prov.checks = true
		hook := &fakeProvider{kind: "hook"}
		broken := &fakeProvider{kind: "broken", receipts: true, newErr: errors.New("bad config")}
		w.acts = New(Config{}, w.st, providers.NewRegistry(w.prov, hook, broken), nil)
		acc := func(id int64, kind string, enabled bool) store.ProviderAccount {
			return store.ProviderAccount{ID: id, Kind: kind, Config: json.RawMessage(`{}`), Weight: 1, Enabled: enabled}
		}
		w.st.pools[3] = []store.PoolMember{
			{Account: acc(11, "fake", true), Weight: 5},
			{Account: acc(12, "fake", false), Weight: 1},
			{Account: acc(13, "aliyun", true), Weight: 1},
			{Account: acc(14, "hook", true), Weight: 2},
			{Account: acc(15, "broken", true), Weight: 1},
		}

		p, err := w.acts.LoadPlan(ctx, in)
		require.NoError(t, err)
		require.Equal(t, []PlanAccount{
			{ID: 11, Kind: "fake", Weight: 5, Enabled: true, ExpectsReceipt: true, CanCheckStatus: true, SendTimeout: DefaultSendTimeout},
			{ID: 12, Kind: "fake", Weight: 1},
			// A kind this build does not know cannot send.
			{ID: 13, Kind: "aliyun", Weight: 1},
			{ID: 14, Kind: "hook", Weight: 2, Enabled: true, SendTimeout: DefaultSendTimeout},
			// A sender that cannot be built is still tried: Send reports
			// the config problem on the timeline.
			{ID: 15, Kind: "broken", Weight: 1, Enabled: true, ExpectsReceipt: true, SendTimeout: DefaultSendTimeout},
		}, p.Accounts)
		require.Len(t, w.prov.accounts(), 1, "no sender is built for a disabled account")
		// The first pick is by weight among the accounts that can send.
		require.Equal(t, int64(11), p.FirstAccountID)
	})

	t.Run("Countries", func(t *testing.T) {
		t.Parallel()
		mainland := mainlandOnly{&fakeProvider{kind: "mainland"}}
		acc := func(id int64, kind string, countries ...string) store.PoolMember {
			return store.PoolMember{Account: store.ProviderAccount{ID: id, Kind: kind, Config: json.RawMessage(`{}`), Weight: 1, Enabled: true, Countries: countries}, Weight: 1}
		}
		load := func(t *testing.T, receiver string, pool ...store.PoolMember) Plan {
			w := setup(t)
			w.acts = New(Config{}, w.st, providers.NewRegistry(w.prov, mainland), nil)
			m := w.st.messages[taskID]
			m.Receiver = receiver
			w.st.messages[taskID] = m
			w.st.pools[3] = pool
			p, err := w.acts.LoadPlan(ctx, in)
			require.NoError(t, err)
			return p
		}
		excluded := func(p Plan) []int64 {
			var ids []int64
			for _, a := range p.Accounts {
				if a.CountryExcluded {
					ids = append(ids, a.ID)
				}
			}
			return ids
		}
		t.Run("Mainland", func(t *testing.T) {
			t.Parallel()
			p := load(t, "+8613800138000", acc(21, "mainland"), acc(22, "fake", "international"), acc(23, "fake", "CN"))
			require.Equal(t, []int64{22}, excluded(p))
			require.Empty(t, p.ProblemCode)
			require.Contains(t, []int64{21, 23}, p.FirstAccountID)
		})
		t.Run("International", func(t *testing.T) {
			t.Parallel()
			// Every pick of this channel's rotation goes to the one account
			// that reaches Hong Kong.
			w := setup(t)
			w.acts = New(Config{}, w.st, providers.NewRegistry(w.prov, mainland), nil)
			m := w.st.messages[taskID]
			m.Receiver = "+85291234567"
			w.st.messages[taskID] = m
			w.st.pools[3] = []store.PoolMember{acc(21, "mainland"), acc(22, "fake", "international"), acc(23, "fake", "CN")}
			for range 5 {
				p, err := w.acts.LoadPlan(ctx, in)
				require.NoError(t, err)
				require.Equal(t, []int64{21, 23}, excluded(p))
				require.Equal(t, int64(22), p.FirstAccountID)
			}
		})
		t.Run("ErrNoAccountReaches", func(t *testing.T) {
			t.Parallel()
			p := load(t, "+14155550100", acc(21, "mainland"), acc(23, "fake", "CN", "HK"))
			require.Equal(t, CodeCountryUnreachable, p.ProblemCode)
			require.Equal(t, "receiver's country (US) is reached by no enabled provider account of channel 3", p.ProblemDetail)
			require.Zero(t, p.FirstAccountID)
		})
		t.Run("NotSMS", func(t *testing.T) {
			t.Parallel()
			w := setup(t)
			w.acts = New(Config{}, w.st, providers.NewRegistry(w.prov, mainland), nil)
			ch := w.st.channels[3]
			ch.Type = store.ChannelWebhook
			w.st.channels[3] = ch
			w.st.pools[3] = []store.PoolMember{acc(21, "mainland")}
			p, err := w.acts.LoadPlan(ctx, in)
			require.NoError(t, err)
			require.Empty(t, excluded(p))
		})
	})

	t.Run("SendPolicy", func(t *testing.T) {
		t.Parallel()
		w := setup(t)
		slow := &fakeProvider{kind: "slow", policy: providers.SendPolicy{Timeout: 70 * time.Second, OnUnknownOutcome: providers.OnUnknownFail}}
		checked := &fakeProvider{kind: "checked", checks: true, policy: providers.SendPolicy{Timeout: time.Second, OnUnknownOutcome: providers.OnUnknownFail}}
		resend := &fakeProvider{kind: "resend", policy: providers.SendPolicy{OnUnknownOutcome: providers.OnUnknownResend}}
		w.acts = New(Config{}, w.st, providers.NewRegistry(slow, checked, resend), nil)
		acc := func(id int64, kind string) store.ProviderAccount {
			return store.ProviderAccount{ID: id, Kind: kind, Config: json.RawMessage(`{}`), Weight: 1, Enabled: true}
		}
		w.st.pools[3] = []store.PoolMember{{Account: acc(31, "slow"), Weight: 1}, {Account: acc(32, "checked"), Weight: 1}, {Account: acc(33, "resend"), Weight: 1}}
		p, err := w.acts.LoadPlan(ctx, in)
		require.NoError(t, err)
		// A provider that gives up after 70 s gets a send activity that
		// outlasts it, a retried execution's status check included.
		require.Equal(t, 170*time.Second, p.Accounts[0].SendTimeout)
		require.Greater(t, p.Accounts[0].SendTimeout, 70*time.Second)
		require.True(t, p.Accounts[0].FailOnUnknownOutcome)
		// A provider that can be asked never needs the setting.
		require.Equal(t, DefaultSendTimeout, p.Accounts[1].SendTimeout)
		require.False(t, p.Accounts[1].FailOnUnknownOutcome)
		require.False(t, p.Accounts[2].FailOnUnknownOutcome)
	})

	t.Run("BatchSendsUnchecked", func(t *testing.T) {
		t.Parallel()
		w := setup(t)
		w.prov.checks = true
		w.prov.policy = providers.SendPolicy{BatchUnchecked: true, OnUnknownOutcome: providers.OnUnknownFail}
		p, err := w.acts.LoadPlan(ctx, in)
		require.NoError(t, err)
		require.True(t, p.Accounts[0].CanCheckStatus, "a single send can be checked")

		m := w.st.messages[taskID]
		m.BatchID = "batch-1"
		w.st.messages[taskID] = m
		p, err = w.acts.LoadPlan(ctx, in)
		require.NoError(t, err)
		require.False(t, p.Accounts[0].CanCheckStatus, "a batch send cannot be checked")
		require.True(t, p.Accounts[0].FailOnUnknownOutcome)
	})

	t.Run("AppOrChannelDisabled", func(t *testing.T) {
		t.Parallel()
		w := setup(t)
		app := w.st.apps["app-1"]
		app.Enabled = false
		w.st.apps["app-1"] = app
		p, err := w.acts.LoadPlan(ctx, in)
		require.NoError(t, err)
		require.Equal(t, CodeAppDisabled, p.ProblemCode)
		require.Contains(t, p.ProblemDetail, "app app-1 is disabled")
		require.Empty(t, p.Accounts)

		w = setup(t)
		ch := w.st.channels[3]
		ch.Enabled = false
		w.st.channels[3] = ch
		p, err = w.acts.LoadPlan(ctx, in)
		require.NoError(t, err)
		require.Equal(t, CodeChannelDisabled, p.ProblemCode)
		require.Contains(t, p.ProblemDetail, "channel 3 is disabled")
	})

	t.Run("FirstAccountFollowsTheRotation", func(t *testing.T) {
		t.Parallel()
		w := setup(t)
		acc := func(id int64, enabled bool) store.ProviderAccount {
			return store.ProviderAccount{ID: id, Kind: "fake", Config: json.RawMessage(`{}`), Weight: 1, Enabled: enabled}
		}
		w.st.pools[3] = []store.PoolMember{{Account: acc(21, true), Weight: 2}, {Account: acc(22, true), Weight: 1}, {Account: acc(23, false), Weight: 9}}
		var firsts []int64
		for range 6 {
			p, err := w.acts.LoadPlan(ctx, in)
			require.NoError(t, err)
			firsts = append(firsts, p.FirstAccountID)
		}
		require.Equal(t, []int64{21, 22, 21, 21, 22, 21}, firsts)

		w.st.pools[3] = []store.PoolMember{{Account: acc(23, false), Weight: 9}}
		p, err := w.acts.LoadPlan(ctx, in)
		require.NoError(t, err)
		require.Zero(t, p.FirstAccountID, "no account can send")
	})

	t.Run("Rules", func(t *testing.T) {
		t.Parallel()
		w := setup(t)
		w.st.rules = []store.Rule{
			{ID: 1, Name: "blacklist", Scene: "send_failure", Priority: 1, ErrorCodes: "A, B", Action: "fail", Enabled: true},
			{ID: 2, Name: "typo", Scene: "sending", Action: "fail", Enabled: true},
			{ID: 3, Name: "no-retries", Scene: "send_failure", Action: "retry", Enabled: true},
			{ID: 4, Name: "off", Scene: "nonsense", Action: "fail", Enabled: false},
		}
		p, err := w.acts.LoadPlan(ctx, in)
		require.NoError(t, err)
		require.Equal(t, []rules.Rule{{
			ID: 1, Name: "blacklist", Scene: rules.SceneSendFailure, Priority: 1, ErrorCodes: []string{"A", "B"}, Action: rules.ActionFail,
		}}, p.Rules)
		require.Len(t, p.InvalidRules, 2)
		require.Contains(t, p.InvalidRules[0], "rule 2 (typo)")
		require.Contains(t, p.InvalidRules[0], `unknown scene "sending"`)
		require.Contains(t, p.InvalidRules[1], "rule 3 (no-retries)")
		require.Contains(t, p.InvalidRules[1], "max_retry")
	})

	t.Run("NotifyStatus", func(t *testing.T) {
		t.Parallel()
		w := setup(t)
		app := w.st.apps["app-1"]
		app.StatusCallbackURL = "https://shop.example/herald"
		w.st.apps["app-1"] = app
		p, err := w.acts.LoadPlan(ctx, in)
		require.NoError(t, err)
		require.True(t, p.NotifyStatus)
	})

	t.Run("AppGone", func(t *testing.T) {
		t.Parallel()
		w := setup(t)
		delete(w.st.apps, "app-1")
		p, err := w.acts.LoadPlan(ctx, in)
		require.NoError(t, err)
		require.False(t, p.NotifyStatus)
	})

	t.Run("FinishedMessage", func(t *testing.T) {
		t.Parallel()
		w := setup(t)
		m := w.st.messages[taskID]
		m.Status = "success"
		w.st.messages[taskID] = m
		p, err := w.acts.LoadPlan(ctx, in)
		require.NoError(t, err)
		require.Equal(t, "success", p.MessageStatus)
	})

	t.Run("ErrMessageNotFound", func(t *testing.T) {
		t.Parallel()
		w := setup(t)
		_, err := w.acts.LoadPlan(ctx, PlanInput{TaskID: "nope", ChannelID: 3})
		require.ErrorIs(t, err, store.ErrNotFound)
		var appErr *temporal.ApplicationError
		require.ErrorAs(t, err, &appErr)
		require.True(t, appErr.NonRetryable(), "a deleted message cannot come back")
	})

	t.Run("ChannelNotFoundIsAProblem", func(t *testing.T) {
		t.Parallel()
		w := setup(t)
		p, err := w.acts.LoadPlan(ctx, PlanInput{TaskID: taskID, ChannelID: 99})
		require.NoError(t, err)
		require.Equal(t, "CHANNEL_NOT_FOUND", p.ProblemCode)
		require.Contains(t, p.ProblemDetail, "channel 99")
	})
}

func TestToRule(t *testing.T) {
	t.Parallel()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		r, err := ToRule(store.Rule{
			ID: 5, Name: "page-on-balance", Scene: " Send_Failure ", Priority: 2, ProviderKind: "tencent", MessageType: "sms",
			ErrorCodes: "FailedOperation.InsufficientBalanceInSmsPackage, ,LimitExceeded", ErrorKeywords: "balance",
			Action: "alert", ThenAction: "switch", DelaySeconds: 30, BackoffRate: 1.5, Enabled: true,
		})
		require.NoError(t, err)
		require.Equal(t, rules.Rule{
			ID: 5, Name: "page-on-balance", Scene: rules.SceneSendFailure, Priority: 2, ProviderKind: "tencent", MessageType: "sms",
			ErrorCodes:    []string{"FailedOperation.InsufficientBalanceInSmsPackage", "LimitExceeded"},
			ErrorKeywords: []string{"balance"},
			Action:        rules.ActionAlert, Then: rules.ActionSwitch, Delay: 30 * time.Second, BackoffRate: 1.5,
		}, r)
	})

	t.Run("ErrUnknownAction", func(t *testing.T) {
		t.Parallel()
		_, err := ToRule(store.Rule{Name: "x", Scene: "send_failure", Action: "explode"})
		require.ErrorContains(t, err, "explode")
	})

	t.Run("ErrUnknownThen", func(t *testing.T) {
		t.Parallel()
		_, err := ToRule(store.Rule{Name: "x", Scene: "send_failure", Action: "alert", ThenAction: "later"})
		require.ErrorContains(t, err, "later")
	})
}

func TestDecide(t *testing.T) {
	t.Parallel()
	w := setup(t)
	d, err := w.acts.Decide(context.Background(), DecideInput{
		Failure:           rules.Failure{Scene: rules.SceneSendFailure, Class: rules.ClassTransient, Code: "HTTP_503"},
		AttemptsOnAccount: 2,
		TotalAttempts:     2,
		MaxAttempts:       5,
		AccountsLeft:      1,
	})
	require.NoError(t, err)
	require.Equal(t, rules.ActionRetry, d.Action)
	require.Equal(t, 2*time.Second, d.Delay)
	require.Equal(t, rules.DefaultRuleName, d.RuleName)
}

// mainlandOnly is a provider that reaches mainland China only.
type mainlandOnly struct{ *fakeProvider }

func (mainlandOnly) SupportsCountry(region string) bool { return region == "CN" }
