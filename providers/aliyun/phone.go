package aliyun

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// wireNumber turns a receiver into the form Dysmsapi documents: the 11-digit
// national number for the Chinese mainland, country code and number without
// "+" or "00" for everywhere else. Bare mainland numbers are accepted.
func wireNumber(receiver string) (string, error) {
	if strings.TrimSpace(receiver) == "" {
		return "", errors.New("receiver is empty")
	}
	num, err := phonenumbers.Parse(receiver, "CN")
	if err != nil {
		return "", fmt.Errorf("parse phone number: %w", err)
	}
	if !phonenumbers.IsPossibleNumber(num) {
		return "", errors.New("not a possible phone number")
	}
	national := phonenumbers.GetNationalSignificantNumber(num)
	if num.GetCountryCode() == 86 {
		return national, nil
	}
	return strconv.Itoa(int(num.GetCountryCode())) + national, nil
}

// numberKey is the form of a number used inside provider message ids. It
// is computed the same way from the number Herald sent and from the
// phone_number a receipt carries, so the two meet even if Aliyun echoes a
// mainland number with a "+86", "86" or "0086" prefix.
func numberKey(phone string) string {
	s := strings.TrimPrefix(strings.TrimSpace(phone), "+")
	s = strings.TrimPrefix(s, "00")
	k := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
	if len(k) == 13 && strings.HasPrefix(k, "861") {
		k = k[2:]
	}
	return k
}

// isMainlandKey reports whether a number key is an 11-digit mainland
// mobile number.
func isMainlandKey(k string) bool { return len(k) == 11 && k[0] == '1' }

// e164 renders a number key as E.164 for Receipt.Receiver and
// Reply.Receiver. The SmsReport and SmsUp pushes cover the Chinese
// mainland, so an 11-digit number starting with 1 is taken as one.
func e164(k string) string {
	if k == "" {
		return ""
	}
	if isMainlandKey(k) {
		return "+86" + k
	}
	return "+" + k
}

// messageID is the provider message id of one number of one send:
// "<BizId>:<number key>". Dysmsapi gives one BizId per request and its
// receipts carry biz_id with phone_number, so the pair is what identifies
// one message.
func messageID(bizID, phone string) string { return bizID + ":" + numberKey(phone) }

// splitMessageID undoes messageID. A BizId never holds a colon; an id
// without one is taken as a bare BizId.
func splitMessageID(id string) (bizID, key string) {
	i := strings.LastIndexByte(id, ':')
	if i < 0 {
		return id, ""
	}
	return id[:i], id[i+1:]
}
