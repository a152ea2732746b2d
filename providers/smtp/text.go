package smtp

import (
	"strings"
	"unicode"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// htmlToText derives the plain-text alternative of an HTML body. It is
// deliberately simple: tags go, text stays with its whitespace collapsed,
// block elements and <br> become line breaks, list items get a dash, and a
// link whose text is not its address keeps the address in parentheses, so
// a "Reset your password" button still works in a text-only client.
// Scripts, styles and the title are dropped; entities are decoded.
func htmlToText(src string) string {
	z := html.NewTokenizer(strings.NewReader(src))
	var b textBuilder
	skip, pre := 0, 0
	type openLink struct {
		href  string
		start int
	}
	var links []openLink
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			// io.EOF or a tokenizer error: either way, what was read is
			// the text there is.
			return b.finish()
		case html.TextToken:
			if skip > 0 {
				continue
			}
			if pre > 0 {
				b.raw(string(z.Text()))
			} else {
				b.words(string(z.Text()))
			}
		case html.StartTagToken, html.SelfClosingTagToken:
			name, hasAttr := z.TagName()
			tag := atom.Lookup(name)
			attrs := map[string]string{}
			for hasAttr {
				var k, v []byte
				k, v, hasAttr = z.TagAttr()
				attrs[string(k)] = string(v)
			}
			switch tag {
			case atom.Script, atom.Style, atom.Title, atom.Template:
				if tt == html.StartTagToken {
					skip++
				}
			case atom.Br:
				b.newline()
			case atom.P, atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6,
				atom.Table, atom.Ul, atom.Ol, atom.Blockquote, atom.Hr:
				b.paragraph()
			case atom.Div, atom.Tr, atom.Section, atom.Article, atom.Header, atom.Footer,
				atom.Dt, atom.Dd:
				b.endLine()
			case atom.Li:
				b.endLine()
				b.words("- ")
			case atom.Td, atom.Th:
				b.words(" ")
			case atom.Pre:
				b.paragraph()
				if tt == html.StartTagToken {
					pre++
				}
			case atom.Img:
				if alt := attrs["alt"]; skip == 0 && alt != "" {
					b.words(" " + alt + " ")
				}
			case atom.A:
				if tt == html.StartTagToken {
					links = append(links, openLink{href: strings.TrimSpace(attrs["href"]), start: b.len()})
				}
			}
		case html.EndTagToken:
			name, _ := z.TagName()
			switch atom.Lookup(name) {
			case atom.Script, atom.Style, atom.Title, atom.Template:
				if skip > 0 {
					skip--
				}
			case atom.P, atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6,
				atom.Table, atom.Ul, atom.Ol, atom.Blockquote:
				b.paragraph()
			case atom.Div, atom.Tr, atom.Li, atom.Section, atom.Article, atom.Header, atom.Footer,
				atom.Dt, atom.Dd:
				b.endLine()
			case atom.Pre:
				if pre > 0 {
					pre--
				}
				b.paragraph()
			case atom.A:
				if len(links) == 0 {
					continue
				}
				l := links[len(links)-1]
				links = links[:len(links)-1]
				if !showLink(l.href) {
					continue
				}
				text := strings.TrimSpace(b.since(l.start))
				switch {
				case text == "":
					b.words(l.href)
				case text != l.href && text != strings.TrimPrefix(l.href, "mailto:"):
					b.words(" (" + l.href + ")")
				}
			}
		}
	}
}

// showLink reports whether a link's address is worth keeping in the text:
// web and mail addresses, not page anchors or script.
func showLink(href string) bool {
	h := strings.ToLower(href)
	return strings.HasPrefix(h, "http://") || strings.HasPrefix(h, "https://") || strings.HasPrefix(h, "mailto:")
}

// textBuilder collects text with collapsed whitespace and at most one
// blank line in a row.
type textBuilder struct {
	sb           strings.Builder
	pendingSpace bool
	newlines     int // trailing newlines written
}

func (b *textBuilder) len() int { return b.sb.Len() }

func (b *textBuilder) since(start int) string { return b.sb.String()[start:] }

func (b *textBuilder) words(s string) {
	for _, r := range s {
		if unicode.IsSpace(r) {
			b.pendingSpace = true
			continue
		}
		if b.pendingSpace && b.sb.Len() > 0 && b.newlines == 0 {
			b.sb.WriteByte(' ')
		}
		b.pendingSpace = false
		b.sb.WriteRune(r)
		b.newlines = 0
	}
}

// raw writes preformatted text as it is.
func (b *textBuilder) raw(s string) {
	if s == "" {
		return
	}
	b.pendingSpace = false
	b.sb.WriteString(s)
	b.newlines = len(s) - len(strings.TrimRight(s, "\n"))
}

func (b *textBuilder) newline() {
	b.pendingSpace = false
	if b.newlines < 2 {
		b.sb.WriteByte('\n')
		b.newlines++
	}
}

// endLine starts a new line unless one was just started.
func (b *textBuilder) endLine() {
	if b.sb.Len() > 0 && b.newlines == 0 {
		b.newline()
	}
	b.pendingSpace = false
}

// paragraph leaves a blank line before what follows.
func (b *textBuilder) paragraph() {
	if b.sb.Len() == 0 {
		return
	}
	for b.newlines < 2 {
		b.newline()
	}
}

func (b *textBuilder) finish() string {
	lines := strings.Split(b.sb.String(), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRightFunc(l, unicode.IsSpace)
	}
	return strings.TrimSpace(strings.Join(lines, "\n"))
}
