package dingtalk_test

import (
	"encoding/json"
	"testing"

	"github.com/heraldhq/herald/providers"
	"github.com/heraldhq/herald/providers/dingtalk"
	"github.com/heraldhq/herald/providers/providertest"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	providertest.Run(t, providertest.Suite{
		Provider:  dingtalk.New(),
		Transport: providertest.HTTP,
		Config: func(v providertest.Vendor) json.RawMessage {
			return providertest.JSON(t, dingtalk.Config{AccessToken: "tok-SECRET", Secret: "SECsecret-sign",
				BaseURL: v.URL, TimeoutMS: v.TimeoutMS()})
		},
		Message: providers.Message{TaskID: "0b7f4a52-3c1e-4d6a-9f0e-6a2b8c4d1e3f", Attempt: 1, Receiver: "-",
			Content: "disk /var on db-1 is 91% full"},
		BadConfig:   json.RawMessage(`{"acess_token":"tok-SECRET","secret":"nope-SECRET","timeout_ms":"10"}`),
		BadProblems: []string{`unknown field "acess_token"`, "timeout_ms must be an integer", "access_token or webhook_url is required", "signing secret"},
		Secrets:     []string{"tok-SECRET", "secret-sign", "nope-SECRET"},
		// A group robot cannot deduplicate: a resend could post the message
		// twice.
		OnUnknownOutcome: providers.OnUnknownFail,
	})
}
