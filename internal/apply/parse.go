package apply

import (
	"errors"
	"reflect"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/heraldhq/herald/internal/resources"
)

// parseFile reads the YAML document, expands ${VAR} references in its
// values, refuses unknown fields and decodes it. The file is nil, and the
// problems say why, when it cannot be read as a whole; the checks of its
// content (validateFile) then cannot run.
func parseFile(raw []byte, getenv func(string) string) (*resources.Set, resources.Problems) {
	var problems resources.Problems
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		problems.Add("", "not valid YAML: %s", strings.TrimPrefix(err.Error(), "yaml: "))
		return nil, problems
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		problems.Add("", "the file is empty")
		return nil, problems
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		problems.Add("", "the file must be a mapping with apps, templates, accounts, channels and rules")
		return nil, problems
	}
	// Variables are expanded in the parsed values rather than in the raw
	// text, so a secret holding ": " or a quote cannot change the file's
	// structure; a missing variable is reported at its path.
	expandNode(root, "", getenv, &problems)
	checkFields(root, reflect.TypeFor[resources.Set](), "", &problems)
	if len(problems) > 0 {
		return nil, problems
	}
	var f resources.Set
	if err := root.Decode(&f); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			for _, e := range te.Errors {
				line, msg, ok := strings.Cut(e, ": ")
				if !ok {
					line, msg = "", e
				}
				problems.Add(line, "%s", msg)
			}
		} else {
			problems.Add("", "%v", err)
		}
		return nil, problems
	}
	return &f, nil
}

// envRefPattern matches ${NAME} and the escape $${.
func envRefPattern() *regexp.Regexp { return regexp.MustCompile(`\$\$\{|\$\{([^}]*)\}`) }

func envNamePattern() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`) }

// expandNode replaces ${VAR} in every scalar value under n (mapping keys
// are left alone). An expanded plain scalar is re-read as YAML would read
// its new text, as if the value had been written in place; a quoted one
// stays text.
func expandNode(n *yaml.Node, path string, getenv func(string) string, problems *resources.Problems) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			expandNode(n.Content[i+1], resources.FieldPath(path, n.Content[i].Value), getenv, problems)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			expandNode(c, resources.IndexPath(path, i), getenv, problems)
		}
	case yaml.ScalarNode:
		if !strings.Contains(n.Value, "${") {
			return
		}
		expanded := envRefPattern().ReplaceAllStringFunc(n.Value, func(m string) string {
			if m == "$${" {
				return "${"
			}
			name := m[2 : len(m)-1]
			if !envNamePattern().MatchString(name) {
				problems.Add(path, "%q is not a valid environment variable reference", m)
				return m
			}
			v := getenv(name)
			if v == "" {
				problems.Add(path, "environment variable %s is not set", name)
			}
			return v
		})
		if expanded == n.Value {
			return
		}
		n.Value = expanded
		if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) == 0 {
			n.Tag = ""
		}
	}
}

// checkFields reports mapping keys that name no field of t, at their path,
// so a misspelt setting is not silently ignored.
func checkFields(n *yaml.Node, t reflect.Type, path string, problems *resources.Problems) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	switch {
	case t == reflect.TypeFor[yaml.Node]():
		return
	case t.Kind() == reflect.Struct && n.Kind == yaml.MappingNode:
		fields := map[string]reflect.Type{}
		var names []string
		for i := range t.NumField() {
			sf := t.Field(i)
			name, _, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
			if name == "" || name == "-" {
				continue
			}
			fields[name] = sf.Type
			names = append(names, name)
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := n.Content[i].Value
			ft, ok := fields[key]
			if !ok {
				problems.Add(resources.FieldPath(path, key), "unknown field (line %d); known fields: %s", n.Content[i].Line, strings.Join(names, ", "))
				continue
			}
			checkFields(n.Content[i+1], ft, resources.FieldPath(path, key), problems)
		}
	case t.Kind() == reflect.Slice && n.Kind == yaml.SequenceNode:
		for i, c := range n.Content {
			checkFields(c, t.Elem(), resources.IndexPath(path, i), problems)
		}
	}
}
