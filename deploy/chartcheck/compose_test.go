package chartcheck

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

type composeFile struct {
	Name     string                    `yaml:"name"`
	Services map[string]composeService `yaml:"services"`
}

type composeService struct {
	Image       string            `yaml:"image"`
	Command     []string          `yaml:"command"`
	Environment map[string]string `yaml:"environment"`
	DependsOn   map[string]struct {
		Condition string `yaml:"condition"`
	} `yaml:"depends_on"`
	Healthcheck *struct {
		Test    []string `yaml:"test"`
		Disable bool     `yaml:"disable"`
	} `yaml:"healthcheck"`
	Deploy struct {
		Replicas int `yaml:"replicas"`
	} `yaml:"deploy"`
	StopGracePeriod string   `yaml:"stop_grace_period"`
	Volumes         []string `yaml:"volumes"`
}

func loadCompose(t *testing.T) composeFile {
	t.Helper()
	raw, err := os.ReadFile(composePath)
	require.NoError(t, err)
	var c composeFile
	require.NoError(t, yaml.Unmarshal(raw, &c))
	return c
}

// configEnv lists the HERALD_* variables of the README's configuration
// table, the one that TestREADMEDocumentsEverySetting keeps in step with
// the binary's settings.
func configEnv(t *testing.T) map[string]bool {
	t.Helper()
	raw, err := os.ReadFile(readme)
	require.NoError(t, err)
	row := regexp.MustCompile("(?m)^\\| [a-z.-]+ \\| `--[a-z-]+` \\| `(HERALD_[A-Z_]+)` \\|")
	vars := map[string]bool{}
	for _, m := range row.FindAllStringSubmatch(string(raw), -1) {
		vars[m[1]] = true
	}
	require.Greater(t, len(vars), 20)
	return vars
}

func TestCompose(t *testing.T) {
	t.Parallel()
	c := loadCompose(t)

	names := make([]string, 0, len(c.Services))
	for n := range c.Services {
		names = append(names, n)
	}
	slices.Sort(names)
	require.Equal(t, []string{"migrate", "postgres", "redis", "serve", "temporal", "temporal-namespace", "temporal-schema", "temporal-ui", "worker"}, names)

	// Temporal is the official server at the version Herald embeds, its
	// schema set up by the admin tools (not the deprecated auto-setup).
	require.Equal(t, "temporalio/server:1.32.1", c.Services["temporal"].Image)
	require.Equal(t, "temporalio/admin-tools:1.32.1", c.Services["temporal-schema"].Image)
	for n, s := range c.Services {
		require.NotContains(t, s.Image, "auto-setup", n)
	}

	// Health checks: the dependencies with their own tools, Herald with
	// its healthcheck command (the image has no shell or curl).
	for _, n := range []string{"postgres", "redis", "temporal", "serve", "worker"} {
		hc := c.Services[n].Healthcheck
		require.NotNil(t, hc, "%s has a health check", n)
		require.False(t, hc.Disable, n)
		require.NotEmpty(t, hc.Test, n)
	}
	for _, n := range []string{"serve", "worker"} {
		s := c.Services[n]
		require.Equal(t, []string{"CMD", "/usr/local/bin/herald", "healthcheck"}, s.Healthcheck.Test, n)
		require.Equal(t, 2, s.Deploy.Replicas, n)
		require.Equal(t, []string{n}, s.Command, n)
		require.Equal(t, "service_completed_successfully", s.DependsOn["migrate"].Condition, "%s starts after the migration", n)
		require.Equal(t, "service_completed_successfully", s.DependsOn["temporal-namespace"].Condition, "%s starts once the namespace exists", n)
		require.Equal(t, "service_healthy", s.DependsOn["redis"].Condition, n)
	}
	require.Equal(t, []string{"migrate", "up"}, c.Services["migrate"].Command)
	require.Equal(t, []string{"temporal", "setup"}, c.Services["temporal-namespace"].Command[:2], "the namespace is created by herald temporal setup")
	require.Equal(t, "service_healthy", c.Services["migrate"].DependsOn["postgres"].Condition)
	require.Equal(t, "service_completed_successfully", c.Services["temporal"].DependsOn["temporal-schema"].Condition)
	require.NotEmpty(t, c.Services["worker"].StopGracePeriod, "workers get time to drain")

	// The Temporal server reads the mounted dynamic config, which turns
	// fairness on for the batch chunks' fairness keys.
	temporal := c.Services["temporal"]
	dcPath := temporal.Environment["DYNAMIC_CONFIG_FILE_PATH"]
	require.NotEmpty(t, dcPath)
	var mounted string
	for _, v := range temporal.Volumes {
		if src, dst, ok := strings.Cut(strings.TrimSuffix(v, ":ro"), ":"); ok && dst == dcPath {
			mounted = src
		}
	}
	require.NotEmpty(t, mounted, "the dynamic config file is mounted at %s", dcPath)
	raw, err := os.ReadFile(filepath.Join(filepath.Dir(composePath), mounted))
	require.NoError(t, err)
	var dc map[string][]struct {
		Value any `yaml:"value"`
	}
	require.NoError(t, yaml.Unmarshal(raw, &dc))
	require.Equal(t, true, dc["matching.enableFairness"][0].Value)

	// Every dependency exists, and the graph has an order.
	order := topoOrder(t, c)
	require.Less(t, slices.Index(order, "migrate"), slices.Index(order, "serve"))
	require.Less(t, slices.Index(order, "temporal-schema"), slices.Index(order, "temporal"))

	// Herald's environment names only settings of the configuration table.
	known := configEnv(t)
	for _, n := range []string{"migrate", "serve", "worker"} {
		env := c.Services[n].Environment
		require.NotEmpty(t, env, n)
		for k := range env {
			if strings.HasPrefix(k, "HERALD_") {
				require.True(t, known[k], "%s sets %s, which is not a setting (README configuration table)", n, k)
			}
		}
		for _, k := range []string{"HERALD_MASTER_KEY", "HERALD_DATABASE_URL", "HERALD_REDIS_URL", "HERALD_TEMPORAL_ADDRESS", "HERALD_HTTP_PUBLIC_URL"} {
			require.Contains(t, env, k, n)
		}
	}
}

