package store

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"unicode/utf8"
)

// receiverKeyInfo derives the receiver-key subkey from the master key, so
// the key that seals secrets is never used for anything else.
const receiverKeyInfo = "herald receiver key v1"

// ReceiverKeyer turns a normalised receiver into the key that stands for
// it wherever a receiver is counted, listed or looked up without being
// shown: HMAC-SHA256 under a subkey of the master key. An unkeyed hash of
// an 11-digit phone number is reversed in seconds; this one cannot be
// without the master key. A ReceiverKeyer is safe for concurrent use.
type ReceiverKeyer struct {
	key []byte
}

// NewReceiverKeyer derives the receiver-key subkey from a master key.
func NewReceiverKeyer(master []byte) *ReceiverKeyer {
	return &ReceiverKeyer{key: ReceiverIndexKey(master)}
}

// ReceiverIndexKey returns the receiver-key subkey of a master key: the
// key NewReceiverKeyer uses. A deployment that rotates its master key pins
// it (NewIndexReceiverKeyer), so receiver keys, which suppressions hold
// without any receiver to compute them again from, stay valid.
func ReceiverIndexKey(master []byte) []byte {
	return DeriveKey(master, receiverKeyInfo)
}

// NewIndexReceiverKeyer returns a ReceiverKeyer over a receiver index key
// as ReceiverIndexKey returns it.
func NewIndexReceiverKeyer(indexKey []byte) *ReceiverKeyer {
	return &ReceiverKeyer{key: append([]byte(nil), indexKey...)}
}

// DeriveKey returns the 32-byte subkey of the master key for one purpose,
// named by label: HMAC-SHA256(master, label). Each use of key material
// (receiver keys, admin access tokens) has its own label, so the key that
// seals secrets is never used for anything else and one subkey reveals
// nothing about another.
func DeriveKey(master []byte, label string) []byte {
	mac := hmac.New(sha256.New, master)
	mac.Write([]byte(label))
	return mac.Sum(nil)
}

// Key returns the hex receiver key of a receiver of a channel type. The
// receiver is canonicalised first (see CanonicalReceiver), so spellings
// the API treats as one receiver get one key.
func (k *ReceiverKeyer) Key(channelType, receiver string) string {
	mac := hmac.New(sha256.New, k.key)
	mac.Write([]byte(CanonicalReceiver(channelType, receiver)))
	return hex.EncodeToString(mac.Sum(nil))
}

// CanonicalReceiver is the form a receiver is keyed under: an e-mail
// address lower-cased, anything else trimmed as given (the API has already
// turned phone numbers into E.164 and takes user ids as they are).
func CanonicalReceiver(channelType, receiver string) string {
	r := strings.TrimSpace(receiver)
	if channelType == ChannelEmail {
		return strings.ToLower(r)
	}
	return r
}

// MaskReceiver shows enough of a receiver to recognise it and no more:
// "+86138****8000", "a***@example.com", "us***01".
func MaskReceiver(channelType, receiver string) string {
	r := []rune(CanonicalReceiver(channelType, receiver))
	if channelType == ChannelEmail {
		s := string(r)
		if at := strings.LastIndexByte(s, '@'); at > 0 {
			first, _ := utf8.DecodeRuneInString(s)
			return string(first) + "***" + s[at:]
		}
	}
	switch {
	case len(r) >= 11:
		return string(r[:6]) + "****" + string(r[len(r)-4:])
	case len(r) >= 5:
		return string(r[:2]) + "***" + string(r[len(r)-2:])
	default:
		return "***"
	}
}
