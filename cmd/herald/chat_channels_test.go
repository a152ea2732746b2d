package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/api/apiclient"
	"github.com/heraldhq/herald/providers/dingtalk/dingtalkfake"
	"github.com/heraldhq/herald/providers/feishu/feishufake"
	"github.com/heraldhq/herald/providers/smtp"
	"github.com/heraldhq/herald/providers/smtp/smtpfake"
	"github.com/heraldhq/herald/providers/webhook"
	"github.com/heraldhq/herald/providers/wechatwork/wechatworkfake"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/workflows"
)

// These tests drive the e-mail, chat and webhook providers end to end
// through the HTTP API against their fakes. None of these kinds has
// delivery receipts: an accepted send is final (and delivered), so each
// send ends with the provider's answer. Every test builds its own
// channels, accounts and fakes; the few rules they need are global in the
// shared store, so each matches one provider kind and one error code no
// other test provokes.

const (
	smtpUser = "herald"
	smtpPass = "s3cret-pass"
	smtpFrom = "noreply@example.com"
)

// TestChatChannels sends through every e-mail, chat and webhook provider:
// delivery, a message the provider refuses for good, throttling, an outage
// that moves the message to another account, and each provider's own
// cases.
func TestChatChannels(t *testing.T) {
	t.Parallel()
	h := sharedHarness(t)
	for _, p := range []struct {
		name string
		run  func(t *testing.T, h *harness)
	}{
		{"SMTP", smtpKit().run},
		{"WeChatWork", wechatWorkKit().run},
		{"WeChatWorkRobot", robotKit().run},
		{"DingTalk", dingTalkKit().run},
		{"Feishu", feishuKit().run},
		{"Webhook", webhookKit().run},
	} {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			p.run(t, h)
		})
	}
}

// chatKit drives one provider's fake F through the shared cases. The cases
// send a one-variable template unless they say otherwise.
type chatKit[F any] struct {
	// kind is the provider kind the cases' rules match.
	kind        string
	channelType string
	addAccount  func(f *fixture, ch *store.Channel, fake F, weight int) *store.ProviderAccount
	// template is the failure cases' template, with the one variable.
	template, variable string

	delivered chatDelivered[F]
	rejected  chatRejected[F]
	throttled chatThrottled[F]
	down      chatDown[F]
	// blocked is nil for providers without a throttle that outlasts the
	// test.
	blocked *chatBlocked[F]
	// extra holds the provider's own cases.
	extra []chatCase
}

// chatCase is a provider's own case.
type chatCase struct {
	name string
	run  func(t *testing.T, h *harness)
}

// chatSend is what a failure case sends: the receiver and the value of the
// kit's template variable.
type chatSend struct{ receiver, value string }

// chatDelivered is a send the provider accepts at once.
type chatDelivered[F any] struct {
	start func(t *testing.T) F
	// template is the channel's template: its content type, subject,
	// content and variables.
	template store.Template
	// request is the send, less its channel.
	request apiclient.SendMessageRequest
	// check checks what the fake received.
	check func(t *testing.T, fake F, taskID string, msg *apiclient.Message)
}

// chatRejected is a send every account refuses for good.
type chatRejected[F any] struct {
	// start runs a fake that refuses the message.
	start func(t *testing.T) F
	send  chatSend
	code  string
	check func(t *testing.T, first, second F)
}

// chatThrottled is a send refused once for its rate, then retried on the
// same account.
type chatThrottled[F any] struct {
	// start runs a fake that throttles the first send.
	start func(t *testing.T) F
	// unpaced lifts the provider's default pace off the accounts.
	unpaced bool
	// rule stores a rule retrying on code and returns its name; nil leaves
	// the decision to the default policy.
	rule  func(f *fixture, kind, code string) string
	send  chatSend
	code  string
	check func(t *testing.T, fake F, taskID string, d apiclient.Event)
}

// chatDown is a send whose first account is down.
type chatDown[F any] struct {
	// start runs a fake that is down or up.
	start func(t *testing.T, down bool) F
	// code is the failure code of the account that is down.
	code string
	// switchRule asks for a rule that switches on code at once; without it
	// the default policy decides.
	switchRule bool
	send       chatSend
	check      func(t *testing.T, down, up F)
}

// chatBlocked is a throttle whose RetryAfter outlasts the test: the case
// checks the retry decision and ends the workflow.
type chatBlocked[F any] struct {
	name string
	// start runs a fake that throttles the first send.
	start func(t *testing.T) F
	// rule, if set, stores a rule retrying on code sooner than wait.
	rule  func(f *fixture, kind, code string) string
	send  chatSend
	code  string
	wait  time.Duration
	check func(t *testing.T, fake F)
}

// run runs the shared cases and the provider's own, each as a subtest.
func (k chatKit[F]) run(t *testing.T, h *harness) {
	cases := []chatCase{
		{"Delivered", k.testDelivered},
		{"RejectedPermanently", k.testRejectedPermanently},
		{"ThrottledThenDelivered", k.testThrottledThenDelivered},
		{"ProviderDownSwitched", k.testProviderDownSwitched},
	}
	if k.blocked != nil {
		cases = append(cases, chatCase{k.blocked.name, k.testBlocked})
	}
	for _, c := range append(cases, k.extra...) {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.run(t, h)
		})
	}
}

// failureChannel creates a channel with the kit's one-variable template.
func (k chatKit[F]) failureChannel(f *fixture) *store.Channel {
	return f.channel(k.channelType, f.template(k.template, k.variable))
}

// sendTo sends s through ch and returns the task id.
func (k chatKit[F]) sendTo(t *testing.T, c *apiclient.Client, ch *store.Channel, s chatSend) string {
	t.Helper()
	return sendOne(t, c, apiclient.SendMessageRequest{ChannelID: ch.ID, Receiver: s.receiver, TemplateParams: map[string]string{k.variable: s.value}})
}

func (k chatKit[F]) testDelivered(t *testing.T, h *harness) {
	d := k.delivered
	f := h.fixture(t)
	fake := d.start(t)
	tpl := d.template
	ch := f.channel(k.channelType, f.typedTemplate(tpl.ContentType, tpl.Subject, tpl.Content, tpl.Variables...))
	k.addAccount(f, ch, fake, 1)
	_, c := f.app()

	req := d.request
	req.ChannelID = ch.ID
	taskID := sendOne(t, c, req)
	d.check(t, fake, taskID, requireDelivered(t, c, taskID))
}

