package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/activities"
	"github.com/heraldhq/herald/api/apiclient"
	"github.com/heraldhq/herald/providers/aliyun/aliyunfake"
	"github.com/heraldhq/herald/providers/tencent/tencentfake"
	"github.com/heraldhq/herald/providers/zrwinfo/zrwinfofake"
	"github.com/heraldhq/herald/rules"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/workflows"
)

// The SMS cases send one verification code: the channel's template has two
// variables, and the channel offers a second signature besides the
// accounts' own.
const (
	smsTemplate   = "Your code is {{code}}, valid for {{minutes}} minutes"
	smsCode       = "4711"
	smsMinutes    = "5"
	smsAccountSig = "Herald"
	smsOtherSig   = "Acme"
)

// Template codes the fakes approve and the accounts map the channel's
// template to.
const (
	aliyunTemplateCode  = "SMS_153055065"
	tencentTemplateCode = "1001"
	zrwinfoTemplateCode = "44341"
)

// TestSMSChannels sends through every SMS provider the way an app does, over
// the HTTP API, against each vendor's fake: delivery by pushed receipt, a
// number the vendor refuses for good, throttling, an outage that moves the
// message to another account, and a receipt that never comes.
func TestSMSChannels(t *testing.T) {
	t.Parallel()
	h := sharedHarness(t)
	for _, kit := range []smsKit{aliyunKit(), tencentKit(), zrwinfoKit()} {
		t.Run(kit.kind, func(t *testing.T) {
			t.Parallel()
			for _, sc := range []struct {
				name string
				run  func(t *testing.T, h *harness, kit smsKit)
			}{
				{"Delivered", testSMSDelivered},
				{"RejectedPermanently", testSMSRejectedPermanently},
				{"ThrottledThenDelivered", testSMSThrottledThenDelivered},
				{"ProviderDownSwitched", testSMSProviderDownSwitched},
				{"ReceiptMissingReconciled", testSMSReceiptMissingReconciled},
				{"ReceiptMissingFailed", testSMSReceiptMissingFailed},
			} {
				t.Run(sc.name, func(t *testing.T) {
					t.Parallel()
					sc.run(t, h, kit)
				})
			}
		})
	}
}

func testSMSDelivered(t *testing.T, h *harness, kit smsKit) {
	f := h.fixture(t)
	fake := kit.start(t)
	fake.autoDeliver(50 * time.Millisecond)
	ch := smsChannel(f, 30)
	acc := fake.addAccount(f, ch, 1)
	_, c := f.app()
	const phone = "+8613711112222"

	taskID := sendCode(t, c, ch, phone, smsOtherSig)
	msg := requireSMSDelivered(t, c, taskID)
	require.Equal(t, "Your code is 4711, valid for 5 minutes", msg.Content)

	kinds, events := eventKinds(t, c, taskID)
	require.Equal(t, []string{"attempt", "accepted", "receipt", "finished"}, kinds)
	for _, e := range events {
		if e.Kind == "attempt" {
			require.Equal(t, acc.ID, *e.AccountID)
		}
	}
	// The message signature wins over the account's sign_name.
	require.Equal(t, []wireSMS{kit.want(phone, smsOtherSig, taskID)}, fake.sent())
	// The receipt came by the vendor's push to Herald's callback URL. The
	// fake records the push when Herald answers it, which is once the
	// workflow has taken the receipt: possibly just after the message is
	// final.
	want := []string{activities.CallbackURL(h.apiURL, kit.kind, acc.ID, acc.CallbackToken)}
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		assert.Equal(c, want, fake.deliveredPushes())
	}, 10*time.Second, 20*time.Millisecond)
}

func testSMSRejectedPermanently(t *testing.T, h *harness, kit smsKit) {
	f := h.fixture(t)
	first, second := kit.start(t), kit.start(t)
	const phone = "+8613722223333"
	// Both accounts would refuse the number: whichever is picked, a switch
	// could only fail again, so Herald must not try.
	code := first.refuseNumber(phone)
	second.refuseNumber(phone)
	ch := smsChannel(f, 30)
	first.addAccount(f, ch, 1)
	second.addAccount(f, ch, 1)
	_, c := f.app()

	taskID := sendCode(t, c, ch, phone, "")
	msg := waitFinal(t, c, taskID)
	require.Equal(t, workflows.StatusFailed, msg.Status)
	require.Contains(t, msg.LastError, "permanent: "+code)
	require.Empty(t, msg.CallbackStatus)

	kinds, events := eventKinds(t, c, taskID)
	require.Equal(t, []string{"attempt", "send_failed", "decision", "finished"}, kinds)
	require.Equal(t, code, events[1].Code)
	require.Equal(t, rules.DefaultRuleName, events[2].Code)
	require.True(t, strings.HasPrefix(events[2].Detail, "fail:"), events[2].Detail)
	require.Empty(t, first.sent())
	require.Empty(t, second.sent())
	if n, ok := first.sendRequests(); ok {
		m, _ := second.sendRequests()
		require.Equal(t, 1, n+m, "one send request in all")
	}
}

