package signing

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSign(t *testing.T) {
	t.Parallel()
	mac := hmac.New(sha256.New, []byte("secret"))
	mac.Write([]byte("POST/api/v1/messages{\"a\":1}1700000000nonce-1"))
	want := hex.EncodeToString(mac.Sum(nil))
	require.Equal(t, want, Sign("secret", "post", "/api/v1/messages", `{"a":1}`, "1700000000", "nonce-1"))
	require.True(t, Equal(want, want))
	require.False(t, Equal(want, want[:len(want)-1]+"0"))
}

func TestGoCanonical(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, body, want string }{
		{"Empty", "", ""},
		{"Whitespace", " \n", ""},
		{"SortsNested", `{"b": {"y": 1, "x": [true, null]}, "a": "1"}`, `{"a":"1","b":{"x":[true,null],"y":1}}`},
		{"EscapesHTML", `{"s": "<a href='/x'>&</a>"}`, `{"s":"\u003ca href='/x'\u003e\u0026\u003c/a\u003e"}`},
		{"KeepsUnicode", `{"s": "短信 ü \u00e9"}`, `{"s":"短信 ü é"}`},
		{"NumbersAsFloat64", `{"i": 10, "f": 1.50, "e": 1e21, "big": 12345678901234567890}`, `{"big":12345678901234567000,"e":1e+21,"f":1.5,"i":10}`},
		{"EmptyObject", `{"p": {}}`, `{"p":{}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := GoCanonical([]byte(tc.body))
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestPHPCanonical(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, body, want string
		emptyAsArray     bool
	}{
		{"SortsNested", `{"b": {"y": 1, "x": [true, null]}, "a": "1"}`, `{"a":"1","b":{"x":[true,null],"y":1}}`, false},
		{"NoHTMLOrSlashEscaping", `{"s": "<a href=\"/x\">&</a>"}`, `{"s":"<a href=\"/x\">&</a>"}`, false},
		{"KeepsUnicode", `{"s": "短信 \u00e9"}`, `{"s":"短信 é"}`, false},
		{"EscapesControlAndLineSeparators", `{"s": "a\tb\u0001\u2028"}`, `{"s":"a\tb\u0001\u2028"}`, false},
		{"IntegersAsWritten", `{"big": 12345678901234567890, "i": 10, "n": -3}`, `{"big":1.2345678901234567e+19,"i":10,"n":-3}`, false},
		{"Floats", `{"a": 1.50, "b": 1.0, "c": 1e25, "d": 0.0001, "e": 0.00001, "f": -2.5e-7, "g": 1e17, "h": 1e16}`, `{"a":1.5,"b":1,"c":1.0e+25,"d":0.0001,"e":1.0e-5,"f":-2.5e-7,"g":1.0e+17,"h":10000000000000000}`, false},
		{"EmptyObjectKept", `{"p": {}, "q": []}`, `{"p":{},"q":[]}`, false},
		{"EmptyObjectAsArray", `{"p": {}, "q": []}`, `{"p":[],"q":[]}`, true},
		{"IntegerKeysNumeric", `{"10": "x", "9": "y", "a": "z"}`, `{"9":"y","10":"x","a":"z"}`, false},
		{"SequentialKeysAreAList", `{"1": "b", "0": "a"}`, `["a","b"]`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := PHPCanonical([]byte(tc.body), tc.emptyAsArray)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestCandidates(t *testing.T) {
	t.Parallel()
	t.Run("NoBody", func(t *testing.T) {
		t.Parallel()
		got, err := Candidates(nil)
		require.NoError(t, err)
		require.Equal(t, []string{""}, got)
	})
	t.Run("SameFormsCollapse", func(t *testing.T) {
		t.Parallel()
		got, err := Candidates([]byte(`{"a":"x"}`))
		require.NoError(t, err)
		require.Equal(t, []string{`{"a":"x"}`}, got)
	})
	t.Run("AllThree", func(t *testing.T) {
		t.Parallel()
		got, err := Candidates([]byte(`{"s":"<&>","p":{}}`))
		require.NoError(t, err)
		require.Equal(t, []string{`{"p":{},"s":"\u003c\u0026\u003e"}`, `{"p":{},"s":"<&>"}`, `{"p":[],"s":"<&>"}`}, got)
	})
	t.Run("ErrSyntax", func(t *testing.T) {
		t.Parallel()
		_, err := Candidates([]byte(`{"a": tru}`))
		var se *SyntaxError
		require.ErrorAs(t, err, &se)
		require.Positive(t, se.Offset)
	})
}