func (k chatKit[F]) testRejectedPermanently(t *testing.T, h *harness) {
	r := k.rejected
	f := h.fixture(t)
	first, second := r.start(t), r.start(t)
	ch := k.failureChannel(f)
	k.addAccount(f, ch, first, 100)
	k.addAccount(f, ch, second, 1)
	_, c := f.app()

	taskID := k.sendTo(t, c, ch, r.send)
	requireRejected(t, c, taskID, r.code)
	r.check(t, first, second)
}

func (k chatKit[F]) testThrottledThenDelivered(t *testing.T, h *harness) {
	th := k.throttled
	f := h.fixture(t)
	// Both accounts use the fake, so whichever is picked meets the
	// throttle.
	fake := th.start(t)
	ch := k.failureChannel(f)
	for range 2 {
		acc := k.addAccount(f, ch, fake, 1)
		if th.unpaced {
			f.unpaced(acc)
		}
	}
	var ruleName string
	if th.rule != nil {
		ruleName = th.rule(f, k.kind, th.code)
	}
	_, c := f.app()

	taskID := k.sendTo(t, c, ch, th.send)
	d := requireRetriedOnSameAccount(t, c, taskID, th.code)
	if th.rule != nil {
		require.Equal(t, ruleName, d.Code)
	}
	th.check(t, fake, taskID, d)
}

func (k chatKit[F]) testProviderDownSwitched(t *testing.T, h *harness) {
	dn := k.down
	f := h.fixture(t)
	down, up := dn.start(t, true), dn.start(t, false)
	ch := k.failureChannel(f)
	downAcc := k.addAccount(f, ch, down, 100)
	upAcc := k.addAccount(f, ch, up, 1)
	var ruleName string
	if dn.switchRule {
		ruleName = f.switchOn(k.kind, dn.code)
	}
	_, c := f.app()

	taskID := k.sendTo(t, c, ch, dn.send)
	if dn.switchRule {
		requireSwitchedAtOnce(t, c, taskID, upAcc, ruleName)
	} else {
		// No rule matches: the default policy retries a transient failure
		// three times on the same account, then switches.
		d := requireSwitchedTo(t, c, taskID, upAcc)
		require.Equal(t, "default", d.Code)
		_, events := eventKinds(t, c, taskID)
		tries := attempts(events)
		require.Len(t, tries, 5)
		for _, e := range tries[:4] {
			require.Equal(t, downAcc.ID, *e.AccountID)
		}
		require.Equal(t, dn.code, eventsOf(events, "send_failed")[0].Code)
	}
	dn.check(t, down, up)
}

func (k chatKit[F]) testBlocked(t *testing.T, h *harness) {
	b := k.blocked
	f := h.fixture(t)
	fake := b.start(t)
	ch := k.failureChannel(f)
	k.addAccount(f, ch, fake, 1)
	var ruleName string
	if b.rule != nil {
		ruleName = b.rule(f, k.kind, b.code)
	}
	_, c := f.app()

	taskID := k.sendTo(t, c, ch, b.send)
	terminateOnCleanup(t, h, taskID)
	d := requireWaitingToRetry(t, c, taskID, b.code, b.wait)
	if b.rule != nil {
		require.Equal(t, ruleName, d.Code)
	}
	b.check(t, fake)
}

// newWeChatWorkFake starts a WeCom fake with its default application and
// robot.
func newWeChatWorkFake(t *testing.T) *wechatworkfake.Server { return wechatworkfake.New(t) }

// newDingTalkFake starts a DingTalk fake with its default robot.
func newDingTalkFake(t *testing.T) *dingtalkfake.Server { return dingtalkfake.New(t) }

// newFeishuFake starts a Feishu fake with its default bot.
func newFeishuFake(t *testing.T) *feishufake.Server { return feishufake.New(t) }

// downOrUp makes start a chatDown start.
func downOrUp[F interface{ Down() }](start func(t *testing.T) F) func(t *testing.T, down bool) F {
	return func(t *testing.T, down bool) F {
		fake := start(t)
		if down {
			fake.Down()
		}
		return fake
	}
}

// failingFirst makes start run a fake that answers the first send with
// code.
func failingFirst[F interface{ FailNext(n, code int) }](start func(t *testing.T) F, code int) func(t *testing.T) F {
	return func(t *testing.T) F {
		fake := start(t)
		fake.FailNext(1, code)
		return fake
	}
}

// throttlingFirst makes start run a fake that throttles the first send.
func throttlingFirst[F interface{ Throttle(n int) }](start func(t *testing.T) F) func(t *testing.T) F {
	return func(t *testing.T) F {
		fake := start(t)
		fake.Throttle(1)
		return fake
	}
}

// onlyOne checks that a fake took one message and returns it.
func onlyOne[M any](t *testing.T, sent []M) M {
	t.Helper()
	require.Len(t, sent, 1)
	return sent[0]
}

// requireNothingSent checks that none of the fakes took a message.
func requireNothingSent[M any](t *testing.T, sent ...[]M) {
	t.Helper()
	for _, s := range sent {
		require.Empty(t, s)
	}
}

// requireOnlyUpSent checks that the fake that is down took nothing and
// the one that is up took the message.
func requireOnlyUpSent[M any](t *testing.T, down, up []M) {
	t.Helper()
	require.Empty(t, down)
	require.Len(t, up, 1)
}

