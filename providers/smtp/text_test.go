package smtp

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestHTMLToText(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, html, text string
	}{
		{"Plain", "Hello", "Hello"},
		{"Entities", "Fish &amp; chips &lt;3 &eacute;t&eacute;", "Fish & chips <3 été"},
		{"WhitespaceCollapsed", "  a \n\t b  ", "a b"},
		{"Paragraphs", "<p>One</p><p>Two</p>", "One\n\nTwo"},
		{"Breaks", "a<br>b<br/>c", "a\nb\nc"},
		{"NestedDivs", "<div><div>a</div><div>b</div></div>", "a\nb"},
		{"List", "<ul><li>x</li><li>y</li></ul>", "- x\n- y"},
		{"Table", "<table><tr><td>a</td><td>b</td></tr><tr><td>c</td><td>d</td></tr></table>", "a b\nc d"},
		{"ScriptStyleTitleDropped", "<head><title>T</title><style>b{}</style></head><script>x()</script>ok", "ok"},
		{"Comment", "a<!-- hidden -->b", "ab"},
		{"LinkKept", `<a href="https://example.com/x">Open</a>`, "Open (https://example.com/x)"},
		{"LinkSameAsText", `<a href="https://example.com">https://example.com</a>`, "https://example.com"},
		{"LinkWithoutText", `<a href="https://example.com/i"><img src="i.png"></a>`, "https://example.com/i"},
		{"ImageAlt", `<a href="https://example.com/i"><img alt="Logo"></a>`, "Logo (https://example.com/i)"},
		{"MailtoSameAsText", `<a href="mailto:a@example.com">a@example.com</a>`, "a@example.com"},
		{"AnchorDropped", `<a href="#top">Top</a>`, "Top"},
		{"Pre", "<pre>a\n  b</pre>after", "a\n  b\n\nafter"},
		{"Unclosed", "<p>a<b>b", "ab"},
		{"Empty", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.text, htmlToText(tc.html))
		})
	}
}
