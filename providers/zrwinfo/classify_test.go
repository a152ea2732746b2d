package zrwinfo

import (
	"net/http"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/providers"
)

func TestClassify(t *testing.T) {
	t.Parallel()
	// Every code of the provider reference, by class. Zrwinfo publishes no
	// list; 9006 is the only code seen.
	byClass := map[providers.Class][]string{
		providers.ClassThrottled: {"9006"},
		// Unknown codes are transient, whatever they look like.
		providers.ClassTransient: {"9001", "1", "-1", "10001", "FAKE_AUTH", ""},
	}
	for class, codes := range byClass {
		for _, code := range codes {
			t.Run(string(class)+"/"+code, func(t *testing.T) {
				t.Parallel()
				require.Equal(t, class, Classify(code))
			})
		}
	}
}

func TestClassifyWithOverrides(t *testing.T) {
	t.Parallel()
	s, err := NewSender(Config{AccessKey: "ak", Secret: "sk", CodeClasses: map[string]providers.Class{
		"9001": providers.ClassAccount,
		"9006": providers.ClassTransient,
	}})
	require.NoError(t, err)
	require.Equal(t, providers.ClassAccount, s.classify("9001"))
	require.Equal(t, providers.ClassTransient, s.classify("9006"), "an override wins over the built-in class")
	require.Equal(t, providers.ClassTransient, s.classify("9002"))

	pe := s.vendorError("send sms", "9001", "手机号13711112222余额不足")
	require.Equal(t, providers.ClassAccount, pe.Class)
	require.Equal(t, "9001", pe.Code)
	require.NotContains(t, pe.Message, "13711112222", "numbers in the vendor's message are masked")
	require.Contains(t, pe.Message, "余额不足")
}

func TestClassifyStatus(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status int
		class  providers.Class
	}{
		{http.StatusMovedPermanently, providers.ClassConfig},
		{http.StatusFound, providers.ClassConfig},
		{http.StatusNotFound, providers.ClassConfig},
		{http.StatusMethodNotAllowed, providers.ClassConfig},
		{http.StatusUnauthorized, providers.ClassAccount},
		{http.StatusForbidden, providers.ClassAccount},
		{http.StatusTooManyRequests, providers.ClassThrottled},
		{http.StatusServiceUnavailable, providers.ClassTransient},
		{http.StatusBadRequest, providers.ClassPermanent},
		{http.StatusRequestEntityTooLarge, providers.ClassPermanent},
		{http.StatusInternalServerError, providers.ClassUnknownOutcome},
		{http.StatusBadGateway, providers.ClassUnknownOutcome},
		{http.StatusGatewayTimeout, providers.ClassUnknownOutcome},
	}
	for _, tc := range tests {
		t.Run(http.StatusText(tc.status), func(t *testing.T) {
			t.Parallel()
			pe := classifyStatus("send sms", tc.status)
			require.Equal(t, tc.class, pe.Class)
			require.Equal(t, "HTTP_"+strconv.Itoa(tc.status), pe.Code)
		})
	}
}
