package dingtalk

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/url"
	"strconv"
	"time"
)

// Sign computes the robot signature for a request made at t: the timestamp
// in milliseconds, and Base64(HMAC-SHA256(key = secret, message =
// timestamp + "\n" + secret)). The returned sign is raw Base64; it must be
// URL-encoded exactly once when put in the query (SignQuery does that).
func Sign(secret string, t time.Time) (timestamp, sign string) {
	timestamp = strconv.FormatInt(t.UnixMilli(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(timestamp + "\n" + secret))
	return timestamp, base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// SignQuery adds the timestamp and sign parameters for a request made at t
// to q. url.Values.Encode escapes the Base64 ("+", "/", "=") once, as
// DingTalk expects.
func SignQuery(q url.Values, secret string, t time.Time) {
	ts, sign := Sign(secret, t)
	q.Set("timestamp", ts)
	q.Set("sign", sign)
}
