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

func TestChatChannelsSMTP(t *testing.T) {
	t.Parallel()
	h := sharedHarness(t)

	t.Run("Delivered", func(t *testing.T) {
		t.Parallel()
		f := h.fixture(t)
		fake := newSMTPFake(t)
		tpl := f.typedTemplate("html", "Invoice {{number}} for {{name}}",
			"<p>Hello <b>{{name}}</b>,</p><p>invoice {{number}} is attached.</p>", "name", "number")
		ch := f.channel(store.ChannelEmail, tpl)
		f.smtpAccount(ch, fake, 1)
		_, c := f.app()

		pdf := append([]byte("%PDF-1.4\n"), everyByte()...)
		taskID := sendOne(t, c, apiclient.SendMessageRequest{
			ChannelID: ch.ID, Receiver: "Alice.Liddell@Example.ORG",
			TemplateParams: map[string]string{"name": "Alice", "number": "INV-42"},
			Attachments: []apiclient.Attachment{{
				Filename: "invoice-42.pdf", ContentType: "application/pdf",
				ContentBase64: base64.StdEncoding.EncodeToString(pdf),
			}},
		})
		msg := requireDelivered(t, c, taskID)
		require.Equal(t, "Alice.Liddell@example.org", msg.Receiver, "the domain is lower-cased, the local part kept")
		require.Equal(t, store.ChannelEmail, msg.MessageType)

		sent := fake.Sent()
		require.Len(t, sent, 1)
		m := sent[0]
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
		require.Equal(t, "<"+taskID+".1@example.com>", m.Header.Get("Message-ID"))
	})

	t.Run("RejectedPermanently", func(t *testing.T) {
		t.Parallel()
		f := h.fixture(t)
		first, second := newSMTPFake(t), newSMTPFake(t)
		for _, fake := range []*smtpfake.Server{first, second} {
			fake.FailNext(1, smtpfake.StageRcpt, 550, "5.1.1")
		}
		ch := f.channel(store.ChannelEmail, f.template("Hi {{who}}", "who"))
		f.smtpAccount(ch, first, 100)
		f.smtpAccount(ch, second, 1)
		_, c := f.app()

		taskID := sendOne(t, c, apiclient.SendMessageRequest{ChannelID: ch.ID, Receiver: "nobody@example.org", TemplateParams: map[string]string{"who": "you"}})
		requireRejected(t, c, taskID, "SMTP_550_5.1.1")
		require.Empty(t, first.Sent())
		require.Empty(t, second.Sent())
	})

	t.Run("ThrottledThenDelivered", func(t *testing.T) {
		t.Parallel()
		f := h.fixture(t)
		// Greylisting: "try again later" for the first message only. Both
		// accounts use the server, so whichever is picked meets it.
		fake := newSMTPFake(t)
		fake.FailNext(1, smtpfake.StageRcpt, 451, "4.7.1")
		ch := f.channel(store.ChannelEmail, f.template("Hi {{who}}", "who"))
		f.smtpAccount(ch, fake, 1)
		f.smtpAccount(ch, fake, 1)
		_, c := f.app()

		taskID := sendOne(t, c, apiclient.SendMessageRequest{ChannelID: ch.ID, Receiver: "grey@example.org", TemplateParams: map[string]string{"who": "you"}})
		requireRetriedOnSameAccount(t, c, taskID, "SMTP_451_4.7.1")
		sent := fake.Sent()
		require.Len(t, sent, 1)
		require.Equal(t, "Hi you", sent[0].Text)
		require.Equal(t, "<"+taskID+".2@example.com>", sent[0].Header.Get("Message-ID"), "the retry is attempt 2")
	})

	t.Run("ProviderDownSwitched", func(t *testing.T) {
		t.Parallel()
		f := h.fixture(t)
		down, up := newSMTPFake(t), newSMTPFake(t)
		down.Down()
		ch := f.channel(store.ChannelEmail, f.template("Hi {{who}}", "who"))
		downAcc := f.smtpAccount(ch, down, 100)
		upAcc := f.smtpAccount(ch, up, 1)
		_, c := f.app()

		taskID := sendOne(t, c, apiclient.SendMessageRequest{ChannelID: ch.ID, Receiver: "bob@example.org", TemplateParams: map[string]string{"who": "Bob"}})
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
		require.Equal(t, smtp.CodeConnect, eventsOf(events, "send_failed")[0].Code)
		require.Empty(t, down.Sent())
		require.Len(t, up.Sent(), 1)
	})
}

