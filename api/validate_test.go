package api

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/nyaruka/phonenumbers"
	"github.com/stretchr/testify/require"
)

// parsedReceiver is what the library alone makes of an SMS receiver:
// whether it parses, whether it is valid, and its E.164 form.
func parsedReceiver(s string) (parsed, valid bool, e164 string) {
	num, err := phonenumbers.Parse(s, defaultPhoneRegion)
	if err != nil {
		return false, false, ""
	}
	return true, phonenumbers.IsValidNumber(num), phonenumbers.Format(num, phonenumbers.E164)
}

// TestChinaMobileAgreesWithParse compares chinaMobile with the library's
// Parse for numbers under every five-digit prefix from 13000 to 19999, a
// few random numbers each, written with and without +86: the fast path
// must accept, refuse and normalise exactly as the library does.
func TestChinaMobileAgreesWithParse(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	compared, valid := 0, 0
	for prefix := 13000; prefix <= 19999; prefix++ {
		for range 4 {
			digits := fmt.Sprintf("%d%06d", prefix, rng.IntN(1000000))
			for _, s := range []string{digits, "+86" + digits} {
				e164, fastValid, ok := chinaMobile(s)
				if prefix/100 == 179 && s == digits {
					require.False(t, ok, "%s may start with a carrier code: the library reads it", s)
					continue
				}
				require.True(t, ok, s)
				parsed, wantValid, wantE164 := parsedReceiver(s)
				require.True(t, parsed, "the library parses %s", s)
				require.Equal(t, wantValid, fastValid, "validity of %s", s)
				require.Equal(t, wantE164, e164, "E.164 form of %s", s)
				compared++
				if wantValid {
					valid++
				}
			}
		}
	}
	require.Greater(t, valid, compared/4, "the sample holds valid numbers")
	require.Less(t, valid, compared, "and invalid ones")

	for _, s := range []string{"+8613800138", "+86138001380001", "11002002906", "+8612345678901", "17951138001", "+861380013800a", "23800138000", "+85213800138000", "+86 13800138000", "１3800138000", ""} {
		_, _, ok := chinaMobile(s)
		require.False(t, ok, "%q takes the library's path", s)
	}
}

// BenchmarkNormalizeReceiver compares a mainland mobile number's check on
// the fast path with the library's full parse of the same number.
func BenchmarkNormalizeReceiver(b *testing.B) {
	b.Run("library", func(b *testing.B) {
		for b.Loop() {
			parsedReceiver("+8613800138000")
		}
	})
	b.Run("fast", func(b *testing.B) {
		for b.Loop() {
			_, _, _ = normalizeReceiver("sms", "+8613800138000")
		}
	})
}
