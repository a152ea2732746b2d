package main

import (
	"os"
	"strings"
	"testing"

	"github.com/spf13/pflag"
	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/config"
)

// TestREADMEDocumentsEverySetting keeps the README's configuration table in
// step with the settings the binary accepts.
func TestREADMEDocumentsEverySetting(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	readme := string(raw)

	fs := pflag.NewFlagSet("herald", pflag.ContinueOnError)
	config.NewLoader(fs)
	n := 0
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Name == "config" {
			return
		}
		n++
		require.Contains(t, readme, "`--"+f.Name+"`", "README configuration table lacks --%s", f.Name)
		env := f.Usage[strings.LastIndex(f.Usage, "(env ")+len("(env ") : len(f.Usage)-1]
		require.Contains(t, readme, "`"+env+"`", "README configuration table lacks %s", env)
	})
	require.Greater(t, n, 20)

	// The first lines give the two commands a newcomer runs.
	head := strings.Join(strings.SplitN(readme, "\n", 8)[:7], "\n")
	require.Contains(t, head, "go run ./cmd/herald dev")
	require.Contains(t, head, "go test ./...")
}
