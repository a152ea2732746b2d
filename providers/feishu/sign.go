package feishu

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"time"
)

// Sign computes the custom bot signature for a request made at t: the
// timestamp in seconds, and Base64(HMAC-SHA256(key = timestamp + "\n" +
// secret, message = empty)). Both go in the JSON body as the strings
// "timestamp" and "sign".
//
// This is not DingTalk's scheme (key = secret, message = timestamp + "\n" +
// secret, milliseconds): a sign computed that way fails with 19021.
func Sign(secret string, t time.Time) (timestamp, sign string) {
	timestamp = strconv.FormatInt(t.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(timestamp+"\n"+secret))
	return timestamp, base64.StdEncoding.EncodeToString(mac.Sum(nil))
}
