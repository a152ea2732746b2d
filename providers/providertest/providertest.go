// Package providertest is the conformance suite every provider runs: the
// promises Herald's workflow relies on, whatever the vendor.
//
//   - A send cancelled before anything went out is transient: nothing was
//     sent, so sending again is safe.
//   - A vendor that refuses the connection is transient, for the same
//     reason.
//   - A send whose request was written and then timed out (the account's
//     own timeout or the caller's deadline) is an unknown outcome: the
//     vendor may have acted on it, so it must be settled by asking, never
//     by sending again.
//   - An answer the provider cannot read (garbage, an HTML error page,
//     truncated JSON) is a classified failure: never a panic, never a
//     success, and after a 2xx an unknown outcome.
//   - A config with several problems is refused with all of them named in
//     one error, and no error quotes a secret.
//   - An account's on_unknown_outcome is "resend" or "fail", or left out
//     for the provider's default; a provider with a status query has no
//     such setting and refuses it.
//
// A provider's test calls Run with a Suite describing how to point an
// account at the suite's stand-in vendor:
//
//	func TestConformance(t *testing.T) {
//		t.Parallel()
//		providertest.Run(t, providertest.Suite{
//			Provider:  dingtalk.New(),
//			Transport: providertest.HTTP,
//			Config: func(v providertest.Vendor) json.RawMessage {
//				return providertest.JSON(t, dingtalk.Config{AccessToken: "tok", BaseURL: v.URL, TimeoutMS: v.TimeoutMS()})
//			},
//			Message:     providers.Message{TaskID: "t-1", Attempt: 1, Receiver: "-", Content: "hi"},
//			BadConfig:   json.RawMessage(`{"secret":"x","timeout_ms":-5}`),
//			BadProblems: []string{"access_token or webhook_url is required", "signing secret", "timeout_ms"},
//			OnUnknownOutcome: providers.OnUnknownFail,
//		})
//	}
package providertest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/providers"
)

// Transport is how a provider reaches its vendor.
type Transport int

// Transports the suite can stand in for.
const (
	// Local providers reach no vendor (the sandbox): only the cases that
	// need no network run.
	Local Transport = iota
	// HTTP providers post to an HTTP API.
	HTTP
	// SMTP providers speak SMTP without TLS (tls_mode "none" on loopback).
	SMTP
)

// Timeout is the send timeout the suite asks accounts for. Providers whose
// timeout setting counts whole seconds round it up.
const Timeout = 300 * time.Millisecond

// Vendor is where the suite's stand-in vendor listens.
type Vendor struct {
	// URL is "http://127.0.0.1:<port>", for HTTP providers.
	URL string
	// Addr is "127.0.0.1:<port>".
	Addr string
	// Host is "127.0.0.1" and Port the port.
	Host string
	Port int
	// Timeout is the send timeout to configure.
	Timeout time.Duration
}

// TimeoutMS is Timeout in milliseconds, for timeout_ms settings.
func (v Vendor) TimeoutMS() int { return int(v.Timeout / time.Millisecond) }

// TimeoutSeconds is Timeout rounded up to whole seconds, for
// timeout_seconds settings.
func (v Vendor) TimeoutSeconds() int { return int(math.Ceil(v.Timeout.Seconds())) }

// Suite describes one provider kind to the conformance suite.
type Suite struct {
	// Provider is the provider kind under test, built as the worker builds
	// it (with whatever test options it needs, such as a clock).
	Provider providers.Provider
	// Transport is how it reaches its vendor.
	Transport Transport
	// Config returns a valid account config whose vendor is v and whose
	// send timeout is v.Timeout. For Local providers v is the zero Vendor.
	Config func(v Vendor) json.RawMessage
	// Message is a message the account accepts.
	Message providers.Message
	// Route, for HTTP providers that make other requests before the send
	// (an access token fetch), answers those itself and hands the send
	// request to send. Nil hands every request to send.
	Route func(send http.Handler) http.Handler
	// AnswerUnread is set for providers that take any 2xx answer as
	// delivery without reading its body (webhooks): a malformed body after
	// a 2xx is then a success.
	AnswerUnread bool
	// BadConfig is an account config with several problems, and
	// BadProblems a part of the text of each: the error must name every
	// one, and no more.
	BadConfig   json.RawMessage
	BadProblems []string
	// Secrets are strings that no error may quote: the credentials in
	// Config and BadConfig.
	Secrets []string
	// OnUnknownOutcome is what an account whose config leaves
	// on_unknown_outcome out gets (the provider's SendPolicy). Empty means
	// the provider has no such setting, as a provider with a status query
	// settles an unknown outcome by asking: its config must refuse the
	// field.
	OnUnknownOutcome providers.UnknownOutcome
}

