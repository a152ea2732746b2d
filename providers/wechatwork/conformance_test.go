package wechatwork_test

import (
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/heraldhq/herald/providers"
	"github.com/heraldhq/herald/providers/providertest"
	"github.com/heraldhq/herald/providers/wechatwork"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	providertest.Run(t, providertest.Suite{
		Provider:  wechatwork.New(),
		Transport: providertest.HTTP,
		Config: func(v providertest.Vendor) json.RawMessage {
			return providertest.JSON(t, wechatwork.Config{CorpID: "ww0123456789", CorpSecret: "corp-SECRET", AgentID: 1000002,
				BaseURL: v.URL, TimeoutSeconds: v.TimeoutSeconds()})
		},
		// The access token comes from its own endpoint, which answers;
		// the suite's faults are for the send.
		Route: func(send http.Handler) http.Handler {
			mux := http.NewServeMux()
			mux.HandleFunc("/cgi-bin/gettoken", func(w http.ResponseWriter, _ *http.Request) {
				_, _ = io.WriteString(w, `{"errcode":0,"errmsg":"ok","access_token":"access-SECRET","expires_in":7200}`)
			})
			mux.Handle("/", send)
			return mux
		},
		Message: providers.Message{TaskID: "0b9c3c1e-2f0c-4f43-8f1e-3c7d5a1b9e20", Attempt: 1, Receiver: "zhangsan",
			Content: "disk /var is 91% full", ContentType: "text"},
		BadConfig:        json.RawMessage(`{"corp_secret":"corp-SECRET","timeout_seconds":99,"agentid":5}`),
		BadProblems:      []string{`unknown field "agentid"`, "corp_id is required", "agent_id", "timeout_seconds"},
		Secrets:          []string{"corp-SECRET", "access-SECRET"},
		OnUnknownOutcome: providers.OnUnknownFail,
	})
}

func TestRobotConformance(t *testing.T) {
	t.Parallel()
	providertest.Run(t, providertest.Suite{
		Provider:  wechatwork.NewRobot(),
		Transport: providertest.HTTP,
		Config: func(v providertest.Vendor) json.RawMessage {
			return providertest.JSON(t, map[string]any{"key": "robot-SECRET", "base_url": v.URL, "timeout_seconds": v.TimeoutSeconds()})
		},
		Message:          providers.Message{TaskID: "c1d7a0a4-5b7e-4d7b-9c55-6a1f3e2b8d90", Attempt: 1, Content: "deploy finished"},
		BadConfig:        json.RawMessage(`{"secret":"robot-SECRET","timeout_seconds":61}`),
		BadProblems:      []string{`unknown field "secret"`, "key or webhook_url is required", "timeout_seconds"},
		Secrets:          []string{"robot-SECRET"},
		OnUnknownOutcome: providers.OnUnknownFail,
	})
}