func TestChatChannelsWeChatWork(t *testing.T) {
	t.Parallel()
	h := sharedHarness(t)

	t.Run("Delivered", func(t *testing.T) {
		t.Parallel()
		f := h.fixture(t)
		fake := wechatworkfake.New(t, wechatworkfake.WithUsers("zhangsan", "lisi"))
		ch := f.channel(store.ChannelWeChatWork, f.template("Leave of {{who}} on {{day}} was approved.", "who", "day"))
		f.wechatWorkAccount(ch, fake, 1)
		_, c := f.app()

		taskID := sendOne(t, c, apiclient.SendMessageRequest{
			ChannelID: ch.ID, Receiver: "zhangsan|lisi;party:2",
			TemplateParams: map[string]string{"who": "Zhang San", "day": "3 March"},
		})
		requireDelivered(t, c, taskID)
		sent := fake.Sent()
		require.Len(t, sent, 1)
		m := sent[0]
		require.Equal(t, wechatworkfake.KindApp, m.Kind)
		require.Equal(t, wechatworkfake.DefaultAgentID, m.AgentID)
		require.Equal(t, "text", m.MsgType)
		require.Equal(t, "Leave of Zhang San on 3 March was approved.", m.Content)
		require.Equal(t, "zhangsan|lisi", m.ToUser)
		require.Equal(t, "2", m.ToParty)
		require.Equal(t, []string{"zhangsan", "lisi"}, m.Users)
		require.Equal(t, []string{"2"}, m.Parties)
		require.Empty(t, m.Tags)
	})

	t.Run("RejectedPermanently", func(t *testing.T) {
		t.Parallel()
		f := h.fixture(t)
		// Every receiver is unknown to WeCom: 81013 on whichever account.
		first := wechatworkfake.New(t, wechatworkfake.WithUsers("zhangsan"))
		second := wechatworkfake.New(t, wechatworkfake.WithUsers("zhangsan"))
		ch := f.channel(store.ChannelWeChatWork, f.template("Hi {{who}}", "who"))
		f.wechatWorkAccount(ch, first, 100)
		f.wechatWorkAccount(ch, second, 1)
		_, c := f.app()

		taskID := sendOne(t, c, apiclient.SendMessageRequest{ChannelID: ch.ID, Receiver: "ghost|phantom", TemplateParams: map[string]string{"who": "you"}})
		requireRejected(t, c, taskID, "81013")
		require.Equal(t, 1, first.SendCalls()+second.SendCalls())
		require.Empty(t, first.Sent())
		require.Empty(t, second.Sent())
	})

	t.Run("ThrottledThenDelivered", func(t *testing.T) {
		t.Parallel()
		f := h.fixture(t)
		// 45033 (too many concurrent calls) is throttled without a
		// RetryAfter of its own, so a one-second rule can retry it; 45009
		// waits at least a minute (FrequencyLimitHonoursRetryAfter).
		fake := wechatworkfake.New(t)
		fake.FailNext(1, 45033)
		ch := f.channel(store.ChannelWeChatWork, f.template("Hi {{who}}", "who"))
		f.unpaced(f.wechatWorkAccount(ch, fake, 1))
		f.unpaced(f.wechatWorkAccount(ch, fake, 1))
		ruleName := f.retryOn("wechatwork", "45033")
		_, c := f.app()

		taskID := sendOne(t, c, apiclient.SendMessageRequest{ChannelID: ch.ID, Receiver: "zhangsan", TemplateParams: map[string]string{"who": "you"}})
		d := requireRetriedOnSameAccount(t, c, taskID, "45033")
		require.Equal(t, ruleName, d.Code)
		require.Len(t, fake.Sent(), 1)
		require.Equal(t, 2, fake.SendCalls())
	})

	t.Run("FrequencyLimitHonoursRetryAfter", func(t *testing.T) {
		t.Parallel()
		f := h.fixture(t)
		fake := wechatworkfake.New(t)
		fake.Throttle(1)
		ch := f.channel(store.ChannelWeChatWork, f.template("Hi {{who}}", "who"))
		f.wechatWorkAccount(ch, fake, 1)
		_, c := f.app()

		taskID := sendOne(t, c, apiclient.SendMessageRequest{ChannelID: ch.ID, Receiver: "zhangsan", TemplateParams: map[string]string{"who": "you"}})
		terminateOnCleanup(t, h, taskID)
		requireWaitingToRetry(t, c, taskID, "45009", time.Minute)
		require.Empty(t, fake.Sent())
		require.Equal(t, 1, fake.SendCalls())
	})

	t.Run("ProviderDownSwitched", func(t *testing.T) {
		t.Parallel()
		f := h.fixture(t)
		down, up := wechatworkfake.New(t), wechatworkfake.New(t)
		down.Down()
		ch := f.channel(store.ChannelWeChatWork, f.template("Hi {{who}}", "who"))
		f.wechatWorkAccount(ch, down, 100)
		upAcc := f.wechatWorkAccount(ch, up, 1)
		ruleName := f.switchOn("wechatwork", "HTTP_502")
		_, c := f.app()

		taskID := sendOne(t, c, apiclient.SendMessageRequest{ChannelID: ch.ID, Receiver: "zhangsan", TemplateParams: map[string]string{"who": "you"}})
		requireSwitchedAtOnce(t, c, taskID, upAcc, ruleName)
		require.Empty(t, down.Sent())
		require.Len(t, up.Sent(), 1)
	})
}

