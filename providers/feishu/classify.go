package feishu

import (
	"strconv"
	"time"

	"github.com/heraldhq/herald/providers"
)

// Feishu custom bot codes Herald knows by name.
const (
	// CodeBadRequest is "Bad Request": a malformed body, or one over 20 KB.
	CodeBadRequest = 9499
	// CodeFrequencyLimited is "frequency limited": over the bot's 100
	// messages a minute or 5 a second, or throttled under system load.
	CodeFrequencyLimited = 11232
	// CodeTokenInvalid is "param invalid: incoming webhook access token
	// invalid": the hook id is unknown (bot removed or URL mistyped).
	CodeTokenInvalid = 19001
	// CodeSignMismatch is "sign match fail or timestamp is not within one
	// hour from current time".
	CodeSignMismatch = 19021
	// CodeIPNotAllowed is "Ip Not Allowed": Herald's address is not on the
	// bot's IP allowlist.
	CodeIPNotAllowed = 19022
	// CodeKeywordsNotFound is "Key Words Not Found": the message holds none
	// of the bot's keywords.
	CodeKeywordsNotFound = 19024
	// CodeRateLimited is the open platform gateway's rate limit, answered
	// with HTTP 429 and an x-ogw-ratelimit-reset header.
	CodeRateLimited = 99991400
)

// Classify maps a Feishu custom bot code to a failure class.
//
// Codes marked [reference] are in the provider reference with the meaning
// given; 19001 comes from third-party reports of the live service's
// answers. A code that matches nothing is transient: an unknown fault should
// not make a message fail for good, and the code is kept on the error for
// rules to match.
func Classify(code int) providers.Class {
	switch code {
	case CodeFrequencyLimited, // [reference] 100/min, 5/s, or system load
		CodeRateLimited: // [reference] gateway rate limit
		return providers.ClassThrottled

	// The bot's security settings refuse Herald's request as sent: the
	// secret (or the clock), the IP allowlist or the keywords need fixing.
	// A missing keyword is here too: the content is fine, this bot's
	// keyword setting refuses it. Another bot may take the message.
	case CodeSignMismatch, // [reference] wrong secret, or clock an hour off
		CodeIPNotAllowed,     // [reference]
		CodeKeywordsNotFound: // [reference]
		return providers.ClassConfig

	// The bot is gone (removed from its group) or the hook id is wrong:
	// like revoked credentials, that needs an operator, and another
	// account.
	case CodeTokenInvalid: // [seen] unknown hook id
		return providers.ClassAccount

	case CodeBadRequest: // [reference] malformed body or over 20 KB
		return providers.ClassPermanent
	}
	return providers.ClassTransient
}

// vendorError builds the classified error for a code Feishu answered.
func vendorError(code int, msg string, retryAfter time.Duration) *providers.Error {
	text := "feishu bot refused the message"
	if msg != "" {
		text += ": " + msg
	}
	if _, known := knownCodes()[code]; !known {
		// Say so, so an unlisted code is noticed and added to Classify.
		text += " (code not recognised by Herald)"
	}
	return &providers.Error{
		Class:      Classify(code),
		Code:       strconv.Itoa(code),
		Message:    text,
		RetryAfter: retryAfter,
	}
}

func knownCodes() map[int]struct{} {
	return map[int]struct{}{
		CodeBadRequest: {}, CodeFrequencyLimited: {}, CodeTokenInvalid: {}, CodeSignMismatch: {},
		CodeIPNotAllowed: {}, CodeKeywordsNotFound: {}, CodeRateLimited: {},
	}
}
