package feishu

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/heraldhq/herald/providers"
)

// Message content types a template may have, and the msg_type each becomes.
const (
	ContentText        = "text"        // msg_type text
	ContentPost        = "post"        // msg_type post (rich text)
	ContentInteractive = "interactive" // msg_type interactive (a card)
)

// Params read from the message.
const (
	// ParamURL adds a link (post) or a button (card) opening this URL.
	ParamURL = "url"
	// ParamButtonTitle is the link's or button's text (default
	// DefaultButtonTitle).
	ParamButtonTitle = "btn_title"
	// DefaultButtonTitle labels the link or button when the message sets
	// none.
	DefaultButtonTitle = "View details"
)

// PostLocale is the language key of rich-text posts: Feishu shows it in
// every client language when it is the only one.
const PostLocale = "zh_cn"

// MaxBodyBytes is Feishu's limit on one request body: 20 KB.
const MaxBodyBytes = 20 << 10

// Codes of failures found before anything is sent.
const (
	CodeInvalidReceiver    = "INVALID_RECEIVER"
	CodeUnsupportedContent = "UNSUPPORTED_CONTENT_TYPE"
	CodeEmptyContent       = "EMPTY_CONTENT"
)

// botMessage is the custom bot send body.
type botMessage struct {
	Timestamp string  `json:"timestamp,omitempty"`
	Sign      string  `json:"sign,omitempty"`
	MsgType   string  `json:"msg_type"`
	Content   *msgBox `json:"content,omitempty"`
	Card      *card   `json:"card,omitempty"`
}

// msgBox is "content" of text and post messages.
type msgBox struct {
	Text string            `json:"text,omitempty"`
	Post map[string]postIn `json:"post,omitempty"`
}

type postIn struct {
	Title   string          `json:"title,omitempty"`
	Content [][]postElement `json:"content"`
}

// postElement is one rich-text element: text, a (link) or at.
type postElement struct {
	Tag    string  `json:"tag"`
	Text   *string `json:"text,omitempty"`
	Href   string  `json:"href,omitempty"`
	UserID string  `json:"user_id,omitempty"`
}

// card is a minimal message card: a header, one markdown block, and an
// optional button.
type card struct {
	Config   cardConfig    `json:"config"`
	Header   *cardHeader   `json:"header,omitempty"`
	Elements []cardElement `json:"elements"`
}

type cardConfig struct {
	WideScreenMode bool `json:"wide_screen_mode"`
}

type cardHeader struct {
	Title cardText `json:"title"`
}

type cardText struct {
	Tag     string `json:"tag"`
	Content string `json:"content"`
}

type cardElement struct {
	Tag     string       `json:"tag"`
	Text    *cardText    `json:"text,omitempty"`
	Actions []cardButton `json:"actions,omitempty"`
}

type cardButton struct {
	Tag  string   `json:"tag"`
	Text cardText `json:"text"`
	Type string   `json:"type"`
	URL  string   `json:"url"`
}

// Mentions is whom a message @-mentions, parsed from the receiver string:
// All, or Feishu open_ids / user_ids.
type Mentions struct {
	All     bool
	UserIDs []string
}

// Empty reports whether m mentions nobody.
func (m Mentions) Empty() bool { return !m.All && len(m.UserIDs) == 0 }

