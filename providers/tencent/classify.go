package tencent

import (
	"strings"
	"time"

	"github.com/heraldhq/herald/providers"
)

// Classify maps a Tencent Cloud error code (request-level Response.Error.Code
// or per-number SendStatusSet[].Code) to a failure class.
//
// Exact codes are looked up first; a few code families then fall back on
// their prefix (every InvalidParameter* and MissingParameter* is a bad
// request, every AuthFailure.* an account problem, and so on). A code that
// matches nothing is transient: an unknown fault should not make a message
// fail for good, and the code is kept on the error for rules to match.
func Classify(code string) providers.Class {
	switch code {
	// A skewed clock on our side is fixed by retrying once the clock is
	// right; it says nothing about the account.
	case "AuthFailure.SignatureExpire",
		"InternalError.RequestTimeException":
		return providers.ClassTransient

	case "AuthFailure.SignatureFailure",
		"AuthFailure.SecretIdNotFound",
		"AuthFailure.InvalidSecretId",
		"AuthFailure.UnauthorizedOperation":
		return providers.ClassAccount

	case "RequestLimitExceeded",
		"RequestLimitExceeded.IPLimitExceeded",
		"RequestLimitExceeded.GlobalRegionUinLimitExceeded":
		return providers.ClassThrottled

	case "InternalError",
		"InternalError.Timeout",
		"InternalError.SendAndRecvFail",
		"InternalError.OtherError",
		"InternalError.UnknownError":
		return providers.ClassTransient

	// Frequency limits for one receiver: a matter of waiting, not of the
	// account or of the message.
	case "LimitExceeded.PhoneNumberDailyLimit",
		"LimitExceeded.PhoneNumberOneHourLimit",
		"LimitExceeded.PhoneNumberThirtySecondLimit",
		"LimitExceeded.PhoneNumberSameContentDailyLimit",
		"LimitExceeded.DeliveryFrequencyLimit":
		return providers.ClassThrottled

	case "LimitExceeded.AppDailyLimit",
		"LimitExceeded.DailyLimit",
		"LimitExceeded.AppGlobalDailyLimit",
		"LimitExceeded.AppMainlandChinaDailyLimit",
		"LimitExceeded.AppCountryOrRegionDailyLimit":
		return providers.ClassAccount

	case "LimitExceeded.PhoneNumberCountLimit":
		return providers.ClassPermanent

	case "FailedOperation.InsufficientBalanceInSmsPackage",
		"UnauthorizedOperation.ServiceSuspendDueToArrears",
		// Older SDKs spell it this way; the service may still answer so.
		"UnauthorizedOperation.SerivceSuspendDueToArrears",
		"UnauthorizedOperation.SdkAppIdIsDisabled",
		"UnauthorizedOperation.SmsSdkAppIdVerifyFail",
		"UnauthorizedOperation.RequestIpNotInWhitelist",
		"UnauthorizedOperation.RequestPermissionDeny",
		"UnauthorizedOperation.IndividualUserMarketingSmsPermissionDeny",
		"InvalidParameterValue.SdkAppIdNotExist":
		return providers.ClassAccount

	case "FailedOperation.SignatureIncorrectOrUnapproved",
		"FailedOperation.TemplateIncorrectOrUnapproved",
		"FailedOperation.TemplateUnapprovedOrNotExist",
		"FailedOperation.TemplateParamSetNotMatchApprovedTemplate",
		"FailedOperation.MissingSignatureList",
		"FailedOperation.MissingTemplateList",
		"UnsupportedOperation.ChineseMainlandTemplateToGlobalPhone",
		"UnsupportedOperation.GlobalTemplateToChineseMainlandPhone":
		return providers.ClassConfig

	case "InvalidParameterValue.IncorrectPhoneNumber",
		"MissingParameter.EmptyPhoneNumberSet",
		"UnsupportedOperation.ContainDomesticAndInternationalPhoneNumber",
		"UnsupportedOperation.UnsupportedRegion",
		"FailedOperation.PhoneNumberInBlacklist":
		return providers.ClassPermanent

	case "InvalidParameterValue.TemplateParameterFormatError",
		"InvalidParameterValue.TemplateParameterLengthLimit",
		"InvalidParameterValue.ContentLengthLimit",
		"InvalidParameterValue.ProhibitedUseUrlInTemplateParameter",
		"FailedOperation.ContainSensitiveWord",
		"FailedOperation.JsonParseFail",
		"FailedOperation.FailResolvePacket",
		"MissingParameter":
		return providers.ClassPermanent

	case "FailedOperation.MarketingSendTimeConstraint":
		return providers.ClassThrottled
	}

	switch {
	case strings.HasPrefix(code, "InvalidParameter"), strings.HasPrefix(code, "MissingParameter"):
		return providers.ClassPermanent
	case strings.HasPrefix(code, "AuthFailure."), strings.HasPrefix(code, "UnauthorizedOperation."):
		return providers.ClassAccount
	case strings.HasPrefix(code, "RequestLimitExceeded"):
		return providers.ClassThrottled
	case strings.HasPrefix(code, "InternalError"):
		return providers.ClassTransient
	}
	return providers.ClassTransient
}

// vendorError builds the classified error for a code Tencent answered with,
// adding the retry hint the code implies.
func vendorError(code, message, requestID string, now time.Time, err error) *providers.Error {
	if requestID != "" {
		message += " (request " + requestID + ")"
	}
	return &providers.Error{
		Class:      Classify(code),
		Code:       code,
		Message:    message,
		RetryAfter: retryAfter(code, now),
		Err:        err,
	}
}

// retryAfter is the earliest moment a code says a retry can succeed, as a
// duration from now. Zero means Tencent gives no hint.
func retryAfter(code string, now time.Time) time.Duration {
	local := now.In(chinaTime())
	switch code {
	case "FailedOperation.MarketingSendTimeConstraint":
		// Marketing messages may only go out from 08:00 to 22:00 China time.
		next := time.Date(local.Year(), local.Month(), local.Day(), 8, 0, 0, 0, local.Location())
		if !next.After(local) {
			next = next.AddDate(0, 0, 1)
		}
		return next.Sub(local)
	case "LimitExceeded.PhoneNumberThirtySecondLimit":
		return 30 * time.Second
	case "LimitExceeded.PhoneNumberOneHourLimit":
		return time.Hour
	case "LimitExceeded.PhoneNumberDailyLimit", "LimitExceeded.PhoneNumberSameContentDailyLimit":
		midnight := time.Date(local.Year(), local.Month(), local.Day()+1, 0, 0, 0, 0, local.Location())
		return midnight.Sub(local)
	}
	return 0
}

// chinaTime is the zone Tencent's receipts and daily limits are expressed
// in. China has kept UTC+8 without daylight saving since 1991, so a fixed
// zone is exact and needs no tzdata on the host.
func chinaTime() *time.Location { return time.FixedZone("CST", 8*60*60) }
