package store

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPlaceholders(t *testing.T) {
	t.Parallel()
	require.Equal(t, map[string]bool{"code": true, "min": true, "a.b": true},
		Placeholders("Code {{code}}, {{ min }} min", "{{a.b}} {{code}} {{ }} {{x y}} {x}"))
	require.Empty(t, Placeholders("", "no vars"))
}

func TestFillPlaceholders(t *testing.T) {
	t.Parallel()
	params := map[string]string{"code": "1234", "min": "{{code}}"}
	got := FillPlaceholders("Code {{code}}, {{ min }} min, {{missing}}", func(name string) (string, bool) {
		v, ok := params[name]
		return v, ok
	})
	// A value is not expanded again, and unknown placeholders stay.
	require.Equal(t, "Code 1234, {{code}} min, {{missing}}", got)
}
