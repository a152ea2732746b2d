package feishu_test

import (
	"encoding/json"
	"testing"

	"github.com/heraldhq/herald/providers"
	"github.com/heraldhq/herald/providers/feishu"
	"github.com/heraldhq/herald/providers/providertest"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	providertest.Run(t, providertest.Suite{
		Provider:  feishu.New(),
		Transport: providertest.HTTP,
		Config: func(v providertest.Vendor) json.RawMessage {
			return providertest.JSON(t, feishu.Config{HookID: "hook-SECRET", Secret: "sign-SECRET",
				BaseURL: v.URL, TimeoutMS: v.TimeoutMS()})
		},
		Message: providers.Message{TaskID: "5d6e7f80-1a2b-4c3d-8e9f-0a1b2c3d4e5f", Attempt: 1, Receiver: "-",
			Content: "disk /var on db-1 is 91% full"},
		BadConfig:   json.RawMessage(`{"hookid":"hook-SECRET","secret":" x","timeout_ms":-1}`),
		BadProblems: []string{`unknown field "hookid"`, "webhook_url or hook_id is required", "secret", "timeout_ms"},
		Secrets:     []string{"hook-SECRET", "sign-SECRET"},
		// A group robot cannot deduplicate: a resend could post the message
		// twice.
		OnUnknownOutcome: providers.OnUnknownFail,
	})
}