// Run runs the conformance suite for s as subtests of t.
func Run(t *testing.T, s Suite) {
	t.Helper()
	require.NotNil(t, s.Provider, "Suite.Provider")
	require.NotNil(t, s.Config, "Suite.Config")
	require.NotEmpty(t, s.BadProblems, "Suite.BadProblems: a config with several problems")
	require.Greater(t, len(s.BadProblems), 1, "Suite.BadProblems: the point is a config with several problems")

	t.Run("ValidConfig", func(t *testing.T) {
		t.Parallel()
		cfg := s.Config(anyVendor)
		require.NoError(t, s.Provider.ValidateConfig(cfg))
		_, err := s.Provider.NewSender(account(s, cfg))
		require.NoError(t, err)
	})
	t.Run("ConfigErrorsListEveryProblem", func(t *testing.T) { t.Parallel(); configProblems(t, s) })
	t.Run("CancelledBeforeSendIsTransient", func(t *testing.T) { t.Parallel(); cancelledBeforeSend(t, s) })
	t.Run("OnUnknownOutcome", func(t *testing.T) { t.Parallel(); onUnknownOutcome(t, s) })
	if s.Transport == Local {
		return
	}
	t.Run("ConnectionRefusedIsTransient", func(t *testing.T) { t.Parallel(); connectionRefused(t, s) })
	t.Run("TimeoutAfterWriteIsUnknownOutcome", func(t *testing.T) { t.Parallel(); timeoutAfterWrite(t, s, false) })
	t.Run("DeadlineAfterWriteIsUnknownOutcome", func(t *testing.T) { t.Parallel(); timeoutAfterWrite(t, s, true) })
	t.Run("MalformedAnswersAreClassified", func(t *testing.T) { t.Parallel(); malformedAnswers(t, s) })
}

// JSON marshals v, a provider's Config value, for Suite.Config.
func JSON(t *testing.T, v any) json.RawMessage {
	t.Helper()
	raw, err := json.Marshal(v)
	require.NoError(t, err)
	return raw
}

// account is the account the worker would build a sender for.
func account(s Suite, cfg json.RawMessage) providers.Account {
	return providers.Account{ID: 7, Kind: s.Provider.Kind(), Config: cfg,
		CallbackURL: "http://127.0.0.1:1/callbacks/" + s.Provider.Kind() + "/7?token=cb-token"}
}

// sender builds a sender for an account whose vendor is v.
func sender(t *testing.T, s Suite, v Vendor) providers.Sender {
	t.Helper()
	snd, err := s.Provider.NewSender(account(s, s.Config(v)))
	require.NoError(t, err)
	return snd
}

func configProblems(t *testing.T, s Suite) {
	err := s.Provider.ValidateConfig(s.BadConfig)
	require.Error(t, err, "a config with several problems was accepted")
	for _, p := range s.BadProblems {
		require.ErrorContains(t, err, p)
	}
	require.Len(t, problems(t, err), len(s.BadProblems), "every problem once, and only those: %v", err)
	requireNoSecret(t, s, err)

	_, err = s.Provider.NewSender(account(s, s.BadConfig))
	require.Error(t, err, "a sender was built from a config with problems")
	for _, p := range s.BadProblems {
		require.ErrorContains(t, err, p)
	}
	requireNoSecret(t, s, err)
}

// problems splits a config error, "invalid <kind> config: a; b; c", into
// its problems.
func problems(t *testing.T, err error) []string {
	t.Helper()
	msg := err.Error()
	_, list, ok := strings.Cut(msg, " config: ")
	require.True(t, ok, "a config error reads %q: %q", "invalid <kind> config: <problem>; <problem>", msg)
	return strings.Split(list, "; ")
}

