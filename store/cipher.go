package store

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// MasterKeySize is the length in bytes of the key NewCipher takes.
const MasterKeySize = 32

// cipherV1 marks AES-256-GCM under the master key with a 12-byte random
// nonce. A new version byte lets a later release rotate keys or change the
// scheme while still reading what v1 wrote.
const cipherV1 byte = 1

var (
	// ErrDecrypt is returned when sealed data cannot be opened: it was
	// sealed under another master key, or it is damaged.
	ErrDecrypt = errors.New("store: cannot decrypt: wrong master key or damaged data")
	// ErrNoCipher is returned by calls that read or write secrets, or
	// read sealed personal data, on a DB opened without a Cipher.
	ErrNoCipher = errors.New("store: no master key configured")
	// ErrUnknownKey is returned when sealed personal data names a master
	// key the Cipher does not hold: one retired before every row sealed
	// under it was sealed again (see herald keys rotate).
	ErrUnknownKey = errors.New("store: data sealed under a master key that is not configured")
)

// Cipher seals data for storage with AES-256-GCM under the master key
// and opens what it or an earlier master key sealed. It seals two kinds of
// data:
//
//   - secrets (app secrets, provider configs and tokens) with Encrypt:
//     a version byte, the nonce, then the ciphertext with its tag, under
//     the master key itself;
//   - personal data (receivers, contents, replies) with SealText: text
//     naming the key it was sealed under, under a subkey of the master key
//     (DeriveKey with its own label), so the two never share a key.
//
// The first key given to NewCipher seals; the others, previous master keys
// kept during a rotation, only open. A Cipher is safe for concurrent use.
type Cipher struct {
	keys []cipherKey
}

// cipherKey is one master key's two AEADs and the id that names it in
// sealed text.
type cipherKey struct {
	secrets cipher.AEAD
	data    cipher.AEAD
	id      string
	// receivers is the receiver-key subkey of this master key, for a store
	// opened without Options.ReceiverKeys.
	receivers []byte
}

// NewCipher returns a Cipher that seals under key and opens what key or any
// of previous sealed. Every key is MasterKeySize bytes.
func NewCipher(key []byte, previous ...[]byte) (*Cipher, error) {
	c := &Cipher{}
	for i, k := range append([][]byte{key}, previous...) {
		ck, err := newCipherKey(k)
		if err != nil {
			if i == 0 {
				return nil, fmt.Errorf("new cipher: master key: %w", err)
			}
			return nil, fmt.Errorf("new cipher: previous master key %d: %w", i, err)
		}
		c.keys = append(c.keys, ck)
	}
	return c, nil
}

func newCipherKey(key []byte) (cipherKey, error) {
	if len(key) != MasterKeySize {
		return cipherKey{}, fmt.Errorf("must be %d bytes, got %d", MasterKeySize, len(key))
	}
	secrets, err := newGCM(key)
	if err != nil {
		return cipherKey{}, err
	}
	dataKey := DeriveKey(key, dataKeyInfo)
	data, err := newGCM(dataKey)
	if err != nil {
		return cipherKey{}, err
	}
	return cipherKey{secrets: secrets, data: data, id: dataKeyID(dataKey), receivers: DeriveKey(key, receiverKeyInfo)}, nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// Encrypt seals plain under a fresh random nonce and the current master
// key.
func (c *Cipher) Encrypt(plain []byte) ([]byte, error) {
	if c == nil {
		return nil, ErrNoCipher
	}
	aead := c.keys[0].secrets
	ns := aead.NonceSize()
	out := make([]byte, 1+ns, 1+ns+len(plain)+aead.Overhead())
	out[0] = cipherV1
	if _, err := rand.Read(out[1:]); err != nil {
		return nil, fmt.Errorf("encrypt: read nonce: %w", err)
	}
	// The version byte is authenticated too, so it cannot be swapped.
	return aead.Seal(out, out[1:1+ns], plain, out[:1]), nil
}

// Decrypt opens what Encrypt sealed under any of the Cipher's keys. It
// returns an error wrapping ErrDecrypt when ct was sealed under another key
// or was altered.
func (c *Cipher) Decrypt(ct []byte) ([]byte, error) {
	plain, _, err := c.decrypt(ct)
	return plain, err
}

// decrypt is Decrypt that also says whether ct was sealed under the
// current key, so a rotation knows what to seal again. Secrets carry no
// key id: the keys are tried in turn, which GCM's tag makes safe, and
// there are few secrets.
func (c *Cipher) decrypt(ct []byte) (plain []byte, current bool, err error) {
	if c == nil {
		return nil, false, ErrNoCipher
	}
	aead := c.keys[0].secrets
	ns := aead.NonceSize()
	if len(ct) < 1+ns+aead.Overhead() {
		return nil, false, fmt.Errorf("decrypt: sealed data too short (%d bytes): %w", len(ct), ErrDecrypt)
	}
	if ct[0] != cipherV1 {
		return nil, false, fmt.Errorf("decrypt: unknown format version %d: %w", ct[0], ErrDecrypt)
	}
	for i, k := range c.keys {
		plain, err := k.secrets.Open(nil, ct[1:1+ns], ct[1+ns:], ct[:1])
		if err == nil {
			return plain, i == 0, nil
		}
	}
	return nil, false, fmt.Errorf("decrypt: %w", ErrDecrypt)
}

// KeyID names the current master key in sealed text: 8 hex digits derived
// from its data key, which reveal nothing about it.
func (c *Cipher) KeyID() string {
	if c == nil {
		return ""
	}
	return c.keys[0].id
}

// ParseMasterKey decodes a master key given as standard or URL-safe base64,
// padded or not, and checks that it is MasterKeySize bytes long. Its errors
// never echo the key.
func ParseMasterKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New("parse master key: key is empty")
	}
	encodings := []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding}
	for _, enc := range encodings {
		key, err := enc.DecodeString(s)
		if err != nil {
			continue
		}
		if len(key) != MasterKeySize {
			return nil, fmt.Errorf("parse master key: decodes to %d bytes, want %d (generate one with: openssl rand -base64 32)", len(key), MasterKeySize)
		}
		return key, nil
	}
	return nil, fmt.Errorf("parse master key: not valid base64 (want %d random bytes, e.g. from: openssl rand -base64 32)", MasterKeySize)
}
