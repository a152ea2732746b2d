package wechatwork

import (
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/providers"
)

func TestClassify(t *testing.T) {
	t.Parallel()
	// Every code of the provider reference (global codes, gettoken, robot)
	// and the other send-related codes of WeCom's global list, by class.
	byClass := map[providers.Class][]int{
		providers.ClassTransient: {
			-1,           // system busy
			40014, 42001, // token refused, after the one refresh-and-retry
			41001, // token missing
			6000,  // not listed: unknown codes are transient
		},
		providers.ClassThrottled: {45009, 45033},
		providers.ClassAccount: {
			40001, 40013, 40091, // gettoken: bad secret, bad corpid
			41002, 41004,
			40056, 41011, // agentid
			48002, 48006, 50003,
			60020,  // caller IP not trusted
			301002, // agentid of another application
			2000002,
			93000, 93004, 93008, // robots
		},
		providers.ClassPermanent: {
			81013, 82001, 82002, 82003,
			40003, 40031, 40032, 40066, 40068,
			60011, 60021, 50002,
			40008, 44004,
			40033, 40035, 40058, 40039, 41010, 41016, 41033,
			45002, 82004, 85002,
		},
	}
	for class, codes := range byClass {
		for _, code := range codes {
			t.Run(string(class)+"/"+strconv.Itoa(code), func(t *testing.T) {
				t.Parallel()
				require.Equal(t, class, Classify(code))
			})
		}
	}
}

func TestTokenRefusal(t *testing.T) {
	t.Parallel()
	for _, code := range []int{40014, 42001, 40001} {
		require.True(t, isTokenRefusal(code), code)
	}
	for _, code := range []int{0, -1, 41001, 40013, 45009, 81013} {
		require.False(t, isTokenRefusal(code), code)
	}
}

func TestVendorError(t *testing.T) {
	t.Parallel()
	e := vendorError("send", 45009, "api freq out of limit")
	require.Equal(t, &providers.Error{Class: providers.ClassThrottled, Code: "45009",
		Message: "send: api freq out of limit", RetryAfter: time.Minute}, e)
	require.Equal(t, "send: errcode 81013", vendorError("send", 81013, "").Message)
	require.Zero(t, vendorError("send", 45033, "busy").RetryAfter)
}
