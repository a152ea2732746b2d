package webhook

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func newTestSigner(t *testing.T) (*Signer, string) {
	t.Helper()
	secret, err := GenerateSecret()
	require.NoError(t, err)
	s, err := NewSigner(secret)
	require.NoError(t, err)
	return s, secret
}

func TestGenerateSecret(t *testing.T) {
	t.Parallel()
	a, err := GenerateSecret()
	require.NoError(t, err)
	b, err := GenerateSecret()
	require.NoError(t, err)
	require.NotEqual(t, a, b)
	require.True(t, strings.HasPrefix(a, SecretPrefix))
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(a, SecretPrefix))
	require.NoError(t, err)
	require.Len(t, key, 32)
}

func TestNewSigner(t *testing.T) {
	t.Parallel()
	key24 := base64.StdEncoding.EncodeToString(make([]byte, 24))
	for name, tc := range map[string]struct {
		secret string
		errHas string
	}{
		"OK":               {secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"},
		"OKUnpadded":       {secret: "whsec_" + strings.TrimRight(base64.StdEncoding.EncodeToString(make([]byte, 32)), "=")},
		"ErrNoPrefix":      {secret: key24, errHas: `must start with "whsec_"`},
		"ErrEmpty":         {secret: "", errHas: `must start with "whsec_"`},
		"ErrNotBase64":     {secret: "whsec_not*base64!", errHas: "not valid base64"},
		"ErrTooShort":      {secret: "whsec_" + base64.StdEncoding.EncodeToString(make([]byte, 16)), errHas: "24 to 64 bytes, got 16"},
		"ErrTooLong":       {secret: "whsec_" + base64.StdEncoding.EncodeToString(make([]byte, 65)), errHas: "got 65"},
		"ErrShortUnpadded": {secret: "whsec_abc", errHas: "got 2"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s, err := NewSigner(tc.secret)
			if tc.errHas == "" {
				require.NoError(t, err)
				require.NotNil(t, s)
				return
			}
			require.ErrorContains(t, err, tc.errHas)
			if len(tc.secret) > len(SecretPrefix) {
				require.NotContains(t, err.Error(), tc.secret[len(SecretPrefix):], "error must not echo the secret")
			}
		})
	}
}

