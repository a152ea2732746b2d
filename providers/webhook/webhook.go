package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/heraldhq/herald/providers"
	"github.com/heraldhq/herald/providers/httpsend"
)

// Kind is the provider kind stored on webhook accounts.
const Kind = "webhook"

// EventMessageSend is the "type" of the payload the sender posts.
const EventMessageSend = "message.send"

// Codes of failures that carry no HTTP status, as package httpsend gives
// them. Failures with a status use "HTTP_<status>", for example "HTTP_503".
const (
	// CodeTimeout means the endpoint did not answer within the timeout.
	CodeTimeout = httpsend.CodeTimeout
	// CodeConnect means no connection could be made (refused, reset, no
	// route).
	CodeConnect = httpsend.CodeConnect
	// CodeDNS means the endpoint's host name did not resolve.
	CodeDNS = httpsend.CodeDNS
	// CodeTLS means the endpoint's certificate was not accepted.
	CodeTLS = httpsend.CodeTLS
	// CodeConnectionLost means the connection broke after the request was
	// sent.
	CodeConnectionLost = httpsend.CodeConnectionLost
	// CodeCancelled means the caller gave up before the request was sent.
	CodeCancelled = httpsend.CodeCancelled
)

// maxResponseBytes bounds how much of an endpoint's answer is read; only a
// small JSON object with an "id" is of interest.
const maxResponseBytes = 64 << 10

const userAgent = "Herald-Webhook/1"

// maxRetryAfter caps an endpoint's Retry-After hint, so a bogus value
// cannot park a message for years.
const maxRetryAfter = 24 * time.Hour

// Payload is the JSON body the sender posts, documented here so receivers
// written in Go can decode it.
type Payload struct {
	// Type is EventMessageSend.
	Type     string `json:"type"`
	TaskID   string `json:"task_id"`
	Attempt  int    `json:"attempt"`
	Receiver string `json:"receiver"`
	Subject  string `json:"subject"`
	Content  string `json:"content"`
	// ContentType is the message's own content type (for example
	// "text/plain"), not the request's.
	ContentType string `json:"content_type"`
	// Params maps template parameter names to values; a later parameter
	// with a repeated name wins.
	Params map[string]string `json:"params"`
	// Timestamp is when this request was made, RFC 3339 in UTC.
	Timestamp string `json:"timestamp"`
}

// Option configures a Provider or Sender.
type Option func(*options)

type options struct {
	client *http.Client
	now    func() time.Time
}

// WithHTTPClient makes senders use c instead of a client of their own.
// Senders never follow redirects, whatever c.CheckRedirect says, and always
// bound a request by the account's timeout.
func WithHTTPClient(c *http.Client) Option { return func(o *options) { o.client = c } }

// WithClock replaces time.Now, for signing timestamps and Retry-After
// dates.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

