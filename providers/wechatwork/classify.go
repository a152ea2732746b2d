package wechatwork

import (
	"strconv"
	"time"

	"github.com/heraldhq/herald/providers"
)

// WeCom errcodes the senders act on.
const (
	errSystemBusy         = -1
	errInvalidSecret      = 40001
	errInvalidToken       = 40014
	errTokenExpired       = 42001
	errFrequencyLimit     = 45009
	errAllReceiversBad    = 81013
	frequencyLimitBackoff = time.Minute
)

// Classify maps a WeCom errcode (from gettoken, message/send or a robot
// webhook) to a failure class. 0 is success and has no class; a code not
// listed is transient, so an unknown fault never fails a message for good,
// and the code is kept on the error for rules to match.
//
// 40014 and 42001 (token invalid or expired) are transient: the sender has
// already fetched a new token and tried once more when it reports them.
// 40001 is the bad-secret answer of gettoken, an account problem; on a send
// it is also taken as a refused token, and handled like 40014 first.
func Classify(errcode int) providers.Class {
	switch errcode {
	case errSystemBusy,
		errInvalidToken,
		errTokenExpired,
		41001: // access_token missing: a fault on our side, not the message's
		return providers.ClassTransient

	case errFrequencyLimit,
		45033: // too many concurrent calls
		return providers.ClassThrottled

	// The application or robot itself cannot send: credentials, its
	// state, or where it may be called from.
	case errInvalidSecret,
		40013,   // invalid corpid
		40091,   // secret invalid (another corp's secret)
		41002,   // corpid missing
		41004,   // secret missing
		40056,   // invalid agentid
		41011,   // agentid missing
		48002,   // API not allowed for this application
		48006,   // API permission withdrawn after long disuse
		50003,   // application disabled
		60020,   // caller IP is not a trusted IP of the application
		301002,  // agentid does not belong to the secret's application
		2000002, // corpid does not exist
		93000,   // robot webhook invalid, or the robot was removed from its group
		93004,   // robot disabled
		93008:   // robot not in the group
		return providers.ClassAccount

	// The message itself is bad: receivers, type or content.
	case 40003, // invalid userid
		40031,              // invalid userid list
		40032,              // userid list too long
		40066,              // invalid department list
		40068,              // invalid tag id
		errAllReceiversBad, // every user, department and tag invalid or out of scope
		82001,              // no user, department or tag given
		82002,              // department list too long
		82003,              // tag list too long
		60011,              // no permission for the given members, departments or tags
		60021,              // userid outside the application's visible range
		50002,              // member outside the permitted range
		40008,              // invalid msgtype
		40033,              // invalid characters in the request
		40035,              // invalid parameter
		40058,              // invalid parameter
		40039,              // url too long
		41010,              // url missing
		41016,              // title missing
		41033,              // description missing
		44004,              // text content empty
		45002,              // content too long
		82004,              // content that may crash the client
		85002:              // content contains forbidden words
		return providers.ClassPermanent
	}
	return providers.ClassTransient
}

// isTokenRefusal reports whether a message/send errcode means the access
// token was refused, so a new one should be fetched and the send tried
// once more.
func isTokenRefusal(errcode int) bool {
	switch errcode {
	case errInvalidToken, errTokenExpired, errInvalidSecret:
		return true
	}
	return false
}

// vendorError builds the classified error for an errcode WeCom answered.
// errmsg is WeCom's own text; it names no receiver.
func vendorError(op string, errcode int, errmsg string) *providers.Error {
	e := &providers.Error{
		Class:   Classify(errcode),
		Code:    strconv.Itoa(errcode),
		Message: op + ": " + errmsg,
	}
	if errmsg == "" {
		e.Message = op + ": errcode " + e.Code
	}
	if errcode == errFrequencyLimit {
		// WeCom's limits are counted per minute (robots: 20 a minute; API
		// calls: per minute and per hour); a minute is the earliest a retry
		// can be counted in a new window.
		e.RetryAfter = frequencyLimitBackoff
	}
	return e
}
