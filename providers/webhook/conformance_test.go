package webhook_test

import (
	"encoding/json"
	"testing"

	"github.com/heraldhq/herald/providers"
	"github.com/heraldhq/herald/providers/providertest"
	"github.com/heraldhq/herald/providers/webhook"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	providertest.Run(t, providertest.Suite{
		Provider:  webhook.New(),
		Transport: providertest.HTTP,
		Config: func(v providertest.Vendor) json.RawMessage {
			return providertest.JSON(t, map[string]any{"url": "http://user:pass-SECRET@" + v.Addr + "/hooks/herald?token=url-SECRET", "secret": secret,
				"timeout_ms": v.TimeoutMS()})
		},
		Message:      providers.Message{TaskID: "9f0e6a2b-8c4d-4e3f-a1b2-c3d4e5f60718", Attempt: 1, Receiver: "-", Content: `{"event":"deploy"}`},
		AnswerUnread: true,
		BadConfig:    json.RawMessage(`{"url":"ftp://example.com","secret":"whsec_c2hvcnQ=","timeout_ms":60001,"retries":3}`),
		BadProblems: []string{`unknown field "retries"`, "url must use http or https",
			"webhook secret must encode 24 to 64 bytes", "timeout_ms must be between 1 and 60000"},
		Secrets: []string{"pass-SECRET", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "url-SECRET", "c2hvcnQ="},
		// The endpoint can deduplicate by the webhook-id header, the same on
		// every attempt.
		OnUnknownOutcome: providers.OnUnknownResend,
	})
}