func testSMSThrottledThenDelivered(t *testing.T, h *harness, kit smsKit) {
	f := h.fixture(t)
	busy, idle := kit.start(t), kit.start(t)
	busy.autoDeliver(50 * time.Millisecond)
	code := busy.throttleNext()
	ch := smsChannel(f, 30)
	// The busy account has all the weight, so it is picked first; the idle
	// one is there to show that throttling does not move the message.
	acc := busy.addAccount(f, ch, 100)
	idle.addAccount(f, ch, 1)
	_, c := f.app()

	taskID := sendCode(t, c, ch, "+8613733334444", "")
	msg := requireSMSDelivered(t, c, taskID)
	require.Equal(t, 1, msg.RetryCount)

	kinds, events := eventKinds(t, c, taskID)
	require.Equal(t, []string{"attempt", "send_failed", "decision", "attempt", "accepted", "receipt", "finished"}, kinds)
	require.Equal(t, code, events[1].Code)
	decision := events[2]
	require.Equal(t, rules.DefaultRuleName, decision.Code)
	require.True(t, strings.HasPrefix(decision.Detail, "retry: Default policy (throttled): retrying on the same account in 5s"), decision.Detail)
	require.Equal(t, acc.ID, *events[0].AccountID)
	require.Equal(t, acc.ID, *events[3].AccountID)
	recordHistory(t, h, taskID, "sms_throttled_"+kit.kind)
	// The retry waited out the backoff.
	require.GreaterOrEqual(t, events[3].CreatedAt.Sub(events[2].CreatedAt), 4*time.Second)

	require.Len(t, busy.sent(), 1)
	require.Empty(t, idle.sent())
	if n, ok := busy.sendRequests(); ok {
		require.Equal(t, 2, n, "one refused and one accepted send request")
	}
}

func testSMSProviderDownSwitched(t *testing.T, h *harness, kit smsKit) {
	f := h.fixture(t)
	down, up := kit.start(t), kit.start(t)
	up.autoDeliver(50 * time.Millisecond)
	out := down.goDown()
	ch := smsChannel(f, 30)
	// The broken account has all the weight, so it is picked first.
	downAcc := down.addAccount(f, ch, 100)
	upAcc := up.addAccount(f, ch, 1)
	// By default a transient failure is retried three times on the same
	// account before Herald switches; an operator who knows the vendor's
	// outage code switches at once.
	decidedBy, triesOnDown := rules.DefaultRuleName, 4
	if out.switchRule {
		decidedBy, triesOnDown = "switch-when-down-"+kit.kind+"-"+randomHex8(), 1
		f.rule(store.Rule{Name: decidedBy, Scene: "send_failure", ProviderKind: kit.kind, ErrorCodes: out.code, Action: "switch"})
	}
	_, c := f.app()

	taskID := sendCode(t, c, ch, "+8613744445555", "")
	requireSMSDelivered(t, c, taskID)

	kinds, events := eventKinds(t, c, taskID)
	var want []string
	for range triesOnDown {
		want = append(want, "attempt", "send_failed", "decision")
	}
	want = append(want, "attempt", "accepted", "receipt", "finished")
	require.Equal(t, want, kinds)
	var attempts []int64
	var last apiclient.Event
	for _, e := range events {
		switch e.Kind {
		case "attempt":
			attempts = append(attempts, *e.AccountID)
		case "send_failed":
			require.Equal(t, out.code, e.Code)
		case "decision":
			last = e
		}
	}
	require.Equal(t, upAcc.ID, attempts[len(attempts)-1])
	for _, id := range attempts[:len(attempts)-1] {
		require.Equal(t, downAcc.ID, id)
	}
	require.Equal(t, decidedBy, last.Code)
	require.True(t, strings.HasPrefix(last.Detail, "switch:"), last.Detail)

	require.Empty(t, down.sent())
	require.Len(t, up.sent(), 1)
}

