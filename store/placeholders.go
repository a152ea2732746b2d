package store

import "regexp"

// placeholderPattern matches a template placeholder, {{name}} or
// {{ name }}; the name is its first group.
var placeholderPattern = regexp.MustCompile(`\{\{\s*([^{}\s]+)\s*\}\}`)

// Placeholders lists the distinct variable names that texts (a template's
// subject and content) use as {{name}}.
func Placeholders(texts ...string) map[string]bool {
	out := map[string]bool{}
	for _, t := range texts {
		for _, m := range placeholderPattern.FindAllStringSubmatch(t, -1) {
			out[m[1]] = true
		}
	}
	return out
}

// FillPlaceholders replaces each placeholder of text for which value
// returns ok with that value; the others are left as written.
func FillPlaceholders(text string, value func(name string) (string, bool)) string {
	return placeholderPattern.ReplaceAllStringFunc(text, func(m string) string {
		if v, ok := value(placeholderPattern.FindStringSubmatch(m)[1]); ok {
			return v
		}
		return m
	})
}
