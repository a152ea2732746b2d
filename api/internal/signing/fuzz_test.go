package signing

import (
	"encoding/json"
	"errors"
	"math"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// maxFuzzBody keeps fuzz inputs to the size of real requests' interesting
// parts; the canonicalisation is linear in the body.
const maxFuzzBody = 16 << 10

// FuzzCanonical checks the two canonical forms on any body: invalid JSON is
// a *SyntaxError in every form; a body signed in the Go form or in either
// PHP form verifies against the candidates the server computes; each form
// is valid JSON and canonicalising it again changes nothing.
func FuzzCanonical(f *testing.F) {
	for _, seed := range []string{
		``, ` `, `{}`, `[]`, `null`, `"s"`, `0`, `-0`, `-0.0`, `1e400`, `12345678901234567890`,
		`{"channel_id":1,"receiver":"+8613800138000","template_params":{"code":"123456"}}`,
		`{"b": {"y": 1, "x": [true, null]}, "a": "1"}`,
		`{"s": "<a href=\"/x\">&</a>", "p": {}, "q": []}`,
		`{"s": "短信 \u00e9 \u2028 \u0001 \ud800"}`,
		`{"10": "x", "9": "y", "a": "z", "1": {"0": "a", "1": "b"}, "0": {}}`,
		`{"f": [1.50, 1.0, 1e25, 0.0001, 0.00001, -2.5e-7, 1e17, 1e16, 5e-324]}`,
		`{"a": tru}`, `{"a":1} x`, `{"a":1}]`, `[1,2`, "{\"a\":\"\xff\"}",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if len(body) > maxFuzzBody {
			t.Skip()
		}
		goForm, goErr := GoCanonical(body)
		phpForm, phpErr := PHPCanonical(body, false)
		phpArray, phpArrayErr := PHPCanonical(body, true)
		candidates, candErr := Candidates(body)

		if !HasBody(body) {
			require.NoError(t, goErr)
			require.NoError(t, phpErr)
			require.NoError(t, candErr)
			require.Empty(t, goForm)
			require.Empty(t, phpForm)
			require.Equal(t, []string{""}, candidates)
			return
		}
		if !json.Valid(body) {
			for _, err := range []error{goErr, phpErr, phpArrayErr, candErr} {
				var se *SyntaxError
				require.True(t, errors.As(err, &se), "invalid JSON must be a *SyntaxError, got %v", err)
			}
			return
		}
		require.NoError(t, phpErr)
		require.NoError(t, phpArrayErr)
		require.NoError(t, candErr)

		// What the server accepts: a signature over any candidate.
		verifies := func(form string) bool {
			sig := Sign("secret", "POST", "/api/v1/messages", form, "1700000000", "nonce")
			for _, c := range candidates {
				if Equal(sig, Sign("secret", "POST", "/api/v1/messages", c, "1700000000", "nonce")) {
					return true
				}
			}
			return false
		}
		if goErr == nil {
			require.True(t, verifies(goForm), "Go form %s does not verify", goForm)
			require.True(t, json.Valid([]byte(goForm)))
			again, err := GoCanonical([]byte(goForm))
			require.NoError(t, err)
			require.Equal(t, goForm, again, "the Go form is not idempotent")
		}
		require.True(t, verifies(phpForm), "PHP form %s does not verify", phpForm)
		require.True(t, verifies(phpArray), "PHP form with [] for {} %s does not verify", phpArray)
		require.LessOrEqual(t, len(candidates), 3)
		require.Len(t, slices.Compact(slices.Clone(candidates)), len(candidates), "candidates repeat")

		for _, form := range []string{phpForm, phpArray} {
			require.True(t, json.Valid([]byte(form)), "PHP form is not JSON: %s", form)
			v, err := Decode(body)
			require.NoError(t, err)
			if hasNegativeZero(v) {
				// PHP itself prints the float -0.0 as "-0" and reads that back
				// as the integer 0: its canonical form is not idempotent there,
				// and ours must match it byte for byte, not improve on it.
				continue
			}
			again, err := PHPCanonical([]byte(form), false)
			require.NoError(t, err)
			require.Equal(t, form, again, "the PHP form is not idempotent")
		}
	})
}

// hasNegativeZero reports whether v holds a number that PHP reads as the
// float -0.0.
func hasNegativeZero(v any) bool {
	switch t := v.(type) {
	case json.Number:
		f, err := t.Float64()
		return err == nil && f == 0 && math.Signbit(f)
	case map[string]any:
		for _, e := range t {
			if hasNegativeZero(e) {
				return true
			}
		}
	case []any:
		for _, e := range t {
			if hasNegativeZero(e) {
				return true
			}
		}
	}
	return false
}
