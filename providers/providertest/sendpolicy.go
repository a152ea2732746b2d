package providertest

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/providers"
)

// onUnknownOutcome checks that on_unknown_outcome is validated with the
// rest of an account's config and reaches the account's send policy, and
// that an absent, empty or null one gives the provider's default. A
// provider without the setting refuses it.
func onUnknownOutcome(t *testing.T, s Suite) {
	if s.OnUnknownOutcome == "" {
		cfg := withField(t, s, `"fail"`)
		require.ErrorContains(t, s.Provider.ValidateConfig(cfg), `unknown field "on_unknown_outcome"`,
			"a provider without the setting takes it")
		require.Empty(t, providers.SendPolicyOf(s.Provider, account(s, s.Config(anyVendor))).OnUnknownOutcome)
		return
	}
	for _, tc := range []struct {
		name string
		// value is the on_unknown_outcome member's value; empty leaves
		// the member out.
		value string
		want  providers.UnknownOutcome
		err   string
	}{
		{"Absent", "", s.OnUnknownOutcome, ""},
		{"Empty", `""`, s.OnUnknownOutcome, ""},
		{"Null", `null`, s.OnUnknownOutcome, ""},
		{"Resend", `"resend"`, providers.OnUnknownResend, ""},
		{"Fail", `"fail"`, providers.OnUnknownFail, ""},
		{"ErrUnknownValue", `"retry"`, "", `on_unknown_outcome "retry" must be resend or fail`},
		{"ErrCase", `"Fail"`, "", `on_unknown_outcome "Fail" must be resend or fail`},
		{"ErrNotAString", `true`, "", "on_unknown_outcome must be a string"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := withField(t, s, tc.value)
			err := s.Provider.ValidateConfig(cfg)
			if tc.err != "" {
				require.ErrorContains(t, err, "invalid "+s.Provider.Kind()+" config: ")
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, providers.SendPolicyOf(s.Provider, account(s, cfg)).OnUnknownOutcome)
		})
	}
}

// anyVendor is a vendor address for configs that are only validated.
var anyVendor = Vendor{Host: "127.0.0.1", Port: 1, Addr: "127.0.0.1:1", URL: "http://127.0.0.1:1", Timeout: Timeout}

// withField is the suite's valid config with on_unknown_outcome set to
// value, a JSON text, or left out when value is empty.
func withField(t *testing.T, s Suite, value string) json.RawMessage {
	t.Helper()
	var members map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(s.Config(anyVendor), &members), "Suite.Config is a JSON object")
	delete(members, "on_unknown_outcome")
	if value != "" {
		members["on_unknown_outcome"] = json.RawMessage(value)
	}
	return JSON(t, members)
}
