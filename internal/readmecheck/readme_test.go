package readmecheck

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode"

	"github.com/stretchr/testify/require"
)

const (
	englishPath = "README.md"
	chinesePath = "README.zh-CN.md"
	// linkWithin is how near the top each README links to the other.
	linkWithin = 12
	// maxEnglishRun is the longest run of plain English words (outside
	// code spans and link targets) a Chinese paragraph may hold: product
	// and protocol names are short, an untranslated sentence is not.
	maxEnglishRun = 6
)

// heading is one Markdown heading outside code blocks.
type heading struct {
	level int
	text  string
	line  int
}

func (h heading) String() string {
	return fmt.Sprintf("%s %s (line %d)", strings.Repeat("#", h.level), h.text, h.line)
}

// codeBlock is one fenced code block with the heading it sits under.
type codeBlock struct {
	fence   string // the opening line, info string included
	body    string
	line    int
	section string
}

// paragraph is a run of non-blank prose lines: text, lists, tables.
type paragraph struct {
	text    string
	line    int
	section string
}

type document struct {
	path       string
	lines      []string
	headings   []heading
	code       []codeBlock
	paragraphs []paragraph
}

var (
	headingRE = regexp.MustCompile(`^(#{1,6})[ \t]+(.+?)[ \t#]*$`)
	fenceRE   = regexp.MustCompile("^(`{3,}|~{3,})(.*)$")
)

// readDoc reads and parses one of the READMEs at the repository root.
func readDoc(t *testing.T, name string) document {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", name))
	require.NoError(t, err, "read %s", name)
	d, err := parse(name, string(raw))
	require.NoError(t, err)
	return d
}

