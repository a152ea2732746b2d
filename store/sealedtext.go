package store

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
)

// dataKeyInfo derives the key that seals personal data from the master
// key (DeriveKey), apart from the key that seals secrets.
const dataKeyInfo = "herald personal data v1"

// sealedTextPrefix starts every sealed text value; it is followed by the
// 8-hex-digit key id, "$", then the nonce and ciphertext in unpadded
// URL-safe base64. Text without the prefix is clear text written before
// personal data was sealed, and is read as it is.
const sealedTextPrefix = "$hd1$"

// keyIDLen is the length of a key id in sealed text.
const keyIDLen = 8

// dataKeyID names a data key in sealed text. It is a hash of the key, not
// the key, so it can be stored beside the data.
func dataKeyID(dataKey []byte) string {
	mac := hmac.New(sha256.New, dataKey)
	mac.Write([]byte("herald key id"))
	return hex.EncodeToString(mac.Sum(nil)[:keyIDLen/2])
}

// SealText seals personal data for a text column under the current
// master key's data key. The empty string stays empty, so a blank subject
// costs nothing and an erased value reads as erased. On a nil Cipher (a
// store opened without a master key, as some tools and tests do) the text
// is returned as it is.
func (c *Cipher) SealText(s string) (string, error) {
	if c == nil || s == "" {
		return s, nil
	}
	k := c.keys[0]
	header := sealedTextPrefix + k.id + "$"
	ns := k.data.NonceSize()
	buf := make([]byte, ns, ns+len(s)+k.data.Overhead())
	if _, err := rand.Read(buf); err != nil {
		return "", fmt.Errorf("seal text: read nonce: %w", err)
	}
	// The header is authenticated, so the key id cannot be swapped.
	buf = k.data.Seal(buf, buf[:ns], []byte(s), []byte(header))
	return header + base64.RawURLEncoding.EncodeToString(buf), nil
}

// OpenText returns the clear text of a value SealText sealed, under any
// of the Cipher's keys, and any other value as it is. It fails with
// ErrUnknownKey when the value names a key the Cipher lacks, ErrDecrypt
// when it was altered, and ErrNoCipher on a nil Cipher.
func (c *Cipher) OpenText(s string) (string, error) {
	plain, _, err := c.openText(s)
	return plain, err
}

// openText is OpenText that also says whether s needs sealing again under
// the current key: it is clear text, or sealed under a previous key.
func (c *Cipher) openText(s string) (plain string, stale bool, err error) {
	id, body, ok := splitSealedText(s)
	if !ok {
		return s, s != "", nil
	}
	if c == nil {
		return "", false, ErrNoCipher
	}
	raw, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil {
		return "", false, fmt.Errorf("open text: %w", ErrDecrypt)
	}
	header := s[:len(sealedTextPrefix)+keyIDLen+1]
	found := false
	for i, k := range c.keys {
		if k.id != id {
			continue
		}
		found = true
		ns := k.data.NonceSize()
		if len(raw) < ns+k.data.Overhead() {
			return "", false, fmt.Errorf("open text: sealed value too short: %w", ErrDecrypt)
		}
		out, err := k.data.Open(nil, raw[:ns], raw[ns:], []byte(header))
		if err == nil {
			return string(out), i != 0, nil
		}
	}
	if !found {
		return "", false, fmt.Errorf("open text: key %s: %w", id, ErrUnknownKey)
	}
	return "", false, fmt.Errorf("open text: %w", ErrDecrypt)
}

// splitSealedText returns the key id and body of sealed text, and false
// for any other value.
func splitSealedText(s string) (id, body string, ok bool) {
	rest, ok := strings.CutPrefix(s, sealedTextPrefix)
	if !ok || len(rest) < keyIDLen+1 || rest[keyIDLen] != '$' {
		return "", "", false
	}
	id = rest[:keyIDLen]
	if _, err := hex.DecodeString(id); err != nil {
		return "", "", false
	}
	return id, rest[keyIDLen+1:], true
}

// SealedKeyID returns the id of the key a stored value was sealed under,
// or "" for clear text.
func SealedKeyID(s string) string {
	id, _, _ := splitSealedText(s)
	return id
}
