package dingtalk

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/providers"
)

// TestSendPolicyOnUnknownOutcome checks that on_unknown_outcome is
// validated with the rest of an account's config, and that an absent,
// empty or null one gives the default, "fail": a group robot cannot deduplicate, so a resend could post the
// message to the group twice.
func TestSendPolicyOnUnknownOutcome(t *testing.T) {
	t.Parallel()
	p := New()
	for _, tc := range []struct {
		name string
		// field is the on_unknown_outcome member added to a valid config.
		field string
		want  providers.UnknownOutcome
		err   string
	}{
		{"Absent", "", providers.OnUnknownFail, ""},
		{"Empty", `"on_unknown_outcome":""`, providers.OnUnknownFail, ""},
		{"Null", `"on_unknown_outcome":null`, providers.OnUnknownFail, ""},
		{"Resend", `"on_unknown_outcome":"resend"`, providers.OnUnknownResend, ""},
		{"Fail", `"on_unknown_outcome":"fail"`, providers.OnUnknownFail, ""},
		{"ErrUnknownValue", `"on_unknown_outcome":"retry"`, "", `on_unknown_outcome "retry" must be resend or fail`},
		{"ErrCase", `"on_unknown_outcome":"Fail"`, "", `on_unknown_outcome "Fail" must be resend or fail`},
		{"ErrNotAString", `"on_unknown_outcome":true`, "", "on_unknown_outcome must be a string"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := `{` + `"access_token":"x"`
			if tc.field != "" {
				cfg += `,` + tc.field
			}
			raw := json.RawMessage(cfg + `}`)
			err := p.ValidateConfig(raw)
			if tc.err != "" {
				require.ErrorContains(t, err, "invalid dingtalk config: ")
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			policy := p.SendPolicy(providers.Account{ID: 1, Kind: Kind, Config: raw})
			require.Equal(t, tc.want, policy.OnUnknownOutcome)
		})
	}
}