func testSMSReceiptMissingReconciled(t *testing.T, h *harness, kit smsKit) {
	f := h.fixture(t)
	fake := kit.start(t)
	ch := smsChannel(f, 2)
	fake.addAccount(f, ch, 1)
	// The vendor delivers and records the report for its status query, but
	// its push never reaches Herald.
	fake.stopPushes()
	fake.autoDeliver(50 * time.Millisecond)
	_, c := f.app()

	taskID := sendCode(t, c, ch, "+8613755556666", "")
	requireSMSDelivered(t, c, taskID)

	kinds, events := eventKinds(t, c, taskID)
	require.Equal(t, []string{"attempt", "accepted", "reconciled", "receipt", "finished"}, kinds)
	// Herald asked only once the channel's receipt timeout had passed.
	require.GreaterOrEqual(t, events[2].CreatedAt.Sub(events[1].CreatedAt), 1500*time.Millisecond)
	require.Len(t, fake.sent(), 1, "the status check must not send again")
	recordHistory(t, h, taskID, "sms_receipt_reconciled_"+kit.kind)
	require.Empty(t, fake.deliveredPushes())
}

func testSMSReceiptMissingFailed(t *testing.T, h *harness, kit smsKit) {
	f := h.fixture(t)
	first, second := kit.start(t), kit.start(t)
	ch := smsChannel(f, 2)
	// The first account has all the weight, so it is picked first; the
	// second is there to show that Herald does not send again elsewhere.
	acc := first.addAccount(f, ch, 100)
	second.addAccount(f, ch, 1)
	// The vendor accepts the message but neither pushes a report nor has
	// one for its status query: whether the phone got it is unknown.
	first.stopPushes()
	_, c := f.app()

	taskID := sendCode(t, c, ch, "+8613766667777", "")
	msg := waitFinal(t, c, taskID)
	require.Equal(t, workflows.StatusFailed, msg.Status)
	require.Contains(t, msg.LastError, workflows.CodeReceiptTimeout)
	require.Empty(t, msg.CallbackStatus)

	kinds, events := eventKinds(t, c, taskID)
	require.Equal(t, []string{"attempt", "accepted", "receipt_timeout", "decision", "finished"}, kinds)
	require.Equal(t, acc.ID, *events[0].AccountID)
	// Herald gave up only once the channel's receipt timeout had passed.
	require.GreaterOrEqual(t, events[2].CreatedAt.Sub(events[1].CreatedAt), 1500*time.Millisecond)
	require.Contains(t, events[2].Detail, "the provider has no final status either")
	require.Equal(t, rules.DefaultRuleName, events[3].Code)
	require.True(t, strings.HasPrefix(events[3].Detail, "fail:"), events[3].Detail)
	require.Contains(t, events[3].Detail, "could deliver the message twice")

	require.Len(t, first.sent(), 1, "neither the status check nor the decision sends again")
	require.Empty(t, second.sent())
	recordHistory(t, h, taskID, "sms_receipt_timeout_"+kit.kind)
}

// sendCode sends the cases' verification code to receiver through ch, with
// signature sign ("" for the account's), and returns the task id.
func sendCode(t *testing.T, c *apiclient.Client, ch *store.Channel, receiver, sign string) string {
	t.Helper()
	return sendOne(t, c, apiclient.SendMessageRequest{
		ChannelID: ch.ID, Receiver: receiver, SignatureName: sign,
		TemplateParams: map[string]string{"code": smsCode, "minutes": smsMinutes},
	})
}

// requireSMSDelivered waits for a task and checks that it succeeded with a
// delivered receipt.
func requireSMSDelivered(t *testing.T, c *apiclient.Client, taskID string) *apiclient.Message {
	t.Helper()
	msg := waitFinal(t, c, taskID)
	require.Equal(t, workflows.StatusSuccess, msg.Status, msg.LastError)
	require.Equal(t, workflows.CallbackDelivered, msg.CallbackStatus)
	return msg
}

// smsChannel creates an SMS channel for the SMS cases with the given
// receipt timeout.
func smsChannel(f *fixture, receiptTimeoutSeconds int) *store.Channel {
	tpl := f.template(smsTemplate, "code", "minutes")
	return f.channel(store.ChannelSMS, tpl, func(ch *store.Channel) {
		ch.SignatureNames = []string{smsAccountSig, smsOtherSig}
		ch.ReceiptTimeoutSeconds = receiptTimeoutSeconds
	})
}