// TestSignKnownVector checks against the example in the Standard Webhooks
// specification, so Herald interoperates with other implementations.
func TestSignKnownVector(t *testing.T) {
	t.Parallel()
	s, err := NewSigner("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	require.NoError(t, err)
	ts := time.Unix(1614265330, 0)
	body := []byte(`{"test": 2432232314}`)
	require.Equal(t, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", s.Sign("msg_p5jXN8AQM9LWM0D4loKWxJek", ts, body))

	h := s.Headers("msg_p5jXN8AQM9LWM0D4loKWxJek", ts, body)
	require.Equal(t, "msg_p5jXN8AQM9LWM0D4loKWxJek", h.Get("webhook-id"))
	require.Equal(t, "1614265330", h.Get("webhook-timestamp"))
	require.Equal(t, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", h.Get("webhook-signature"))
	require.NoError(t, s.Verify(h, body, ts.Add(time.Minute), 0))
}

func TestVerify(t *testing.T) {
	t.Parallel()
	signer, _ := newTestSigner(t)
	other, _ := newTestSigner(t)
	ts := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	body := []byte(`{"type":"message.send","task_id":"t1"}`)

	t.Run("RoundTrip", func(t *testing.T) {
		t.Parallel()
		require.NoError(t, signer.Verify(signer.Headers("msg_1", ts, body), body, ts, time.Minute))
	})

	t.Run("ErrTamperedBody", func(t *testing.T) {
		t.Parallel()
		h := signer.Headers("msg_1", ts, body)
		require.ErrorIs(t, signer.Verify(h, []byte(`{"type":"message.send","task_id":"t2"}`), ts, time.Minute), ErrNoMatchingSignature)
	})

	t.Run("ErrTamperedID", func(t *testing.T) {
		t.Parallel()
		h := signer.Headers("msg_1", ts, body)
		h.Set(HeaderID, "msg_2")
		require.ErrorIs(t, signer.Verify(h, body, ts, time.Minute), ErrNoMatchingSignature)
	})

	t.Run("ErrTamperedTimestamp", func(t *testing.T) {
		t.Parallel()
		h := signer.Headers("msg_1", ts, body)
		h.Set(HeaderTimestamp, fmt.Sprint(ts.Unix()+1))
		require.ErrorIs(t, signer.Verify(h, body, ts, time.Minute), ErrNoMatchingSignature)
	})

	t.Run("ErrTamperedSignature", func(t *testing.T) {
		t.Parallel()
		h := signer.Headers("msg_1", ts, body)
		sig := []byte(h.Get(HeaderSignature))
		sig[5] ^= 1
		h.Set(HeaderSignature, string(sig))
		require.ErrorIs(t, signer.Verify(h, body, ts, time.Minute), ErrNoMatchingSignature)
	})

	t.Run("ErrWrongSecret", func(t *testing.T) {
		t.Parallel()
		require.ErrorIs(t, other.Verify(signer.Headers("msg_1", ts, body), body, ts, time.Minute), ErrNoMatchingSignature)
	})

	t.Run("ErrOtherScheme", func(t *testing.T) {
		t.Parallel()
		h := signer.Headers("msg_1", ts, body)
		h.Set(HeaderSignature, "v1a,"+strings.TrimPrefix(h.Get(HeaderSignature), "v1,"))
		require.ErrorIs(t, signer.Verify(h, body, ts, time.Minute), ErrNoMatchingSignature)
	})

	t.Run("ErrMissingHeaders", func(t *testing.T) {
		t.Parallel()
		err := signer.Verify(http.Header{}, body, ts, time.Minute)
		require.ErrorIs(t, err, ErrMissingHeader)
		require.ErrorContains(t, err, "webhook-id, webhook-timestamp, webhook-signature")
	})

	t.Run("ErrInvalidTimestamp", func(t *testing.T) {
		t.Parallel()
		h := signer.Headers("msg_1", ts, body)
		h.Set(HeaderTimestamp, ts.Format(time.RFC3339))
		require.ErrorIs(t, signer.Verify(h, body, ts, time.Minute), ErrInvalidTimestamp)
	})

	t.Run("Tolerance", func(t *testing.T) {
		t.Parallel()
		h := signer.Headers("msg_1", ts, body)
		require.NoError(t, signer.Verify(h, body, ts.Add(time.Minute), time.Minute), "exactly at the edge, late")
		require.NoError(t, signer.Verify(h, body, ts.Add(-time.Minute), time.Minute), "exactly at the edge, early")
		require.ErrorIs(t, signer.Verify(h, body, ts.Add(time.Minute+time.Second), time.Minute), ErrTimestampTooOld)
		require.ErrorIs(t, signer.Verify(h, body, ts.Add(-time.Minute-time.Second), time.Minute), ErrTimestampTooNew)
	})

	t.Run("DefaultTolerance", func(t *testing.T) {
		t.Parallel()
		h := signer.Headers("msg_1", ts, body)
		require.NoError(t, signer.Verify(h, body, ts.Add(DefaultTolerance), 0))
		require.ErrorIs(t, signer.Verify(h, body, ts.Add(DefaultTolerance+time.Second), 0), ErrTimestampTooOld)
	})

	t.Run("Rotation", func(t *testing.T) {
		t.Parallel()
		oldS, newS, retired := signer, other, must(t, GenerateSecret)
		retiredS, err := NewSigner(retired)
		require.NoError(t, err)
		h := newS.Headers("msg_1", ts, body)
		h.Set(HeaderSignature, oldS.Sign("msg_1", ts, body)+" "+newS.Sign("msg_1", ts, body))
		require.NoError(t, oldS.Verify(h, body, ts, time.Minute), "receiver still on the old secret")
		require.NoError(t, newS.Verify(h, body, ts, time.Minute), "receiver already on the new secret")
		require.ErrorIs(t, retiredS.Verify(h, body, ts, time.Minute), ErrNoMatchingSignature)
	})

	t.Run("SignaturesInSeparateHeaderLines", func(t *testing.T) {
		t.Parallel()
		h := other.Headers("msg_1", ts, body)
		h.Add(HeaderSignature, signer.Sign("msg_1", ts, body))
		require.NoError(t, signer.Verify(h, body, ts, time.Minute))
	})

	t.Run("GarbageEntriesSkipped", func(t *testing.T) {
		t.Parallel()
		h := signer.Headers("msg_1", ts, body)
		h.Set(HeaderSignature, "v1 v1,%%% nonsense "+h.Get(HeaderSignature))
		require.NoError(t, signer.Verify(h, body, ts, time.Minute))
	})
}

func TestSignerHidesKey(t *testing.T) {
	t.Parallel()
	s, secret := newTestSigner(t)
	encoded := strings.TrimPrefix(secret, SecretPrefix)
	for _, out := range []string{fmt.Sprint(s), fmt.Sprintf("%v", s), fmt.Sprintf("%+v", s), fmt.Sprintf("%#v", s)} {
		require.NotContains(t, out, encoded)
		require.Contains(t, out, "redacted")
	}
}

func must[T any](t *testing.T, f func() (T, error)) T {
	t.Helper()
	v, err := f()
	require.NoError(t, err)
	return v
}
