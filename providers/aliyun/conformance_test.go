package aliyun_test

import (
	"encoding/json"
	"testing"

	"github.com/heraldhq/herald/providers"
	"github.com/heraldhq/herald/providers/aliyun"
	"github.com/heraldhq/herald/providers/providertest"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	providertest.Run(t, providertest.Suite{
		Provider:  aliyun.New(),
		Transport: providertest.HTTP,
		Config: func(v providertest.Vendor) json.RawMessage {
			return providertest.JSON(t, aliyun.Config{AccessKeyID: "LTAI-ID", AccessKeySecret: "access-SECRET", SignName: "Herald",
				Endpoint: v.Addr, Protocol: "http", TimeoutSeconds: v.TimeoutSeconds()})
		},
		Message: providers.Message{TaskID: "2f3e4d5c-6b7a-4890-a1b2-c3d4e5f60718", Attempt: 1, Receiver: "+8613711112222",
			TemplateCode: "SMS_123456789", Params: []providers.Param{{Name: "code", Value: "4711"}}},
		// Two values of the wrong type: both are named, not only the first.
		BadConfig: json.RawMessage(`{"access_key_secret":"access-SECRET","sign_name":7,"protocol":"ftp","timeout_seconds":"5","regionid":"x"}`),
		BadProblems: []string{`unknown field "regionid"`, "sign_name must be a string", "timeout_seconds must be an integer",
			"access_key_id is required", `protocol "ftp"`},
		Secrets: []string{"access-SECRET"},
	})
}