func cancelledBeforeSend(t *testing.T, s Suite) {
	v := Vendor{Host: "127.0.0.1", Port: 1, Addr: "127.0.0.1:1", URL: "http://127.0.0.1:1", Timeout: 5 * time.Second}
	var vendor *stub
	if s.Transport != Local {
		vendor = start(t, s, answerNever)
		v = vendor.vendor(5 * time.Second)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res, err := sender(t, s, v).Send(ctx, s.Message)
	requireClass(t, s, res, err, providers.ClassTransient)
	if vendor != nil {
		require.Zero(t, vendor.sends(), "a cancelled send reached the vendor")
	}
}

func connectionRefused(t *testing.T, s Suite) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().(*net.TCPAddr)
	require.NoError(t, ln.Close())
	v := Vendor{URL: "http://" + addr.String(), Addr: addr.String(), Host: "127.0.0.1", Port: addr.Port, Timeout: 5 * time.Second}
	res, err := sender(t, s, v).Send(context.Background(), s.Message)
	requireClass(t, s, res, err, providers.ClassTransient)
}

// timeoutAfterWrite lets the vendor take the whole request and never
// answer; the send gives up on the account's timeout, or on the caller's
// deadline when deadline is set.
func timeoutAfterWrite(t *testing.T, s Suite, deadline bool) {
	vendor := start(t, s, answerNever)
	timeout, ctx := Timeout, context.Background()
	if deadline {
		// The account would wait much longer; the caller (the activity's
		// own timeout) gives up first.
		timeout = 30 * time.Second
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, Timeout)
		defer cancel()
	}
	snd := sender(t, s, vendor.vendor(timeout))
	start := time.Now()
	res, err := snd.Send(ctx, s.Message)
	requireClass(t, s, res, err, providers.ClassUnknownOutcome)
	require.Equal(t, 1, vendor.sends(), "the vendor took the request")
	require.Less(t, time.Since(start), 10*time.Second, "the send did not give up in time")
}

// malformedAnswers are answers a vendor, or a proxy in front of it, can
// give that follow no protocol.
func malformedAnswers(t *testing.T, s Suite) {
	cases := []struct {
		name string
		ans  answer
		// after2xx: the vendor said yes before saying nonsense, so it may
		// have acted on the request.
		after2xx bool
	}{
		{"GarbageBody", answerGarbage, true},
		{"HTMLErrorPage", answerHTMLError, false},
		{"TruncatedJSON", answerTruncated, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			vendor := start(t, s, tc.ans)
			res, err := sender(t, s, vendor.vendor(5*time.Second)).Send(context.Background(), s.Message)
			if s.AnswerUnread && tc.after2xx {
				require.NoError(t, err, "a 2xx is delivery for this provider, whatever its body")
				return
			}
			require.Error(t, err, "a malformed answer was taken for success: %+v", res)
			pe := classified(t, s, res, err)
			if tc.after2xx {
				require.Equal(t, providers.ClassUnknownOutcome, pe.Class,
					"the vendor may have acted on the request; only asking can tell: %v", err)
			} else {
				require.Contains(t, []providers.Class{providers.ClassTransient, providers.ClassUnknownOutcome}, pe.Class,
					"an error page from the vendor's side: %v", err)
			}
			require.NotContains(t, err.Error(), "<html", "the vendor's page is not repeated")
		})
	}
}

func requireClass(t *testing.T, s Suite, res providers.Result, err error, class providers.Class) {
	t.Helper()
	pe := classified(t, s, res, err)
	require.Equal(t, class, pe.Class, "error: %v", err)
}

// classified checks that err is a classified provider error that quotes no
// secret, and that no result came with it.
func classified(t *testing.T, s Suite, res providers.Result, err error) *providers.Error {
	t.Helper()
	require.Error(t, err)
	var pe *providers.Error
	require.True(t, errors.As(err, &pe), "not a *providers.Error: %v", err)
	require.True(t, pe.Class.Valid(), "class %q", pe.Class)
	require.Equal(t, providers.Result{}, res, "a result came with the error")
	requireNoSecret(t, s, err)
	return pe
}

func requireNoSecret(t *testing.T, s Suite, err error) {
	t.Helper()
	texts := []string{err.Error(), fmt.Sprintf("%+v", err)}
	var pe *providers.Error
	if errors.As(err, &pe) && pe.Err != nil {
		texts = append(texts, pe.Err.Error())
	}
	for _, secret := range s.Secrets {
		for _, text := range texts {
			require.NotContains(t, text, secret, "an error quotes a secret")
		}
	}
}
