package web_test

import (
	"io/fs"
	"path"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/web"
)

// TestDistHasTheConsole checks the embedded build: index.html at the root
// and, when the console is built, its bundles under assets/ with content
// hashes in their names (the long cache of /console/assets/ relies on it).
func TestDistHasTheConsole(t *testing.T) {
	t.Parallel()
	dist := web.Dist()
	index, err := fs.ReadFile(dist, "index.html")
	require.NoError(t, err)
	require.Contains(t, string(index), "<html")
	assets, err := fs.ReadDir(dist, "assets")
	if err != nil {
		require.ErrorIs(t, err, fs.ErrNotExist)
		return // the placeholder of an unbuilt console
	}
	for _, a := range assets {
		name := strings.TrimSuffix(a.Name(), ".gz")
		base := strings.TrimSuffix(name, path.Ext(name))
		require.Contains(t, base, "-", "assets/%s has no content hash in its name", a.Name())
	}
}
