package wechatwork

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/providers"
)

// unknownOutcomeCase is one on_unknown_outcome setting and what it gives.
type unknownOutcomeCase struct {
	name string
	// fields are members added to a valid config.
	fields string
	want   providers.UnknownOutcome
	err    string
}

// policyConfig is base with fields added, as a JSON object.
func policyConfig(base, fields string) json.RawMessage {
	if fields != "" {
		base += "," + fields
	}
	return json.RawMessage("{" + base + "}")
}

// TestSendPolicyDuplicateCheck checks how enable_duplicate_check bears on
// an unknown outcome: an application account resends by default only with
// it, under which WeCom drops the second copy; a group robot cannot
// deduplicate and refuses the setting. The on_unknown_outcome values
// themselves are checked by TestConformance and TestRobotConformance.
func TestSendPolicyDuplicateCheck(t *testing.T) {
	t.Parallel()
	for _, kind := range []struct {
		name string
		p    interface {
			ValidateConfig(json.RawMessage) error
			SendPolicy(providers.Account) providers.SendPolicy
		}
		base  string
		cases []unknownOutcomeCase
	}{
		{Kind, New(), `"corp_id":"ww1","corp_secret":"s","agent_id":1000002`, []unknownOutcomeCase{
			{"DuplicateCheckOff", `"enable_duplicate_check":false`, providers.OnUnknownFail, ""},
			{"DuplicateCheck", `"enable_duplicate_check":true`, providers.OnUnknownResend, ""},
			{"DuplicateCheckWithInterval", `"enable_duplicate_check":true,"duplicate_check_interval":600`, providers.OnUnknownResend, ""},
			{"DuplicateCheckButFail", `"enable_duplicate_check":true,"on_unknown_outcome":"fail"`, providers.OnUnknownFail, ""},
			{"ErrDuplicateCheckNotABoolean", `"enable_duplicate_check":1`, "", "enable_duplicate_check must be a boolean"},
			{"ErrIntervalNegative", `"enable_duplicate_check":true,"duplicate_check_interval":-1`, "", "duplicate_check_interval must be between 1 and 14400 seconds"},
			{"ErrIntervalWithoutCheck", `"duplicate_check_interval":600`, "", "duplicate_check_interval only applies with enable_duplicate_check: true"},
			{"ErrIntervalWithCheckOff", `"enable_duplicate_check":false,"duplicate_check_interval":600`, "", "duplicate_check_interval only applies with enable_duplicate_check: true"},
			{"ErrIntervalTooLong", `"enable_duplicate_check":true,"duplicate_check_interval":14401`, "", "duplicate_check_interval must be between 1 and 14400 seconds"},
		}},
		{RobotKind, NewRobot(), `"key":"k1"`, []unknownOutcomeCase{
			{"ErrDuplicateCheck", `"enable_duplicate_check":true`, "", `unknown field "enable_duplicate_check"`},
		}},
	} {
		t.Run(kind.name, func(t *testing.T) {
			t.Parallel()
			for _, tc := range kind.cases {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					raw := policyConfig(kind.base, tc.fields)
					err := kind.p.ValidateConfig(raw)
					if tc.err != "" {
						require.ErrorContains(t, err, "invalid "+kind.name+" config: ")
						require.ErrorContains(t, err, tc.err)
						return
					}
					require.NoError(t, err)
					policy := kind.p.SendPolicy(providers.Account{ID: 1, Kind: kind.name, Config: raw})
					require.Equal(t, tc.want, policy.OnUnknownOutcome)
				})
			}
		})
	}
}
