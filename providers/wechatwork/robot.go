package wechatwork

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/heraldhq/herald/providers"
)

// RobotSender posts messages to one group robot's webhook. It is safe for
// concurrent use.
type RobotSender struct {
	url     string
	timeout time.Duration
	client  *http.Client
}

// NewRobotSender builds a sender for cfg, which is validated first.
func NewRobotSender(cfg RobotConfig, opts ...Option) (*RobotSender, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return newRobotSender(cfg.withDefaults(), newSettings(opts)), nil
}

func newRobotSender(cfg RobotConfig, set settings) *RobotSender {
	return &RobotSender{url: cfg.SendURL(), timeout: cfg.Timeout(), client: set.httpClient()}
}

// robotMessage is the webhook body.
type robotMessage struct {
	MsgType  string         `json:"msgtype"`
	Text     *robotText     `json:"text,omitempty"`
	Markdown *robotMarkdown `json:"markdown,omitempty"`
}

type robotText struct {
	Content             string   `json:"content"`
	MentionedList       []string `json:"mentioned_list,omitempty"`
	MentionedMobileList []string `json:"mentioned_mobile_list,omitempty"`
}

type robotMarkdown struct {
	Content string `json:"content"`
}

// Send posts msg to the robot's group. The content type picks the type:
// "text" (or empty) or "markdown". The receiver string lists who to
// @-mention (see ParseMentions); a text message carries them in
// mentioned_list / mentioned_mobile_list, a markdown message gets
// "<@userid>" appended, as markdown can mention only by userid.
//
// A robot has no message id and no receipt: acceptance is final
// (Result.Delivered). Errcodes are classified by Classify; 45009 (over 20
// messages a minute) is throttled with a RetryAfter of a minute.
func (s *RobotSender) Send(ctx context.Context, msg providers.Message) (providers.Result, error) {
	const op = "send wechatwork robot message"
	mentions, err := ParseMentions(msg.Receiver)
	if err != nil {
		return providers.Result{}, &providers.Error{Class: providers.ClassPermanent, Code: CodeInvalidReceiver,
			Message: op + ": receiver: " + err.Error(), Err: err}
	}
	m, perr := buildRobotMessage(msg, mentions)
	if perr != nil {
		return providers.Result{}, perr
	}
	body, err := encodeJSON(m)
	if err != nil {
		return providers.Result{}, &providers.Error{Class: providers.ClassPermanent, Code: CodeInvalidMessage,
			Message: op + ": encode request", Err: err}
	}
	ex, err := do(ctx, s.client, s.timeout, http.MethodPost, s.url, body)
	if err != nil {
		return providers.Result{}, classifyTransport(op, err, true)
	}
	var ans apiStatus
	if !decodeAnswer(ex.body, &ans, &ans) {
		return providers.Result{}, badAnswer(op, ex, true)
	}
	if *ans.ErrCode != 0 {
		return providers.Result{}, vendorError(op, *ans.ErrCode, ans.ErrMsg)
	}
	return providers.Result{Delivered: true}, nil
}

func buildRobotMessage(msg providers.Message, mentions Mentions) (robotMessage, *providers.Error) {
	const op = "send wechatwork robot message"
	if strings.TrimSpace(msg.Content) == "" {
		return robotMessage{}, providers.Errorf(providers.ClassPermanent, CodeInvalidMessage, "%s: the content is empty", op)
	}
	switch strings.ToLower(strings.TrimSpace(msg.ContentType)) {
	case "", "text", "text/plain":
		return robotMessage{MsgType: MsgTypeText, Text: &robotText{
			Content:             msg.Content,
			MentionedList:       mentions.UserIDs,
			MentionedMobileList: mentions.Mobiles,
		}}, nil
	case "markdown", "text/markdown":
		content := msg.Content
		if !mentions.Empty() {
			if len(mentions.Mobiles) > 0 || containsAll(mentions.UserIDs) {
				return robotMessage{}, providers.Errorf(providers.ClassPermanent, CodeInvalidReceiver,
					"%s: a markdown message can mention members only by userid, not by mobile number or @all", op)
			}
			tags := make([]string, len(mentions.UserIDs))
			for i, id := range mentions.UserIDs {
				tags[i] = "<@" + id + ">"
			}
			content += "\n" + strings.Join(tags, " ")
		}
		return robotMessage{MsgType: MsgTypeMarkdown, Markdown: &robotMarkdown{Content: content}}, nil
	}
	return robotMessage{}, providers.Errorf(providers.ClassPermanent, CodeUnsupportedContentType,
		"%s: content type %q has no robot message type (use text or markdown)", op, msg.ContentType)
}

func containsAll(ids []string) bool {
	for _, id := range ids {
		if id == All {
			return true
		}
	}
	return false
}
