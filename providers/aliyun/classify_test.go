package aliyun

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/providers"
)

// TestClassify covers every code of the provider reference, business
// (HTTP 200 body) and gateway (HTTP 4xx/5xx) alike, plus the prefix
// fallbacks.
func TestClassify(t *testing.T) {
	t.Parallel()
	tests := map[providers.Class][]string{
		providers.ClassTransient: {
			"isp.SYSTEM_ERROR",
			"InternalError",
			"ServiceUnavailable",
			"InvalidTimeStamp.Expired",
			"SignatureNonceUsed",
			"isp.GATEWAY_ERROR",
			"isp.SOMETHING_NEW",
			"SomethingNobodyHasSeen",
		},
		providers.ClassThrottled: {
			"isv.BUSINESS_LIMIT_CONTROL",
			"Throttling",
			"Throttling.User",
			"Throttling.Api",
			"Throttling.Something",
		},
		providers.ClassAccount: {
			"isv.DAY_LIMIT_CONTROL",
			"isv.MONTH_LIMIT_CONTROL",
			"isv.AMOUNT_NOT_ENOUGH",
			"isv.OUT_OF_SERVICE",
			"isv.PRODUCT_UN_SUBSCRIPT",
			"isv.PRODUCT_UNSUBSCRIBE",
			"isv.ACCOUNT_NOT_EXISTS",
			"isv.ACCOUNT_ABNORMAL",
			"isp.RAM_PERMISSION_DENY",
			"isv.DENY_IP_RANGE",
			"SignatureDoesNotMatch",
			"IncompleteSignature",
			"InvalidAccessKeyId.NotFound",
			"InvalidAccessKeyId.Inactive",
			"InvalidAction.NotFound",
			"InvalidVersion",
			"Forbidden.RAM",
			"InvalidSecurityToken.Expired",
		},
		providers.ClassConfig: {
			"isv.SMS_TEMPLATE_ILLEGAL",
			"isv.SMS_SIGNATURE_ILLEGAL",
			"isv.SIGN_STATE_ILLEGAL",
			"isv.SMS_SIGNATURE_SCENE_ILLEGAL",
			"isv.SMS_SIGN_ILLEGAL",
		},
		providers.ClassPermanent: {
			"isv.MOBILE_NUMBER_ILLEGAL",
			"isv.MOBILE_COUNT_OVER_LIMIT",
			"isv.DOMESTIC_NUMBER_NOT_SUPPORTED",
			"isv.TEMPLATE_MISSING_PARAMETERS",
			"isv.INVALID_PARAMETERS",
			"isv.INVALID_JSON_PARAM",
			"isv.PARAM_LENGTH_LIMIT",
			"isv.PARAM_NOT_SUPPORT_URL",
			"isv.SMS_CONTENT_ILLEGAL",
			"isv.EXTEND_CODE_ERROR",
			"isv.BLACK_KEY_CONTROL_LIMIT",
			"isv.NOT_SUPPORTED_COUNTRY",
			"MissingParameter",
			"MissingPhoneNumbers",
			"InvalidParameter.Something",
		},
	}
	for class, codes := range tests {
		for _, code := range codes {
			t.Run(string(class)+"/"+code, func(t *testing.T) {
				t.Parallel()
				require.Equal(t, class, Classify(code))
			})
		}
	}
}

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	// 2025-03-31 20:30 in China.
	now := time.Date(2025, 3, 31, 12, 30, 0, 0, time.UTC)
	tests := []struct {
		name    string
		code    string
		message string
		want    time.Duration
	}{
		{"MinuteWindow", "isv.BUSINESS_LIMIT_CONTROL", "触发分钟级流控Permits:1", time.Minute},
		{"HourWindow", "isv.BUSINESS_LIMIT_CONTROL", "触发小时级流控Permits:5", time.Hour},
		{"DayWindow", "isv.BUSINESS_LIMIT_CONTROL", "触发天级流控Permits:10", 3*time.Hour + 30*time.Minute},
		{"UnknownWindow", "isv.BUSINESS_LIMIT_CONTROL", "flow control", time.Minute},
		{"DailyCap", "isv.DAY_LIMIT_CONTROL", "", 3*time.Hour + 30*time.Minute},
		{"MonthlyCap", "isv.MONTH_LIMIT_CONTROL", "", 3*time.Hour + 30*time.Minute},
		{"ApiRate", "Throttling.User", "", time.Second},
		{"NoHint", "isv.AMOUNT_NOT_ENOUGH", "", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, retryAfter(tc.code, tc.message, now))
		})
	}
}

func TestVendorError(t *testing.T) {
	t.Parallel()
	err := vendorError("isv.BUSINESS_LIMIT_CONTROL", "send sms: 触发小时级流控Permits:5", "REQ-1", time.Now(), nil)
	require.Equal(t, providers.ClassThrottled, err.Class)
	require.Equal(t, "isv.BUSINESS_LIMIT_CONTROL", err.Code)
	require.Equal(t, time.Hour, err.RetryAfter)
	require.Equal(t, "send sms: 触发小时级流控Permits:5 (request REQ-1)", err.Message)
}
