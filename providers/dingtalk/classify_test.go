package dingtalk

import (
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/providers"
)

func TestClassify(t *testing.T) {
	t.Parallel()
	// Every errcode of the provider reference (section 5.1), and the ones
	// the live service is reported to answer.
	byClass := map[providers.Class][]int{
		providers.ClassTransient: {-1},
		providers.ClassThrottled: {130101, 410100},
		providers.ClassConfig:    {310000},
		providers.ClassAccount:   {300001, 300005, 400013, 400101, 400102},
		providers.ClassPermanent: {40035, 43002, 430101, 430102, 430103, 430104},
	}
	for class, codes := range byClass {
		for _, code := range codes {
			t.Run(string(class)+"/"+strconv.Itoa(code), func(t *testing.T) {
				t.Parallel()
				require.Equal(t, class, Classify(code))
			})
		}
	}

	t.Run("Unknown", func(t *testing.T) {
		t.Parallel()
		require.Equal(t, providers.ClassTransient, Classify(123456))
		e := vendorError(123456, "odd")
		require.Equal(t, "123456", e.Code)
		require.Contains(t, e.Message, "not recognised")
	})
}

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	require.Equal(t, 10*time.Minute, RetryAfter(130101))
	require.Zero(t, RetryAfter(410100))
	require.Zero(t, RetryAfter(-1))
	e := vendorError(130101, "send too fast, exceed 20 times per minute")
	require.Equal(t, &providers.Error{
		Class:      providers.ClassThrottled,
		Code:       "130101",
		Message:    "dingtalk robot refused the message: send too fast, exceed 20 times per minute",
		RetryAfter: 10 * time.Minute,
	}, e)
}

func TestStatusError(t *testing.T) {
	t.Parallel()
	tests := map[int]providers.Class{
		301: providers.ClassConfig,
		404: providers.ClassConfig,
		400: providers.ClassPermanent,
		408: providers.ClassTransient,
		429: providers.ClassThrottled,
		500: providers.ClassTransient,
		502: providers.ClassTransient,
	}
	for status, class := range tests {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			t.Parallel()
			e := statusError(status)
			require.Equal(t, class, e.Class)
			require.Equal(t, "HTTP_"+strconv.Itoa(status), e.Code)
		})
	}
}
