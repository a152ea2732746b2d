package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestQuotaShowCommand(t *testing.T) {
	t.Parallel()
	s := newApplyStore(t)
	s.mustApply(nil, "apps:\n  - id: shop\n    name: Shop\n    quota:\n      daily: 100\n      monthly: 2000\n"+applyBase)

	res := runCLI(t, nil, s.args("quota", "show", "shop")...)
	require.Equal(t, 0, res.code, res.stderr)
	lines := strings.Split(strings.TrimSpace(res.stdout), "\n")
	require.Len(t, lines, 3, res.stdout)
	require.Contains(t, lines[0], "QUOTA")
	require.Regexp(t, `^daily\s+app\s+100\s+0\s+0\s+100\s+\d{4}-\d\d-\d\dT00:00:00\+08:00$`, lines[1])
	require.Regexp(t, `^monthly\s+app\s+2000\s+0\s+0\s+2000\s+\d{4}-\d\d-01T00:00:00\+08:00$`, lines[2])

	res = runCLI(t, nil, s.args("quota", "show", "nope")...)
	require.Equal(t, 1, res.code)
	require.Contains(t, res.stderr, `no app "nope"`)

	res = runCLI(t, nil, s.args("quota", "show")...)
	require.Equal(t, 1, res.code)
	require.Contains(t, res.stderr, "name the app")

	res = runCLI(t, nil, "quota", "show", "--help")
	require.Equal(t, 0, res.code)
	require.Contains(t, res.stdout, "herald quota show shop")
}
