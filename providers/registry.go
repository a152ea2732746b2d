package providers

import (
	"fmt"
	"sort"
)

// Registry maps provider kinds to their implementations.
type Registry struct {
	byKind map[string]Provider
}

// NewRegistry returns a registry holding ps. Two providers of one kind are a
// programming error and panic at start-up.
func NewRegistry(ps ...Provider) *Registry {
	r := &Registry{byKind: make(map[string]Provider, len(ps))}
	for _, p := range ps {
		if _, dup := r.byKind[p.Kind()]; dup {
			panic(fmt.Sprintf("providers: kind %q registered twice", p.Kind()))
		}
		r.byKind[p.Kind()] = p
	}
	return r
}

// Get returns the provider of kind, or an error naming the known kinds.
func (r *Registry) Get(kind string) (Provider, error) {
	p, ok := r.byKind[kind]
	if !ok {
		return nil, fmt.Errorf("unknown provider kind %q (known: %v)", kind, r.Kinds())
	}
	return p, nil
}

// Kinds lists the registered kinds in order.
func (r *Registry) Kinds() []string {
	kinds := make([]string, 0, len(r.byKind))
	for k := range r.byKind {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	return kinds
}
