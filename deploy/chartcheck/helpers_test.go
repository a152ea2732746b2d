package chartcheck

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"
)

// Paths from this package's directory.
const (
	chartDir    = "../helm/herald"
	toolsDir    = "../tools"
	composePath = "../compose/compose.yaml"
	envExample  = "../compose/.env.example"
	alertsFile  = "../prometheus/alerts.yaml"
	dashboard   = "../grafana/herald.json"
	readme      = "../../README.md"
	metricsSrc  = "../../internal/metrics/metrics.go"
)

var (
	helmOnce sync.Once
	helmPath string
	helmErr  error
)

// helm returns the pinned helm binary, built once per test run from the
// tools module (the Go build cache makes later runs quick).
func helm(t *testing.T) string {
	t.Helper()
	helmOnce.Do(func() {
		// `go tool -n` builds the tool once and keeps the binary in the Go
		// build cache; later runs only look it up.
		cmd := exec.Command("go", "tool", "-n", "helm")
		cmd.Dir = toolsDir
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			helmErr = fmt.Errorf("build helm: %w\n%s", err, stderr.String())
			return
		}
		helmPath = strings.TrimSpace(string(out))
	})
	require.NoError(t, helmErr)
	return helmPath
}

// runHelm runs helm with args and returns its standard output, or its
// error with standard error.
func runHelm(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(helm(t), args...)
	// Keep helm away from any user configuration and repository cache.
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "HELM_CONFIG_HOME="+home, "HELM_CACHE_HOME="+home, "HELM_DATA_HOME="+home)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("helm %s: %w\n%s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String(), nil
}

// manifest is one rendered document: its kind and name, and its JSON.
type manifest struct {
	Kind, Name string
	JSON       []byte
}

var docSep = regexp.MustCompile(`(?m)^---\s*$`)

// split parses helm template output into manifests, skipping empty ones.
func split(t *testing.T, out string) []manifest {
	t.Helper()
	var ms []manifest
	for _, doc := range docSep.Split(out, -1) {
		if strings.TrimSpace(stripComments(doc)) == "" {
			continue
		}
		js, err := yaml.YAMLToJSON([]byte(doc))
		require.NoError(t, err, doc)
		var head struct {
			Kind     string `json:"kind"`
			Metadata struct {
				Name string `json:"name"`
			} `json:"metadata"`
		}
		require.NoError(t, json.Unmarshal(js, &head))
		require.NotEmpty(t, head.Kind, "a document without a kind:\n%s", doc)
		ms = append(ms, manifest{Kind: head.Kind, Name: head.Metadata.Name, JSON: js})
	}
	return ms
}

func stripComments(doc string) string {
	var b strings.Builder
	for _, line := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

// decodeStrict decodes js into v refusing unknown fields, as the API
// server's strict field validation does.
func decodeStrict(t *testing.T, m manifest, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(m.JSON))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(v), "%s %s does not decode strictly", m.Kind, m.Name)
}
