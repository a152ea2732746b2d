package feishu

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/providers"
)

func TestClassify(t *testing.T) {
	t.Parallel()
	// Every code of the provider reference (section 6), and 19001 as the
	// live service answers it.
	byClass := map[providers.Class][]int{
		providers.ClassThrottled: {11232, 99991400},
		providers.ClassConfig:    {19021, 19022, 19024},
		providers.ClassAccount:   {19001},
		providers.ClassPermanent: {9499},
	}
	for class, codes := range byClass {
		for _, code := range codes {
			t.Run(string(class)+"/"+strconv.Itoa(code), func(t *testing.T) {
				t.Parallel()
				require.Equal(t, class, Classify(code))
				require.NotContains(t, vendorError(code, "", 0).Message, "not recognised")
			})
		}
	}

	t.Run("Unknown", func(t *testing.T) {
		t.Parallel()
		require.Equal(t, providers.ClassTransient, Classify(19002))
		e := vendorError(19002, "params error", 0)
		require.Equal(t, "19002", e.Code)
		require.Contains(t, e.Message, "not recognised")
	})
}

func TestAnswer(t *testing.T) {
	t.Parallel()
	none := http.Header{}
	tests := []struct {
		name   string
		status int
		header http.Header
		body   string
		class  providers.Class // "" for success
		code   string
		after  time.Duration
	}{
		{"Success", 200, none, `{"code":0,"msg":"success","data":{}}`, "", "", 0},
		{"SuccessBoth", 200, none, `{"StatusCode":0,"StatusMessage":"success","code":0,"data":{},"msg":"success"}`, "", "", 0},
		{"SuccessLegacy", 200, none, `{"Extra":null,"StatusCode":0,"StatusMessage":"success"}`, "", "", 0},
		{"CodeBeatsStatusCode", 200, none, `{"code":19021,"msg":"sign match fail","StatusCode":0}`, providers.ClassConfig, "19021", 0},
		{"LegacyError", 200, none, `{"StatusCode":19024,"StatusMessage":"Key Words Not Found"}`, providers.ClassConfig, "19024", 0},
		{"ErrorWithHTTP400", 400, none, `{"code":9499,"msg":"Bad Request","data":{}}`, providers.ClassPermanent, "9499", 0},
		{"GatewayLimit", 429, http.Header{"X-Ogw-Ratelimit-Reset": {"7"}}, `{"code":99991400,"msg":"request trigger frequency limit"}`, providers.ClassThrottled, "99991400", 7 * time.Second},
		{"GatewayLimitNoBody", 429, http.Header{"X-Ogw-Ratelimit-Reset": {"3"}}, ``, providers.ClassThrottled, "HTTP_429", 3 * time.Second},
		{"BogusReset", 429, http.Header{"X-Ogw-Ratelimit-Reset": {"99999999"}}, `{"code":99991400}`, providers.ClassThrottled, "99991400", time.Hour},
		{"OKNoCode", 200, none, `{"data":{}}`, providers.ClassUnknownOutcome, CodeBadAnswer, 0},
		{"OKHTML", 200, none, `<html></html>`, providers.ClassUnknownOutcome, CodeBadAnswer, 0},
		{"BadGateway", 502, none, `<html></html>`, providers.ClassTransient, "HTTP_502", 0},
		{"NotFound", 404, none, `404 page not found`, providers.ClassConfig, "HTTP_404", 0},
		{"Redirect", 302, none, ``, providers.ClassConfig, "HTTP_302", 0},
		{"BadRequestNoCode", 400, none, `oops`, providers.ClassPermanent, "HTTP_400", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res, err := answer(tc.status, tc.header, []byte(tc.body), nil)
			if tc.class == "" {
				require.NoError(t, err)
				require.Equal(t, providers.Result{Delivered: true}, res)
				return
			}
			pe := providers.AsError(err)
			require.Equal(t, tc.class, pe.Class, pe.Error())
			require.Equal(t, tc.code, pe.Code)
			require.Equal(t, tc.after, pe.RetryAfter)
		})
	}
}