func TestChatChannelsWeChatWorkRobot(t *testing.T) {
	t.Parallel()
	h := sharedHarness(t)

	t.Run("Delivered", func(t *testing.T) {
		t.Parallel()
		f := h.fixture(t)
		fake := wechatworkfake.New(t)
		ch := f.channel(store.ChannelWeChatWork, f.template("Disk {{disk}} is {{pct}}% full", "disk", "pct"))
		f.robotAccount(ch, fake, 1)
		_, c := f.app()

		taskID := sendOne(t, c, apiclient.SendMessageRequest{
			ChannelID: ch.ID, Receiver: "@13800000000,zhangsan",
			TemplateParams: map[string]string{"disk": "/var", "pct": "93"},
		})
		requireDelivered(t, c, taskID)
		sent := fake.Sent()
		require.Len(t, sent, 1)
		m := sent[0]
		require.Equal(t, wechatworkfake.KindRobot, m.Kind)
		require.Equal(t, wechatworkfake.DefaultRobotKey, m.RobotKey)
		require.Equal(t, "text", m.MsgType)
		require.Equal(t, "Disk /var is 93% full", m.Content)
		require.Equal(t, []string{"13800000000"}, m.MentionedMobileList)
		require.Equal(t, []string{"zhangsan"}, m.MentionedList)
	})

	t.Run("RejectedPermanently", func(t *testing.T) {
		t.Parallel()
		f := h.fixture(t)
		first, second := wechatworkfake.New(t), wechatworkfake.New(t)
		for _, fake := range []*wechatworkfake.Server{first, second} {
			fake.FailNext(1, 45002) // content size out of limit
		}
		ch := f.channel(store.ChannelWeChatWork, f.template("Hi {{who}}", "who"))
		f.robotAccount(ch, first, 100)
		f.robotAccount(ch, second, 1)
		_, c := f.app()

		taskID := sendOne(t, c, apiclient.SendMessageRequest{ChannelID: ch.ID, Receiver: "@all", TemplateParams: map[string]string{"who": "all"}})
		requireRejected(t, c, taskID, "45002")
		require.Equal(t, 1, first.RobotCalls()+second.RobotCalls())
		require.Empty(t, first.Sent())
		require.Empty(t, second.Sent())
	})

	t.Run("ThrottledThenDelivered", func(t *testing.T) {
		t.Parallel()
		f := h.fixture(t)
		fake := wechatworkfake.New(t)
		fake.FailNext(1, 45033)
		ch := f.channel(store.ChannelWeChatWork, f.template("Hi {{who}}", "who"))
		f.unpaced(f.robotAccount(ch, fake, 1))
		f.unpaced(f.robotAccount(ch, fake, 1))
		ruleName := f.retryOn("wechatwork_robot", "45033")
		_, c := f.app()

		taskID := sendOne(t, c, apiclient.SendMessageRequest{ChannelID: ch.ID, Receiver: "@all", TemplateParams: map[string]string{"who": "all"}})
		d := requireRetriedOnSameAccount(t, c, taskID, "45033")
		require.Equal(t, ruleName, d.Code)
		sent := fake.Sent()
		require.Len(t, sent, 1)
		require.Equal(t, []string{"@all"}, sent[0].MentionedList)
	})

	t.Run("ProviderDownSwitched", func(t *testing.T) {
		t.Parallel()
		f := h.fixture(t)
		down, up := wechatworkfake.New(t), wechatworkfake.New(t)
		down.Down()
		ch := f.channel(store.ChannelWeChatWork, f.template("Hi {{who}}", "who"))
		f.robotAccount(ch, down, 100)
		upAcc := f.robotAccount(ch, up, 1)
		ruleName := f.switchOn("wechatwork_robot", "HTTP_502")
		_, c := f.app()

		taskID := sendOne(t, c, apiclient.SendMessageRequest{ChannelID: ch.ID, Receiver: "@all", TemplateParams: map[string]string{"who": "all"}})
		requireSwitchedAtOnce(t, c, taskID, upAcc, ruleName)
		require.Empty(t, down.Sent())
		require.Len(t, up.Sent(), 1)
	})
}

