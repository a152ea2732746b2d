package feishu

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

// maxAnswerBytes bounds how much of an answer is read; Feishu answers with
// a small JSON object.
const maxAnswerBytes = 64 << 10

// maxRetryAfter caps the gateway's reset hint, so a bogus value cannot park
// a message for long.
const maxRetryAfter = time.Hour

// Sender posts messages to one Feishu custom bot. It is safe for
// concurrent use.
type Sender struct {
	url     string
	secret  string
	timeout time.Duration
	client  httpsend.Doer
	now     func() time.Time
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
	// hook id to another host.
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

	return &Sender{
		url:     cfg.hookURL(),
		secret:  cfg.Secret,
		timeout: cfg.Timeout(),
		client:  &client,
		now:     set.now,
	}, nil
}

// Send posts msg to the bot's group. The msg_type follows msg.ContentType
// ("text", "post", "interactive"; "markdown" and "action_card" become
// cards) and the receiver names whom to @-mention (see ParseReceiver).
// Acceptance is delivery: the Result is Delivered and has no provider
// message id, Feishu gives none.
//
// Failures are *providers.Error: Feishu's code is classified with Classify
// and kept in Code; a message the bot cannot carry (over 20 KB, or an
// unsupported content type) is permanent before anything is sent; no
// connection is transient; a timeout or lost connection after the request
// was written is unknown_outcome.
func (s *Sender) Send(ctx context.Context, msg providers.Message) (providers.Result, error) {
	body, err := buildMessage(msg)
	if err != nil {
		return providers.Result{}, err
	}
	if s.secret != "" {
		body.Timestamp, body.Sign = Sign(s.secret, s.now())
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	// Markdown, <at> tags and links are sent as written, not as \u003c
	// escapes, which also keeps the body under the size limit longer.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(body); err != nil {
		return providers.Result{}, &providers.Error{Class: providers.ClassPermanent, Code: "ENCODE_FAILED",
			Message: "encode feishu message", Err: err}
	}
	if buf.Len() > MaxBodyBytes {
		// Checked here so Herald does not spend a request on it; the code
		// is the one Feishu would answer with, so rules treat both alike.
		return providers.Result{}, providers.Errorf(providers.ClassPermanent, strconv.Itoa(CodeBadRequest),
			"message is %d bytes as JSON, over Feishu's limit of %d", buf.Len(), MaxBodyBytes)
	}

	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, &buf)
	if err != nil {
		return providers.Result{}, &providers.Error{Class: providers.ClassConfig, Code: "BAD_URL",
			Message: "build feishu request", Err: err}
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")

	// Whether the request reached the wire decides between "nothing was
	// sent, try again" and "Feishu may have posted it". The URL, which
	// holds the hook id, is never quoted.
	resp, wrote, err := httpsend.Do(s.client, req)
	if err != nil {
		return providers.Result{}, httpsend.Classify(err, wrote, "feishu")
	}
	defer resp.Body.Close()
	data, readErr := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes))
	return answer(resp.StatusCode, resp.Header, data, readErr)
}

// botAnswer is Feishu's reply. The current form is {"code":0,"msg":...};
// older bots answer {"StatusCode":0,"StatusMessage":...}, and some answers
// carry both.
type botAnswer struct {
	Code          *int   `json:"code"`
	Msg           string `json:"msg"`
	StatusCode    *int   `json:"StatusCode"`
	StatusMessage string `json:"StatusMessage"`
}

// answer reads the bot's reply. A code is believed whatever the HTTP
// status, "code" before "StatusCode"; without one, the status decides.
func answer(status int, header http.Header, data []byte, readErr error) (providers.Result, error) {
	var a botAnswer
	if json.Unmarshal(data, &a) == nil {
		code, msg := a.Code, a.Msg
		if code == nil {
			code, msg = a.StatusCode, a.StatusMessage
		}
		if code != nil {
			switch {
			case *code != 0:
				return providers.Result{}, vendorError(*code, msg, resetAfter(*code, status, header))
			case status >= 200 && status < 300:
				return providers.Result{Delivered: true}, nil
			}
		}
	}
	if readErr != nil || (status >= 200 && status < 300) {
		// Taken or not, nobody can say: the answer is missing or is not
		// Feishu's.
		return providers.Result{}, &providers.Error{Class: providers.ClassUnknownOutcome, Code: CodeBadAnswer,
			Message: fmt.Sprintf("feishu answered HTTP %d without a readable code; the message may have been posted", status),
			Err:     readErr}
	}
	return providers.Result{}, statusError(status, header)
}

// resetAfter reads the gateway's x-ogw-ratelimit-reset (seconds until the
// limit resets) on a rate-limit answer. Zero means no hint.
func resetAfter(code, status int, header http.Header) time.Duration {
	if code != CodeRateLimited && status != http.StatusTooManyRequests {
		return 0
	}
	secs, err := strconv.Atoi(header.Get("x-ogw-ratelimit-reset"))
	if err != nil || secs <= 0 {
		return 0
	}
	return min(time.Duration(secs)*time.Second, maxRetryAfter)
}

// statusError classifies an HTTP error status that came without a code,
// as a proxy or gateway in front of Feishu would send.
func statusError(status int, header http.Header) *providers.Error {
	e := &providers.Error{
		Code:    "HTTP_" + strconv.Itoa(status),
		Message: fmt.Sprintf("feishu answered HTTP %d %s", status, http.StatusText(status)),
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
		e.RetryAfter = resetAfter(0, status, header)
	case status >= 400 && status < 500 && status != http.StatusRequestTimeout:
		e.Class = providers.ClassPermanent
	default:
		e.Class = providers.ClassTransient
	}
	return e
}
