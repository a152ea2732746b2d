package traffic

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/providers"
	"github.com/heraldhq/herald/providers/sandbox"
	"github.com/heraldhq/herald/providers/zrwinfo"
)

func TestRegionOf(t *testing.T) {
	t.Parallel()
	require.Equal(t, "CN", RegionOf("+8613800138000"))
	require.Equal(t, "HK", RegionOf("+85291234567"))
	require.Equal(t, "US", RegionOf("+14155550100"))
	require.Empty(t, RegionOf("ops-team"))
}

func TestAccountReaches(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		mainlandOnlyProvider bool
		countries            []string
		region               string
		want                 bool
	}{
		"NoLimit":                     {region: "US", want: true},
		"NoLimitUnknownRegion":        {region: "", want: true},
		"Listed":                      {countries: []string{"CN", "HK"}, region: "HK", want: true},
		"NotListed":                   {countries: []string{"CN"}, region: "HK"},
		"InternationalForeign":        {countries: []string{International}, region: "HK", want: true},
		"InternationalNotMainland":    {countries: []string{International}, region: "CN"},
		"LimitedUnknownRegion":        {countries: []string{International}, region: ""},
		"ProviderMainlandOnly":        {mainlandOnlyProvider: true, region: "CN", want: true},
		"ProviderRefusesForeign":      {mainlandOnlyProvider: true, region: "US"},
		"ProviderAndAccountBothCheck": {mainlandOnlyProvider: true, countries: []string{International}, region: "CN"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var p providers.Provider = sandbox.New()
			if tc.mainlandOnlyProvider {
				p = zrwinfo.New()
			}
			require.Equal(t, tc.want, AccountReaches(p, tc.countries, tc.region))
		})
	}
}
