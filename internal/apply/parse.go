package apply

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// parseFile reads the YAML document, expands ${VAR} references in its
// values, refuses unknown fields and decodes it. The file is nil, and the
// problems say why, when it cannot be read as a whole; the checks of its
// content (validateFile) then cannot run.
func parseFile(raw []byte, getenv func(string) string) (*document, problemList) {
	var problems problemList
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		problems.add("", "not valid YAML: %s", strings.TrimPrefix(err.Error(), "yaml: "))
		return nil, problems
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		problems.add("", "the file is empty")
		return nil, problems
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		problems.add("", "the file must be a mapping with apps, templates, accounts, channels and rules")
		return nil, problems
	}
	// Variables are expanded in the parsed values rather than in the raw
	// text, so a secret holding ": " or a quote cannot change the file's
	// structure; a missing variable is reported at its path.
	expandNode(root, "", getenv, &problems)
	checkFields(root, reflect.TypeFor[document](), "", &problems)
	if len(problems) > 0 {
		return nil, problems
	}
	var f document
	if err := root.Decode(&f); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			for _, e := range te.Errors {
				line, msg, ok := strings.Cut(e, ": ")
				if !ok {
					line, msg = "", e
				}
				problems.add(line, "%s", msg)
			}
		} else {
			problems.add("", "%v", err)
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
func expandNode(n *yaml.Node, path string, getenv func(string) string, problems *problemList) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			expandNode(n.Content[i+1], field(path, n.Content[i].Value), getenv, problems)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			expandNode(c, at(path, i), getenv, problems)
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
				problems.add(path, "%q is not a valid environment variable reference", m)
				return m
			}
			v := getenv(name)
			if v == "" {
				problems.add(path, "environment variable %s is not set", name)
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
func checkFields(n *yaml.Node, t reflect.Type, path string, problems *problemList) {
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
				problems.add(field(path, key), "unknown field (line %d); known fields: %s", n.Content[i].Line, strings.Join(names, ", "))
				continue
			}
			checkFields(n.Content[i+1], ft, field(path, key), problems)
		}
	case t.Kind() == reflect.Slice && n.Kind == yaml.SequenceNode:
		for i, c := range n.Content {
			checkFields(c, t.Elem(), at(path, i), problems)
		}
	}
}

// nodeJSON turns a YAML node into the value its JSON form holds: mappings
// become objects (keys as written), scalars keep the type YAML reads.
func nodeJSON(n *yaml.Node) (any, error) {
	switch n.Kind {
	case yaml.AliasNode:
		if n.Alias == nil {
			return nil, errors.New("alias without anchor")
		}
		return nodeJSON(n.Alias)
	case yaml.MappingNode:
		obj := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("line %d: keys must be plain text", k.Line)
			}
			v, err := nodeJSON(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			obj[k.Value] = v
		}
		return obj, nil
	case yaml.SequenceNode:
		arr := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := nodeJSON(c)
			if err != nil {
				return nil, err
			}
			arr = append(arr, v)
		}
		return arr, nil
	case yaml.ScalarNode:
		var v any
		if err := n.Decode(&v); err != nil {
			return nil, fmt.Errorf("line %d: %w", n.Line, err)
		}
		return v, nil
	}
	return nil, nil
}
