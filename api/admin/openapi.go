package admin

import (
	"errors"
	"fmt"

	"gopkg.in/yaml.v3"
)

// MergeOpenAPI adds the paths and components of each fragment to the base
// document. A path or component named twice is an error: two route groups
// claiming one path is a wiring bug that must not reach the document
// silently. Without fragments the base is returned unchanged, byte for
// byte.
func MergeOpenAPI(base []byte, fragments ...[]byte) ([]byte, error) {
	if len(fragments) == 0 {
		return base, nil
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(base, &doc); err != nil {
		return nil, fmt.Errorf("merge openapi: base: %w", err)
	}
	root, err := documentMapping(&doc)
	if err != nil {
		return nil, fmt.Errorf("merge openapi: base: %w", err)
	}
	for i, raw := range fragments {
		var frag yaml.Node
		if err := yaml.Unmarshal(raw, &frag); err != nil {
			return nil, fmt.Errorf("merge openapi: fragment %d: %w", i, err)
		}
		fm, err := documentMapping(&frag)
		if err != nil {
			return nil, fmt.Errorf("merge openapi: fragment %d: %w", i, err)
		}
		for j := 0; j+1 < len(fm.Content); j += 2 {
			key, value := fm.Content[j].Value, fm.Content[j+1]
			switch key {
			case "paths":
				if err := mergeMapping(child(root, "paths"), value, "path"); err != nil {
					return nil, fmt.Errorf("merge openapi: fragment %d: %w", i, err)
				}
			case "components":
				components := child(root, "components")
				for k := 0; k+1 < len(value.Content); k += 2 {
					kind := value.Content[k].Value
					if err := mergeMapping(child(components, kind), value.Content[k+1], kind); err != nil {
						return nil, fmt.Errorf("merge openapi: fragment %d: %w", i, err)
					}
				}
			default:
				return nil, fmt.Errorf("merge openapi: fragment %d: only paths and components may be merged, not %q", i, key)
			}
		}
	}
	out, err := yaml.Marshal(&doc)
	if err != nil {
		return nil, fmt.Errorf("merge openapi: %w", err)
	}
	return out, nil
}

func documentMapping(doc *yaml.Node) (*yaml.Node, error) {
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, errors.New("not a YAML mapping")
	}
	return doc.Content[0], nil
}

// child returns the mapping under key, adding an empty one when absent.
func child(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	k := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}
	v := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	m.Content = append(m.Content, k, v)
	return v
}

func mergeMapping(into, from *yaml.Node, what string) error {
	if from.Kind != yaml.MappingNode {
		return fmt.Errorf("%s entries must be a mapping", what)
	}
	have := map[string]bool{}
	for i := 0; i+1 < len(into.Content); i += 2 {
		have[into.Content[i].Value] = true
	}
	for i := 0; i+1 < len(from.Content); i += 2 {
		name := from.Content[i].Value
		if have[name] {
			return fmt.Errorf("%s %q is defined twice", what, name)
		}
		have[name] = true
		into.Content = append(into.Content, from.Content[i], from.Content[i+1])
	}
	return nil
}