// wireSMS is one message a fake accepted, in the vendor's own terms.
type wireSMS struct {
	Receiver string
	Template string
	// Params is the vendor's rendering of the template parameters.
	Params string
	Sign   string
	// TaskRef is the task id where the vendor carries a caller reference.
	TaskRef string
}

// outage is how a fake fails while it is down.
type outage struct {
	// code is the failure code Herald sees.
	code string
	// switchRule asks for a rule that switches on code at once. The code
	// is then unique to the test, because rules apply to every message in
	// the shared database.
	switchRule bool
}

// smsKit drives one SMS provider's fake through the shared cases.
type smsKit struct {
	kind string
	// start runs a fake for one test; it stops when the test ends.
	start func(t *testing.T) smsFake
	// want is what the fake must have recorded for a send of the cases'
	// parameters to receiver with signature sign.
	want func(receiver, sign, taskID string) wireSMS
}

// smsFake is what the cases need from a vendor fake.
type smsFake interface {
	// addAccount adds an account at the fake to ch's pool, maps the
	// channel's template to the fake's and points the fake's receipt pushes
	// at Herald.
	addAccount(f *fixture, ch *store.Channel, weight int) *store.ProviderAccount
	// autoDeliver reports every later message delivered after d.
	autoDeliver(d time.Duration)
	// stopPushes keeps reports for status queries but pushes none.
	stopPushes()
	// refuseNumber makes sends to phone fail with a permanent failure and
	// returns the vendor code Herald sees.
	refuseNumber(phone string) string
	// throttleNext refuses the next request for its rate and returns the
	// vendor code.
	throttleNext() string
	// goDown makes the vendor fail from now on as in an outage.
	goDown() outage
	// sent lists the accepted messages.
	sent() []wireSMS
	// deliveredPushes lists the URLs of the receipt pushes Herald took.
	deliveredPushes() []string
	// sendRequests counts send requests that reached the fake, accepted or
	// not; ok is false for fakes that do not count them.
	sendRequests() (n int, ok bool)
}

// smsAccount adds an account of kind with cfg to ch's pool and maps the
// channel's template to the vendor's templateCode. It returns the account
// and its receipt callback URL.
func (f *fixture) smsAccount(ch *store.Channel, kind, templateCode string, weight int, cfg map[string]any) (*store.ProviderAccount, string) {
	f.t.Helper()
	acc := f.account(ch, kind, cfg, weight)
	require.NoError(f.t, f.h.db.UpsertTemplateMapping(context.Background(), &store.TemplateMapping{
		TemplateID: *ch.TemplateID, AccountID: acc.ID, ProviderCode: templateCode,
	}))
	return acc, activities.CallbackURL(f.h.apiURL, acc.Kind, acc.ID, acc.CallbackToken)
}

// aliyunAccount adds an account at fake to ch's pool, maps the channel's
// template to the fake's template code and points the fake's receipts at
// Herald's callback endpoint.
func (f *fixture) aliyunAccount(ch *store.Channel, fake *aliyunfake.Server, weight int) *store.ProviderAccount {
	f.t.Helper()
	acc, callback := f.smsAccount(ch, "aliyun", aliyunTemplateCode, weight, map[string]any{
		"access_key_id":     aliyunfake.DefaultAccessKeyID,
		"access_key_secret": aliyunfake.DefaultAccessKeySecret,
		"sign_name":         smsAccountSig,
		"endpoint":          fake.Endpoint(),
		"protocol":          "http",
		"timeout_seconds":   5,
	})
	fake.SetCallback(callback)
	return acc
}

// zrwinfoAccount is aliyunAccount for Zrwinfo. Zrwinfo publishes no error
// codes, so the account maps the fake's bad-number code to permanent, as
// an operator would once they have met it.
func (f *fixture) zrwinfoAccount(ch *store.Channel, fake *zrwinfofake.Server, weight int) *store.ProviderAccount {
	f.t.Helper()
	acc, callback := f.smsAccount(ch, "zrwinfo", zrwinfoTemplateCode, weight, map[string]any{
		"access_key":      zrwinfofake.DefaultAccessKey,
		"secret":          zrwinfofake.DefaultSecret,
		"sign_name":       smsAccountSig,
		"base_url":        fake.URL(),
		"timeout_seconds": 5,
		"code_classes":    map[string]string{zrwinfofake.CodeBadMobile: "permanent"},
	})
	fake.SetCallback(callback)
	return acc
}

