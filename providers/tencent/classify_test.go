package tencent

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/providers"
)

func TestClassify(t *testing.T) {
	t.Parallel()
	// Every code of the provider reference table, by class.
	byClass := map[providers.Class][]string{
		providers.ClassTransient: {
			"AuthFailure.SignatureExpire",
			"InternalError.RequestTimeException",
			"InternalError.Timeout",
			"InternalError.SendAndRecvFail",
			"InternalError.OtherError",
			"InternalError.UnknownError",
			"InternalError",
		},
		providers.ClassAccount: {
			"AuthFailure.SignatureFailure",
			"AuthFailure.SecretIdNotFound",
			"AuthFailure.InvalidSecretId",
			"AuthFailure.UnauthorizedOperation",
			"LimitExceeded.AppDailyLimit",
			"LimitExceeded.DailyLimit",
			"LimitExceeded.AppGlobalDailyLimit",
			"LimitExceeded.AppMainlandChinaDailyLimit",
			"LimitExceeded.AppCountryOrRegionDailyLimit",
			"FailedOperation.InsufficientBalanceInSmsPackage",
			"UnauthorizedOperation.ServiceSuspendDueToArrears",
			"UnauthorizedOperation.SerivceSuspendDueToArrears",
			"UnauthorizedOperation.SdkAppIdIsDisabled",
			"UnauthorizedOperation.SmsSdkAppIdVerifyFail",
			"UnauthorizedOperation.RequestIpNotInWhitelist",
			"UnauthorizedOperation.RequestPermissionDeny",
			"UnauthorizedOperation.IndividualUserMarketingSmsPermissionDeny",
			"InvalidParameterValue.SdkAppIdNotExist",
		},
		providers.ClassThrottled: {
			"RequestLimitExceeded",
			"RequestLimitExceeded.IPLimitExceeded",
			"RequestLimitExceeded.GlobalRegionUinLimitExceeded",
			"LimitExceeded.PhoneNumberDailyLimit",
			"LimitExceeded.PhoneNumberOneHourLimit",
			"LimitExceeded.PhoneNumberThirtySecondLimit",
			"LimitExceeded.PhoneNumberSameContentDailyLimit",
			"LimitExceeded.DeliveryFrequencyLimit",
			"FailedOperation.MarketingSendTimeConstraint",
		},
		providers.ClassConfig: {
			"FailedOperation.SignatureIncorrectOrUnapproved",
			"FailedOperation.TemplateIncorrectOrUnapproved",
			"FailedOperation.TemplateUnapprovedOrNotExist",
			"FailedOperation.TemplateParamSetNotMatchApprovedTemplate",
			"FailedOperation.MissingSignatureList",
			"FailedOperation.MissingTemplateList",
			"UnsupportedOperation.ChineseMainlandTemplateToGlobalPhone",
			"UnsupportedOperation.GlobalTemplateToChineseMainlandPhone",
		},
		providers.ClassPermanent: {
			"LimitExceeded.PhoneNumberCountLimit",
			"InvalidParameterValue.IncorrectPhoneNumber",
			"MissingParameter.EmptyPhoneNumberSet",
			"UnsupportedOperation.ContainDomesticAndInternationalPhoneNumber",
			"UnsupportedOperation.UnsupportedRegion",
			"FailedOperation.PhoneNumberInBlacklist",
			"InvalidParameterValue.TemplateParameterFormatError",
			"InvalidParameterValue.TemplateParameterLengthLimit",
			"InvalidParameterValue.ContentLengthLimit",
			"InvalidParameterValue.ProhibitedUseUrlInTemplateParameter",
			"FailedOperation.ContainSensitiveWord",
			"FailedOperation.JsonParseFail",
			"FailedOperation.FailResolvePacket",
			"MissingParameter",
			// InvalidParameter* as a family.
			"InvalidParameter",
			"InvalidParameter.InvalidParameters",
			"InvalidParameterValue.TemplateWithDirtyWords",
		},
	}
	for class, codes := range byClass {
		for _, code := range codes {
			t.Run(code, func(t *testing.T) {
				t.Parallel()
				require.Equal(t, class, Classify(code))
			})
		}
	}

	t.Run("Families", func(t *testing.T) {
		t.Parallel()
		require.Equal(t, providers.ClassAccount, Classify("AuthFailure.InvalidAuthorization"))
		require.Equal(t, providers.ClassAccount, Classify("UnauthorizedOperation.SomethingNew"))
		require.Equal(t, providers.ClassThrottled, Classify("RequestLimitExceeded.UinLimitExceeded"))
		require.Equal(t, providers.ClassTransient, Classify("InternalError.ParseBackendResponseFail"))
		require.Equal(t, providers.ClassPermanent, Classify("MissingParameter.Other"))
	})

	t.Run("Unknown", func(t *testing.T) {
		t.Parallel()
		require.Equal(t, providers.ClassTransient, Classify("FailedOperation.SomethingNew"))
		require.Equal(t, providers.ClassTransient, Classify(""))
	})
}

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	china := chinaTime()
	tests := []struct {
		name string
		code string
		now  time.Time
		want time.Duration
	}{
		{"MarketingAtNight", "FailedOperation.MarketingSendTimeConstraint",
			time.Date(2025, 3, 1, 23, 30, 0, 0, china), 8*time.Hour + 30*time.Minute},
		{"MarketingEarlyMorning", "FailedOperation.MarketingSendTimeConstraint",
			time.Date(2025, 3, 1, 6, 0, 0, 0, china), 2 * time.Hour},
		{"MarketingFromUTC", "FailedOperation.MarketingSendTimeConstraint",
			time.Date(2025, 3, 1, 15, 0, 0, 0, time.UTC), 9 * time.Hour}, // 23:00 in China
		{"ThirtySeconds", "LimitExceeded.PhoneNumberThirtySecondLimit", time.Now(), 30 * time.Second},
		{"OneHour", "LimitExceeded.PhoneNumberOneHourLimit", time.Now(), time.Hour},
		{"Daily", "LimitExceeded.PhoneNumberDailyLimit",
			time.Date(2025, 3, 1, 20, 0, 0, 0, china), 4 * time.Hour},
		{"NoHint", "RequestLimitExceeded", time.Now(), 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := vendorError(tc.code, "msg", "req-1", tc.now, nil)
			require.Equal(t, tc.want, e.RetryAfter)
			require.Equal(t, tc.code, e.Code)
			require.Equal(t, "msg (request req-1)", e.Message)
		})
	}
}