// TestComposeEnvExample checks that every variable compose.yaml reads from
// .env is in .env.example.
func TestComposeEnvExample(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(composePath)
	require.NoError(t, err)
	ex, err := os.ReadFile(envExample)
	require.NoError(t, err)
	listed := map[string]bool{}
	for _, line := range strings.Split(string(ex), "\n") {
		if k, _, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(k, "#") {
			listed[strings.TrimSpace(k)] = true
		}
	}
	ref := regexp.MustCompile(`\$\{([A-Z_][A-Z0-9_]*)`)
	used := map[string]bool{}
	for _, m := range ref.FindAllStringSubmatch(string(raw), -1) {
		used[m[1]] = true
		require.True(t, listed[m[1]], "compose.yaml reads ${%s}, which .env.example does not list", m[1])
	}
	for k := range listed {
		require.True(t, used[k], ".env.example lists %s, which compose.yaml never reads", k)
	}
}

// topoOrder orders the services so each follows its dependencies, failing
// on an unknown dependency or a cycle.
func topoOrder(t *testing.T, c composeFile) []string {
	t.Helper()
	var order []string
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(string)
	visit = func(n string) {
		s, ok := c.Services[n]
		require.True(t, ok, "unknown service %s in depends_on", n)
		switch state[n] {
		case 1:
			t.Fatalf("depends_on cycle through %s", n)
		case 2:
			return
		}
		state[n] = 1
		deps := make([]string, 0, len(s.DependsOn))
		for d := range s.DependsOn {
			deps = append(deps, d)
		}
		slices.Sort(deps)
		for _, d := range deps {
			visit(d)
		}
		state[n] = 2
		order = append(order, n)
	}
	names := make([]string, 0, len(c.Services))
	for n := range c.Services {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		visit(n)
	}
	return order
}