func aliyunKit() smsKit {
	return smsKit{
		kind: "aliyun",
		start: func(t *testing.T) smsFake {
			return aliyunKitFake{aliyunfake.New(t,
				aliyunfake.WithTemplate(aliyunTemplateCode, "您的验证码为${code}，${minutes}分钟内有效"),
				aliyunfake.WithSignName(smsAccountSig), aliyunfake.WithSignName(smsOtherSig),
			)}
		},
		want: func(receiver, sign, taskID string) wireSMS {
			// Mainland numbers go as their 11 digits; OutId carries the task.
			return wireSMS{Receiver: strings.TrimPrefix(receiver, "+86"), Template: aliyunTemplateCode,
				Params: `{"code":"4711","minutes":"5"}`, Sign: sign, TaskRef: taskID}
		},
	}
}

type aliyunKitFake struct{ *aliyunfake.Server }

func (k aliyunKitFake) addAccount(f *fixture, ch *store.Channel, weight int) *store.ProviderAccount {
	return f.aliyunAccount(ch, k.Server, weight)
}

func (k aliyunKitFake) autoDeliver(d time.Duration) { k.AutoReceipt(d, aliyunfake.Delivered) }
func (k aliyunKitFake) stopPushes()                 { k.SetCallback("") }

func (k aliyunKitFake) refuseNumber(phone string) string {
	k.PerNumberCode(phone, "isv.MOBILE_NUMBER_ILLEGAL")
	return "isv.MOBILE_NUMBER_ILLEGAL"
}

func (k aliyunKitFake) throttleNext() string {
	k.Throttle(1)
	return "Throttling.User"
}

// goDown answers every request with a system error (isp.*, transient).
// Down's HTML 500 would be an unknown outcome, which Herald first settles
// by asking the broken vendor, with backoff, before any rule applies.
func (k aliyunKitFake) goDown() outage {
	code := "isp.OUTAGE_" + strings.ToUpper(randomHex8())
	k.FailNext(10, code)
	return outage{code: code, switchRule: true}
}

func (k aliyunKitFake) sent() []wireSMS {
	var out []wireSMS
	for _, m := range k.Sent() {
		params, _ := json.Marshal(m.TemplateParam)
		out = append(out, wireSMS{Receiver: m.PhoneNumber, Template: m.TemplateCode, Params: string(params), Sign: m.SignName, TaskRef: m.OutID})
	}
	return out
}

func (k aliyunKitFake) deliveredPushes() []string {
	return takenPushes(k.Pushes(), func(p aliyunfake.PushAttempt) (string, error) { return p.URL, p.Err })
}

func (k aliyunKitFake) sendRequests() (int, bool) { return k.Requests("SendSms"), true }

// takenPushes lists the URL of each push Herald took; push gives a push's
// URL and its failure.
func takenPushes[P any](pushes []P, push func(P) (string, error)) []string {
	var out []string
	for _, p := range pushes {
		if url, err := push(p); err == nil {
			out = append(out, url)
		}
	}
	return out
}

// pushTarget keeps where a fake's receipt pushes go, for deliveredPushes
// of fakes whose push record does not keep the URL.
type pushTarget struct{ callback string }

// aim points the target at acc's callback URL and returns acc.
func (p *pushTarget) aim(h *harness, acc *store.ProviderAccount) *store.ProviderAccount {
	p.callback = activities.CallbackURL(h.apiURL, acc.Kind, acc.ID, acc.CallbackToken)
	return acc
}

func tencentKit() smsKit {
	return smsKit{
		kind: "tencent",
		start: func(t *testing.T) smsFake {
			return &tencentKitFake{Server: tencentfake.New(t,
				tencentfake.WithTemplate(tencentTemplateCode, 2),
				tencentfake.WithSignName(smsAccountSig), tencentfake.WithSignName(smsOtherSig),
			)}
		},
		want: func(receiver, sign, taskID string) wireSMS {
			// Parameters are positional; SessionContext carries the task.
			return wireSMS{Receiver: receiver, Template: tencentTemplateCode, Params: `["4711","5"]`, Sign: sign, TaskRef: taskID}
		},
	}
}

type tencentKitFake struct {
	*tencentfake.Server
	pushTarget
}

func (k *tencentKitFake) addAccount(f *fixture, ch *store.Channel, weight int) *store.ProviderAccount {
	return k.aim(f.h, f.tencentAccount(ch, k.Server, weight))
}

