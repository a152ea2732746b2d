package render

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestText(t *testing.T) {
	t.Parallel()
	params := map[string]string{"name": `<script>alert("x")</script> & co`, "n": "5"}
	t.Run("OK_Plain", func(t *testing.T) {
		t.Parallel()
		require.Equal(t, "Hi "+params["name"]+", 5 left, {{other}}", Text("Hi {{name}}, {{ n }} left, {{other}}", params, For("sms", "text")))
	})
	t.Run("OK_HTMLEscaped", func(t *testing.T) {
		t.Parallel()
		got := Text("<p>Hi {{name}}</p>", params, For("email", "html"))
		require.Equal(t, "<p>Hi &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; co</p>", got)
		require.Equal(t, "Hi "+params["name"], Text("Hi {{name}}", params, For("email", "text")), "plain-text e-mail is not HTML")
		require.Equal(t, HTML("<"), For("email", "text/html; charset=utf-8")("<"))
	})
	t.Run("OK_ChatMarkupNeutralised", func(t *testing.T) {
		t.Parallel()
		for _, ch := range []string{"wechat_work", "dingtalk", "feishu"} {
			for _, attack := range []string{
				"@all", "@13800138000", `<at user_id="all">everyone</at>`, "<@zhangsan>",
				"[click](https://evil.example)", "![img](https://evil.example/x.png)",
				"**bold** _it_ ~~s~~ `code`", "\n# Heading\n> quote", "<font color=\"warning\">x</font>", `\[x\]`,
			} {
				got := Text("Alert: {{text}}", map[string]string{"text": attack}, For(ch, "markdown"))
				for _, markup := range []string{"@", "<", ">", "[", "]", "*", "_", "~", "`", "#", "\\"} {
					require.NotContains(t, strings.TrimPrefix(got, "Alert: "), markup, "%s: %q rendered as %q", ch, attack, got)
				}
			}
		}
		require.Equal(t, "Alert: ＠all ［x］(https://e.example)", Text("Alert: {{t}}", map[string]string{"t": "@all [x](https://e.example)"}, For("feishu", "text")))
	})
	t.Run("OK_TemplateMarkupKept", func(t *testing.T) {
		t.Parallel()
		require.Equal(t, "**Alert** [details](https://ops.example) ＠all", Text("**Alert** [details](https://ops.example) {{t}}", map[string]string{"t": "@all"}, For("dingtalk", "markdown")))
	})
}

func TestPlaceholders(t *testing.T) {
	t.Parallel()
	require.Equal(t, map[string]bool{"a": true, "b": true}, Placeholders("{{a}} {{ b }}", "{{a}}"))
	require.Empty(t, Placeholders("no {{ }} placeholders {{a b}}"))
}
