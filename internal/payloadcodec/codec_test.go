package payloadcodec_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/protobuf/proto"

	"github.com/heraldhq/herald/internal/payloadcodec"
)

func newKey(t *testing.T) []byte {
	t.Helper()
	k := make([]byte, 32)
	_, err := rand.Read(k)
	require.NoError(t, err)
	return k
}

func newCodec(t *testing.T, master []byte, previous ...[]byte) *payloadcodec.Codec {
	t.Helper()
	c, err := payloadcodec.New(master, previous...)
	require.NoError(t, err)
	return c
}

type sendInput struct {
	Receiver string            `json:"receiver"`
	Params   map[string]string `json:"params"`
}

func plainPayloads(t *testing.T) []*commonpb.Payload {
	t.Helper()
	ps, err := converter.GetDefaultDataConverter().ToPayloads(
		sendInput{Receiver: "+8613800138000", Params: map[string]string{"code": "123456"}}, "subject line", []byte{0, 1, 2}, nil)
	require.NoError(t, err)
	return ps.GetPayloads()
}

func TestCodec(t *testing.T) {
	t.Parallel()

	t.Run("RoundTrip", func(t *testing.T) {
		t.Parallel()
		master := newKey(t)
		c := newCodec(t, master)
		in := plainPayloads(t)
		enc, err := c.Encode(in)
		require.NoError(t, err)
		require.Len(t, enc, len(in))
		for _, p := range enc {
			require.True(t, payloadcodec.IsEncrypted(p))
			require.Equal(t, payloadcodec.EncodingEncrypted, string(p.GetMetadata()[converter.MetadataEncoding]))
			require.Equal(t, payloadcodec.KeyID(master), string(p.GetMetadata()[payloadcodec.MetadataKeyID]))
			require.Len(t, p.GetMetadata(), 2, "only the encoding and the key id stay in clear")
			require.NotContains(t, string(p.GetData()), "8613800138000")
			require.NotContains(t, string(p.GetData()), "json/plain")
		}
		dec, err := c.Decode(enc)
		require.NoError(t, err)
		require.Len(t, dec, len(in))
		for i := range in {
			require.True(t, proto.Equal(in[i], dec[i]), "payload %d", i)
		}
	})

	t.Run("FreshNonce", func(t *testing.T) {
		t.Parallel()
		c := newCodec(t, newKey(t))
		in := plainPayloads(t)[:1]
		a, err := c.Encode(in)
		require.NoError(t, err)
		b, err := c.Encode(in)
		require.NoError(t, err)
		require.NotEqual(t, a[0].GetData(), b[0].GetData())
	})

	t.Run("DoesNotMutateInput", func(t *testing.T) {
		t.Parallel()
		c := newCodec(t, newKey(t))
		in := plainPayloads(t)
		before := make([]*commonpb.Payload, len(in))
		for i, p := range in {
			before[i] = proto.Clone(p).(*commonpb.Payload)
		}
		enc, err := c.Encode(in)
		require.NoError(t, err)
		for i := range in {
			require.True(t, proto.Equal(before[i], in[i]))
		}
		encBefore := proto.Clone(enc[0]).(*commonpb.Payload)
		_, err = c.Decode(enc)
		require.NoError(t, err)
		require.True(t, proto.Equal(encBefore, enc[0]))
	})

	t.Run("PassesUnencryptedThrough", func(t *testing.T) {
		t.Parallel()
		c := newCodec(t, newKey(t))
		in := plainPayloads(t)
		dec, err := c.Decode(in)
		require.NoError(t, err)
		for i := range in {
			require.Same(t, in[i], dec[i])
		}
	})

	t.Run("EncodeKeepsSealedPayload", func(t *testing.T) {
		t.Parallel()
		c := newCodec(t, newKey(t))
		enc, err := c.Encode(plainPayloads(t))
		require.NoError(t, err)
		again, err := c.Encode(enc)
		require.NoError(t, err)
		for i := range enc {
			require.Same(t, enc[i], again[i])
		}
	})

	t.Run("ErrUnknownKey", func(t *testing.T) {
		t.Parallel()
		other := newKey(t)
		enc, err := newCodec(t, other).Encode(plainPayloads(t))
		require.NoError(t, err)
		_, err = newCodec(t, newKey(t)).Decode(enc)
		require.ErrorIs(t, err, payloadcodec.ErrUnknownKey)
		require.ErrorContains(t, err, payloadcodec.KeyID(other))
		require.ErrorContains(t, err, "previous-master-keys")
	})

	t.Run("ErrDecryptTampered", func(t *testing.T) {
		t.Parallel()
		c := newCodec(t, newKey(t))
		enc, err := c.Encode(plainPayloads(t)[:1])
		require.NoError(t, err)
		flipped := proto.Clone(enc[0]).(*commonpb.Payload)
		flipped.Data[len(flipped.Data)-20] ^= 1
		_, err = c.Decode([]*commonpb.Payload{flipped})
		require.ErrorIs(t, err, payloadcodec.ErrDecrypt)

		short := proto.Clone(enc[0]).(*commonpb.Payload)
		short.Data = short.Data[:10]
		_, err = c.Decode([]*commonpb.Payload{short})
		require.ErrorIs(t, err, payloadcodec.ErrDecrypt)
	})

	t.Run("ErrDecryptRelabelled", func(t *testing.T) {
		t.Parallel()
		// A payload sealed under one known key and labelled with the id
		// of another known key must not open.
		oldKey, newKeyBytes := newKey(t), newKey(t)
		enc, err := newCodec(t, oldKey).Encode(plainPayloads(t)[:1])
		require.NoError(t, err)
		c := newCodec(t, newKeyBytes, oldKey)
		relabelled := proto.Clone(enc[0]).(*commonpb.Payload)
		relabelled.Metadata[payloadcodec.MetadataKeyID] = []byte(c.CurrentKeyID())
		_, err = c.Decode([]*commonpb.Payload{relabelled})
		require.ErrorIs(t, err, payloadcodec.ErrDecrypt)
	})

	t.Run("Rotation", func(t *testing.T) {
		t.Parallel()
		oldKey, newKeyBytes := newKey(t), newKey(t)
		before := newCodec(t, oldKey)
		in := plainPayloads(t)
		oldEnc, err := before.Encode(in)
		require.NoError(t, err)

		after := newCodec(t, newKeyBytes, oldKey)
		require.Equal(t, payloadcodec.KeyID(newKeyBytes), after.CurrentKeyID())
		newEnc, err := after.Encode(in)
		require.NoError(t, err)
		require.Equal(t, payloadcodec.KeyID(newKeyBytes), string(newEnc[0].GetMetadata()[payloadcodec.MetadataKeyID]))

		// One history can hold payloads of both keys.
		mixed := []*commonpb.Payload{oldEnc[0], newEnc[1], in[2]}
		dec, err := after.Decode(mixed)
		require.NoError(t, err)
		for i := range mixed {
			require.True(t, proto.Equal(in[i], dec[i]), "payload %d", i)
		}

		// The old process cannot read what the new key sealed.
		_, err = before.Decode(newEnc)
		require.ErrorIs(t, err, payloadcodec.ErrUnknownKey)
	})

	t.Run("KeyIDIsStableAndDistinct", func(t *testing.T) {
		t.Parallel()
		a, b := newKey(t), newKey(t)
		require.Equal(t, payloadcodec.KeyID(a), payloadcodec.KeyID(bytes.Clone(a)))
		require.NotEqual(t, payloadcodec.KeyID(a), payloadcodec.KeyID(b))
		require.Len(t, payloadcodec.KeyID(a), 16)
	})

	t.Run("ErrKeySize", func(t *testing.T) {
		t.Parallel()
		_, err := payloadcodec.New(make([]byte, 16))
		require.ErrorContains(t, err, "master key must be 32 bytes")
		_, err = payloadcodec.New(newKey(t), newKey(t), make([]byte, 31))
		require.ErrorContains(t, err, "previous master key 2 must be 32 bytes")
	})
}