func TestChatChannelsDingTalk(t *testing.T) {
	t.Parallel()
	h := sharedHarness(t)

	t.Run("Delivered", func(t *testing.T) {
		t.Parallel()
		f := h.fixture(t)
		fake := dingtalkfake.New(t)
		tpl := f.typedTemplate("markdown", "Deploy {{version}}", "### Deploy {{version}}\n- service: {{service}}", "version", "service")
		ch := f.channel(store.ChannelDingTalk, tpl)
		f.dingTalkAccount(ch, fake, 1)
		_, c := f.app()

		taskID := sendOne(t, c, apiclient.SendMessageRequest{
			ChannelID: ch.ID, Receiver: "@13800000000,@13900000000",
			TemplateParams: map[string]string{"version": "1.4.2", "service": "api"},
		})
		requireDelivered(t, c, taskID)
		sent := fake.Sent()
		require.Len(t, sent, 1)
		m := sent[0]
		require.Equal(t, "markdown", m.MsgType)
		require.Equal(t, "Deploy 1.4.2", m.Title)
		// DingTalk highlights a mention only when the text holds it.
		require.Equal(t, "### Deploy 1.4.2\n- service: api\n\n@13800000000 @13900000000", m.Text)
		require.Equal(t, []string{"13800000000", "13900000000"}, m.AtMobiles)
		require.False(t, m.IsAtAll)
	})

	t.Run("RejectedPermanently", func(t *testing.T) {
		t.Parallel()
		f := h.fixture(t)
		first, second := dingtalkfake.New(t), dingtalkfake.New(t)
		for _, fake := range []*dingtalkfake.Server{first, second} {
			fake.FailNext(1, dingtalkfake.CodeMissingParameter)
		}
		ch := f.channel(store.ChannelDingTalk, f.template("Alert {{text}}", "text"))
		f.dingTalkAccount(ch, first, 100)
		f.dingTalkAccount(ch, second, 1)
		_, c := f.app()

		taskID := sendOne(t, c, apiclient.SendMessageRequest{ChannelID: ch.ID, Receiver: "-", TemplateParams: map[string]string{"text": "disk full"}})
		requireRejected(t, c, taskID, "40035")
		require.Empty(t, first.Sent())
		require.Empty(t, second.Sent())
	})

	t.Run("ThrottledThenDelivered", func(t *testing.T) {
		t.Parallel()
		f := h.fixture(t)
		// 410100 is DingTalk's throttled answer without a block of its
		// own, so a one-second rule can retry it; 130101 blocks the robot
		// for ten minutes (TooFastHonoursTheBlock).
		fake := dingtalkfake.New(t)
		fake.FailNext(1, 410100)
		ch := f.channel(store.ChannelDingTalk, f.template("Alert {{text}}", "text"))
		f.unpaced(f.dingTalkAccount(ch, fake, 1))
		f.unpaced(f.dingTalkAccount(ch, fake, 1))
		ruleName := f.retryOn("dingtalk", "410100")
		_, c := f.app()

		taskID := sendOne(t, c, apiclient.SendMessageRequest{ChannelID: ch.ID, Receiver: "@all", TemplateParams: map[string]string{"text": "disk full"}})
		d := requireRetriedOnSameAccount(t, c, taskID, "410100")
		require.Equal(t, ruleName, d.Code)
		sent := fake.Sent()
		require.Len(t, sent, 1)
		require.True(t, sent[0].IsAtAll)
		require.Equal(t, "Alert disk full", sent[0].Text)
	})

	t.Run("TooFastHonoursTheBlock", func(t *testing.T) {
		t.Parallel()
		f := h.fixture(t)
		fake := dingtalkfake.New(t)
		fake.Throttle(1)
		ch := f.channel(store.ChannelDingTalk, f.template("Alert {{text}}", "text"))
		f.dingTalkAccount(ch, fake, 1)
		// Even an operator rule asking for a retry after one second cannot
		// send into DingTalk's ten-minute block: the provider's RetryAfter
		// is a floor for every retry delay. The test checks the decision
		// and ends the workflow instead of waiting the ten minutes.
		ruleName := f.retryOn("dingtalk", "130101")
		_, c := f.app()

		taskID := sendOne(t, c, apiclient.SendMessageRequest{ChannelID: ch.ID, Receiver: "-", TemplateParams: map[string]string{"text": "disk full"}})
		terminateOnCleanup(t, h, taskID)
		d := requireWaitingToRetry(t, c, taskID, "130101", dingtalkfake.DefaultRateBlock)
		require.Equal(t, ruleName, d.Code)
		require.Empty(t, fake.Sent())
	})

	t.Run("ProviderDownSwitched", func(t *testing.T) {
		t.Parallel()
		f := h.fixture(t)
		down, up := dingtalkfake.New(t), dingtalkfake.New(t)
		down.Down()
		ch := f.channel(store.ChannelDingTalk, f.template("Alert {{text}}", "text"))
		f.dingTalkAccount(ch, down, 100)
		upAcc := f.dingTalkAccount(ch, up, 1)
		ruleName := f.switchOn("dingtalk", "HTTP_502")
		_, c := f.app()

		taskID := sendOne(t, c, apiclient.SendMessageRequest{ChannelID: ch.ID, Receiver: "-", TemplateParams: map[string]string{"text": "disk full"}})
		requireSwitchedAtOnce(t, c, taskID, upAcc, ruleName)
		require.Empty(t, down.Sent())
		require.Len(t, up.Sent(), 1)
	})

	t.Run("Pacing", func(t *testing.T) {
		t.Parallel()
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
	})
}