func smtpKit() chatKit[*smtpfake.Server] {
	type F = *smtpfake.Server
	pdf := append([]byte("%PDF-1.4\n"), everyByte()...)
	return chatKit[F]{
		kind: "smtp", channelType: store.ChannelEmail, addAccount: (*fixture).smtpAccount,
		template: "Hi {{who}}", variable: "who",
		delivered: chatDelivered[F]{
			start: newSMTPFake,
			template: store.Template{ContentType: "html", Subject: "Invoice {{number}} for {{name}}",
				Content: "<p>Hello <b>{{name}}</b>,</p><p>invoice {{number}} is attached.</p>", Variables: []string{"name", "number"}},
			request: apiclient.SendMessageRequest{
				Receiver:       "Alice.Liddell@Example.ORG",
				TemplateParams: map[string]string{"name": "Alice", "number": "INV-42"},
				Attachments: []apiclient.Attachment{{
					Filename: "invoice-42.pdf", ContentType: "application/pdf",
					ContentBase64: base64.StdEncoding.EncodeToString(pdf),
				}},
			},
			check: func(t *testing.T, fake F, taskID string, msg *apiclient.Message) {
				require.Equal(t, "Alice.Liddell@example.org", msg.Receiver, "the domain is lower-cased, the local part kept")
				require.Equal(t, store.ChannelEmail, msg.MessageType)

				m := onlyOne(t, fake.Sent())
				require.NoError(t, m.ParseErr)
				require.True(t, m.Answered)
				require.True(t, m.TLS, "STARTTLS against the account's CA")
				require.Equal(t, smtpUser, m.AuthUser)
				require.Equal(t, smtpFrom, m.MailFrom)
				require.Equal(t, []string{"Alice.Liddell@example.org"}, m.RcptTo)
				require.Contains(t, m.Header.Get("From"), "Herald")
				require.Contains(t, m.Header.Get("From"), smtpFrom)
				require.Equal(t, "Invoice INV-42 for Alice", m.Subject)
				require.Equal(t, []string{"multipart/mixed", "multipart/alternative", "text/plain", "text/html", "application/pdf"}, m.Parts)
				require.Equal(t, "<p>Hello <b>Alice</b>,</p><p>invoice INV-42 is attached.</p>", m.HTML)
				require.Contains(t, m.Text, "Hello Alice,")
				require.Contains(t, m.Text, "invoice INV-42 is attached.")
				require.NotContains(t, m.Text, "<b>")
				require.Equal(t, []smtpfake.Attachment{{Filename: "invoice-42.pdf", ContentType: "application/pdf", Content: pdf}}, m.Attachments)
				require.Equal(t, taskID, m.Header.Get(smtp.HeaderTaskID))
				require.Equal(t, "<"+taskID+"@herald.invalid>", m.Header.Get("Message-ID"))
				require.Equal(t, "1", m.Header.Get(smtp.HeaderAttempt))
			},
		},
		rejected: chatRejected[F]{
			start: func(t *testing.T) F {
				fake := newSMTPFake(t)
				fake.FailNext(1, smtpfake.StageRcpt, 550, "5.1.1")
				return fake
			},
			send: chatSend{"nobody@example.org", "you"}, code: "SMTP_550_5.1.1",
			check: func(t *testing.T, first, second F) {
				requireNothingSent(t, first.Sent(), second.Sent())
			},
		},
		throttled: chatThrottled[F]{
			// Greylisting: "try again later" for the first message only.
			start: func(t *testing.T) F {
				fake := newSMTPFake(t)
				fake.FailNext(1, smtpfake.StageRcpt, 451, "4.7.1")
				return fake
			},
			send: chatSend{"grey@example.org", "you"}, code: "SMTP_451_4.7.1",
			check: func(t *testing.T, fake F, taskID string, _ apiclient.Event) {
				m := onlyOne(t, fake.Sent())
				require.Equal(t, "Hi you", m.Text)
				require.Equal(t, "<"+taskID+"@herald.invalid>", m.Header.Get("Message-ID"), "a resend keeps the task's Message-ID")
				require.Equal(t, "2", m.Header.Get(smtp.HeaderAttempt), "the retry is attempt 2")
			},
		},
		down: chatDown[F]{
			start: downOrUp(newSMTPFake),
			code:  smtp.CodeConnect, send: chatSend{"bob@example.org", "Bob"},
			check: func(t *testing.T, down, up F) { requireOnlyUpSent(t, down.Sent(), up.Sent()) },
		},
		extra: []chatCase{{"HardBounceSuppresses", testSMTPHardBounce}},
	}
}

func wechatWorkKit() chatKit[*wechatworkfake.Server] {
	type F = *wechatworkfake.Server
	return chatKit[F]{
		kind: "wechatwork", channelType: store.ChannelWeChatWork, addAccount: (*fixture).wechatWorkAccount,
		template: "Hi {{who}}", variable: "who",
		delivered: chatDelivered[F]{
			start:    func(t *testing.T) F { return wechatworkfake.New(t, wechatworkfake.WithUsers("zhangsan", "lisi")) },
			template: store.Template{ContentType: "text", Content: "Leave of {{who}} on {{day}} was approved.", Variables: []string{"who", "day"}},
			request: apiclient.SendMessageRequest{
				Receiver:       "zhangsan|lisi;party:2",
				TemplateParams: map[string]string{"who": "Zhang San", "day": "3 March"},
			},
			check: func(t *testing.T, fake F, _ string, _ *apiclient.Message) {
				m := onlyOne(t, fake.Sent())
				require.Equal(t, wechatworkfake.KindApp, m.Kind)
				require.Equal(t, wechatworkfake.DefaultAgentID, m.AgentID)
				require.Equal(t, "text", m.MsgType)
				require.Equal(t, "Leave of Zhang San on 3 March was approved.", m.Content)
				require.Equal(t, "zhangsan|lisi", m.ToUser)
				require.Equal(t, "2", m.ToParty)
				require.Equal(t, []string{"zhangsan", "lisi"}, m.Users)
				require.Equal(t, []string{"2"}, m.Parties)
				require.Empty(t, m.Tags)
			},
		},
		rejected: chatRejected[F]{
			// Every receiver is unknown to WeCom: 81013 on whichever account.
			start: func(t *testing.T) F { return wechatworkfake.New(t, wechatworkfake.WithUsers("zhangsan")) },
			send:  chatSend{"ghost|phantom", "you"}, code: "81013",
			check: func(t *testing.T, first, second F) {
				require.Equal(t, 1, first.SendCalls()+second.SendCalls())
				requireNothingSent(t, first.Sent(), second.Sent())
			},
		},
		throttled: chatThrottled[F]{
			// 45033 (too many concurrent calls) is throttled without a
			// RetryAfter of its own, so a one-second rule can retry it; 45009
			// waits at least a minute (FrequencyLimitHonoursRetryAfter).
			start:   failingFirst(newWeChatWorkFake, 45033),
			unpaced: true, rule: (*fixture).retryOn,
			send: chatSend{"zhangsan", "you"}, code: "45033",
			check: func(t *testing.T, fake F, _ string, _ apiclient.Event) {
				require.Len(t, fake.Sent(), 1)
				require.Equal(t, 2, fake.SendCalls())
			},
		},
		down: chatDown[F]{
			start: downOrUp(newWeChatWorkFake), code: "HTTP_502", switchRule: true,
			send:  chatSend{"zhangsan", "you"},
			check: func(t *testing.T, down, up F) { requireOnlyUpSent(t, down.Sent(), up.Sent()) },
		},
		blocked: &chatBlocked[F]{
			name:  "FrequencyLimitHonoursRetryAfter",
			start: throttlingFirst(newWeChatWorkFake),
			send:  chatSend{"zhangsan", "you"}, code: "45009", wait: time.Minute,
			check: func(t *testing.T, fake F) {
				require.Empty(t, fake.Sent())
				require.Equal(t, 1, fake.SendCalls())
			},
		},
	}
}

