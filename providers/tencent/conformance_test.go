package tencent_test

import (
	"encoding/json"
	"testing"

	"github.com/heraldhq/herald/providers"
	"github.com/heraldhq/herald/providers/providertest"
	"github.com/heraldhq/herald/providers/tencent"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	providertest.Run(t, providertest.Suite{
		Provider:  tencent.New(),
		Transport: providertest.HTTP,
		Config: func(v providertest.Vendor) json.RawMessage {
			return providertest.JSON(t, tencent.Config{SecretID: "AKID-SECRET-ID", SecretKey: "key-SECRET", SdkAppID: "1400006666",
				SignName: "Herald", Endpoint: v.Addr, Scheme: "http", TimeoutSeconds: v.TimeoutSeconds()})
		},
		Message: providers.Message{TaskID: "7c2b36f4-6f7e-4d7c-9a53-3d3f0e4b8f11", Attempt: 1, Receiver: "+8613711112222",
			TemplateCode: "1234567", Params: []providers.Param{{Name: "code", Value: "4711"}}},
		// Two values of the wrong type: both are named, not only the first.
		BadConfig: json.RawMessage(`{"secret_key":"key-SECRET","sdk_app_id":1400006666,"scheme":"ftp","timeout_seconds":"5","signname":"x"}`),
		BadProblems: []string{`unknown field "signname"`, "sdk_app_id must be a string", "timeout_seconds must be an integer",
			"secret_id is required", "sdk_app_id is required", `scheme "ftp"`},
		Secrets: []string{"key-SECRET"},
	})
}
