package dingtalk

import (
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/heraldhq/herald/providers"
)

// Message content types a template may have, and the robot msgtype each
// becomes.
const (
	ContentText       = "text"        // msgtype text
	ContentMarkdown   = "markdown"    // msgtype markdown
	ContentActionCard = "action_card" // msgtype actionCard, one button
)

// Params read from the message for an action card.
const (
	// ParamURL is the URL the card's button opens (required).
	ParamURL = "url"
	// ParamButtonTitle is the button's text (default DefaultButtonTitle).
	ParamButtonTitle = "btn_title"
	// DefaultButtonTitle labels the button when the message sets none.
	DefaultButtonTitle = "View details"
)

// Codes of failures found before anything is sent.
const (
	CodeInvalidReceiver    = "INVALID_RECEIVER"
	CodeUnsupportedContent = "UNSUPPORTED_CONTENT_TYPE"
	CodeEmptyContent       = "EMPTY_CONTENT"
	CodeMissingParam       = "MISSING_PARAM"
	CodeMentionUnsupported = "MENTION_UNSUPPORTED"
)

// maxTitleRunes bounds a title derived from the content: it only shows in
// the notification preview.
const maxTitleRunes = 64

// robotMessage is the robot send body.
type robotMessage struct {
	MsgType    string          `json:"msgtype"`
	Text       *textBody       `json:"text,omitempty"`
	Markdown   *markdownBody   `json:"markdown,omitempty"`
	ActionCard *actionCardBody `json:"actionCard,omitempty"`
	At         *atBody         `json:"at,omitempty"`
}

type textBody struct {
	Content string `json:"content"`
}

type markdownBody struct {
	Title string `json:"title"`
	Text  string `json:"text"`
}

type actionCardBody struct {
	Title       string `json:"title"`
	Text        string `json:"text"`
	SingleTitle string `json:"singleTitle"`
	SingleURL   string `json:"singleURL"`
}

type atBody struct {
	AtMobiles []string `json:"atMobiles,omitempty"`
	AtUserIDs []string `json:"atUserIds,omitempty"`
	IsAtAll   bool     `json:"isAtAll,omitempty"`
}

// Mentions is whom a message @-mentions, parsed from the receiver string.
type Mentions struct {
	Mobiles []string
	UserIDs []string
	All     bool
}

// Empty reports whether m mentions nobody.
func (m Mentions) Empty() bool { return !m.All && len(m.Mobiles) == 0 && len(m.UserIDs) == 0 }

func mobilePattern() *regexp.Regexp { return regexp.MustCompile(`^\+?[0-9][0-9-]{4,19}$`) }

// ParseReceiver reads the mentions in a receiver string. A robot posts to
// its group, so the receiver only says whom to @-mention:
//
//	""  or "-"                    nobody
//	"@all"                        everyone (isAtAll)
//	"@13800000000,@13900000000"   these mobiles (atMobiles)
//	"@id:user123"                 this DingTalk user id (atUserIds)
//
// Items are separated by commas and may be mixed; the "@" is optional.
func ParseReceiver(receiver string) (Mentions, error) {
	var m Mentions
	receiver = strings.TrimSpace(receiver)
	if receiver == "" || receiver == "-" {
		return m, nil
	}
	mobile := mobilePattern()
	for item := range strings.SplitSeq(receiver, ",") {
		item = strings.TrimPrefix(strings.TrimSpace(item), "@")
		switch {
		case item == "":
			continue
		case strings.EqualFold(item, "all"):
			m.All = true
		case strings.HasPrefix(item, "id:"):
			id := strings.TrimSpace(strings.TrimPrefix(item, "id:"))
			if id == "" || strings.ContainsAny(id, " \t\r\n@") {
				return Mentions{}, providers.Errorf(providers.ClassPermanent, CodeInvalidReceiver,
					"receiver item %q is not a DingTalk user id", "@"+item)
			}
			if !slices.Contains(m.UserIDs, id) {
				m.UserIDs = append(m.UserIDs, id)
			}
		case mobile.MatchString(item):
			if !slices.Contains(m.Mobiles, item) {
				m.Mobiles = append(m.Mobiles, item)
			}
		default:
			// The item is not echoed: it may be a phone number in some
			// other spelling, and errors end up in the timeline.
			return Mentions{}, providers.Errorf(providers.ClassPermanent, CodeInvalidReceiver,
				`receiver must be "-", "@all", or comma-separated "@<mobile>" / "@id:<userid>" items`)
		}
	}
	return m, nil
}

