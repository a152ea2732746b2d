package wechatwork

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/providers"
	"github.com/heraldhq/herald/providers/wechatwork/wechatworkfake"
)

func setupRobot(t *testing.T, opts ...wechatworkfake.Option) (*wechatworkfake.Server, *RobotSender) {
	t.Helper()
	fake := wechatworkfake.New(t, opts...)
	s, err := NewRobotSender(RobotConfig{WebhookURL: fake.WebhookURL(wechatworkfake.DefaultRobotKey), TimeoutSeconds: 5})
	require.NoError(t, err)
	return fake, s
}

func robotMsg() providers.Message {
	return providers.Message{TaskID: "c1d7a0a4-5b7e-4d7b-9c55-6a1f3e2b8d90", Attempt: 1, Content: "deploy finished"}
}

func TestRobotSend(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("Text", func(t *testing.T) {
		t.Parallel()
		fake, s := setupRobot(t)
		res, err := s.Send(ctx, robotMsg())
		require.NoError(t, err)
		require.Equal(t, providers.Result{Delivered: true}, res)
		sent := fake.Sent()
		require.Len(t, sent, 1)
		require.Equal(t, wechatworkfake.KindRobot, sent[0].Kind)
		require.Equal(t, wechatworkfake.DefaultRobotKey, sent[0].RobotKey)
		require.Equal(t, "text", sent[0].MsgType)
		require.Equal(t, "deploy finished", sent[0].Content)
		require.Empty(t, sent[0].MentionedList)
		require.NotContains(t, string(sent[0].Body), "mentioned", "no empty mention lists")
	})

	t.Run("TextWithMentions", func(t *testing.T) {
		t.Parallel()
		fake, s := setupRobot(t)
		msg := robotMsg()
		msg.Receiver = "@13800000000, @all, zhangsan"
		_, err := s.Send(ctx, msg)
		require.NoError(t, err)
		sent := fake.Sent()[0]
		require.Equal(t, []string{"@all", "zhangsan"}, sent.MentionedList)
		require.Equal(t, []string{"13800000000"}, sent.MentionedMobileList)
	})

	t.Run("KeyAndBaseURL", func(t *testing.T) {
		t.Parallel()
		fake := wechatworkfake.New(t, wechatworkfake.WithRobotKey("second-robot"))
		s, err := NewRobotSender(RobotConfig{Key: "second-robot", BaseURL: fake.URL() + "/"})
		require.NoError(t, err)
		_, err = s.Send(ctx, robotMsg())
		require.NoError(t, err)
		require.Equal(t, "second-robot", fake.Sent()[0].RobotKey)
	})

	t.Run("Markdown", func(t *testing.T) {
		t.Parallel()
		fake, s := setupRobot(t)
		msg := robotMsg()
		msg.ContentType = "markdown"
		msg.Content = "**deploy** <font color=\"info\">ok</font>"
		msg.Receiver = "zhangsan|lisi"
		_, err := s.Send(ctx, msg)
		require.NoError(t, err)
		sent := fake.Sent()[0]
		require.Equal(t, "markdown", sent.MsgType)
		require.Equal(t, "**deploy** <font color=\"info\">ok</font>\n<@zhangsan> <@lisi>", sent.Content)
	})

	t.Run("MarkdownCannotMentionMobiles", func(t *testing.T) {
		t.Parallel()
		fake, s := setupRobot(t)
		msg := robotMsg()
		msg.ContentType = "markdown"
		msg.Receiver = "13800000000"
		_, err := s.Send(ctx, msg)
		requireClass(t, err, providers.ClassPermanent, CodeInvalidReceiver)
		require.Zero(t, fake.RobotCalls())
	})

	t.Run("UnsupportedContentType", func(t *testing.T) {
		t.Parallel()
		fake, s := setupRobot(t)
		msg := robotMsg()
		msg.ContentType = "textcard"
		_, err := s.Send(ctx, msg)
		requireClass(t, err, providers.ClassPermanent, CodeUnsupportedContentType)
		require.Zero(t, fake.RobotCalls())
	})

	t.Run("BadMention", func(t *testing.T) {
		t.Parallel()
		_, s := setupRobot(t)
		msg := robotMsg()
		msg.Receiver = "zhang san"
		_, err := s.Send(ctx, msg)
		requireClass(t, err, providers.ClassPermanent, CodeInvalidReceiver)
	})

	t.Run("EmptyContent", func(t *testing.T) {
		t.Parallel()
		_, s := setupRobot(t)
		msg := robotMsg()
		msg.Content = ""
		_, err := s.Send(ctx, msg)
		requireClass(t, err, providers.ClassPermanent, CodeInvalidMessage)
	})
}

func TestRobotSendFailures(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("Throttled", func(t *testing.T) {
		t.Parallel()
		fake, s := setupRobot(t)
		fake.Throttle(1)
		_, err := s.Send(ctx, robotMsg())
		pe := requireClass(t, err, providers.ClassThrottled, "45009")
		require.Equal(t, time.Minute, pe.RetryAfter)
		require.Empty(t, fake.Sent())
		_, err = s.Send(ctx, robotMsg())
		require.NoError(t, err)
	})

	t.Run("UnknownKey", func(t *testing.T) {
		t.Parallel()
		fake := wechatworkfake.New(t)
		s, err := NewRobotSender(RobotConfig{Key: "removed-robot", BaseURL: fake.URL()})
		require.NoError(t, err)
		_, err = s.Send(ctx, robotMsg())
		pe := requireClass(t, err, providers.ClassAccount, "93000")
		require.NotContains(t, pe.Error(), "removed-robot")
	})

	t.Run("InjectedCodes", func(t *testing.T) {
		t.Parallel()
		for code, class := range map[int]providers.Class{
			-1: providers.ClassTransient, 93004: providers.ClassAccount, 40058: providers.ClassPermanent,
		} {
			fake, s := setupRobot(t)
			fake.FailNext(1, code)
			_, err := s.Send(ctx, robotMsg())
			pe := providers.AsError(err)
			require.Equal(t, class, pe.Class, pe.Error())
		}
	})

	t.Run("HangIsUnknownOutcome", func(t *testing.T) {
		t.Parallel()
		fake := wechatworkfake.New(t)
		s, err := NewRobotSender(RobotConfig{WebhookURL: fake.WebhookURL(wechatworkfake.DefaultRobotKey), TimeoutSeconds: 1})
		require.NoError(t, err)
		fake.Hang(1)
		_, err = s.Send(ctx, robotMsg())
		requireClass(t, err, providers.ClassUnknownOutcome, CodeTimeout)
		sent := fake.Sent()
		require.Len(t, sent, 1)
		require.False(t, sent[0].Answered)
	})

	t.Run("DownIsUnknownOutcome", func(t *testing.T) {
		t.Parallel()
		fake, s := setupRobot(t)
		fake.Down()
		_, err := s.Send(ctx, robotMsg())
		requireClass(t, err, providers.ClassUnknownOutcome, "HTTP_502")
	})

	t.Run("ProviderSender", func(t *testing.T) {
		t.Parallel()
		fake := wechatworkfake.New(t)
		raw, err := json.Marshal(RobotConfig{WebhookURL: fake.WebhookURL(wechatworkfake.DefaultRobotKey)})
		require.NoError(t, err)
		s, err := NewRobot().NewSender(providers.Account{ID: 2, Kind: RobotKind, Config: raw})
		require.NoError(t, err)
		_, err = s.Send(ctx, robotMsg())
		require.NoError(t, err)
		require.Len(t, fake.Sent(), 1)
	})
}