func (k *tencentKitFake) autoDeliver(d time.Duration) { k.AutoReceipt(d, tencentfake.Success) }
func (k *tencentKitFake) stopPushes()                 { k.SetCallback("") }

func (k *tencentKitFake) refuseNumber(phone string) string {
	k.PerNumberCode(phone, "InvalidParameterValue.IncorrectPhoneNumber")
	return "InvalidParameterValue.IncorrectPhoneNumber"
}

func (k *tencentKitFake) throttleNext() string {
	k.Throttle(1)
	return "RequestLimitExceeded"
}

// goDown answers every request with an internal error (InternalError.*,
// transient). Down's HTML 500 would be an unknown outcome, which Herald
// first settles by asking the broken vendor, with backoff, before any rule
// applies.
func (k *tencentKitFake) goDown() outage {
	code := "InternalError.Outage" + strings.ToUpper(randomHex8())
	k.FailNext(10, code)
	return outage{code: code, switchRule: true}
}

func (k *tencentKitFake) sent() []wireSMS {
	var out []wireSMS
	for _, m := range k.Sent() {
		params, _ := json.Marshal(m.TemplateParams)
		out = append(out, wireSMS{Receiver: m.PhoneNumber, Template: m.TemplateID, Params: string(params), Sign: m.SignName, TaskRef: m.SessionContext})
	}
	return out
}

func (k *tencentKitFake) deliveredPushes() []string {
	return takenPushes(k.Pushes(), func(p tencentfake.PushAttempt) (string, error) { return k.callback, p.Err })
}

func (k *tencentKitFake) sendRequests() (int, bool) { return 0, false }

func zrwinfoKit() smsKit {
	return smsKit{
		kind: "zrwinfo",
		start: func(t *testing.T) smsFake {
			return &zrwinfoKitFake{Server: zrwinfofake.New(t,
				zrwinfofake.WithTemplate(zrwinfoTemplateCode, 2),
				zrwinfofake.WithSign("【"+smsAccountSig+"】"), zrwinfofake.WithSign("【"+smsOtherSig+"】"),
			)}
		},
		want: func(receiver, sign, _ string) wireSMS {
			// Variables joined with ##, the signature in 【】; Zrwinfo has no
			// field for a caller reference.
			return wireSMS{Receiver: strings.TrimPrefix(receiver, "+86"), Template: zrwinfoTemplateCode,
				Params: smsCode + "##" + smsMinutes, Sign: "【" + sign + "】"}
		},
	}
}

type zrwinfoKitFake struct {
	*zrwinfofake.Server
	pushTarget
}

func (k *zrwinfoKitFake) addAccount(f *fixture, ch *store.Channel, weight int) *store.ProviderAccount {
	return k.aim(f.h, f.zrwinfoAccount(ch, k.Server, weight))
}

func (k *zrwinfoKitFake) autoDeliver(d time.Duration) { k.AutoReceipt(d, zrwinfofake.Delivered) }
func (k *zrwinfoKitFake) stopPushes()                 { k.SetCallback("") }

// refuseNumber refuses the next request with the fake's bad-number code:
// the fake has no per-number control, and each test sends one message.
func (k *zrwinfoKitFake) refuseNumber(string) string {
	k.FailNext(1, zrwinfofake.CodeBadMobile)
	return zrwinfofake.CodeBadMobile
}

func (k *zrwinfoKitFake) throttleNext() string {
	k.Throttle(1)
	return zrwinfofake.CodeTooFrequent
}

// goDown takes the whole service down: HTTP 503 with an HTML page, which
// the sender reports as transient HTTP_503. No rule: the code is the same
// for every Zrwinfo outage, so the default policy decides.
func (k *zrwinfoKitFake) goDown() outage {
	k.Down()
	return outage{code: "HTTP_503"}
}

func (k *zrwinfoKitFake) sent() []wireSMS {
	var out []wireSMS
	for _, m := range k.Sent() {
		out = append(out, wireSMS{Receiver: m.Mobile, Template: m.TemplateID, Params: m.Content, Sign: m.Sign})
	}
	return out
}

func (k *zrwinfoKitFake) deliveredPushes() []string {
	return takenPushes(k.Pushes(), func(p zrwinfofake.PushAttempt) (string, error) { return k.callback, p.Err })
}

func (k *zrwinfoKitFake) sendRequests() (int, bool) { return 0, false }