func TestConverters(t *testing.T) {
	t.Parallel()
	c := newCodec(t, newKey(t))

	t.Run("DataConverterRoundTrip", func(t *testing.T) {
		t.Parallel()
		dc := payloadcodec.DataConverter(c)
		in := sendInput{Receiver: "user@example.com", Params: map[string]string{"name": "Ada"}}
		p, err := dc.ToPayload(in)
		require.NoError(t, err)
		require.True(t, payloadcodec.IsEncrypted(p))
		require.NotContains(t, string(p.GetData()), "user@example.com")
		var out sendInput
		require.NoError(t, dc.FromPayload(p, &out))
		require.Equal(t, in, out)
	})

	t.Run("FailureMessageSealed", func(t *testing.T) {
		t.Parallel()
		fc := payloadcodec.FailureConverter(c)
		cause := temporal.NewApplicationError("provider refused +8613800138000", "PROVIDER_REJECTED", "detail for +8613800138000")
		f := fc.ErrorToFailure(cause)
		raw, err := proto.Marshal(f)
		require.NoError(t, err)
		require.NotContains(t, string(raw), "8613800138000")
		require.True(t, payloadcodec.IsEncrypted(f.GetEncodedAttributes()))
		for _, p := range f.GetApplicationFailureInfo().GetDetails().GetPayloads() {
			require.True(t, payloadcodec.IsEncrypted(p))
		}

		back := fc.FailureToError(f)
		var appErr *temporal.ApplicationError
		require.True(t, errors.As(back, &appErr))
		require.Equal(t, "provider refused +8613800138000", appErr.Message())
		require.Equal(t, "PROVIDER_REJECTED", appErr.Type())
		var detail string
		require.NoError(t, appErr.Details(&detail))
		require.Equal(t, "detail for +8613800138000", detail)

		// Reading a failure leaves it sealed: the SDK reads a local
		// activity's marker before sending it.
		raw, err = proto.Marshal(f)
		require.NoError(t, err)
		require.NotContains(t, string(raw), "8613800138000")
		require.Equal(t, "Encoded failure", f.GetMessage())
	})
}
