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

// TestREADMEDevBannerIsCurrent keeps the README's sample of herald dev's
// banner in step with what it prints: every line of the sample but the
// elisions is a line of the banner.
func TestREADMEDevBannerIsCurrent(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	readme := string(raw)
	start := strings.Index(readme, "Herald is running (dev mode).")
	require.Positive(t, start, "README lacks the sample banner")
	sample := readme[start : start+strings.Index(readme[start:], "```")]

	cfg := config.Defaults()
	s := &stack{cfg: cfg, apiURL: "http://127.0.0.1:8080", adminURL: "http://127.0.0.1:8080", uiURL: "http://127.0.0.1:8233", opsURL: "http://127.0.0.1:9090"}
	var out strings.Builder
	printDevBanner(&out, s, demoInfo{AppID: demoAppID, Secret: "<printed secret>", ChannelID: 1}, devAdmin{Created: true, Password: "pw"})
	banner := strings.Split(out.String(), "\n")
	for _, line := range strings.Split(strings.TrimSpace(sample), "\n") {
		if strings.TrimSpace(line) == "..." {
			continue
		}
		require.Contains(t, banner, line, "README's sample banner line is not printed by herald dev")
	}
}