func robotKit() chatKit[*wechatworkfake.Server] {
	type F = *wechatworkfake.Server
	all := chatSend{"@all", "all"}
	return chatKit[F]{
		kind: "wechatwork_robot", channelType: store.ChannelWeChatWork, addAccount: (*fixture).robotAccount,
		template: "Hi {{who}}", variable: "who",
		delivered: chatDelivered[F]{
			start:    newWeChatWorkFake,
			template: store.Template{ContentType: "text", Content: "Disk {{disk}} is {{pct}}% full", Variables: []string{"disk", "pct"}},
			request: apiclient.SendMessageRequest{
				Receiver:       "@13800000000,zhangsan",
				TemplateParams: map[string]string{"disk": "/var", "pct": "93"},
			},
			check: func(t *testing.T, fake F, _ string, _ *apiclient.Message) {
				m := onlyOne(t, fake.Sent())
				require.Equal(t, wechatworkfake.KindRobot, m.Kind)
				require.Equal(t, wechatworkfake.DefaultRobotKey, m.RobotKey)
				require.Equal(t, "text", m.MsgType)
				require.Equal(t, "Disk /var is 93% full", m.Content)
				require.Equal(t, []string{"13800000000"}, m.MentionedMobileList)
				require.Equal(t, []string{"zhangsan"}, m.MentionedList)
			},
		},
		rejected: chatRejected[F]{
			start: failingFirst(newWeChatWorkFake, 45002), // content size out of limit
			send:  all, code: "45002",
			check: func(t *testing.T, first, second F) {
				require.Equal(t, 1, first.RobotCalls()+second.RobotCalls())
				requireNothingSent(t, first.Sent(), second.Sent())
			},
		},
		throttled: chatThrottled[F]{
			start:   failingFirst(newWeChatWorkFake, 45033),
			unpaced: true, rule: (*fixture).retryOn,
			send: all, code: "45033",
			check: func(t *testing.T, fake F, _ string, _ apiclient.Event) {
				require.Equal(t, []string{"@all"}, onlyOne(t, fake.Sent()).MentionedList)
			},
		},
		down: chatDown[F]{
			start: downOrUp(newWeChatWorkFake), code: "HTTP_502", switchRule: true,
			send:  all,
			check: func(t *testing.T, down, up F) { requireOnlyUpSent(t, down.Sent(), up.Sent()) },
		},
	}
}

func dingTalkKit() chatKit[*dingtalkfake.Server] {
	type F = *dingtalkfake.Server
	return chatKit[F]{
		kind: "dingtalk", channelType: store.ChannelDingTalk, addAccount: (*fixture).dingTalkAccount,
		template: "Alert {{text}}", variable: "text",
		delivered: chatDelivered[F]{
			start: newDingTalkFake,
			template: store.Template{ContentType: "markdown", Subject: "Deploy {{version}}",
				Content: "### Deploy {{version}}\n- service: {{service}}", Variables: []string{"version", "service"}},
			request: apiclient.SendMessageRequest{
				Receiver:       "@13800000000,@13900000000",
				TemplateParams: map[string]string{"version": "1.4.2", "service": "api"},
			},
			check: func(t *testing.T, fake F, _ string, _ *apiclient.Message) {
				m := onlyOne(t, fake.Sent())
				require.Equal(t, "markdown", m.MsgType)
				require.Equal(t, "Deploy 1.4.2", m.Title)
				// DingTalk highlights a mention only when the text holds it.
				require.Equal(t, "### Deploy 1.4.2\n- service: api\n\n@13800000000 @13900000000", m.Text)
				require.Equal(t, []string{"13800000000", "13900000000"}, m.AtMobiles)
				require.False(t, m.IsAtAll)
			},
		},
		rejected: chatRejected[F]{
			start: failingFirst(newDingTalkFake, dingtalkfake.CodeMissingParameter),
			send:  chatSend{"-", "disk full"}, code: "40035",
			check: func(t *testing.T, first, second F) {
				requireNothingSent(t, first.Sent(), second.Sent())
			},
		},
		throttled: chatThrottled[F]{
			// 410100 is DingTalk's throttled answer without a block of its
			// own, so a one-second rule can retry it; 130101 blocks the robot
			// for ten minutes (TooFastHonoursTheBlock).
			start:   failingFirst(newDingTalkFake, 410100),
			unpaced: true, rule: (*fixture).retryOn,
			send: chatSend{"@all", "disk full"}, code: "410100",
			check: func(t *testing.T, fake F, _ string, _ apiclient.Event) {
				m := onlyOne(t, fake.Sent())
				require.True(t, m.IsAtAll)
				require.Equal(t, "Alert disk full", m.Text)
			},
		},
		down: chatDown[F]{
			start: downOrUp(newDingTalkFake),
			code:  "HTTP_502", switchRule: true, send: chatSend{"-", "disk full"},
			check: func(t *testing.T, down, up F) { requireOnlyUpSent(t, down.Sent(), up.Sent()) },
		},
		blocked: &chatBlocked[F]{
			name:  "TooFastHonoursTheBlock",
			start: throttlingFirst(newDingTalkFake),
			// Even an operator rule asking for a retry after one second
			// cannot send into DingTalk's ten-minute block: the provider's
			// RetryAfter is a floor for every retry delay. The test checks
			// the decision and ends the workflow instead of waiting the ten
			// minutes.
			rule: (*fixture).retryOn,
			send: chatSend{"-", "disk full"}, code: "130101", wait: dingtalkfake.DefaultRateBlock,
			check: func(t *testing.T, fake F) { require.Empty(t, fake.Sent()) },
		},
		extra: []chatCase{{"Pacing", testDingTalkPacing}},
	}
}

