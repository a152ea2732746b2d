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
	// ErrNoCipher is returned by calls that read or write secrets on a DB
	// opened without a Cipher.
	ErrNoCipher = errors.New("store: no master key configured")
)

// Cipher seals small secrets (app secrets, provider configs) for storage
// with AES-256-GCM. Its output is a version byte, the nonce, then the
// ciphertext with its tag. A Cipher is safe for concurrent use.
type Cipher struct {
	aead cipher.AEAD
}

// NewCipher returns a Cipher for a MasterKeySize-byte key.
func NewCipher(key []byte) (*Cipher, error) {
	if len(key) != MasterKeySize {
		return nil, fmt.Errorf("new cipher: master key must be %d bytes, got %d", MasterKeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("new cipher: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("new cipher: %w", err)
	}
	return &Cipher{aead: aead}, nil
}

// Encrypt seals plain under a fresh random nonce.
func (c *Cipher) Encrypt(plain []byte) ([]byte, error) {
	if c == nil {
		return nil, ErrNoCipher
	}
	ns := c.aead.NonceSize()
	out := make([]byte, 1+ns, 1+ns+len(plain)+c.aead.Overhead())
	out[0] = cipherV1
	if _, err := rand.Read(out[1:]); err != nil {
		return nil, fmt.Errorf("encrypt: read nonce: %w", err)
	}
	// The version byte is authenticated too, so it cannot be swapped.
	return c.aead.Seal(out, out[1:1+ns], plain, out[:1]), nil
}

// Decrypt opens what Encrypt sealed. It returns an error wrapping
// ErrDecrypt when ct was sealed under another key or was altered.
func (c *Cipher) Decrypt(ct []byte) ([]byte, error) {
	if c == nil {
		return nil, ErrNoCipher
	}
	ns := c.aead.NonceSize()
	if len(ct) < 1+ns+c.aead.Overhead() {
		return nil, fmt.Errorf("decrypt: sealed data too short (%d bytes): %w", len(ct), ErrDecrypt)
	}
	if ct[0] != cipherV1 {
		return nil, fmt.Errorf("decrypt: unknown format version %d: %w", ct[0], ErrDecrypt)
	}
	plain, err := c.aead.Open(nil, ct[1:1+ns], ct[1+ns:], ct[:1])
	if err != nil {
		return nil, fmt.Errorf("decrypt: %w", ErrDecrypt)
	}
	return plain, nil
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
