// Package render fills message templates: each {{name}} placeholder is
// replaced by its parameter's value, escaped for the markup the message is
// sent in, so a parameter is always text and never markup, a mention or a
// link. The API renders a message once, when it accepts it; the stored
// result is what providers send.
//
//	body := render.Text("Hi {{name}}", map[string]string{"name": "<b>Ann</b>"}, render.For("email", "html"))
//	// body == "Hi &lt;b&gt;Ann&lt;/b&gt;"
package render

import (
	"html"
	"regexp"
	"strings"
)

// placeholderRE matches {{name}} and {{ name }}.
var placeholderRE = regexp.MustCompile(`\{\{\s*([^{}\s]+)\s*\}\}`)

// Escape turns a parameter value into text that is safe in the markup of
// the content it is inserted into.
type Escape func(string) string

// Plain inserts values unchanged: SMS, webhooks and plain-text e-mail have
// no markup to escape.
func Plain(s string) string { return s }

// HTML escapes a value for HTML content: <, >, &, ' and ".
func HTML(s string) string { return html.EscapeString(s) }

// chatMarkup maps every character that starts markup in the group robots'
// and chat apps' message formats (WeChatWork, DingTalk, Feishu: markdown,
// text with <at> tags, lark_md) to its full-width form, which reads the
// same but is plain text everywhere: '@' cannot mention (@all, @mobile),
// '<' and '>' cannot open a tag (<at user_id="all">, <@userid>, <font>) or
// a quote, '[' and ']' cannot make a link or image, and '*', '_', '~', '`',
// '#' and '|' cannot format.
var chatMarkup = strings.NewReplacer(
	"@", "＠", "<", "＜", ">", "＞", "[", "［", "]", "］",
	"*", "＊", "_", "＿", "~", "～", "`", "｀", "#", "＃", "|", "｜",
	"\\", "＼",
)

// ChatMarkup neutralises markup in a value for chat channels.
func ChatMarkup(s string) string { return chatMarkup.Replace(s) }

// For returns the escaping for content of a channel type ("email",
// "wechat_work", ...) and a template content type ("html", "text",
// "markdown", ...).
func For(channelType, contentType string) Escape {
	switch channelType {
	case "wechat_work", "dingtalk", "feishu":
		// Whatever the template's type: Feishu reads <at> tags even in
		// plain text, and robots may send text as markdown.
		return ChatMarkup
	case "email":
		if IsHTML(contentType) {
			return HTML
		}
	}
	return Plain
}

// IsHTML reports whether a template content type is HTML.
func IsHTML(contentType string) bool {
	ct := strings.ToLower(strings.TrimSpace(contentType))
	return ct == "html" || strings.HasPrefix(ct, "text/html")
}

// Text replaces every placeholder whose variable is in params by its
// escaped value; other placeholders stay as they are.
func Text(text string, params map[string]string, esc Escape) string {
	if esc == nil {
		esc = Plain
	}
	return placeholderRE.ReplaceAllStringFunc(text, func(m string) string {
		name := placeholderRE.FindStringSubmatch(m)[1]
		if v, ok := params[name]; ok {
			return esc(v)
		}
		return m
	})
}

// Placeholders lists the distinct variable names used in texts.
func Placeholders(texts ...string) map[string]bool {
	out := map[string]bool{}
	for _, t := range texts {
		for _, m := range placeholderRE.FindAllStringSubmatch(t, -1) {
			out[m[1]] = true
		}
	}
	return out
}