func testDingTalkPacing(t *testing.T, h *harness) {
	f := h.fixture(t)
	// The robot refuses a second message within 150ms with 130101 (and
	// then blocks): sends in one burst would trip it, paced ones do not.
	fake := dingtalkfake.New(t, dingtalkfake.WithRateLimit(1, 150*time.Millisecond, time.Minute))
	ch := f.channel(store.ChannelDingTalk, f.template("Paced {{n}}", "n"))
	acc := f.dingTalkAccount(ch, fake, 1)
	perMinute := 120 // one slot every 500ms
	require.NoError(t, h.db.UpdateAccount(context.Background(), acc.ID, store.AccountPatch{RateLimitPerMinute: &perMinute}))
	_, c := f.app()

	var tasks []string
	for i := range 3 {
		tasks = append(tasks, sendOne(t, c, apiclient.SendMessageRequest{
			ChannelID: ch.ID, Receiver: "-", TemplateParams: map[string]string{"n": fmt.Sprint(i)},
		}))
	}
	paced := 0
	for _, id := range tasks {
		msg := waitFinal(t, c, id)
		require.Equal(t, workflows.StatusSuccess, msg.Status, msg.LastError)
		kinds, _ := eventKinds(t, c, id)
		require.Equal(t, 1, count(kinds, "attempt"), "%v", kinds)
		require.Zero(t, count(kinds, "send_failed"), "the robot never answered 130101: %v", kinds)
		paced += count(kinds, "paced")
	}
	require.GreaterOrEqual(t, paced, 2, "three sends against one slot per 500ms: two had to wait")
	sent := fake.Sent()
	require.Len(t, sent, 3)
	for i := 1; i < len(sent); i++ {
		require.GreaterOrEqual(t, sent[i].At.Sub(sent[i-1].At), 150*time.Millisecond)
	}
}

func feishuKit() chatKit[*feishufake.Server] {
	type F = *feishufake.Server
	const openID = "ou_84aad35d084aa403a838cf73ee18467"
	return chatKit[F]{
		kind: "feishu", channelType: store.ChannelFeishu, addAccount: (*fixture).feishuAccount,
		template: "Alert {{text}}", variable: "text",
		delivered: chatDelivered[F]{
			start: newFeishuFake,
			template: store.Template{ContentType: "post", Subject: "Deploy {{service}}",
				Content: "Deploy of {{service}} finished\nVersion {{version}}", Variables: []string{"service", "version"}},
			request: apiclient.SendMessageRequest{
				Receiver:       "@" + openID + ",@all",
				TemplateParams: map[string]string{"service": "api", "version": "1.4.2"},
			},
			check: func(t *testing.T, fake F, _ string, _ *apiclient.Message) {
				m := onlyOne(t, fake.Sent())
				require.Equal(t, feishufake.DefaultHookID, m.HookID)
				require.Equal(t, "post", m.MsgType)
				require.Equal(t, "Deploy api", m.Title)
				// One paragraph per line, then the mentions' own paragraph.
				require.Equal(t, "Deploy of api finished\nVersion 1.4.2", strings.TrimRight(m.Text, "\n"))
				require.ElementsMatch(t, []string{openID, "all"}, m.Mentions)
			},
		},
		rejected: chatRejected[F]{
			start: failingFirst(newFeishuFake, feishufake.CodeBadRequest),
			send:  chatSend{"-", "disk full"}, code: "9499",
			check: func(t *testing.T, first, second F) {
				requireNothingSent(t, first.Sent(), second.Sent())
			},
		},
		throttled: chatThrottled[F]{
			start:   throttlingFirst(newFeishuFake),
			unpaced: true, rule: (*fixture).retryOn,
			send: chatSend{"@all", "disk full"}, code: "11232",
			check: func(t *testing.T, fake F, _ string, _ apiclient.Event) {
				m := onlyOne(t, fake.Sent())
				require.Equal(t, "text", m.MsgType)
				require.Equal(t, []string{"all"}, m.Mentions)
			},
		},
		down: chatDown[F]{
			start: downOrUp(newFeishuFake),
			code:  "HTTP_502", switchRule: true, send: chatSend{"-", "disk full"},
			check: func(t *testing.T, down, up F) { requireOnlyUpSent(t, down.Sent(), up.Sent()) },
		},
	}
}