// buildMessage maps msg to the robot body. Its errors are *providers.Error,
// found before anything is sent.
func buildMessage(msg providers.Message) (robotMessage, error) {
	mentions, err := ParseReceiver(msg.Receiver)
	if err != nil {
		return robotMessage{}, err
	}
	if strings.TrimSpace(msg.Content) == "" {
		return robotMessage{}, providers.Errorf(providers.ClassPermanent, CodeEmptyContent, "message content is empty")
	}

	switch normalizeContentType(msg.ContentType) {
	case ContentText:
		return robotMessage{
			MsgType: "text",
			Text:    &textBody{Content: withMentions(msg.Content, mentions, "\n")},
			At:      atFor(mentions),
		}, nil
	case ContentMarkdown:
		return robotMessage{
			MsgType: "markdown",
			Markdown: &markdownBody{
				Title: title(msg),
				// Markdown needs a blank line for the mentions to stand
				// on their own line.
				Text: withMentions(msg.Content, mentions, "\n\n"),
			},
			At: atFor(mentions),
		}, nil
	case ContentActionCard:
		if !mentions.Empty() {
			return robotMessage{}, providers.Errorf(providers.ClassPermanent, CodeMentionUnsupported,
				`action cards cannot @-mention; use receiver "-" or a text or markdown template`)
		}
		link := strings.TrimSpace(param(msg.Params, ParamURL))
		if link == "" {
			return robotMessage{}, providers.Errorf(providers.ClassPermanent, CodeMissingParam,
				"an action card needs the %q param for its button", ParamURL)
		}
		button := strings.TrimSpace(param(msg.Params, ParamButtonTitle))
		if button == "" {
			button = DefaultButtonTitle
		}
		return robotMessage{
			MsgType: "actionCard",
			ActionCard: &actionCardBody{
				Title:       title(msg),
				Text:        msg.Content,
				SingleTitle: button,
				SingleURL:   link,
			},
		}, nil
	}
	return robotMessage{}, providers.Errorf(providers.ClassPermanent, CodeUnsupportedContent,
		"content type %q cannot be sent by a DingTalk robot (use text, markdown or action_card)", msg.ContentType)
}

func normalizeContentType(ct string) string {
	switch strings.ToLower(strings.TrimSpace(ct)) {
	case "", "text", "text/plain":
		return ContentText
	case "markdown", "text/markdown":
		return ContentMarkdown
	case "action_card", "actioncard":
		return ContentActionCard
	}
	return ct
}

func atFor(m Mentions) *atBody {
	if m.Empty() {
		return nil
	}
	return &atBody{AtMobiles: m.Mobiles, AtUserIDs: m.UserIDs, IsAtAll: m.All}
}

// withMentions appends "@<mobile>" and "@<userid>" for every mention the
// content does not already hold: DingTalk only highlights (and notifies) a
// mention whose "@..." appears in the text.
func withMentions(content string, m Mentions, sep string) string {
	var missing []string
	for _, who := range slices.Concat(m.Mobiles, m.UserIDs) {
		if !strings.Contains(content, "@"+who) {
			missing = append(missing, "@"+who)
		}
	}
	if len(missing) == 0 {
		return content
	}
	return strings.TrimRight(content, " \n") + sep + strings.Join(missing, " ")
}

// title is the message subject, or else the first line of the content
// without markdown heading marks, cut to maxTitleRunes.
func title(msg providers.Message) string {
	if t := strings.TrimSpace(msg.Subject); t != "" {
		return t
	}
	for line := range strings.SplitSeq(msg.Content, "\n") {
		line = strings.TrimSpace(strings.TrimLeft(strings.TrimSpace(line), "#>"))
		if line == "" {
			continue
		}
		if utf8.RuneCountInString(line) > maxTitleRunes {
			line = string([]rune(line)[:maxTitleRunes])
		}
		return line
	}
	return "-"
}

// param returns the value of the last param named name: a later value
// overrides an earlier one, as in a map.
func param(ps []providers.Param, name string) string {
	v := ""
	for _, p := range ps {
		if p.Name == name {
			v = p.Value
		}
	}
	return v
}
