package sandbox_test

import (
	"encoding/json"
	"testing"

	"github.com/heraldhq/herald/providers"
	"github.com/heraldhq/herald/providers/providertest"
	"github.com/heraldhq/herald/providers/sandbox"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	p := sandbox.New()
	t.Cleanup(func() { _ = p.Close() })
	providertest.Run(t, providertest.Suite{
		Provider:  p,
		Transport: providertest.Local,
		Config:    func(providertest.Vendor) json.RawMessage { return json.RawMessage(`{}`) },
		Message:   providers.Message{TaskID: "task-1", Attempt: 1, Receiver: "+8613800138000", Content: "code 1234"},
		BadConfig: json.RawMessage(`{"latency_ms":-1,"failure_rate":1.5,"failure_class":"flaky","seed":"abc","latency":5}`),
		BadProblems: []string{`unknown field "latency"`, "seed must be an integer", "latency_ms must be between 0 and 60000",
			"failure_rate must be between 0 and 1", `failure_class must be one of`},
	})
}