func webhookKit() chatKit[*hookEndpoint] {
	type F = *hookEndpoint
	answering := func(status int) func(t *testing.T) F {
		return func(t *testing.T) F { return newHookEndpoint(t, hookReply{status: status}) }
	}
	return chatKit[F]{
		kind: "webhook", channelType: store.ChannelWebhook,
		addAccount: func(f *fixture, ch *store.Channel, ep F, weight int) *store.ProviderAccount {
			return f.webhookAccount(ch, ep, 5000, weight)
		},
		template: "Order {{order}}", variable: "order",
		delivered: chatDelivered[F]{
			start: answering(http.StatusOK),
			template: store.Template{ContentType: "text", Subject: "Order {{order}} shipped",
				Content: "Order {{order}} left the warehouse on {{day}}.", Variables: []string{"order", "day"}},
			request: apiclient.SendMessageRequest{
				Receiver:       "customer-42",
				TemplateParams: map[string]string{"order": "A-1001", "day": "Monday"},
			},
			check: func(t *testing.T, ep F, taskID string, _ *apiclient.Message) {
				got, unsigned := ep.requests()
				require.Zero(t, unsigned)
				require.Len(t, got, 1)
				r := got[0]
				require.Equal(t, taskID+"-1", r.id)
				require.Equal(t, "Bearer hook-token", r.header.Get("Authorization"))
				require.Equal(t, "application/json", r.header.Get("Content-Type"))
				require.Equal(t, "Herald-Webhook/1", r.header.Get("User-Agent"))
				require.Equal(t, webhook.EventMessageSend, r.payload.Type)
				require.Equal(t, taskID, r.payload.TaskID)
				require.Equal(t, 1, r.payload.Attempt)
				require.Equal(t, "customer-42", r.payload.Receiver)
				require.Equal(t, "Order A-1001 shipped", r.payload.Subject)
				require.Equal(t, "Order A-1001 left the warehouse on Monday.", r.payload.Content)
				require.Equal(t, "text", r.payload.ContentType)
				require.Equal(t, map[string]string{"order": "A-1001", "day": "Monday"}, r.payload.Params)
			},
		},
		rejected: chatRejected[F]{
			start: answering(http.StatusUnprocessableEntity),
			send:  chatSend{"customer-1", "A-1"}, code: "HTTP_422",
			check: func(t *testing.T, first, second F) {
				a, _ := first.requests()
				b, _ := second.requests()
				require.Len(t, append(a, b...), 1)
			},
		},
		throttled: chatThrottled[F]{
			start: func(t *testing.T) F {
				ep := newHookEndpoint(t, hookReply{status: http.StatusOK})
				ep.answerNext(hookReply{status: http.StatusTooManyRequests, retryAfter: "1"})
				return ep
			},
			// Without a delay of its own the rule retries when the
			// endpoint's Retry-After says, not at the default policy's five
			// seconds.
			rule: func(f *fixture, kind, code string) string {
				name := kind + "-429-" + randomHex8()
				f.rule(store.Rule{Name: name, Scene: "send_failure", ProviderKind: kind, ErrorCodes: code,
					Action: "retry", MaxRetry: 2})
				return name
			},
			send: chatSend{"customer-2", "A-2"}, code: "HTTP_429",
			check: func(t *testing.T, ep F, taskID string, d apiclient.Event) {
				require.Contains(t, d.Detail, "in 1s")
				got, unsigned := ep.requests()
				require.Zero(t, unsigned)
				require.Len(t, got, 2)
				require.GreaterOrEqual(t, got[1].at.Sub(got[0].at), time.Second, "Retry-After: 1 is honoured")
				require.Equal(t, []string{taskID + "-1", taskID + "-2"}, []string{got[0].id, got[1].id})
			},
		},
		down: chatDown[F]{
			start: func(t *testing.T, down bool) F {
				if down {
					return newHookEndpoint(t, hookReply{status: http.StatusServiceUnavailable})
				}
				return newHookEndpoint(t, hookReply{status: http.StatusOK})
			},
			code: "HTTP_503", switchRule: true, send: chatSend{"customer-3", "A-3"},
			check: func(t *testing.T, down, up F) {
				got, _ := up.requests()
				require.Len(t, got, 1)
				downGot, _ := down.requests()
				require.NotEmpty(t, downGot)
			},
		},
		extra: []chatCase{{"UnknownOutcome", testWebhookUnknownOutcome}},
	}
}

func testWebhookUnknownOutcome(t *testing.T, h *harness) {
	f := h.fixture(t)
	// The first request is held past the account's timeout: the endpoint
	// may have acted on it, Herald cannot know.
	ep := newHookEndpoint(t, hookReply{status: http.StatusOK})
	ep.answerNext(hookReply{hang: true})
	ch := f.channel(store.ChannelWebhook, f.template("Order {{order}}", "order"))
	acc := f.webhookAccount(ch, ep, 300, 1)
	_, c := f.app()

	taskID := sendOne(t, c, apiclient.SendMessageRequest{ChannelID: ch.ID, Receiver: "customer-4", TemplateParams: map[string]string{"order": "A-4"}})
	// A webhook cannot be asked what became of a request, so the default
	// policy re-sends on the same account.
	d := requireRetriedOnSameAccount(t, c, taskID, webhook.CodeTimeout)
	require.Equal(t, "default", d.Code)
	require.Contains(t, d.Detail, "unknown_outcome")
	_, events := eventKinds(t, c, taskID)
	require.Equal(t, acc.ID, *attempts(events)[0].AccountID)

	got, unsigned := ep.requests()
	require.Zero(t, unsigned)
	require.Len(t, got, 2, "the endpoint saw the held request and the re-send")
	// The re-send after an unknown outcome is the same request again: it
	// keeps attempt 1's idempotency key, so the endpoint sees the same
	// webhook-id (and attempt number) and can drop the duplicate. A
	// re-send after a definite failure is a new attempt with a new id
	// (ThrottledThenDelivered).
	for _, r := range got {
		require.Equal(t, taskID+"-1", r.id)
		require.Equal(t, 1, r.payload.Attempt)
		require.Equal(t, taskID, r.payload.TaskID)
	}
}

// typedTemplate creates a template with a content type and a subject.
func (f *fixture) typedTemplate(contentType, subject, content string, vars ...string) *store.Template {
	f.t.Helper()
	tpl := &store.Template{Name: "tpl-" + randomHex8(), ContentType: contentType, Subject: subject, Content: content, Variables: vars}
	require.NoError(f.t, f.h.db.CreateTemplate(context.Background(), tpl))
	return tpl
}

// retryOn stores a rule that retries failures with code from accounts of
// kind after one second, instead of the default policy's longer waits. No
// other test provokes that code from that kind.
func (f *fixture) retryOn(kind, code string) string {
	f.t.Helper()
	name := kind + "-retry-" + code + "-" + randomHex8()
	f.rule(store.Rule{Name: name, Scene: "send_failure", ProviderKind: kind, ErrorCodes: code,
		Action: "retry", MaxRetry: 3, DelaySeconds: 1})
	return name
}

// switchOn stores a rule that switches account at once on failures with
// code from accounts of kind, instead of the default policy's three
// retries. No other test provokes that code from that kind.
func (f *fixture) switchOn(kind, code string) string {
	f.t.Helper()
	name := kind + "-switch-" + code + "-" + randomHex8()
	f.rule(store.Rule{Name: name, Scene: "send_failure", ProviderKind: kind, ErrorCodes: code, Action: "switch"})
	return name
}

// unpaced lifts the provider's default pace off acc (one send every 2 or 3
// seconds for WeCom and DingTalk), so a retry waits only for its rule.
func (f *fixture) unpaced(acc *store.ProviderAccount) {
	f.t.Helper()
	perMinute := 6000
	require.NoError(f.t, f.h.db.UpdateAccount(context.Background(), acc.ID, store.AccountPatch{RateLimitPerMinute: &perMinute}))
}

// newSMTPFake starts a submission server that requires STARTTLS and AUTH.
func newSMTPFake(t *testing.T) *smtpfake.Server {
	return smtpfake.New(t, smtpfake.WithSTARTTLS(), smtpfake.WithRequireTLS(), smtpfake.WithAuth(smtpUser, smtpPass))
}