func buildOptions(opts []Option) options {
	o := options{now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// Provider is the "webhook" provider kind: it delivers a message by POSTing
// it, signed, to the account's URL. Acceptance is delivery, so it has no
// receipts.
type Provider struct {
	opts options
}

var _ providers.Provider = (*Provider)(nil)

// New returns the webhook provider kind.
func New(opts ...Option) *Provider { return &Provider{opts: buildOptions(opts)} }

// Kind returns Kind.
func (p *Provider) Kind() string { return Kind }

// ValidateConfig checks an account config, naming every problem.
func (p *Provider) ValidateConfig(cfg json.RawMessage) error {
	_, err := ParseConfig(cfg)
	return err
}

// NewSender builds a sender for acc.
func (p *Provider) NewSender(acc providers.Account) (providers.Sender, error) {
	cfg, err := ParseConfig(acc.Config)
	if err != nil {
		return nil, fmt.Errorf("webhook account %d: %w", acc.ID, err)
	}
	s, err := newSender(cfg, p.opts)
	if err != nil {
		return nil, fmt.Errorf("webhook account %d: %w", acc.ID, err)
	}
	return s, nil
}

// ReceiptHandler returns nil: a 2xx answer is final.
func (p *Provider) ReceiptHandler() providers.ReceiptHandler { return nil }

// Sender posts messages to one endpoint. It is safe for concurrent use.
type Sender struct {
	url     string
	headers http.Header
	signer  *Signer
	timeout time.Duration
	client  *http.Client
	now     func() time.Time
}

var _ providers.Sender = (*Sender)(nil)

// NewSender returns a sender for cfg, which is validated first.
func NewSender(cfg Config, opts ...Option) (*Sender, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return newSender(cfg, buildOptions(opts))
}

func newSender(cfg Config, o options) (*Sender, error) {
	signer, err := NewSigner(cfg.Secret)
	if err != nil {
		return nil, err
	}
	var client http.Client
	if o.client != nil {
		client = *o.client
	} else {
		client.Timeout = cfg.Timeout()
	}
	// A redirect is a misconfigured URL, and following it would hand the
	// signed body (and any static Authorization header) to another host.
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

	headers := make(http.Header, len(cfg.Headers)+1)
	headers.Set("User-Agent", userAgent)
	for k, v := range cfg.Headers {
		headers.Set(k, v)
	}
	return &Sender{
		url:     cfg.URL,
		headers: headers,
		signer:  signer,
		timeout: cfg.Timeout(),
		client:  &client,
		now:     o.now,
	}, nil
}

// Send posts msg to the endpoint. The webhook-id header is
// msg.IdempotencyKey(), identical on every try of one attempt, so the
// endpoint can drop duplicates. A 2xx answer is delivery; its JSON "id"
// field, if any, becomes the ProviderMessageID. Failures are *providers.Error
// classified by status: 429 throttled; 408, 425 and 5xx transient; 401, 403
// and 410 account; 3xx config (redirects are not followed); other 4xx
// permanent; Retry-After is honoured on throttled and transient answers.
// No connection is transient; a timeout or broken connection after the
// request was written is unknown_outcome.
func (s *Sender) Send(ctx context.Context, msg providers.Message) (providers.Result, error) {
	now := s.now()
	params := make(map[string]string, len(msg.Params))
	for _, p := range msg.Params {
		params[p.Name] = p.Value
	}
	body, err := json.Marshal(Payload{
		Type:        EventMessageSend,
		TaskID:      msg.TaskID,
		Attempt:     msg.Attempt,
		Receiver:    msg.Receiver,
		Subject:     msg.Subject,
		Content:     msg.Content,
		ContentType: msg.ContentType,
		Params:      params,
		Timestamp:   now.UTC().Format(time.RFC3339),
	})
	if err != nil {
		return providers.Result{}, &providers.Error{Class: providers.ClassPermanent, Code: "ENCODE_FAILED", Message: "encode webhook payload", Err: err}
	}

	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return providers.Result{}, &providers.Error{Class: providers.ClassConfig, Code: "BAD_URL", Message: "build webhook request", Err: err}
	}
	for k, v := range s.headers {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range s.signer.Headers(msg.IdempotencyKey(), now, body) {
		req.Header[k] = v
	}

	// Whether the request reached the wire decides between "nothing was
	// sent, try again" and "the endpoint may have acted on it". The URL,
	// which may carry credentials, is never quoted.
	resp, wrote, err := httpsend.Do(s.client, req)
	if err != nil {
		return providers.Result{}, httpsend.Classify(err, wrote, "the endpoint")
	}
	defer resp.Body.Close()
	// A body cut short by the timeout still leaves the status valid.
	data, _ := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))

	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return providers.Result{Delivered: true, ProviderMessageID: responseID(data)}, nil
	}
	return providers.Result{}, classifyStatus(resp.StatusCode, resp.Header.Get("Retry-After"), s.now())
}

// classifyStatus maps a non-2xx answer to a failure class. The response
// body is left out of the message: endpoints may echo the receiver or
// other personal data, and the message ends up in the timeline.
func classifyStatus(status int, retryAfter string, now time.Time) *providers.Error {
	e := &providers.Error{
		Code:    "HTTP_" + strconv.Itoa(status),
		Message: fmt.Sprintf("endpoint answered %d %s", status, http.StatusText(status)),
	}
	switch {
	case status >= 300 && status < 400:
		e.Class = providers.ClassConfig
		e.Message += "; redirects are not followed, set the account URL to the final address"
	case status == http.StatusTooManyRequests:
		e.Class = providers.ClassThrottled
		e.RetryAfter = parseRetryAfter(retryAfter, now)
	case status == http.StatusRequestTimeout, status == http.StatusTooEarly, status >= 500 && status < 600:
		e.Class = providers.ClassTransient
		e.RetryAfter = parseRetryAfter(retryAfter, now)
	case status == http.StatusGone:
		e.Class = providers.ClassAccount
		e.Message += "; the endpoint is gone"
	case status == http.StatusUnauthorized, status == http.StatusForbidden:
		e.Class = providers.ClassAccount
	case status >= 400 && status < 500:
		e.Class = providers.ClassPermanent
	default:
		// Not an HTTP status a conforming server sends; nothing says the
		// message was taken, so trying again is the safe reading.
		e.Class = providers.ClassTransient
	}
	return e
}

// parseRetryAfter reads a Retry-After header: delay seconds or an HTTP date.
// Anything unreadable, or a date in the past, means no hint.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		return time.Duration(min(secs, int64(maxRetryAfter/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return min(d, maxRetryAfter)
		}
	}
	return 0
}

// responseID returns the "id" of a JSON object answer, if it has one. A
// numeric id is kept in its JSON spelling.
func responseID(body []byte) string {
	var obj map[string]json.RawMessage
	if json.Unmarshal(body, &obj) != nil {
		return ""
	}
	raw, ok := obj["id"]
	if !ok {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return ""
}

// SendPolicy gives the account's send timeout and what to do after an unknown outcome.
func (p *Provider) SendPolicy(acc providers.Account) providers.SendPolicy {
	cfg, err := ParseConfig(acc.Config)
	if err != nil {
		return providers.SendPolicy{}
	}
	outcome, _ := providers.ParseUnknownOutcome(cfg.OnUnknownOutcome, providers.OnUnknownResend)
	return providers.SendPolicy{Timeout: cfg.Timeout(), OnUnknownOutcome: outcome}
}