func TestChatChannelsFeishu(t *testing.T) {
	t.Parallel()
	h := sharedHarness(t)

	t.Run("Delivered", func(t *testing.T) {
		t.Parallel()
		f := h.fixture(t)
		fake := feishufake.New(t)
		tpl := f.typedTemplate("post", "Deploy {{service}}", "Deploy of {{service}} finished\nVersion {{version}}", "service", "version")
		ch := f.channel(store.ChannelFeishu, tpl)
		f.feishuAccount(ch, fake, 1)
		_, c := f.app()

		const openID = "ou_84aad35d084aa403a838cf73ee18467"
		taskID := sendOne(t, c, apiclient.SendMessageRequest{
			ChannelID: ch.ID, Receiver: "@" + openID + ",@all",
			TemplateParams: map[string]string{"service": "api", "version": "1.4.2"},
		})
		requireDelivered(t, c, taskID)
		sent := fake.Sent()
		require.Len(t, sent, 1)
		m := sent[0]
		require.Equal(t, feishufake.DefaultHookID, m.HookID)
		require.Equal(t, "post", m.MsgType)
		require.Equal(t, "Deploy api", m.Title)
		// One paragraph per line, then the mentions' own paragraph.
		require.Equal(t, "Deploy of api finished\nVersion 1.4.2", strings.TrimRight(m.Text, "\n"))
		require.ElementsMatch(t, []string{openID, "all"}, m.Mentions)
	})

	t.Run("RejectedPermanently", func(t *testing.T) {
		t.Parallel()
		f := h.fixture(t)
		first, second := feishufake.New(t), feishufake.New(t)
		for _, fake := range []*feishufake.Server{first, second} {
			fake.FailNext(1, feishufake.CodeBadRequest)
		}
		ch := f.channel(store.ChannelFeishu, f.template("Alert {{text}}", "text"))
		f.feishuAccount(ch, first, 100)
		f.feishuAccount(ch, second, 1)
		_, c := f.app()

		taskID := sendOne(t, c, apiclient.SendMessageRequest{ChannelID: ch.ID, Receiver: "-", TemplateParams: map[string]string{"text": "disk full"}})
		requireRejected(t, c, taskID, "9499")
		require.Empty(t, first.Sent())
		require.Empty(t, second.Sent())
	})

	t.Run("ThrottledThenDelivered", func(t *testing.T) {
		t.Parallel()
		f := h.fixture(t)
		fake := feishufake.New(t)
		fake.Throttle(1)
		ch := f.channel(store.ChannelFeishu, f.template("Alert {{text}}", "text"))
		f.unpaced(f.feishuAccount(ch, fake, 1))
		f.unpaced(f.feishuAccount(ch, fake, 1))
		ruleName := f.retryOn("feishu", "11232")
		_, c := f.app()

		taskID := sendOne(t, c, apiclient.SendMessageRequest{ChannelID: ch.ID, Receiver: "@all", TemplateParams: map[string]string{"text": "disk full"}})
		d := requireRetriedOnSameAccount(t, c, taskID, "11232")
		require.Equal(t, ruleName, d.Code)
		sent := fake.Sent()
		require.Len(t, sent, 1)
		require.Equal(t, "text", sent[0].MsgType)
		require.Equal(t, []string{"all"}, sent[0].Mentions)
	})

	t.Run("ProviderDownSwitched", func(t *testing.T) {
		t.Parallel()
		f := h.fixture(t)
		down, up := feishufake.New(t), feishufake.New(t)
		down.Down()
		ch := f.channel(store.ChannelFeishu, f.template("Alert {{text}}", "text"))
		f.feishuAccount(ch, down, 100)
		upAcc := f.feishuAccount(ch, up, 1)
		ruleName := f.switchOn("feishu", "HTTP_502")
		_, c := f.app()

		taskID := sendOne(t, c, apiclient.SendMessageRequest{ChannelID: ch.ID, Receiver: "-", TemplateParams: map[string]string{"text": "disk full"}})
		requireSwitchedAtOnce(t, c, taskID, upAcc, ruleName)
		require.Empty(t, down.Sent())
		require.Len(t, up.Sent(), 1)
	})
}