// smtpAccount adds an account sending through fake, trusting its
// certificate.
func (f *fixture) smtpAccount(ch *store.Channel, fake *smtpfake.Server, weight int) *store.ProviderAccount {
	return f.account(ch, "smtp", map[string]any{
		"host":            fake.Host(),
		"port":            fake.Port(),
		"username":        smtpUser,
		"password":        smtpPass,
		"from":            smtpFrom,
		"from_name":       "Herald",
		"tls_mode":        smtp.TLSStartTLS,
		"ca_pem":          string(fake.CAPEM()),
		"timeout_seconds": 5,
		"helo_name":       "herald.test",
	}, weight)
}

// wechatWorkAccount adds an application account of fake's default
// application.
func (f *fixture) wechatWorkAccount(ch *store.Channel, fake *wechatworkfake.Server, weight int) *store.ProviderAccount {
	return f.account(ch, "wechatwork", map[string]any{
		"corp_id":         wechatworkfake.DefaultCorpID,
		"corp_secret":     wechatworkfake.DefaultCorpSecret,
		"agent_id":        wechatworkfake.DefaultAgentID,
		"base_url":        fake.URL(),
		"timeout_seconds": 5,
	}, weight)
}

// robotAccount adds a group robot account of fake's default robot. It
// resends after an unknown outcome (the default is to fail), because a
// robot's HTTP 502 without a WeCom answer is one and the provider-down case
// checks switching; the workflow tests and the provider config tests cover
// the default.
func (f *fixture) robotAccount(ch *store.Channel, fake *wechatworkfake.Server, weight int) *store.ProviderAccount {
	return f.account(ch, "wechatwork_robot", map[string]any{
		"webhook_url":        fake.WebhookURL(wechatworkfake.DefaultRobotKey),
		"timeout_seconds":    5,
		"on_unknown_outcome": "resend",
	}, weight)
}

// dingTalkAccount adds an account of fake's default (signing) robot.
func (f *fixture) dingTalkAccount(ch *store.Channel, fake *dingtalkfake.Server, weight int) *store.ProviderAccount {
	return f.account(ch, "dingtalk", map[string]any{
		"access_token": dingtalkfake.DefaultAccessToken,
		"secret":       dingtalkfake.DefaultSecret,
		"base_url":     fake.URL(),
		"timeout_ms":   5000,
	}, weight)
}

// feishuAccount adds an account of fake's default (signing) bot.
func (f *fixture) feishuAccount(ch *store.Channel, fake *feishufake.Server, weight int) *store.ProviderAccount {
	return f.account(ch, "feishu", map[string]any{
		"hook_id":    feishufake.DefaultHookID,
		"secret":     feishufake.DefaultSecret,
		"base_url":   fake.URL(),
		"timeout_ms": 5000,
	}, weight)
}

// webhookAccount adds an account posting to ep.
func (f *fixture) webhookAccount(ch *store.Channel, ep *hookEndpoint, timeoutMS, weight int) *store.ProviderAccount {
	return f.account(ch, "webhook", map[string]any{
		"url":        ep.srv.URL,
		"secret":     ep.secret,
		"timeout_ms": timeoutMS,
		"headers":    map[string]string{"Authorization": "Bearer hook-token"},
	}, weight)
}

// hookEndpoint is an endpoint receiving Herald's webhooks: it checks each
// request's Standard Webhooks signature, keeps what arrived, and answers
// from a script.
type hookEndpoint struct {
	srv    *httptest.Server
	secret string
	signer *webhook.Signer
	// done releases held requests so the server can close.
	done chan struct{}

	mu       sync.Mutex
	script   []hookReply
	fallback hookReply
	got      []hookRequest
	unsigned int
}

// hookReply is how the endpoint answers one request.
type hookReply struct {
	status     int
	retryAfter string
	// hang holds the request, unanswered, until the sender gives up.
	hang bool
}

// hookRequest is one signed request the endpoint received.
type hookRequest struct {
	id      string
	header  http.Header
	payload webhook.Payload
	at      time.Time
}

// newHookEndpoint starts an endpoint that answers fallback unless scripted
// otherwise.
func newHookEndpoint(t *testing.T, fallback hookReply) *hookEndpoint {
	t.Helper()
	secret, err := webhook.GenerateSecret()
	require.NoError(t, err)
	signer, err := webhook.NewSigner(secret)
	require.NoError(t, err)
	e := &hookEndpoint{secret: secret, signer: signer, done: make(chan struct{}), fallback: fallback}
	e.srv = httptest.NewServer(http.HandlerFunc(e.serve))
	t.Cleanup(func() {
		close(e.done)
		e.srv.Close()
	})
	return e
}

// answerNext queues a reply for the next request.
func (e *hookEndpoint) answerNext(r hookReply) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.script = append(e.script, r)
}

// requests returns the signed requests so far and the number of requests
// whose signature did not verify.
func (e *hookEndpoint) requests() ([]hookRequest, int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]hookRequest(nil), e.got...), e.unsigned
}

func (e *hookEndpoint) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	// Verify before parsing: re-encoded JSON would not match the signature.
	if err := e.signer.Verify(r.Header, body, time.Now(), webhook.DefaultTolerance); err != nil {
		e.mu.Lock()
		e.unsigned++
		e.mu.Unlock()
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	var p webhook.Payload
	if err := json.Unmarshal(body, &p); err != nil {
		http.Error(w, "bad payload", http.StatusBadRequest)
		return
	}
	e.mu.Lock()
	e.got = append(e.got, hookRequest{id: r.Header.Get("webhook-id"), header: r.Header.Clone(), payload: p, at: time.Now()})
	n := len(e.got)
	reply := e.fallback
	if len(e.script) > 0 {
		reply, e.script = e.script[0], e.script[1:]
	}
	e.mu.Unlock()

	switch {
	case reply.hang:
		select {
		case <-r.Context().Done():
		case <-e.done:
		}
	case reply.status >= 200 && reply.status < 300:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(reply.status)
		_, _ = fmt.Fprintf(w, `{"id":"wh-%d"}`, n)
	default:
		if reply.retryAfter != "" {
			w.Header().Set("Retry-After", reply.retryAfter)
		}
		http.Error(w, http.StatusText(reply.status), reply.status)
	}
}

// sendOne sends one message through the API and returns its task id.
func sendOne(t *testing.T, c *apiclient.Client, req apiclient.SendMessageRequest) string {
	t.Helper()
	res, err := c.SendMessage(context.Background(), req)
	require.NoError(t, err)
	require.Equal(t, workflows.StatusPending, res.Status)
	return res.TaskID
}