func idPattern() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`) }

// ParseReceiver reads the mentions in a receiver string. A custom bot posts
// to its group, so the receiver only says whom to @-mention:
//
//	""  or "-"            nobody
//	"@all"                everyone
//	"@ou_84aad3...,@ou_9f0..."  these members, by open_id (or user_id)
//
// Items are separated by commas; the "@" is optional.
func ParseReceiver(receiver string) (Mentions, error) {
	var m Mentions
	receiver = strings.TrimSpace(receiver)
	if receiver == "" || receiver == "-" {
		return m, nil
	}
	id := idPattern()
	for item := range strings.SplitSeq(receiver, ",") {
		item = strings.TrimPrefix(strings.TrimSpace(item), "@")
		switch {
		case item == "":
			continue
		case strings.EqualFold(item, "all"):
			m.All = true
		case id.MatchString(item):
			if !slices.Contains(m.UserIDs, item) {
				m.UserIDs = append(m.UserIDs, item)
			}
		default:
			// The item is not echoed: it may be an e-mail address or a
			// phone number, and errors end up in the timeline.
			return Mentions{}, providers.Errorf(providers.ClassPermanent, CodeInvalidReceiver,
				`receiver must be "-", "@all", or comma-separated "@<open_id>" items`)
		}
	}
	return m, nil
}

// buildMessage maps msg to the bot body, without timestamp and sign. Its
// errors are *providers.Error, found before anything is sent.
func buildMessage(msg providers.Message) (botMessage, error) {
	mentions, err := ParseReceiver(msg.Receiver)
	if err != nil {
		return botMessage{}, err
	}
	if strings.TrimSpace(msg.Content) == "" {
		return botMessage{}, providers.Errorf(providers.ClassPermanent, CodeEmptyContent, "message content is empty")
	}
	link := strings.TrimSpace(param(msg.Params, ParamURL))
	button := strings.TrimSpace(param(msg.Params, ParamButtonTitle))
	if button == "" {
		button = DefaultButtonTitle
	}

	switch normalizeContentType(msg.ContentType) {
	case ContentText:
		return botMessage{MsgType: "text", Content: &msgBox{Text: textWithMentions(msg.Content, mentions)}}, nil
	case ContentPost:
		return botMessage{MsgType: "post", Content: &msgBox{Post: map[string]postIn{
			PostLocale: post(msg, mentions, link, button),
		}}}, nil
	case ContentInteractive:
		return botMessage{MsgType: "interactive", Card: newCard(msg, mentions, link, button)}, nil
	}
	return botMessage{}, providers.Errorf(providers.ClassPermanent, CodeUnsupportedContent,
		"content type %q cannot be sent by a Feishu custom bot (use text, post, interactive or markdown)", msg.ContentType)
}

// normalizeContentType maps a template content type to a msg_type. Plain
// text messages render no markdown, so markdown templates become cards,
// whose lark_md does; an action card becomes a card with its button.
func normalizeContentType(ct string) string {
	switch strings.ToLower(strings.TrimSpace(ct)) {
	case "", "text", "text/plain":
		return ContentText
	case "post", "rich_text":
		return ContentPost
	case "interactive", "card", "markdown", "text/markdown", "action_card":
		return ContentInteractive
	}
	return ct
}

// textWithMentions appends an <at> tag for every mention. Feishu renders
// the member's name itself.
func textWithMentions(content string, m Mentions) string {
	var tags []string
	if m.All {
		tags = append(tags, `<at user_id="all">所有人</at>`)
	}
	for _, id := range m.UserIDs {
		tags = append(tags, fmt.Sprintf(`<at user_id="%s"></at>`, id))
	}
	if len(tags) == 0 {
		return content
	}
	return strings.TrimRight(content, " \n") + " " + strings.Join(tags, " ")
}

// post builds a rich-text post: one paragraph per line of the content, then
// the link, then the mentions.
func post(msg providers.Message, m Mentions, link, button string) postIn {
	p := postIn{Title: strings.TrimSpace(msg.Subject)}
	for line := range strings.SplitSeq(strings.TrimRight(msg.Content, "\n"), "\n") {
		p.Content = append(p.Content, []postElement{{Tag: "text", Text: &line}})
	}
	if link != "" {
		p.Content = append(p.Content, []postElement{{Tag: "a", Text: &button, Href: link}})
	}
	if !m.Empty() {
		var ats []postElement
		if m.All {
			ats = append(ats, postElement{Tag: "at", UserID: "all"})
		}
		for _, id := range m.UserIDs {
			ats = append(ats, postElement{Tag: "at", UserID: id})
		}
		p.Content = append(p.Content, ats)
	}
	return p
}

// newCard builds a minimal card: the subject as header, the content as
// lark_md with the mentions, and a button when the message has a URL.
func newCard(msg providers.Message, m Mentions, link, button string) *card {
	body := msg.Content
	var tags []string
	if m.All {
		tags = append(tags, "<at id=all></at>")
	}
	for _, id := range m.UserIDs {
		tags = append(tags, "<at id="+id+"></at>")
	}
	if len(tags) > 0 {
		body = strings.TrimRight(body, " \n") + "\n" + strings.Join(tags, " ")
	}
	c := &card{
		Config:   cardConfig{WideScreenMode: true},
		Elements: []cardElement{{Tag: "div", Text: &cardText{Tag: "lark_md", Content: body}}},
	}
	if t := strings.TrimSpace(msg.Subject); t != "" {
		c.Header = &cardHeader{Title: cardText{Tag: "plain_text", Content: t}}
	}
	if link != "" {
		c.Elements = append(c.Elements, cardElement{Tag: "action", Actions: []cardButton{{
			Tag: "button", Text: cardText{Tag: "plain_text", Content: button}, Type: "primary", URL: link,
		}}})
	}
	return c
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
