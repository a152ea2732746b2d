package zrwinfo_test

import (
	"encoding/json"
	"testing"

	"github.com/heraldhq/herald/providers"
	"github.com/heraldhq/herald/providers/providertest"
	"github.com/heraldhq/herald/providers/zrwinfo"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	providertest.Run(t, providertest.Suite{
		Provider:  zrwinfo.New(),
		Transport: providertest.HTTP,
		Config: func(v providertest.Vendor) json.RawMessage {
			return providertest.JSON(t, zrwinfo.Config{AccessKey: "ak-ID", Secret: "sk-SECRET", SignName: "Herald",
				BaseURL: v.URL, TimeoutSeconds: v.TimeoutSeconds()})
		},
		Message: providers.Message{TaskID: "4a5b6c7d-8e9f-4a0b-b1c2-d3e4f5a6b7c8", Attempt: 1, Receiver: "13711112222",
			TemplateCode: "44341", Params: []providers.Param{{Name: "name", Value: "王先生"}, {Name: "time", Value: "9:40"}}},
		BadConfig:   json.RawMessage(`{"secret":"sk-SECRET","batch_size":-1,"base_url":"x","signname":"Herald"}`),
		BadProblems: []string{`unknown field "signname"`, "access_key is required", "batch_size", "base_url"},
		Secrets:     []string{"sk-SECRET"},
		// The status pull cannot settle a batch send, and a second batch request
		// bills and delivers every number again.
		OnUnknownOutcome: providers.OnUnknownFail,
	})
}