// requireDelivered waits for a task and checks it was delivered by its
// first attempt, acceptance being delivery.
func requireDelivered(t *testing.T, c *apiclient.Client, taskID string) *apiclient.Message {
	t.Helper()
	msg := waitFinal(t, c, taskID)
	require.Equal(t, workflows.StatusSuccess, msg.Status, msg.LastError)
	require.Equal(t, workflows.CallbackDelivered, msg.CallbackStatus)
	require.Zero(t, msg.RetryCount)
	require.Empty(t, msg.LastError)
	kinds, _ := eventKinds(t, c, taskID)
	require.Equal(t, []string{"attempt", "finished"}, kinds, "no receipt to wait for")
	return msg
}

// requireRejected waits for a task and checks it failed with code after
// one attempt, without trying another account.
func requireRejected(t *testing.T, c *apiclient.Client, taskID, code string) {
	t.Helper()
	msg := waitFinal(t, c, taskID)
	require.Equal(t, workflows.StatusFailed, msg.Status)
	require.Empty(t, msg.CallbackStatus)
	require.Contains(t, msg.LastError, code)
	require.Contains(t, msg.LastError, "permanent")
	kinds, events := eventKinds(t, c, taskID)
	require.Equal(t, []string{"attempt", "send_failed", "decision", "finished"}, kinds)
	require.Equal(t, code, eventsOf(events, "send_failed")[0].Code)
	require.True(t, strings.HasPrefix(eventsOf(events, "decision")[0].Detail, "fail"), eventsOf(events, "decision")[0].Detail)
}

// requireRetriedOnSameAccount waits for a task and checks that its first
// attempt failed with code, and a retry on the same account delivered it.
// It returns the decision.
func requireRetriedOnSameAccount(t *testing.T, c *apiclient.Client, taskID, code string) apiclient.Event {
	t.Helper()
	msg := waitFinal(t, c, taskID)
	require.Equal(t, workflows.StatusSuccess, msg.Status, msg.LastError)
	require.Equal(t, workflows.CallbackDelivered, msg.CallbackStatus)
	require.Equal(t, 1, msg.RetryCount)
	_, events := eventKinds(t, c, taskID)
	tries := attempts(events)
	require.Len(t, tries, 2)
	require.Equal(t, *tries[0].AccountID, *tries[1].AccountID, "a retry stays on the same account")
	failed := eventsOf(events, "send_failed")
	require.Len(t, failed, 1)
	require.Equal(t, code, failed[0].Code)
	decisions := eventsOf(events, "decision")
	require.Len(t, decisions, 1)
	require.True(t, strings.HasPrefix(decisions[0].Detail, "retry"), decisions[0].Detail)
	return decisions[0]
}

// requireSwitchedTo waits for a task and checks that it failed on another
// account first and was then delivered through up. It returns the last
// decision, the switch.
func requireSwitchedTo(t *testing.T, c *apiclient.Client, taskID string, up *store.ProviderAccount) apiclient.Event {
	t.Helper()
	msg := waitFinal(t, c, taskID)
	require.Equal(t, workflows.StatusSuccess, msg.Status, msg.LastError)
	require.Equal(t, workflows.CallbackDelivered, msg.CallbackStatus)
	_, events := eventKinds(t, c, taskID)
	tries := attempts(events)
	require.GreaterOrEqual(t, len(tries), 2)
	require.NotEqual(t, up.ID, *tries[0].AccountID, "the account that is down is tried first")
	require.Equal(t, up.ID, *tries[len(tries)-1].AccountID)
	decisions := eventsOf(events, "decision")
	last := decisions[len(decisions)-1]
	require.True(t, strings.HasPrefix(last.Detail, "switch"), last.Detail)
	return last
}

// requireSwitchedAtOnce checks that the rule named ruleName switched the
// task to up after one failed attempt.
func requireSwitchedAtOnce(t *testing.T, c *apiclient.Client, taskID string, up *store.ProviderAccount, ruleName string) {
	t.Helper()
	d := requireSwitchedTo(t, c, taskID, up)
	require.Equal(t, ruleName, d.Code)
	kinds, _ := eventKinds(t, c, taskID)
	require.Equal(t, 2, count(kinds, "attempt"), "%v", kinds)
}

// requireWaitingToRetry waits for a task's first decision and checks that
// it is a retry no sooner than wait after a failure with code, and that
// nothing was sent again meanwhile. It returns the decision.
func requireWaitingToRetry(t *testing.T, c *apiclient.Client, taskID, code string, wait time.Duration) apiclient.Event {
	t.Helper()
	var events []apiclient.Event
	require.Eventually(t, func() bool {
		_, events = eventKinds(t, c, taskID)
		return len(eventsOf(events, "decision")) > 0
	}, 30*time.Second, 100*time.Millisecond)
	require.Equal(t, code, eventsOf(events, "send_failed")[0].Code)
	d := eventsOf(events, "decision")[0]
	require.True(t, strings.HasPrefix(d.Detail, "retry"), d.Detail)
	require.Contains(t, d.Detail, "in "+wait.String(), "the provider's RetryAfter is the floor")
	msg, err := c.GetMessage(context.Background(), taskID)
	require.NoError(t, err)
	require.Equal(t, workflows.StatusProcessing, msg.Status)
	require.Contains(t, msg.LastError, code)
	kinds, _ := eventKinds(t, c, taskID)
	require.Equal(t, 1, count(kinds, "attempt"))
	return d
}

// terminateOnCleanup ends a task's workflow when the test ends, for tests
// that leave a send waiting far longer than they run.
func terminateOnCleanup(t *testing.T, h *harness, taskID string) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = h.s.temporal.TerminateWorkflow(ctx, taskID, "", "test over")
	})
}

// attempts returns a timeline's attempt events.
func attempts(events []apiclient.Event) []apiclient.Event { return eventsOf(events, "attempt") }

// eventsOf returns a timeline's events of one kind, in order.
func eventsOf(events []apiclient.Event, kind string) []apiclient.Event {
	var out []apiclient.Event
	for _, e := range events {
		if e.Kind == kind {
			out = append(out, e)
		}
	}
	return out
}

// everyByte is all 256 byte values, for binary content that must survive
// base64 and MIME intact.
func everyByte() []byte {
	b := make([]byte, 256)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}
