package render

import (
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzRender checks template rendering on any template and parameter
// values. With a distinct marker for some of its variables, rendering
// replaces exactly those placeholders, leaves every other one as written,
// and reading the markers back as placeholders gives a template that
// renders to the same text (parse → render → parse). With any values, the
// output is never longer than the template plus each value once per
// placeholder it fills, and a value is never rendered again: a parameter
// cannot smuggle in another parameter's placeholder.
func FuzzRender(f *testing.F) {
	for _, seed := range [][3]string{
		{"Your code is {{code}}, valid {{ minutes }} minutes", "123456", "5"},
		{"<p>Hi {{name}} & welcome</p>{{name}}{{name}}", "{{code}}", ""},
		{"{{ {{a}} }} {{{b}}} {{c}}}}{{", "x", "y"},
		{"no placeholders at all", "v", "w"},
		{"{{a}}{{b}}{{a b}}{{}}{{ }}{{\t\na\n}}", "}}", "{{"},
		{"短信 {{验证码}} {{ code_2 }}", "一二三", "$1 ${a}"},
	} {
		f.Add(seed[0], seed[1], seed[2])
	}
	f.Fuzz(func(t *testing.T, tpl, a, b string) {
		if len(tpl) > 4096 || len(a) > 1024 || len(b) > 1024 {
			t.Skip()
		}
		names := slices.Sorted(func(yield func(string) bool) {
			for n := range Placeholders(tpl) {
				if !yield(n) {
					return
				}
			}
		})
		occurrences := map[string]int{}
		for _, m := range placeholderRE.FindAllStringSubmatch(tpl, -1) {
			occurrences[m[1]]++
		}

		// Round trip with markers for every other variable.
		markers := map[string]string{}
		for i, n := range names {
			if i%2 == 0 {
				// A marker holds a space, so it can neither be read as a
				// placeholder nor complete one with the text around it.
				markers[n] = "\x00m " + n + " \x00"
			}
		}
		if !strings.Contains(tpl, "\x00") {
			out := Text(tpl, markers, Plain)
			got := Placeholders(out)
			for _, n := range names {
				_, known := markers[n]
				require.Equal(t, !known, got[n], "placeholder %q after rendering %q", n, out)
				if known {
					require.Equal(t, occurrences[n], strings.Count(out, markers[n]))
				}
			}
			require.Len(t, got, len(names)-len(markers), "rendering made new placeholders: %q", out)
			back := out
			for n, m := range markers {
				back = strings.ReplaceAll(back, m, "{{"+n+"}}")
			}
			require.Equal(t, Placeholders(tpl), Placeholders(back))
			require.Equal(t, out, Text(back, markers, Plain))
		}

		// Any values: bounded output, no second expansion.
		require.Equal(t, tpl, Text(tpl, nil, Plain), "rendering without parameters changes the text")
		params := map[string]string{}
		if len(names) > 0 {
			params[names[0]] = a
		}
		if len(names) > 1 {
			params[names[len(names)-1]] = b
		}
		out := Text(tpl, params, Plain)
		bound := len(tpl)
		for n, v := range params {
			bound += len(v) * occurrences[n]
		}
		require.LessOrEqual(t, len(out), bound)
		if len(names) > 1 && !strings.Contains(tpl, "\x00") {
			// The first value names the last variable; it must stay as written.
			inject := map[string]string{names[0]: "{{" + names[len(names)-1] + "}}", names[len(names)-1]: "\x00"}
			require.Equal(t, occurrences[names[len(names)-1]], strings.Count(Text(tpl, inject, Plain), "\x00"),
				"a parameter's value was rendered as a placeholder")
		}

		// Escaped values carry no markup: whatever a parameter holds, the
		// chat and HTML escapes leave none of the characters that start it.
		for _, v := range []string{a, b} {
			require.False(t, strings.ContainsAny(ChatMarkup(v), "@<>[]*_~`#|\\"), "chat markup left in %q", ChatMarkup(v))
			require.False(t, strings.ContainsAny(HTML(v), "<>\"'"), "HTML markup left in %q", HTML(v))
		}
	})
}
