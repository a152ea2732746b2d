package aliyun

import (
	"strings"
	"time"

	"github.com/heraldhq/herald/providers"
)

// Classify maps an Aliyun error code to a failure class. It takes both the
// business codes Dysmsapi answers inside an HTTP 200 body ("isv.*", "isp.*")
// and the gateway codes that come with an HTTP 4xx/5xx status
// (SignatureDoesNotMatch, Throttling.User, ...).
//
// Exact codes are looked up first; a few code families then fall back on
// their prefix (every Missing* parameter is a bad request, every
// Throttling* a rate limit, every isp.* a fault on Aliyun's side). A code
// that matches nothing is transient: an unknown fault should not make a
// message fail for good, and the code is kept on the error for rules to
// match.
func Classify(code string) providers.Class {
	switch code {
	case "isp.SYSTEM_ERROR",
		"isp.GATEWAY_ERROR",
		"isp.UNKNOWN",
		"InternalError",
		"ServiceUnavailable",
		// A clock off by more than 15 minutes, or a nonce that collided:
		// both are fixed by signing the request again, and say nothing
		// about the account.
		"InvalidTimeStamp.Expired",
		"SignatureNonceUsed":
		return providers.ClassTransient

	// Per-number flow control (by default 1/minute, 5/hour, 10/day for one
	// number and signature): a matter of waiting, not of the account.
	case "isv.BUSINESS_LIMIT_CONTROL",
		"Throttling",
		"Throttling.User",
		"Throttling.Api":
		return providers.ClassThrottled

	case "isv.DAY_LIMIT_CONTROL",
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
		// The endpoint does not serve Dysmsapi 2017-05-25: the account's
		// endpoint setting is wrong.
		"InvalidAction.NotFound",
		"InvalidVersion":
		return providers.ClassAccount

	case "isv.SMS_TEMPLATE_ILLEGAL",
		"isv.SMS_SIGNATURE_ILLEGAL",
		"isv.SIGN_STATE_ILLEGAL",
		"isv.SMS_SIGNATURE_SCENE_ILLEGAL",
		"isv.SMS_SIGN_ILLEGAL":
		return providers.ClassConfig

	case "isv.MOBILE_NUMBER_ILLEGAL",
		"isv.MOBILE_COUNT_OVER_LIMIT",
		"isv.DOMESTIC_NUMBER_NOT_SUPPORTED",
		"isv.NOT_SUPPORTED_COUNTRY",
		"isv.TEMPLATE_MISSING_PARAMETERS",
		"isv.INVALID_PARAMETERS",
		"isv.INVALID_JSON_PARAM",
		"isv.PARAM_LENGTH_LIMIT",
		"isv.PARAM_NOT_SUPPORT_URL",
		"isv.SMS_CONTENT_ILLEGAL",
		"isv.EXTEND_CODE_ERROR",
		"isv.BLACK_KEY_CONTROL_LIMIT",
		"MissingParameter":
		return providers.ClassPermanent
	}

	switch {
	case strings.HasPrefix(code, "Missing"), strings.HasPrefix(code, "InvalidParameter"):
		return providers.ClassPermanent
	case strings.HasPrefix(code, "Throttling"):
		return providers.ClassThrottled
	case strings.HasPrefix(code, "InvalidAccessKeyId"), strings.HasPrefix(code, "InvalidSecurityToken"),
		strings.HasPrefix(code, "Forbidden"):
		return providers.ClassAccount
	case strings.HasPrefix(code, "isp."):
		return providers.ClassTransient
	}
	return providers.ClassTransient
}

// vendorError builds the classified error for a code Aliyun answered with,
// adding the retry hint the code implies.
func vendorError(code, message, requestID string, now time.Time, err error) *providers.Error {
	text := message
	if requestID != "" {
		text += " (request " + requestID + ")"
	}
	return &providers.Error{
		Class:      Classify(code),
		Code:       code,
		Message:    text,
		RetryAfter: retryAfter(code, message, now),
		Err:        err,
	}
}

// retryAfter is the earliest moment a code says a retry can succeed, as a
// duration from now. Zero means Aliyun gives no hint.
func retryAfter(code, message string, now time.Time) time.Duration {
	local := now.In(chinaTime())
	midnight := time.Date(local.Year(), local.Month(), local.Day()+1, 0, 0, 0, 0, local.Location())
	switch code {
	case "isv.BUSINESS_LIMIT_CONTROL":
		// The message names the window that tripped, for example
		// "触发分钟级流控Permits:1" or "触发天级流控Permits:10". Without a
		// recognisable window, the shortest one is assumed.
		m := strings.ToLower(message)
		switch {
		case strings.Contains(m, "天级") || strings.Contains(m, "day"):
			return midnight.Sub(local)
		case strings.Contains(m, "小时级") || strings.Contains(m, "hour"):
			return time.Hour
		}
		return time.Minute
	case "isv.DAY_LIMIT_CONTROL":
		return midnight.Sub(local)
	case "isv.MONTH_LIMIT_CONTROL":
		first := time.Date(local.Year(), local.Month()+1, 1, 0, 0, 0, 0, local.Location())
		return first.Sub(local)
	case "Throttling", "Throttling.User", "Throttling.Api":
		// API rate limits are per second.
		return time.Second
	}
	return 0
}

// chinaTime is the zone Aliyun's dates, receipts and daily limits are
// expressed in. China has kept UTC+8 without daylight saving since 1991, so
// a fixed zone is exact and needs no tzdata on the host.
func chinaTime() *time.Location { return time.FixedZone("CST", 8*60*60) }
