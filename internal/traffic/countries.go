package traffic

import (
	"slices"

	"github.com/nyaruka/phonenumbers"

	"github.com/heraldhq/herald/providers"
)

// International, in an account's countries, stands for every region but
// mainland China ("CN"). Tencent Cloud, for one, sends mainland and
// international SMS with different templates and refuses a request that
// mixes the two, so an account is set up for one side or the other.
const International = "international"

// Mainland is the ISO 3166 region of mainland China.
const Mainland = "CN"

// RegionOf returns the ISO 3166 region of an E.164 phone number, "" when
// it has none (not a phone number, or an unassigned prefix).
func RegionOf(e164 string) string {
	num, err := phonenumbers.Parse(e164, "")
	if err != nil {
		return ""
	}
	return phonenumbers.GetRegionCodeForNumber(num)
}

// AccountReaches reports whether an account of provider p, limited to
// countries (ISO codes, or International alone; empty: no limit of its
// own), can send to a phone number of region. A provider that does not
// implement providers.CountryLimiter reaches every region. A number
// whose region is unknown is reached only by accounts without a limit of
// their own or their provider's: nothing says it is foreign or mainland.
func AccountReaches(p providers.Provider, countries []string, region string) bool {
	if cl, ok := p.(providers.CountryLimiter); ok && !cl.SupportsCountry(region) {
		return false
	}
	return CountriesAllow(countries, region)
}

// CountriesAllow reports whether an account's countries setting lets a
// number of region through: any region when the setting is empty, every
// region but mainland China for International, else only the regions
// listed.
func CountriesAllow(countries []string, region string) bool {
	switch {
	case len(countries) == 0:
		return true
	case region == "":
		return false
	case slices.Contains(countries, International):
		return region != Mainland
	}
	return slices.Contains(countries, region)
}
