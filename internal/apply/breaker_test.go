package apply

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestApplyAccountBreaker(t *testing.T) {
	t.Parallel()
	s := newApplyStore(t)
	account := "    config: {latency_ms: 1}\n"
	withBreaker := strings.Replace(applyBase, account,
		account+"    breaker: {min_failures: 20, failure_ratio: 0.3, window_seconds: 30, cool_down_seconds: 120, probes: 3, close_after: 2}\n", 1)
	s.mustApply(nil, withBreaker)
	acc, err := s.db.FindAccountByName(t.Context(), "sbx-b")
	require.NoError(t, err)
	require.JSONEq(t, `{"min_failures":20,"failure_ratio":0.3,"window_seconds":30,"cool_down_seconds":120,"probes":3,"close_after":2}`, acc.Breaker)
	require.NotContains(t, s.mustApply(nil, withBreaker), "sbx-b: updated", "applying the same file changes nothing")

	// Without the key the account is back to the defaults.
	out := s.mustApply(nil, applyBase)
	require.Contains(t, out, "account sbx-b: updated (breaker)")
	acc, err = s.db.FindAccountByName(t.Context(), "sbx-b")
	require.NoError(t, err)
	require.Empty(t, acc.Breaker)

	bad := strings.Replace(applyBase, account, account+"    breaker: {failure_ratio: 2, probes: 2, close_after: 3}\n", 1)
	res := s.apply(nil, bad)
	require.NotEqual(t, 0, res.code)
	require.Contains(t, res.err, "breaker: failure_ratio must be between 0 and 1")
	bad = strings.Replace(applyBase, account, account+"    breaker: {probes: 2, close_after: 3}\n", 1)
	res = s.apply(nil, bad)
	require.Contains(t, res.err, "close_after (3) must not exceed probes (2)")
}

func TestApplyAccountCountries(t *testing.T) {
	t.Parallel()
	s := newApplyStore(t)
	account := "    config: {latency_ms: 1}\n"
	mainland := strings.Replace(applyBase, account, account+"    countries: [CN]\n", 1)
	s.mustApply(nil, mainland)
	acc, err := s.db.FindAccountByName(t.Context(), "sbx-b")
	require.NoError(t, err)
	require.Equal(t, []string{"CN"}, acc.Countries)
	require.NotContains(t, s.mustApply(nil, mainland), "sbx-b: updated", "applying the same file changes nothing")

	intl := strings.Replace(applyBase, account, account+"    countries: [international]\n", 1)
	require.Contains(t, s.mustApply(nil, intl), "account sbx-b: updated (countries)")
	acc, err = s.db.FindAccountByName(t.Context(), "sbx-b")
	require.NoError(t, err)
	require.Equal(t, []string{"international"}, acc.Countries)

	require.Contains(t, s.mustApply(nil, applyBase), "account sbx-b: updated (countries)", "without the key the account reaches every country")
	acc, err = s.db.FindAccountByName(t.Context(), "sbx-b")
	require.NoError(t, err)
	require.Empty(t, acc.Countries)

	res := s.apply(nil, strings.Replace(applyBase, account, account+"    countries: [international, HK]\n", 1))
	require.NotEqual(t, 0, res.code)
	require.Contains(t, res.err, `"international" stands for every country but mainland China and must be the only entry`)
	res = s.apply(nil, strings.Replace(applyBase, account, account+"    countries: [cn]\n", 1))
	require.Contains(t, res.err, `countries[0]: "cn" is not an ISO 3166 country code`)
}
