// Package apiclient is a small Go client for Herald's /api/v1, signing
// requests exactly like the client libraries of the service Herald replaces:
// by default like its Go library (UUID nonce, Go canonical JSON), or with
// WithPHPSigning like its PHP library (32 hex digit nonce, PHP canonical
// JSON).
//
//	c := apiclient.New("http://127.0.0.1:8080", appID, secret)
//	res, err := c.SendMessage(ctx, apiclient.SendMessageRequest{
//		ChannelID:      3,
//		Receiver:       "+8613800138000",
//		TemplateParams: map[string]string{"code": "123456"},
//	}, apiclient.WithIdempotencyKey("order-42-otp"))
//	var apiErr *apiclient.APIError
//	if errors.As(err, &apiErr) {
//		// apiErr.Code is the wire code, e.g. 10005 for a bad receiver.
//	}
package apiclient

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/heraldhq/herald/api/internal/signing"
)

// maxResponseBytes bounds a response body read by the client.
const maxResponseBytes = 16 << 20

// Client calls one Herald server as one app. It is safe for concurrent use.
type Client struct {
	base   *url.URL
	rawURL string
	appID  string
	secret string
	http   *http.Client
	php    bool
	now    func() time.Time
	nonce  func() string
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient sets the HTTP client (default: one with a 30 s timeout).
func WithHTTPClient(h *http.Client) Option { return func(c *Client) { c.http = h } }

// WithPHPSigning signs like the PHP client library: a 32 hex digit nonce and
// the PHP canonical JSON form.
func WithPHPSigning() Option { return func(c *Client) { c.php = true } }

// WithClock sets the clock used for X-Timestamp.
func WithClock(now func() time.Time) Option { return func(c *Client) { c.now = now } }

// WithNonce sets the nonce generator, for tests that need a known nonce.
func WithNonce(f func() string) Option { return func(c *Client) { c.nonce = f } }

// New returns a client for the server at baseURL (scheme, host and an
// optional path prefix). A malformed baseURL is reported by every call.
func New(baseURL, appID, secret string, opts ...Option) *Client {
	c := &Client{
		rawURL: strings.TrimRight(baseURL, "/"),
		appID:  appID,
		secret: secret,
		http:   &http.Client{Timeout: 30 * time.Second},
		now:    time.Now,
	}
	c.base, _ = url.Parse(c.rawURL)
	for _, o := range opts {
		o(c)
	}
	if c.nonce == nil {
		if c.php {
			c.nonce = hexNonce
		} else {
			c.nonce = uuid.NewString
		}
	}
	return c
}

func hexNonce() string {
	var b [16]byte
	// crypto/rand.Read never returns an error.
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// CallOption configures one call.
type CallOption func(*callOptions)

type callOptions struct {
	idempotencyKey string
}

// WithIdempotencyKey sends an Idempotency-Key: repeating the call with the
// same key returns the first answer instead of sending again.
func WithIdempotencyKey(key string) CallOption {
	return func(o *callOptions) { o.idempotencyKey = key }
}

// APIError is a response whose envelope code is not 0.
type APIError struct {
	HTTPStatus int
	Code       int
	Message    string
	// Data is the envelope's data, when the server sent any.
	Data json.RawMessage
}

func (e *APIError) Error() string {
	return fmt.Sprintf("herald api: HTTP %d, code %d: %s", e.HTTPStatus, e.Code, e.Message)
}

type envelope struct {
	Code    *int            `json:"code"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data"`
}

// do sends one request and decodes the envelope's data into out. signed
// adds the authentication headers.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, in, out any, signed bool, opts []CallOption) error {
	if c.base == nil || c.base.Scheme == "" || c.base.Host == "" {
		return fmt.Errorf("herald api: invalid base URL %q", c.rawURL)
	}
	var co callOptions
	for _, o := range opts {
		o(&co)
	}
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return fmt.Errorf("herald api: encode %s %s request: %w", method, path, err)
		}
	}
	u := *c.base
	u.Path = c.base.Path + path
	u.RawQuery = query.Encode()
	req, err := http.NewRequestWithContext(ctx, method, u.String(), bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("herald api: build %s %s request: %w", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	} else {
		req.Body = http.NoBody
		req.ContentLength = 0
	}
	req.Header.Set("Accept", "application/json")
	if co.idempotencyKey != "" {
		req.Header.Set("Idempotency-Key", co.idempotencyKey)
	}
	if signed {
		if err := c.sign(req, u.Path, body); err != nil {
			return err
		}
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("herald api: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return fmt.Errorf("herald api: read %s %s response: %w", method, path, err)
	}
	var env envelope
	if err := json.Unmarshal(raw, &env); err != nil || env.Code == nil {
		return fmt.Errorf("herald api: %s %s: HTTP %d with a body that is not a response envelope", method, path, resp.StatusCode)
	}
	if *env.Code != 0 {
		apiErr := &APIError{HTTPStatus: resp.StatusCode, Code: *env.Code, Message: env.Message}
		if len(env.Data) > 0 && string(env.Data) != "null" {
			apiErr.Data = env.Data
		}
		// Decode the data anyway: /health fills it when something is down.
		if out != nil && apiErr.Data != nil {
			_ = json.Unmarshal(env.Data, out)
		}
		return apiErr
	}
	if out != nil {
		if err := json.Unmarshal(env.Data, out); err != nil {
			return fmt.Errorf("herald api: decode %s %s data: %w", method, path, err)
		}
	}
	return nil
}

func (c *Client) sign(req *http.Request, path string, body []byte) error {
	var canon string
	var err error
	if c.php {
		canon, err = signing.PHPCanonical(body, false)
	} else {
		canon, err = signing.GoCanonical(body)
	}
	if err != nil {
		return fmt.Errorf("herald api: canonicalise request body: %w", err)
	}
	ts := strconv.FormatInt(c.now().Unix(), 10)
	nonce := c.nonce()
	req.Header.Set("X-App-Id", c.appID)
	req.Header.Set("X-Timestamp", ts)
	req.Header.Set("X-Nonce", nonce)
	req.Header.Set("X-Signature", signing.Sign(c.secret, req.Method, path, canon, ts, nonce))
	return nil
}

// SendMessage sends one message.
func (c *Client) SendMessage(ctx context.Context, in SendMessageRequest, opts ...CallOption) (*SendMessageResponse, error) {
	var out SendMessageResponse
	if err := c.do(ctx, http.MethodPost, "/api/v1/messages", nil, in, &out, true, opts); err != nil {
		return nil, err
	}
	return &out, nil
}

// SendBatch sends one message to many receivers.
func (c *Client) SendBatch(ctx context.Context, in SendBatchRequest, opts ...CallOption) (*SendBatchResponse, error) {
	var out SendBatchResponse
	if err := c.do(ctx, http.MethodPost, "/api/v1/messages/batch", nil, in, &out, true, opts); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetBatch returns a batch's progress.
func (c *Client) GetBatch(ctx context.Context, batchID string) (*Batch, error) {
	return c.batchCall(ctx, http.MethodGet, "/api/v1/batches/"+url.PathEscape(batchID))
}

// PauseBatch stops a batch from sending more until ResumeBatch; sends
// already on their way finish.
func (c *Client) PauseBatch(ctx context.Context, batchID string) (*Batch, error) {
	return c.batchCall(ctx, http.MethodPost, "/api/v1/batches/"+url.PathEscape(batchID)+"/pause")
}

// ResumeBatch lets a paused batch send again.
func (c *Client) ResumeBatch(ctx context.Context, batchID string) (*Batch, error) {
	return c.batchCall(ctx, http.MethodPost, "/api/v1/batches/"+url.PathEscape(batchID)+"/resume")
}

// CancelBatch cancels every member of a batch not yet on its way.
func (c *Client) CancelBatch(ctx context.Context, batchID string) (*Batch, error) {
	return c.batchCall(ctx, http.MethodDelete, "/api/v1/batches/"+url.PathEscape(batchID))
}

func (c *Client) batchCall(ctx context.Context, method, path string) (*Batch, error) {
	var out Batch
	if err := c.do(ctx, method, path, nil, nil, &out, true, nil); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetMessage returns one task of the app.
func (c *Client) GetMessage(ctx context.Context, taskID string) (*Message, error) {
	var out Message
	if err := c.do(ctx, http.MethodGet, "/api/v1/messages/"+url.PathEscape(taskID), nil, nil, &out, true, nil); err != nil {
		return nil, err
	}
	return &out, nil
}

// Stats reads the app's own message statistics (GET /api/v1/stats) with
// query's from, to, interval, group_by and tz, and decodes the report
// into out (its shape is the StatsReport schema of the OpenAPI document).
func (c *Client) Stats(ctx context.Context, query url.Values, out any) error {
	return c.do(ctx, http.MethodGet, "/api/v1/stats", query, nil, out, true, nil)
}

// MessageEvents returns the timeline of one task.
func (c *Client) MessageEvents(ctx context.Context, taskID string) ([]Event, error) {
	var out struct {
		Items []Event `json:"items"`
	}
	if err := c.do(ctx, http.MethodGet, "/api/v1/messages/"+url.PathEscape(taskID)+"/events", nil, nil, &out, true, nil); err != nil {
		return nil, err
	}
	return out.Items, nil
}

// CancelMessage cancels a task that has not been sent yet.
func (c *Client) CancelMessage(ctx context.Context, taskID string) (*CancelResponse, error) {
	var out CancelResponse
	if err := c.do(ctx, http.MethodDelete, "/api/v1/messages/"+url.PathEscape(taskID), nil, nil, &out, true, nil); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListChannels lists the enabled channels, newest first.
func (c *Client) ListChannels(ctx context.Context, p ListChannelsParams) (*ChannelPage, error) {
	q := url.Values{}
	if p.Type != "" {
		q.Set("type", p.Type)
	}
	if p.Page > 0 {
		q.Set("page", strconv.Itoa(p.Page))
	}
	if p.PageSize > 0 {
		q.Set("page_size", strconv.Itoa(p.PageSize))
	}
	var out ChannelPage
	if err := c.do(ctx, http.MethodGet, "/api/v1/channels", q, nil, &out, true, nil); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetChannel returns one channel with its template and signatures.
func (c *Client) GetChannel(ctx context.Context, id int64) (*ChannelDetail, error) {
	var out ChannelDetail
	if err := c.do(ctx, http.MethodGet, "/api/v1/channels/"+strconv.FormatInt(id, 10), nil, nil, &out, true, nil); err != nil {
		return nil, err
	}
	return &out, nil
}

// Health reports the server's dependencies. When one is down it returns
// the filled report together with an *APIError (HTTP 503, code 40001).
func (c *Client) Health(ctx context.Context) (*Health, error) {
	var out Health
	err := c.do(ctx, http.MethodGet, "/health", nil, nil, &out, false, nil)
	var apiErr *APIError
	if err != nil && !(errors.As(err, &apiErr) && out.Status != "") {
		return nil, err
	}
	return &out, err
}
