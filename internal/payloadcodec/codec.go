package payloadcodec

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"

	commonpb "go.temporal.io/api/common/v1"
	failurepb "go.temporal.io/api/failure/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/protobuf/proto"

	"github.com/heraldhq/herald/store"
)

// Metadata of a sealed payload.
const (
	// EncodingEncrypted is the metadata "encoding" of a sealed payload.
	EncodingEncrypted = "binary/encrypted"
	// MetadataKeyID names the metadata entry holding the sealing key's id.
	MetadataKeyID = "encryption-key-id"
)

// Labels of the master key's subkeys: one seals payloads, the other names
// the key. Neither subkey reveals the master key or the other subkey.
const (
	keyLabel   = "herald temporal payload key v1"
	keyIDLabel = "herald temporal payload key id v1"
)

var (
	// ErrUnknownKey is returned by Decode for a payload sealed under a key
	// the Codec was not given.
	ErrUnknownKey = errors.New("payloadcodec: payload sealed under an unknown key")
	// ErrDecrypt is returned by Decode for a payload that does not open
	// under the key its metadata names: it was altered or damaged.
	ErrDecrypt = errors.New("payloadcodec: payload does not decrypt: altered or damaged")
)

// Codec is a converter.PayloadCodec sealing payloads with AES-256-GCM. It
// is safe for concurrent use.
type Codec struct {
	currentID string
	keys      map[string]cipher.AEAD
}

var _ converter.PayloadCodec = (*Codec)(nil)

// New returns a Codec that seals under a subkey of master and opens what
// was sealed under master or any of previous. Every key must be
// store.MasterKeySize bytes.
func New(master []byte, previous ...[]byte) (*Codec, error) {
	c := &Codec{keys: make(map[string]cipher.AEAD, 1+len(previous))}
	for i, k := range append([][]byte{master}, previous...) {
		if len(k) != store.MasterKeySize {
			what := "master key"
			if i > 0 {
				what = fmt.Sprintf("previous master key %d", i)
			}
			return nil, fmt.Errorf("payloadcodec: %s must be %d bytes, got %d", what, store.MasterKeySize, len(k))
		}
		block, err := aes.NewCipher(store.DeriveKey(k, keyLabel))
		if err != nil {
			return nil, fmt.Errorf("payloadcodec: %w", err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("payloadcodec: %w", err)
		}
		id := KeyID(k)
		if i == 0 {
			c.currentID = id
		}
		if _, dup := c.keys[id]; !dup {
			c.keys[id] = aead
		}
	}
	return c, nil
}

// KeyID is the id payloads sealed under a subkey of master carry: 16 hex
// digits of a one-way function of master, enough to tell keys apart and
// useless for recovering them.
func KeyID(master []byte) string {
	return hex.EncodeToString(store.DeriveKey(master, keyIDLabel)[:8])
}

// CurrentKeyID is the id of the key Encode seals under.
func (c *Codec) CurrentKeyID() string { return c.currentID }

// Encode seals every payload under the current key. A payload already
// sealed is kept as it is rather than sealed twice.
func (c *Codec) Encode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	aead := c.keys[c.currentID]
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		if IsEncrypted(p) {
			out[i] = p
			continue
		}
		plain, err := proto.Marshal(p)
		if err != nil {
			return nil, fmt.Errorf("payloadcodec: marshal payload: %w", err)
		}
		ns := aead.NonceSize()
		sealed := make([]byte, ns, ns+len(plain)+aead.Overhead())
		if _, err := rand.Read(sealed); err != nil {
			return nil, fmt.Errorf("payloadcodec: read nonce: %w", err)
		}
		out[i] = &commonpb.Payload{
			Metadata: map[string][]byte{
				converter.MetadataEncoding: []byte(EncodingEncrypted),
				MetadataKeyID:              []byte(c.currentID),
			},
			// The key id is authenticated too: a payload cannot be
			// relabelled to another key.
			Data: aead.Seal(sealed, sealed[:ns], plain, []byte(c.currentID)),
		}
	}
	return out, nil
}

// Decode opens every sealed payload and passes the others through. It
// returns an error wrapping ErrUnknownKey for a payload sealed under a key
// the Codec does not know, and one wrapping ErrDecrypt for a payload that
// was altered.
func (c *Codec) Decode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		if !IsEncrypted(p) {
			out[i] = p
			continue
		}
		id := string(p.GetMetadata()[MetadataKeyID])
		aead, ok := c.keys[id]
		if !ok {
			return nil, fmt.Errorf("%w %q: list the master key it came from in previous-master-keys", ErrUnknownKey, id)
		}
		data := p.GetData()
		ns := aead.NonceSize()
		if len(data) < ns+aead.Overhead() {
			return nil, fmt.Errorf("%w (key %s, %d bytes is too short)", ErrDecrypt, id, len(data))
		}
		plain, err := aead.Open(nil, data[:ns], data[ns:], []byte(id))
		if err != nil {
			return nil, fmt.Errorf("%w (key %s)", ErrDecrypt, id)
		}
		var orig commonpb.Payload
		if err := proto.Unmarshal(plain, &orig); err != nil {
			return nil, fmt.Errorf("payloadcodec: unmarshal decrypted payload (key %s): %w", id, err)
		}
		out[i] = &orig
	}
	return out, nil
}

// IsEncrypted reports whether p is a payload sealed by a Codec.
func IsEncrypted(p *commonpb.Payload) bool {
	return string(p.GetMetadata()[converter.MetadataEncoding]) == EncodingEncrypted
}

// DataConverter is Temporal's default data converter with every payload
// sealed by codec.
func DataConverter(codec *Codec) converter.DataConverter {
	return converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), codec)
}

// FailureConverter turns errors into failures whose message and stack
// trace travel inside a payload sealed by codec, instead of in clear: a
// provider's error text can quote a receiver.
func FailureConverter(codec *Codec) converter.FailureConverter {
	return sealedFailures{temporal.NewDefaultFailureConverter(temporal.DefaultFailureConverterOptions{
		DataConverter:          DataConverter(codec),
		EncodeCommonAttributes: true,
	})}
}

// sealedFailures decodes a copy of each failure it turns into an error.
// The default converter opens the failure it is given in place, and the
// SDK hands it the failure of a local activity's marker while that marker
// is still to be sent: the message and stack trace would reach the server
// in clear beside their sealed copy.
type sealedFailures struct {
	converter.FailureConverter
}

func (c sealedFailures) FailureToError(f *failurepb.Failure) error {
	if f == nil {
		return nil
	}
	return c.FailureConverter.FailureToError(proto.Clone(f).(*failurepb.Failure))
}