func parse(name, text string) (document, error) {
	d := document{path: name, lines: strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")}
	section := "(before the first heading)"
	var para []string
	paraLine := 0
	flush := func() {
		if len(para) > 0 {
			d.paragraphs = append(d.paragraphs, paragraph{text: strings.Join(para, "\n"), line: paraLine, section: section})
			para = nil
		}
	}
	for i := 0; i < len(d.lines); i++ {
		line := d.lines[i]
		if m := fenceRE.FindStringSubmatch(line); m != nil {
			flush()
			start := i
			var body []string
			closed := false
			for i++; i < len(d.lines); i++ {
				l := d.lines[i]
				if strings.HasPrefix(l, m[1]) && strings.TrimLeft(l, m[1][:1]) == "" {
					closed = true
					break
				}
				body = append(body, l)
			}
			if !closed {
				return document{}, fmt.Errorf("%s line %d: code block is never closed", name, start+1)
			}
			d.code = append(d.code, codeBlock{fence: line, body: strings.Join(body, "\n"), line: start + 1, section: section})
			continue
		}
		if m := headingRE.FindStringSubmatch(line); m != nil {
			flush()
			h := heading{level: len(m[1]), text: m[2], line: i + 1}
			d.headings = append(d.headings, h)
			section = h.String()
			continue
		}
		if strings.TrimSpace(line) == "" {
			flush()
			continue
		}
		if len(para) == 0 {
			paraLine = i + 1
		}
		para = append(para, line)
	}
	flush()
	return d, nil
}

// headingProblems compares the heading levels of en and zh, in order.
// Past the first difference every pair would differ, so it stops there.
func headingProblems(en, zh document) []string {
	n := min(len(en.headings), len(zh.headings))
	for i := 0; i < n; i++ {
		if en.headings[i].level != zh.headings[i].level {
			return []string{fmt.Sprintf("heading %d differs in level: %s has %q, %s has %q; the translation must have the same headings at the same levels in the same order (translate %s's new or moved sections from here on)",
				i+1, en.path, en.headings[i].String(), zh.path, zh.headings[i].String(), en.path)}
		}
	}
	switch {
	case len(en.headings) > len(zh.headings):
		return []string{fmt.Sprintf("%s has %d headings, %s %d: translate %s's sections from %q on (after %q in %s)",
			en.path, len(en.headings), zh.path, len(zh.headings), en.path, en.headings[n].String(), lastOf(zh.headings), zh.path)}
	case len(en.headings) < len(zh.headings):
		return []string{fmt.Sprintf("%s has %d headings, %s %d: %s's sections from %q on are not in %s any more; remove or move them",
			en.path, len(en.headings), zh.path, len(zh.headings), zh.path, zh.headings[n].String(), en.path)}
	}
	return nil
}

func lastOf(hs []heading) string {
	if len(hs) == 0 {
		return "the top"
	}
	return hs[len(hs)-1].String()
}

// codeProblems requires zh to hold en's code blocks, byte for byte, in
// the same order.
func codeProblems(en, zh document) []string {
	var problems []string
	n := min(len(en.code), len(zh.code))
	for i := 0; i < n; i++ {
		e, z := en.code[i], zh.code[i]
		if e.fence == z.fence && e.body == z.body {
			continue
		}
		problems = append(problems, fmt.Sprintf("code block %d differs: %s line %d (under %s) and %s line %d (under %s); copy the block from %s unchanged.\n%s",
			i+1, en.path, e.line, e.section, zh.path, z.line, z.section, en.path, firstDifference(en.path, zh.path, e, z)))
		if len(en.code) != len(zh.code) {
			// Past a missing or extra block every pair differs; the first
			// is the one to fix.
			break
		}
	}
	if len(en.code) != len(zh.code) {
		problems = append(problems, fmt.Sprintf("%s has %d code blocks, %s %d: every code block of %s must be in %s, in the same order",
			en.path, len(en.code), zh.path, len(zh.code), en.path, zh.path))
	}
	return problems
}

// firstDifference shows the first line where two code blocks part.
func firstDifference(enPath, zhPath string, e, z codeBlock) string {
	el := append([]string{e.fence}, strings.Split(e.body, "\n")...)
	zl := append([]string{z.fence}, strings.Split(z.body, "\n")...)
	for i := 0; i < max(len(el), len(zl)); i++ {
		var a, b string
		if i < len(el) {
			a = el[i]
		}
		if i < len(zl) {
			b = zl[i]
		}
		if a != b || i >= len(el) || i >= len(zl) {
			return fmt.Sprintf("first difference at line %d of the block:\n  %s: %q\n  %s: %q", i+1, enPath, a, zhPath, b)
		}
	}
	return ""
}

var (
	codeSpanRE   = regexp.MustCompile("`[^`]*`")
	linkTargetRE = regexp.MustCompile(`\]\([^)]*\)`)
	// A URL ends at the first non-ASCII character: Chinese punctuation
	// often follows one with no space.
	urlRE        = regexp.MustCompile(`https?://[\x21-\x7e]+`)
	tableRuleRE  = regexp.MustCompile(`^\|?[\s:|-]+\|?$`)
	englishRunRE = regexp.MustCompile(`[A-Za-z][A-Za-z'’-]*(?: [A-Za-z][A-Za-z'’-]*)*`)
	anchorLinkRE = regexp.MustCompile(`\]\(#([^)]+)\)`)
)

// prose is a paragraph's text without what stays English in a
// translation: code spans, link targets and URLs.
func prose(s string) string {
	s = codeSpanRE.ReplaceAllString(s, " ")
	s = linkTargetRE.ReplaceAllString(s, "]")
	return urlRE.ReplaceAllString(s, " ")
}

func hasCJK(s string) bool {
	for _, r := range s {
		if unicode.Is(unicode.Han, r) {
			return true
		}
	}
	return false
}

// proseProblems finds paragraphs of zh that are not in Chinese: no Chinese
// at all, or a run of English words longer than a name.
func proseProblems(zh document, englishPath string) []string {
	var problems []string
	for _, p := range zh.paragraphs {
		text := prose(p.text)
		if strings.Contains(p.text, "("+englishPath+")") && len(strings.Fields(text)) <= 3 {
			continue // the link back to the English README
		}
		letters := false
		for _, r := range text {
			if unicode.IsLetter(r) {
				letters = true
				break
			}
		}
		if !letters {
			continue // only code, numbers or punctuation
		}
		if !hasCJK(text) {
			problems = append(problems, fmt.Sprintf("%s line %d (under %s): paragraph has no Chinese; translate it:\n%s", zh.path, p.line, p.section, excerpt(p.text)))
			continue
		}
		for _, line := range strings.Split(text, "\n") {
			if tableRuleRE.MatchString(strings.TrimSpace(line)) {
				continue
			}
			for _, run := range englishRunRE.FindAllString(line, -1) {
				if words := strings.Fields(run); len(words) > maxEnglishRun {
					problems = append(problems, fmt.Sprintf("%s line %d (under %s): %q reads as untranslated English (%d words in a row); translate it, or quote a literal message as code",
						zh.path, p.line, p.section, run, len(words)))
				}
			}
		}
	}
	return problems
}

func excerpt(s string) string {
	if r := []rune(s); len(r) > 160 {
		return string(r[:160]) + "…"
	}
	return s
}

// linkProblems requires d to link to the file named to near its top.
func linkProblems(d document, to string) []string {
	head := strings.Join(d.lines[:min(linkWithin, len(d.lines))], "\n")
	if !strings.Contains(head, "]("+to+")") {
		return []string{fmt.Sprintf("%s must link to %s within its first %d lines", d.path, to, linkWithin)}
	}
	return nil
}

// anchorProblems checks every in-page link (#anchor) of d against the
// anchors GitHub gives its headings, so a translated heading keeps its
// links working.
func anchorProblems(d document) []string {
	anchors := map[string]bool{}
	seen := map[string]int{}
	for _, h := range d.headings {
		a := slug(h.text)
		if n := seen[a]; n > 0 {
			anchors[fmt.Sprintf("%s-%d", a, n)] = true
		} else {
			anchors[a] = true
		}
		seen[a]++
	}
	var problems []string
	for _, p := range d.paragraphs {
		for _, m := range anchorLinkRE.FindAllStringSubmatch(p.text, -1) {
			if !anchors[m[1]] {
				problems = append(problems, fmt.Sprintf("%s line %d (under %s): link to #%s matches no heading", d.path, p.line, p.section, m[1]))
			}
		}
	}
	return problems
}

func requireNone(t *testing.T, problems []string) {
	t.Helper()
	for _, p := range problems {
		t.Error(p)
	}
}

// TestChineseREADME keeps README.zh-CN.md a complete translation of
// README.md. When it fails after README.md changed, each message names
// the section or code block to bring across.
func TestChineseREADME(t *testing.T) {
	t.Parallel()
	en, zh := readDoc(t, englishPath), readDoc(t, chinesePath)
	t.Run("Headings", func(t *testing.T) { requireNone(t, headingProblems(en, zh)) })
	t.Run("CodeBlocks", func(t *testing.T) { requireNone(t, codeProblems(en, zh)) })
	t.Run("ProseIsChinese", func(t *testing.T) { requireNone(t, proseProblems(zh, englishPath)) })
	t.Run("LinkedBothWays", func(t *testing.T) {
		requireNone(t, linkProblems(en, chinesePath))
		requireNone(t, linkProblems(zh, englishPath))
	})
	t.Run("AnchorsResolve", func(t *testing.T) {
		requireNone(t, anchorProblems(en))
		requireNone(t, anchorProblems(zh))
	})
}

// TestChecksCatchDifferences runs each check on a small pair of documents
// with one thing wrong, so the test above cannot pass by not looking.
func TestChecksCatchDifferences(t *testing.T) {
	t.Parallel()
	const en = "# Herald\n\n```sh\ngo test ./...\n```\n\n[简体中文](README.zh-CN.md)\n\n" +
		"Herald sends messages. See [quotas](#quotas).\n\n## Quotas\n\nAn app may have quotas.\n\n```yaml\nquota: {daily: 10}\n```\n"
	const zh = "# Herald\n\n```sh\ngo test ./...\n```\n\n[English](README.md) | 简体中文\n\n" +
		"Herald 发送消息。见[配额](#配额)。\n\n## 配额\n\n应用可以有配额。\n\n```yaml\nquota: {daily: 10}\n```\n"
	doc := func(name, text string) document {
		d, err := parse(name, text)
		require.NoError(t, err)
		return d
	}
	enDoc, zhDoc := doc(englishPath, en), doc(chinesePath, zh)
	require.Empty(t, headingProblems(enDoc, zhDoc))
	require.Empty(t, codeProblems(enDoc, zhDoc))
	require.Empty(t, proseProblems(zhDoc, englishPath))
	require.Empty(t, linkProblems(enDoc, chinesePath))
	require.Empty(t, linkProblems(zhDoc, englishPath))
	require.Empty(t, anchorProblems(enDoc))
	require.Empty(t, anchorProblems(zhDoc))

	tests := []struct {
		name  string
		check func(zh document) []string
		edit  func(string) string
		want  []string
	}{
		{"HeadingLevel", func(z document) []string { return headingProblems(enDoc, z) },
			func(s string) string { return strings.Replace(s, "## 配额", "### 配额", 1) },
			[]string{"heading 2 differs in level", "## Quotas (line 11)", "### 配额 (line 11)"}},
		{"MissingSection", func(z document) []string { return headingProblems(enDoc, z) },
			func(s string) string { return strings.Replace(s, "## 配额\n", "", 1) },
			[]string{"README.md has 2 headings, README.zh-CN.md 1", `translate README.md's sections from "## Quotas (line 11)" on`}},
		{"CodeBlockChanged", func(z document) []string { return codeProblems(enDoc, z) },
			func(s string) string { return strings.Replace(s, "daily: 10", "daily: 20", 1) },
			[]string{"code block 2 differs", "under ## Quotas (line 11)", `"quota: {daily: 10}"`, `"quota: {daily: 20}"`}},
		{"CodeBlockLanguage", func(z document) []string { return codeProblems(enDoc, z) },
			func(s string) string { return strings.Replace(s, "```yaml", "```yml", 1) },
			[]string{"code block 2 differs", "line 1 of the block"}},
		{"CodeBlockMissing", func(z document) []string { return codeProblems(enDoc, z) },
			func(s string) string { return strings.Replace(s, "```yaml\nquota: {daily: 10}\n```\n", "", 1) },
			[]string{"README.md has 2 code blocks, README.zh-CN.md 1"}},
		{"ParagraphInEnglish", func(z document) []string { return proseProblems(z, englishPath) },
			func(s string) string {
				return strings.Replace(s, "应用可以有配额。", "An app may have quotas.", 1)
			},
			[]string{"README.zh-CN.md line 13 (under ## 配额 (line 11)): paragraph has no Chinese"}},
		{"SentenceLeftInEnglish", func(z document) []string { return proseProblems(z, englishPath) },
			func(s string) string {
				return strings.Replace(s, "应用可以有配额。", "应用可以有配额，a daily and a monthly message quota for all.", 1)
			},
			[]string{"reads as untranslated English (9 words in a row)"}},
		{"NoLinkBack", func(z document) []string { return linkProblems(z, englishPath) },
			func(s string) string { return strings.Replace(s, "[English](README.md) | ", "", 1) },
			[]string{"README.zh-CN.md must link to README.md within its first 12 lines"}},
		{"AnchorNotTranslated", anchorProblems,
			func(s string) string { return strings.Replace(s, "(#配额)", "(#quotas)", 1) },
			[]string{"link to #quotas matches no heading"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			edited := tt.edit(zh)
			require.NotEqual(t, zh, edited, "the edit changed nothing")
			problems := strings.Join(tt.check(doc(chinesePath, edited)), "\n")
			for _, w := range tt.want {
				require.Contains(t, problems, w)
			}
		})
	}

	t.Run("UnclosedCodeBlock", func(t *testing.T) {
		t.Parallel()
		_, err := parse(chinesePath, "# Herald\n\n```sh\ngo test ./...\n")
		require.ErrorContains(t, err, "README.zh-CN.md line 3: code block is never closed")
	})
}

// slug is GitHub's anchor for a heading: lower case, punctuation other
// than '-' and '_' dropped, spaces turned into '-'.
func slug(text string) string {
	text = codeSpanRE.ReplaceAllStringFunc(text, func(s string) string { return strings.Trim(s, "`") })
	var b strings.Builder
	for _, r := range strings.ToLower(text) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsNumber(r) || unicode.Is(unicode.Mn, r):
			b.WriteRune(r)
		}
	}
	return b.String()
}
