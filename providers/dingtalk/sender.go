package dingtalk

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/heraldhq/herald/providers"
	"github.com/heraldhq/herald/providers/httpsend"
)

// maxAnswerBytes bounds how much of an answer is read; DingTalk answers
// with a small JSON object.
const maxAnswerBytes = 64 << 10

// Sender posts messages to one DingTalk robot. It is safe for concurrent
// use.
type Sender struct {
	endpoint string
	query    url.Values // fixed query parameters, access_token included
	secret   string
	timeout  time.Duration
	client   httpsend.Doer
	now      func() time.Time
}

// NewSender builds a sender for cfg, which is validated first.
func NewSender(cfg Config, opts ...Option) (*Sender, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	set := newSettings(opts)

	var client http.Client
	if set.client != nil {
		client = *set.client
	}
	// A redirect means the URL is wrong, and following it would hand the
	// access token to another host.
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

	endpoint, query, token := cfg.target()
	query.Set("access_token", token)
	return &Sender{
		endpoint: endpoint,
		query:    query,
		secret:   cfg.Secret,
		timeout:  cfg.Timeout(),
		client:   &client,
		now:      set.now,
	}, nil
}

// Send posts msg to the robot's group. The msgtype follows msg.ContentType
// ("text", "markdown", "action_card") and the receiver names whom to
// @-mention (see ParseReceiver). Acceptance is delivery: the Result is
// Delivered and has no provider message id, DingTalk gives none.
//
// Failures are *providers.Error: DingTalk's errcode is classified with
// Classify and kept in Code (130101 is throttled with RetryAfter of ten
// minutes); a message the robot cannot carry is permanent before anything
// is sent; no connection is transient; a timeout or lost connection after
// the request was written is unknown_outcome.
func (s *Sender) Send(ctx context.Context, msg providers.Message) (providers.Result, error) {
	body, err := buildMessage(msg)
	if err != nil {
		return providers.Result{}, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	// Markdown and links are sent as written, not as \u003c escapes.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(body); err != nil {
		return providers.Result{}, &providers.Error{Class: providers.ClassPermanent, Code: "ENCODE_FAILED",
			Message: "encode dingtalk message", Err: err}
	}

	q := make(url.Values, len(s.query)+2)
	for k, v := range s.query {
		q[k] = v
	}
	if s.secret != "" {
		SignQuery(q, s.secret, s.now())
	}

	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.endpoint+"?"+q.Encode(), &buf)
	if err != nil {
		return providers.Result{}, &providers.Error{Class: providers.ClassConfig, Code: "BAD_URL",
			Message: "build dingtalk request", Err: err}
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")

	// Whether the request reached the wire decides between "nothing was
	// sent, try again" and "DingTalk may have posted it". The URL, which
	// holds the access token and the signature, is never quoted.
	resp, wrote, err := httpsend.Do(s.client, req)
	if err != nil {
		return providers.Result{}, httpsend.Classify(err, wrote, "dingtalk")
	}
	defer resp.Body.Close()
	data, readErr := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes))
	return answer(resp.StatusCode, data, readErr)
}

// robotAnswer is DingTalk's reply, sent with HTTP 200 on errors too.
type robotAnswer struct {
	ErrCode *int   `json:"errcode"`
	ErrMsg  string `json:"errmsg"`
}

// answer reads the robot's reply. An errcode is believed whatever the HTTP
// status; without one, the status decides.
func answer(status int, data []byte, readErr error) (providers.Result, error) {
	var a robotAnswer
	if json.Unmarshal(data, &a) == nil && a.ErrCode != nil {
		switch {
		case *a.ErrCode != 0:
			return providers.Result{}, vendorError(*a.ErrCode, a.ErrMsg)
		case status >= 200 && status < 300:
			return providers.Result{Delivered: true}, nil
		}
	}
	if readErr != nil || (status >= 200 && status < 300) {
		// Taken or not, nobody can say: the answer is missing or is not
		// DingTalk's.
		return providers.Result{}, &providers.Error{Class: providers.ClassUnknownOutcome, Code: CodeBadAnswer,
			Message: fmt.Sprintf("dingtalk answered HTTP %d without a readable errcode; the message may have been posted", status),
			Err:     readErr}
	}
	return providers.Result{}, statusError(status)
}

// statusError classifies an HTTP error status that came without an
// errcode, as a proxy or gateway in front of DingTalk would send.
func statusError(status int) *providers.Error {
	e := &providers.Error{
		Code:    "HTTP_" + strconv.Itoa(status),
		Message: fmt.Sprintf("dingtalk answered HTTP %d %s", status, http.StatusText(status)),
	}
	switch {
	case status >= 300 && status < 400:
		e.Class = providers.ClassConfig
		e.Message += "; redirects are not followed, check webhook_url or base_url"
	case status == http.StatusNotFound:
		e.Class = providers.ClassConfig
		e.Message += "; check webhook_url or base_url"
	case status == http.StatusTooManyRequests:
		e.Class = providers.ClassThrottled
	case status >= 400 && status < 500 && status != http.StatusRequestTimeout:
		e.Class = providers.ClassPermanent
	default:
		e.Class = providers.ClassTransient
	}
	return e
}