func TestChatChannelsWebhook(t *testing.T) {
	t.Parallel()
	h := sharedHarness(t)

	t.Run("Delivered", func(t *testing.T) {
		t.Parallel()
		f := h.fixture(t)
		ep := newHookEndpoint(t, hookReply{status: http.StatusOK})
		tpl := f.typedTemplate("text", "Order {{order}} shipped", "Order {{order}} left the warehouse on {{day}}.", "order", "day")
		ch := f.channel(store.ChannelWebhook, tpl)
		f.webhookAccount(ch, ep, 5000, 1)
		_, c := f.app()

		taskID := sendOne(t, c, apiclient.SendMessageRequest{
			ChannelID: ch.ID, Receiver: "customer-42",
			TemplateParams: map[string]string{"order": "A-1001", "day": "Monday"},
		})
		requireDelivered(t, c, taskID)
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
	})

	t.Run("RejectedPermanently", func(t *testing.T) {
		t.Parallel()
		f := h.fixture(t)
		first := newHookEndpoint(t, hookReply{status: http.StatusUnprocessableEntity})
		second := newHookEndpoint(t, hookReply{status: http.StatusUnprocessableEntity})
		ch := f.channel(store.ChannelWebhook, f.template("Order {{order}}", "order"))
		f.webhookAccount(ch, first, 5000, 100)
		f.webhookAccount(ch, second, 5000, 1)
		_, c := f.app()

		taskID := sendOne(t, c, apiclient.SendMessageRequest{ChannelID: ch.ID, Receiver: "customer-1", TemplateParams: map[string]string{"order": "A-1"}})
		requireRejected(t, c, taskID, "HTTP_422")
		a, _ := first.requests()
		b, _ := second.requests()
		require.Len(t, append(a, b...), 1)
	})

	t.Run("ThrottledThenDelivered", func(t *testing.T) {
		t.Parallel()
		f := h.fixture(t)
		ep := newHookEndpoint(t, hookReply{status: http.StatusOK})
		ep.answerNext(hookReply{status: http.StatusTooManyRequests, retryAfter: "1"})
		ch := f.channel(store.ChannelWebhook, f.template("Order {{order}}", "order"))
		f.webhookAccount(ch, ep, 5000, 1)
		f.webhookAccount(ch, ep, 5000, 1)
		// Without a delay of its own the rule retries when the endpoint's
		// Retry-After says, not at the default policy's five seconds.
		ruleName := "webhook-429-" + randomHex8()
		f.rule(store.Rule{Name: ruleName, Scene: "send_failure", ProviderKind: "webhook", ErrorCodes: "HTTP_429",
			Action: "retry", MaxRetry: 2})
		_, c := f.app()

		taskID := sendOne(t, c, apiclient.SendMessageRequest{ChannelID: ch.ID, Receiver: "customer-2", TemplateParams: map[string]string{"order": "A-2"}})
		d := requireRetriedOnSameAccount(t, c, taskID, "HTTP_429")
		require.Equal(t, ruleName, d.Code)
		require.Contains(t, d.Detail, "in 1s")
		got, unsigned := ep.requests()
		require.Zero(t, unsigned)
		require.Len(t, got, 2)
		require.GreaterOrEqual(t, got[1].at.Sub(got[0].at), time.Second, "Retry-After: 1 is honoured")
		require.Equal(t, []string{taskID + "-1", taskID + "-2"}, []string{got[0].id, got[1].id})
	})

	t.Run("ProviderDownSwitched", func(t *testing.T) {
		t.Parallel()
		f := h.fixture(t)
		down := newHookEndpoint(t, hookReply{status: http.StatusServiceUnavailable})
		up := newHookEndpoint(t, hookReply{status: http.StatusOK})
		ch := f.channel(store.ChannelWebhook, f.template("Order {{order}}", "order"))
		f.webhookAccount(ch, down, 5000, 100)
		upAcc := f.webhookAccount(ch, up, 5000, 1)
		ruleName := f.switchOn("webhook", "HTTP_503")
		_, c := f.app()

		taskID := sendOne(t, c, apiclient.SendMessageRequest{ChannelID: ch.ID, Receiver: "customer-3", TemplateParams: map[string]string{"order": "A-3"}})
		requireSwitchedAtOnce(t, c, taskID, upAcc, ruleName)
		got, _ := up.requests()
		require.Len(t, got, 1)
		downGot, _ := down.requests()
		require.NotEmpty(t, downGot)
	})

	t.Run("UnknownOutcome", func(t *testing.T) {
		t.Parallel()
		f := h.fixture(t)
		// The first request is held past the account's timeout: the
		// endpoint may have acted on it, Herald cannot know.
		ep := newHookEndpoint(t, hookReply{status: http.StatusOK})
		ep.answerNext(hookReply{hang: true})
		ch := f.channel(store.ChannelWebhook, f.template("Order {{order}}", "order"))
		acc := f.webhookAccount(ch, ep, 300, 1)
		_, c := f.app()

		taskID := sendOne(t, c, apiclient.SendMessageRequest{ChannelID: ch.ID, Receiver: "customer-4", TemplateParams: map[string]string{"order": "A-4"}})
		// A webhook cannot be asked what became of a request, so the
		// default policy re-sends on the same account.
		d := requireRetriedOnSameAccount(t, c, taskID, webhook.CodeTimeout)
		require.Equal(t, "default", d.Code)
		require.Contains(t, d.Detail, "unknown_outcome")
		_, events := eventKinds(t, c, taskID)
		require.Equal(t, acc.ID, *attempts(events)[0].AccountID)

		got, unsigned := ep.requests()
		require.Zero(t, unsigned)
		require.Len(t, got, 2, "the endpoint saw the held request and the re-send")
		// The re-send after an unknown outcome is the same request again:
		// it keeps attempt 1's idempotency key, so the endpoint sees the
		// same webhook-id (and attempt number) and can drop the duplicate.
		// A re-send after a definite failure is a new attempt with a new
		// id (ThrottledThenDelivered).
		for _, r := range got {
			require.Equal(t, taskID+"-1", r.id)
			require.Equal(t, 1, r.payload.Attempt)
			require.Equal(t, taskID, r.payload.TaskID)
		}
	})
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

// robotAccount adds a group robot account of fake's default robot.
func (f *fixture) robotAccount(ch *store.Channel, fake *wechatworkfake.Server, weight int) *store.ProviderAccount {
	return f.account(ch, "wechatwork_robot", map[string]any{
		"webhook_url":     fake.WebhookURL(wechatworkfake.DefaultRobotKey),
		"timeout_seconds": 5,
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
