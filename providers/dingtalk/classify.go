package dingtalk

import (
	"strconv"
	"time"

	"github.com/heraldhq/herald/providers"
)

// DingTalk robot errcodes Herald knows by name.
const (
	// CodeBusy is DingTalk's "system busy".
	CodeBusy = -1
	// CodeTooFast is "send too fast, exceed 20 times per minute": the robot
	// is blocked for ten minutes.
	CodeTooFast = 130101
	// CodeSecurity is a failed security check: "sign not match",
	// "invalid timestamp", "keywords not in content" or
	// "ip X.X.X.X not in whitelist".
	CodeSecurity = 310000
	// CodeTokenInvalid is an access token DingTalk does not know, in the
	// reference's spelling.
	CodeTokenInvalid = 300001
	// CodeTokenNotExist is what the live service answers today for an
	// unknown access token: "token is not exist".
	CodeTokenNotExist = 300005
	// CodeMissingParameter is "缺少参数 <name>": a required parameter
	// (access_token, or a field of the message) is missing.
	CodeMissingParameter = 40035
)

// ThrottleBlock is how long DingTalk blocks a robot that went over 20
// messages a minute (errcode 130101).
const ThrottleBlock = 10 * time.Minute

// Classify maps a robot errcode to a failure class.
//
// Codes marked [reference] are in the provider reference with the meaning
// given; the 4xxxxx robot codes are listed there as UNCONFIRMED, and the
// codes marked [seen] come from third-party reports of the live service's
// answers, not from DingTalk's documentation. A code that matches nothing is transient: an unknown fault should
// not make a message fail for good, and the code is kept on the error for
// rules to match.
func Classify(code int) providers.Class {
	switch code {
	case CodeBusy: // [reference] system busy
		return providers.ClassTransient

	case CodeTooFast, // [reference] over 20 a minute, blocked for 10 minutes
		410100: // [reference, UNCONFIRMED] rate limited
		return providers.ClassThrottled

	// The robot's security setting refuses Herald's request as sent: the
	// secret, the keywords or the IP allowlist need fixing. Another robot
	// may take the message.
	case CodeSecurity: // [reference] sign, timestamp, keyword or IP check
		return providers.ClassConfig

	// The robot itself is unusable: its token is unknown, it was stopped
	// or its group dissolved. Like revoked credentials, that needs an
	// operator, and another account. (The reference suggests config for
	// these; account says better that the robot, not a template, is at
	// fault.)
	case CodeTokenInvalid, // [reference] token does not exist
		CodeTokenNotExist, // [seen] "token is not exist"
		400013,            // [reference, UNCONFIRMED] group dissolved
		400101,            // [reference, UNCONFIRMED] access_token missing or invalid
		400102:            // [reference, UNCONFIRMED] robot stopped
		return providers.ClassAccount

	case CodeMissingParameter, // [seen] "缺少参数 ...": a required parameter is missing
		43002,  // [seen] "需要POST请求": not a POST
		430101, // [reference, UNCONFIRMED] unsafe external link
		430102, // [reference, UNCONFIRMED] unsuitable text
		430103, // [reference, UNCONFIRMED] unsuitable image
		430104: // [reference, UNCONFIRMED] unsuitable content
		return providers.ClassPermanent
	}
	return providers.ClassTransient
}

// RetryAfter is DingTalk's own hint of when a code lets the robot send
// again; zero when it gives none.
func RetryAfter(code int) time.Duration {
	if code == CodeTooFast {
		return ThrottleBlock
	}
	return 0
}

// vendorError builds the classified error for an errcode DingTalk answered.
func vendorError(code int, errmsg string) *providers.Error {
	msg := "dingtalk robot refused the message"
	if errmsg != "" {
		msg += ": " + errmsg
	}
	if Classify(code) == providers.ClassTransient && code != CodeBusy {
		// Say so, so an unlisted code is noticed and added to Classify.
		msg += " (errcode not recognised by Herald)"
	}
	return &providers.Error{
		Class:      Classify(code),
		Code:       strconv.Itoa(code),
		Message:    msg,
		RetryAfter: RetryAfter(code),
	}
}
