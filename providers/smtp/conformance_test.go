package smtp_test

import (
	"encoding/json"
	"testing"

	"github.com/heraldhq/herald/providers"
	"github.com/heraldhq/herald/providers/providertest"
	"github.com/heraldhq/herald/providers/smtp"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	providertest.Run(t, providertest.Suite{
		Provider:  smtp.New(),
		Transport: providertest.SMTP,
		Config: func(v providertest.Vendor) json.RawMessage {
			return providertest.JSON(t, map[string]any{"host": v.Host, "port": v.Port, "from": "noreply@example.com",
				"tls_mode": "none", "timeout_seconds": v.TimeoutSeconds()})
		},
		Message: providers.Message{TaskID: "6d7e8f90-a1b2-4c3d-9e4f-5a6b7c8d9e0f", Attempt: 1, Receiver: "user@example.com",
			Subject: "Your code", Content: "Your code is 4711.", ContentType: "text"},
		BadConfig:   json.RawMessage(`{"host":"smtp.example.com","from":"x","tls_mode":"tls","password":"pass-SECRET","tls":true}`),
		BadProblems: []string{`unknown field "tls"`, "username is required", "from is not", `tls_mode "tls"`},
		Secrets:     []string{"pass-SECRET"},
		// SMTP cannot be asked whether the e-mail went out, and a resend could
		// deliver it twice.
		OnUnknownOutcome: providers.OnUnknownFail,
	})
}
