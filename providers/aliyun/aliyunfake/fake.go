// Package aliyunfake runs a local Aliyun SMS (Dysmsapi 2017-05-25) server
// for tests. It speaks the real protocol closely enough for the official Go
// SDK to talk to it: ACS3-HMAC-SHA256 signatures (the SDK's default) and
// v1 HMAC-SHA1 RPC signatures are verified exactly, SendSms, SendBatchSms
// and QuerySendDetails validate their parameters and answer in the real
// shapes (business failures inside an HTTP 200, gateway failures with their
// HTTP status), and delivery reports (SmsReport) and replies (SmsUp) are
// pushed to callback URLs in the real JSON-array format.
//
// Faults are injected per request (FailNext, Throttle, Hang, Drop, Down) or
// per receiver (PerNumberCode). Every accepted message is recorded, so tests
// can assert that a message went out exactly once (Sent).
//
//	fake := aliyunfake.New(t)
//	cfg := aliyun.Config{
//		AccessKeyID:     aliyunfake.DefaultAccessKeyID,
//		AccessKeySecret: aliyunfake.DefaultAccessKeySecret,
//		SignName:        "Herald",
//		Endpoint:        fake.Endpoint(),
//		Protocol:        "http",
//	}
//
// Where the real service's behaviour is not documented, the fake makes a
// choice and says so: the HTTP status of gateway codes follows Aliyun's
// common error tables (SignatureDoesNotMatch 400, InvalidAccessKeyId.NotFound
// 404, Throttling.* 400, InternalError 500, ServiceUnavailable 503); the
// extra fields of a gateway error body (HostId, Recommend) are modelled on
// other Aliyun RPC products; a failed delivery reports err_code "UNDELIV".
package aliyunfake

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nyaruka/phonenumbers"

	"github.com/heraldhq/herald/providers/fakeserver"
)

// Credentials the fake knows unless told otherwise.
const (
	DefaultAccessKeyID     = "LTAIheraldfake00000000000"
	DefaultAccessKeySecret = "heraldfakesecret00000000000000"
)

// APIVersion is the only version the fake serves.
const APIVersion = "2017-05-25"

// Limits the real service applies.
const (
	maxSendNumbers   = 1000
	maxBatchNumbers  = 100
	maxOutID         = 256
	maxPageSize      = 50
	queryHistoryDays = 30
	maxRequestBody   = 1 << 20
	// pushAttempts is the first push and its three retries (Aliyun retries
	// after 1, 5 and 10 minutes; the fake after WithPushRetryInterval).
	pushAttempts = 4
	timeLayout   = "2006-01-02 15:04:05"
	hostID       = "dysmsapi.aliyuncs.com"
)

// Status is a message's delivery status, numbered as QuerySendDetails
// numbers SendStatus.
type Status int

// Delivery statuses.
const (
	Waiting   Status = 1
	Failed    Status = 2
	Delivered Status = 3
)

// SentMessage is one number of one accepted send.
type SentMessage struct {
	// Action is "SendSms" or "SendBatchSms".
	Action string
	// BizID is the request's BizId, shared by every number in it.
	BizID string
	// PhoneNumber is the number as the request gave it.
	PhoneNumber   string
	SignName      string
	TemplateCode  string
	TemplateParam map[string]string
	OutID         string
	// Content is the rendered text: 【SignName】 and the template text with
	// its ${variables} filled in (or, for an unregistered template, the
	// template code and parameters).
	Content string
	// AccessKeyID is the key the request was signed with; SignedWith is
	// SignedV3 or SignedV1.
	AccessKeyID string
	SignedWith  string
	At          time.Time
	// Answered is false when the fake took the message but never answered
	// (Hang, Drop): the sender cannot know it was sent.
	Answered bool
}

// Reply is an upstream message for PushReply.
type Reply struct {
	PhoneNumber string
	Content     string
	SignName    string
	DestCode    string
	SequenceID  string
	// SendTime defaults to the fake's clock.
	SendTime time.Time
}

// PushAttempt is one POST of a push to a callback URL.
type PushAttempt struct {
	URL        string
	Body       []byte
	StatusCode int
	// Err is set when the push failed: no answer, a non-200 status or an
	// answer without a numeric code.
	Err error
}

// Option configures a Server.
type Option func(*Server)

// WithCredential adds an AccessKey pair the fake accepts, besides the
// default one.
func WithCredential(accessKeyID, accessKeySecret string) Option {
	return func(s *Server) { s.creds[accessKeyID] = accessKeySecret }
}

// WithTemplate registers an approved template and its text, whose
// ${variables} must all be given in TemplateParam. Once any template is
// registered, unknown template codes are refused; with none, every code is
// accepted with any parameters.
func WithTemplate(code, text string) Option {
	return func(s *Server) { s.templates[code] = text }
}

// WithSignName registers an approved signature. Once any is registered,
// other signatures are refused; with none, every signature is accepted.
func WithSignName(name string) Option {
	return func(s *Server) { s.signs[name] = true }
}

// WithClock sets the fake's clock, used for the signature time window,
// send and report times and SendDate. The default is time.Now.
func WithClock(now func() time.Time) Option {
	return func(s *Server) { s.now = now }
}

// WithBatchedReports makes the automatic receipts of one accepted request
// (AutoReceipt) go out together in one SmsReport push, a JSON array of all
// its numbers' reports, as Aliyun's HTTP batch push delivers them. Without
// it every number gets a push of its own.
func WithBatchedReports() Option {
	return func(s *Server) { s.batchedReports = true }
}

// WithPushTimeout sets how long one push attempt waits for the answer
// (default 5s), for receivers that take longer over a push of many
// reports.
func WithPushTimeout(d time.Duration) Option {
	return func(s *Server) { s.pushTimeout = d }
}

// WithPushRetryInterval sets the pause between push retries (default
// 100ms).
func WithPushRetryInterval(d time.Duration) Option {
	return func(s *Server) { s.pushRetry = d }
}

// Server is a running fake. All methods are safe for concurrent use.
type Server struct {
	srv            *httptest.Server
	now            func() time.Time
	pushRetry      time.Duration
	batchedReports bool
	pushTimeout    time.Duration

	// Fixed at construction.
	creds     map[string]string
	templates map[string]string
	signs     map[string]bool

	faults fakeserver.Faults[string]
	// life ends held requests and pushes on Close, and runs automatic
	// receipts.
	life   *fakeserver.Background
	pusher *fakeserver.Pusher

	mu        sync.Mutex
	perNumber map[string]string
	nonces    map[string]time.Time
	sent      []SentMessage
	// sentIndex finds the first message of a send to a number in sent,
	// by reportKey: a report is recorded in constant time however many
	// numbers the fake took.
	sentIndex map[string]int
	// byNumber lists the positions in sent of each number's messages,
	// oldest first, for QuerySendDetails.
	byNumber      map[string][]int
	reports       map[string]*report // by reportKey
	callback      string
	replyCallback string
	autoDelay     time.Duration
	autoStatus    Status
	requests      map[string]int
}

// report is the delivery report of one number of one send.
type report struct {
	status  Status
	errCode string
	errMsg  string
	at      time.Time
}

func reportKey(bizID, key string) string { return bizID + ":" + key }

// New starts a fake and closes it when the test ends.
func New(tb testing.TB, opts ...Option) *Server {
	tb.Helper()
	s := Start(opts...)
	tb.Cleanup(s.Close)
	return s
}

// Start starts a fake outside a test, for benchmarks and tools; the caller
// closes it.
func Start(opts ...Option) *Server {
	s := &Server{
		now:       time.Now,
		pushRetry: 100 * time.Millisecond,
		creds:     map[string]string{DefaultAccessKeyID: DefaultAccessKeySecret},
		templates: map[string]string{},
		signs:     map[string]bool{},
		life:      fakeserver.NewBackground(),
		perNumber: map[string]string{},
		nonces:    map[string]time.Time{},
		sentIndex: map[string]int{},
		byNumber:  map[string][]int{},
		reports:   map[string]*report{},
		requests:  map[string]int{},
	}
	for _, o := range opts {
		o(s)
	}
	s.pusher = fakeserver.NewPusher("aliyunfake", pushAttempts, s.pushRetry, acceptPushAnswer)
	if s.pushTimeout > 0 {
		s.pusher.Client.Timeout = s.pushTimeout
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// URL is the fake's base URL, "http://127.0.0.1:port".
func (s *Server) URL() string { return s.srv.URL }

// Endpoint is the fake's host:port, for the SDK's Endpoint (with protocol
// "http").
func (s *Server) Endpoint() string { return strings.TrimPrefix(s.srv.URL, "http://") }

// Close stops the server, releases held requests and waits for pending
// pushes to give up. It is safe to call more than once.
func (s *Server) Close() { s.life.Close(s.srv.Close) }

// FailNext makes the next n requests (any action, after the signature
// check) fail with code. Gateway codes (SignatureDoesNotMatch,
// Throttling.User, InternalError, Missing*, ...) are answered with their
// HTTP status; business codes (isv.*, isp.*) inside an HTTP 200. Calls
// queue up in order.
func (s *Server) FailNext(n int, code string) { s.faults.FailNext(n, code) }

// Throttle makes the next n requests fail with Throttling.User, the
// gateway's per-user rate limit.
func (s *Server) Throttle(n int) { s.FailNext(n, "Throttling.User") }

// PerNumberCode makes SendSms and SendBatchSms refuse any request that
// holds phone with the business code, until called again with "" or
// "OK". Dysmsapi answers one code per request, so the whole request is
// refused.
func (s *Server) PerNumberCode(phone, code string) {
	key, err := normalize(phone)
	if err != nil {
		key = phone
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if code == "" || code == "OK" {
		delete(s.perNumber, key)
		return
	}
	s.perNumber[key] = code
}

// Hang makes the next n send requests take their messages (they are
// recorded, reported and visible to QuerySendDetails) but never answer: the
// request is held until the client gives up or the fake closes. This is how
// a timeout with an unknown outcome looks.
func (s *Server) Hang(n int) { s.faults.Hang(n) }

// Drop makes the next n send requests take their messages and then close
// the connection without an answer, like a reset after the request was
// written.
func (s *Server) Drop(n int) { s.faults.Drop(n) }

// Down makes every request fail with HTTP 500 and an HTML body, as a
// broken proxy in front of the service would, until Up. Nothing is sent.
func (s *Server) Down() { s.faults.Down() }

// Up ends Down.
func (s *Server) Up() { s.faults.Up() }

// SetCallback sets the URL SmsReport pushes go to. Empty stops pushes;
// reports are still recorded for QuerySendDetails.
func (s *Server) SetCallback(url string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.callback = url
}

// SetReplyCallback sets the URL SmsUp pushes go to.
func (s *Server) SetReplyCallback(url string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.replyCallback = url
}

// AutoReceipt reports every number accepted from now on with status after
// delay: the report becomes visible to QuerySendDetails and is pushed to
// the callback URL, if set. Waiting (or 0) turns it off.
func (s *Server) AutoReceipt(delay time.Duration, status Status) {
	if status != 0 && status != Waiting && status != Delivered && status != Failed {
		panic(fmt.Sprintf("aliyunfake: AutoReceipt status %d is not Delivered or Failed", status))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.autoDelay, s.autoStatus = delay, status
	if status == Waiting {
		s.autoStatus = 0
	}
}

// PushReceipt reports the number phone (in any form Dysmsapi accepts) of
// the send bizID with status now: the report is recorded for
// QuerySendDetails and, when a callback URL is set, pushed to it (retried
// three times, as Aliyun does). It returns the last push error.
func (s *Server) PushReceipt(bizID, phone string, status Status) error {
	if status != Delivered && status != Failed {
		return fmt.Errorf("aliyunfake: PushReceipt status %d is not Delivered or Failed", status)
	}
	key, err := normalize(phone)
	if err != nil {
		return fmt.Errorf("aliyunfake: PushReceipt: %w", err)
	}
	body, callback, err := s.recordReport(bizID, key, status)
	if err != nil {
		return err
	}
	if callback == "" {
		return nil
	}
	return s.push(callback, body)
}

// PushReply pushes one SmsUp message to the reply callback URL.
func (s *Server) PushReply(r Reply) error {
	s.mu.Lock()
	callback := s.replyCallback
	s.mu.Unlock()
	if callback == "" {
		return errors.New("aliyunfake: PushReply: no reply callback set")
	}
	at := r.SendTime
	if at.IsZero() {
		at = s.now()
	}
	seq := r.SequenceID
	if seq == "" {
		seq = randomDigits(10)
	}
	body, err := json.Marshal([]map[string]string{{
		"phone_number": r.PhoneNumber,
		"send_time":    at.In(chinaTime()).Format(timeLayout),
		"content":      r.Content,
		"sign_name":    r.SignName,
		"dest_code":    r.DestCode,
		"sequence_id":  seq,
	}})
	if err != nil {
		return fmt.Errorf("aliyunfake: encode reply: %w", err)
	}
	return s.push(callback, body)
}

// Sent returns the numbers accepted so far, oldest first.
func (s *Server) Sent() []SentMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]SentMessage, len(s.sent))
	for i, m := range s.sent {
		if m.TemplateParam != nil {
			p := make(map[string]string, len(m.TemplateParam))
			for k, v := range m.TemplateParam {
				p[k] = v
			}
			m.TemplateParam = p
		}
		out[i] = m
	}
	return out
}

// SentCount returns how many numbers the fake accepted so far, without
// copying them as Sent does.
func (s *Server) SentCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sent)
}

// Pushes returns every push attempt so far, oldest first.
func (s *Server) Pushes() []PushAttempt {
	log := s.pusher.Log()
	out := make([]PushAttempt, len(log))
	for i, a := range log {
		out[i] = PushAttempt{URL: a.URL, Body: a.Body, StatusCode: a.StatusCode, Err: a.Err}
	}
	return out
}

// Requests returns how many requests named action the fake received,
// whether or not they were accepted.
func (s *Server) Requests(action string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[action]
}

// apiError is a refused request: a gateway error (status 4xx/5xx) or a
// business error (status 200).
type apiError struct {
	status        int
	code, message string
}

func gatewayError(code, message string) *apiError {
	status, _ := gatewayStatus(code)
	if message == "" {
		message = messageFor(code)
	}
	return &apiError{status: status, code: code, message: message}
}

func businessError(code, message string) *apiError {
	if message == "" {
		message = messageFor(code)
	}
	return &apiError{status: http.StatusOK, code: code, message: message}
}

func missing(param string) *apiError {
	return gatewayError("Missing"+param, param+" is mandatory for this action.")
}

// gatewayStatus is the HTTP status the gateway answers a code with; ok is
// false for business codes.
func gatewayStatus(code string) (status int, ok bool) {
	switch code {
	case "InvalidAccessKeyId.NotFound", "InvalidAction.NotFound":
		return http.StatusNotFound, true
	case "Forbidden.RAM", "Forbidden.AccessKeyDisabled":
		return http.StatusForbidden, true
	case "InternalError":
		return http.StatusInternalServerError, true
	case "ServiceUnavailable":
		return http.StatusServiceUnavailable, true
	case "SignatureDoesNotMatch", "IncompleteSignature", "InvalidAccessKeyId.Inactive",
		"InvalidTimeStamp.Expired", "InvalidTimeStamp.Format", "SignatureNonceUsed",
		"Throttling", "Throttling.User", "Throttling.Api", "InvalidVersion",
		"InvalidSignatureMethod", "InvalidSignatureVersion", "MissingParameter":
		return http.StatusBadRequest, true
	}
	if strings.HasPrefix(code, "Missing") || strings.HasPrefix(code, "InvalidParameter") {
		return http.StatusBadRequest, true
	}
	return http.StatusOK, false
}

// messageFor is the message the service gives with a code, for the codes
// the fake answers and tests inject most.
func messageFor(code string) string {
	switch code {
	case "SignatureDoesNotMatch":
		return "Specified signature is not matched with our calculation."
	case "IncompleteSignature":
		return "The request signature does not conform to Aliyun standards."
	case "InvalidAccessKeyId.NotFound":
		return "Specified access key is not found."
	case "InvalidAccessKeyId.Inactive":
		return "Specified access key is disabled."
	case "InvalidTimeStamp.Expired":
		return "Specified time stamp or date value is expired."
	case "SignatureNonceUsed":
		return "Specified signature nonce was used already."
	case "Throttling":
		return "Request was denied due to flow control."
	case "Throttling.User":
		return "Request was denied due to user flow control."
	case "Throttling.Api":
		return "Request was denied due to api flow control."
	case "InternalError":
		return "The request processing has failed due to some unknown error, exception or failure."
	case "ServiceUnavailable":
		return "The request has failed due to a temporary failure of the server."
	case "InvalidAction.NotFound":
		return "Specified api is not found, please check your url and method."
	case "InvalidVersion":
		return "Specified parameter Version is not valid."
	case "isv.BUSINESS_LIMIT_CONTROL":
		return "触发分钟级流控Permits:1"
	case "isv.DAY_LIMIT_CONTROL":
		return "触发日发送限额"
	case "isv.MOBILE_NUMBER_ILLEGAL":
		return "非法手机号"
	case "isv.MOBILE_COUNT_OVER_LIMIT":
		return "手机号码数量超过限制"
	case "isv.AMOUNT_NOT_ENOUGH":
		return "账户余额不足"
	case "isv.SMS_TEMPLATE_ILLEGAL":
		return "该账号下找不到对应模板"
	case "isv.SMS_SIGNATURE_ILLEGAL":
		return "该账号下找不到对应签名"
	case "isv.TEMPLATE_MISSING_PARAMETERS":
		return "模板变量缺少对应参数值"
	case "isv.INVALID_JSON_PARAM":
		return "JSON参数不合法，只接受字符串值"
	case "isv.INVALID_PARAMETERS":
		return "参数异常"
	case "isp.SYSTEM_ERROR":
		return "系统出现错误，请重新调用"
	}
	return "Error " + code + " injected by aliyunfake."
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	requestID := strings.ToUpper(uuid.NewString())
	if s.faults.IsDown() {
		fakeserver.WriteDownPage(w, http.StatusInternalServerError, "500 Internal Server Error")
		return
	}

	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBody+1))
	if err != nil {
		return // the client went away mid-request
	}
	req, apiErr := s.checkRequest(r, body)
	if apiErr == nil {
		apiErr = s.injectedFailure()
	}
	if apiErr != nil {
		writeError(w, apiErr, requestID)
		return
	}
	switch req.action {
	case "SendSms":
		s.sendSms(w, r, req, requestID)
	case "SendBatchSms":
		s.sendBatchSms(w, r, req, requestID)
	case "QuerySendDetails":
		s.querySendDetails(w, req, requestID)
	}
}

// request is a request that passed the gateway checks.
type request struct {
	action      string
	params      url.Values // query and form body
	accessKeyID string
	signedWith  string
}

// checkRequest applies what every call goes through at the gateway: method,
// size, action and version, and the signature (v3 when an ACS3
// Authorization header is present, v1 when a Signature parameter is).
func (s *Server) checkRequest(r *http.Request, body []byte) (request, *apiError) {
	if r.Method != http.MethodPost && r.Method != http.MethodGet {
		return request{}, gatewayError("UnsupportedHTTPMethod", "The fake serves GET and POST.")
	}
	if len(body) > maxRequestBody {
		return request{}, gatewayError("InvalidParameter.RequestTooLarge", "The request body is too large.")
	}
	params := r.URL.Query()
	if len(body) > 0 {
		mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if mt != "application/x-www-form-urlencoded" {
			return request{}, gatewayError("InvalidParameter.ContentType", "The body must be application/x-www-form-urlencoded.")
		}
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return request{}, gatewayError("InvalidParameter.Body", "The form body is not well formed.")
		}
		for k, vs := range form {
			params[k] = append(params[k], vs...)
		}
	}

	req := request{params: params}
	v3 := strings.HasPrefix(r.Header.Get("Authorization"), "ACS3-")
	v1 := !v3 && params.Get("Signature") != ""
	// A v3 request names its action in headers, a v1 request in
	// parameters; an unsigned one is read either way.
	req.action, req.signedWith = params.Get("Action"), SignedV1
	version := params.Get("Version")
	if !v1 && r.Header.Get("x-acs-action") != "" {
		req.action, req.signedWith = r.Header.Get("x-acs-action"), SignedV3
		version = r.Header.Get("x-acs-version")
	}
	s.mu.Lock()
	s.requests[req.action]++
	s.mu.Unlock()

	switch {
	case req.action == "":
		return request{}, missing("Action")
	case version == "":
		return request{}, missing("Version")
	case version != APIVersion:
		return request{}, gatewayError("InvalidVersion", "")
	}
	switch req.action {
	case "SendSms", "SendBatchSms", "QuerySendDetails":
	default:
		return request{}, gatewayError("InvalidAction.NotFound", "")
	}

	var apiErr *apiError
	switch {
	case v3:
		req.accessKeyID, apiErr = s.verifyV3(r, body)
	case v1:
		req.accessKeyID, apiErr = s.verifyV1(r, params)
	default:
		apiErr = missing("Signature")
	}
	if apiErr != nil {
		return request{}, apiErr
	}
	return req, nil
}

func (s *Server) injectedFailure() *apiError {
	code, ok := s.faults.NextFailure()
	if !ok {
		return nil
	}
	if _, gw := gatewayStatus(code); gw {
		return gatewayError(code, "")
	}
	return businessError(code, "")
}

// outgoing is one number of a send being checked.
type outgoing struct {
	phone, key, sign string
	params           map[string]string
}

func (s *Server) sendSms(w http.ResponseWriter, r *http.Request, req request, requestID string) {
	p := req.params
	for _, name := range []string{"PhoneNumbers", "SignName", "TemplateCode"} {
		if p.Get(name) == "" {
			writeError(w, missing(name), requestID)
			return
		}
	}
	phones := strings.Split(p.Get("PhoneNumbers"), ",")
	if len(phones) > maxSendNumbers {
		writeError(w, businessError("isv.MOBILE_COUNT_OVER_LIMIT", ""), requestID)
		return
	}
	var params map[string]string
	if raw := p.Get("TemplateParam"); raw != "" {
		var err error
		if params, err = stringObject([]byte(raw)); err != nil {
			writeError(w, businessError("isv.INVALID_JSON_PARAM", ""), requestID)
			return
		}
	}
	out := make([]outgoing, len(phones))
	for i, ph := range phones {
		out[i] = outgoing{phone: strings.TrimSpace(ph), sign: p.Get("SignName"), params: params}
	}
	s.accept(w, r, req, requestID, out)
}

func (s *Server) sendBatchSms(w http.ResponseWriter, r *http.Request, req request, requestID string) {
	p := req.params
	for _, name := range []string{"PhoneNumberJson", "SignNameJson", "TemplateCode"} {
		if p.Get(name) == "" {
			writeError(w, missing(name), requestID)
			return
		}
	}
	var phones, signs []string
	if json.Unmarshal([]byte(p.Get("PhoneNumberJson")), &phones) != nil || len(phones) == 0 {
		writeError(w, businessError("isv.INVALID_PARAMETERS", "PhoneNumberJson is not a JSON array of numbers"), requestID)
		return
	}
	if len(phones) > maxBatchNumbers {
		writeError(w, businessError("isv.MOBILE_COUNT_OVER_LIMIT", ""), requestID)
		return
	}
	if json.Unmarshal([]byte(p.Get("SignNameJson")), &signs) != nil || len(signs) != len(phones) {
		writeError(w, businessError("isv.INVALID_PARAMETERS", "SignNameJson must be a JSON array as long as PhoneNumberJson"), requestID)
		return
	}
	params := make([]map[string]string, len(phones))
	if raw := p.Get("TemplateParamJson"); raw != "" {
		var items []json.RawMessage
		if json.Unmarshal([]byte(raw), &items) != nil || len(items) != len(phones) {
			writeError(w, businessError("isv.INVALID_JSON_PARAM", "TemplateParamJson must be a JSON array as long as PhoneNumberJson"), requestID)
			return
		}
		for i, item := range items {
			m, err := stringObject(item)
			if err != nil {
				writeError(w, businessError("isv.INVALID_JSON_PARAM", ""), requestID)
				return
			}
			params[i] = m
		}
	}
	if ext := p.Get("SmsUpExtendCodeJson"); ext != "" {
		var codes []string
		if json.Unmarshal([]byte(ext), &codes) != nil || len(codes) != len(phones) {
			writeError(w, businessError("isv.EXTEND_CODE_ERROR", "SmsUpExtendCodeJson must be a JSON array as long as PhoneNumberJson"), requestID)
			return
		}
	}
	out := make([]outgoing, len(phones))
	for i := range phones {
		out[i] = outgoing{phone: phones[i], sign: signs[i], params: params[i]}
	}
	s.accept(w, r, req, requestID, out)
}

// accept runs the checks shared by both send actions and, when they pass,
// records the numbers and answers (or hangs, or drops).
func (s *Server) accept(w http.ResponseWriter, r *http.Request, req request, requestID string, out []outgoing) {
	template := req.params.Get("TemplateCode")
	outID := req.params.Get("OutId")
	if len(outID) > maxOutID {
		writeError(w, businessError("isv.INVALID_PARAMETERS", "OutId is longer than 256 characters"), requestID)
		return
	}
	for i := range out {
		key, err := normalize(out[i].phone)
		if err != nil {
			writeError(w, businessError("isv.MOBILE_NUMBER_ILLEGAL", ""), requestID)
			return
		}
		out[i].key = key
	}
	s.mu.Lock()
	for _, o := range out {
		if code, ok := s.perNumber[o.key]; ok {
			s.mu.Unlock()
			if _, gw := gatewayStatus(code); gw {
				writeError(w, gatewayError(code, ""), requestID)
			} else {
				writeError(w, businessError(code, ""), requestID)
			}
			return
		}
	}
	s.mu.Unlock()
	text, known := s.templates[template]
	if len(s.templates) > 0 && !known {
		writeError(w, businessError("isv.SMS_TEMPLATE_ILLEGAL", ""), requestID)
		return
	}
	for _, o := range out {
		if len(s.signs) > 0 && !s.signs[o.sign] {
			writeError(w, businessError("isv.SMS_SIGNATURE_ILLEGAL", ""), requestID)
			return
		}
		if known {
			for _, v := range templateVars(text) {
				if _, ok := o.params[v]; !ok {
					writeError(w, businessError("isv.TEMPLATE_MISSING_PARAMETERS", ""), requestID)
					return
				}
			}
		}
	}

	bizID := randomDigits(18) + "^0"
	now := s.now()
	s.mu.Lock()
	end := s.faults.TakeEnding()
	autoDelay, autoStatus := s.autoDelay, s.autoStatus
	for _, o := range out {
		if _, ok := s.sentIndex[reportKey(bizID, o.key)]; !ok {
			s.sentIndex[reportKey(bizID, o.key)] = len(s.sent)
		}
		s.byNumber[o.key] = append(s.byNumber[o.key], len(s.sent))
		s.sent = append(s.sent, SentMessage{
			Action:        req.action,
			BizID:         bizID,
			PhoneNumber:   o.phone,
			SignName:      o.sign,
			TemplateCode:  template,
			TemplateParam: o.params,
			OutID:         outID,
			Content:       render(o.sign, template, text, known, o.params),
			AccessKeyID:   req.accessKeyID,
			SignedWith:    req.signedWith,
			At:            now,
			Answered:      end.Answered(),
		})
	}
	s.mu.Unlock()
	switch {
	case autoStatus == 0:
	case s.batchedReports:
		keys := make([]string, len(out))
		for i, o := range out {
			keys[i] = o.key
		}
		s.scheduleReports(bizID, keys, autoDelay, autoStatus)
	default:
		for _, o := range out {
			s.scheduleReports(bizID, []string{o.key}, autoDelay, autoStatus)
		}
	}

	switch end {
	case fakeserver.HangUp:
		fakeserver.Hold(r, s.life.Done())
		return
	case fakeserver.DropIt:
		hijackAndClose(w)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"Code": "OK", "Message": "OK", "BizId": bizID, "RequestId": requestID,
	})
}

// hijackAndClose closes the connection without an answer.
func hijackAndClose(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic("aliyunfake: the response writer cannot be hijacked")
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		return
	}
	_ = conn.Close()
}

// scheduleReports reports the numbers keys of the send bizID with status
// after delay, in one push.
func (s *Server) scheduleReports(bizID string, keys []string, delay time.Duration, status Status) {
	s.life.After(delay, func() {
		body, callback, err := s.recordReports(bizID, keys, status)
		if err != nil || callback == "" {
			return
		}
		// A failed push is recorded in Pushes; there is no one to tell.
		_ = s.push(callback, body)
	})
}

// pushedReport is one element of an SmsReport push.
type pushedReport struct {
	PhoneNumber string `json:"phone_number"`
	SendTime    string `json:"send_time"`
	ReportTime  string `json:"report_time"`
	Success     bool   `json:"success"`
	ErrCode     string `json:"err_code"`
	ErrMsg      string `json:"err_msg"`
	SmsSize     string `json:"sms_size"`
	BizID       string `json:"biz_id"`
	OutID       string `json:"out_id"`
}

// recordReport stores the report of one number of one send and returns the
// push body and the callback URL.
func (s *Server) recordReport(bizID, key string, status Status) ([]byte, string, error) {
	return s.recordReports(bizID, []string{key}, status)
}

// recordReports stores the reports of the numbers keys of one send and
// returns the push body that carries them all and the callback URL.
func (s *Server) recordReports(bizID string, keys []string, status Status) ([]byte, string, error) {
	now := s.now()
	s.mu.Lock()
	prs := make([]pushedReport, 0, len(keys))
	for _, key := range keys {
		i, ok := s.sentIndex[reportKey(bizID, key)]
		if !ok {
			s.mu.Unlock()
			return nil, "", fmt.Errorf("aliyunfake: no message with BizId %q to that number", bizID)
		}
		msg := &s.sent[i]
		rep := &report{status: status, at: now, errCode: "DELIVERED", errMsg: "用户接收成功"}
		if status == Failed {
			rep.errCode, rep.errMsg = "UNDELIV", "UNDELIV"
		}
		s.reports[reportKey(bizID, key)] = rep
		prs = append(prs, pushedReport{
			PhoneNumber: msg.PhoneNumber,
			SendTime:    msg.At.In(chinaTime()).Format(timeLayout),
			ReportTime:  now.In(chinaTime()).Format(timeLayout),
			Success:     status == Delivered,
			ErrCode:     rep.errCode,
			ErrMsg:      rep.errMsg,
			SmsSize:     "1",
			BizID:       bizID,
			OutID:       msg.OutID,
		})
	}
	callback := s.callback
	s.mu.Unlock()
	body, err := json.Marshal(prs)
	if err != nil {
		return nil, "", fmt.Errorf("aliyunfake: encode report: %w", err)
	}
	return body, callback, nil
}

// push posts body to callback, retrying when the answer is not HTTP 200
// with a JSON object whose code is a number.
func (s *Server) push(callback string, body []byte) error {
	return s.pusher.Push(s.life.Context(), callback, "application/json;charset=utf-8", body)
}

// acceptPushAnswer accepts a JSON object whose code is a number.
func acceptPushAnswer(answer []byte) error {
	var ack struct {
		Code *json.Number `json:"code"`
	}
	if err := json.Unmarshal(answer, &ack); err != nil || ack.Code == nil {
		return fmt.Errorf("aliyunfake: push answer %q has no numeric code", answer)
	}
	return nil
}

// detail is one SmsSendDetailDTO.
type detail struct {
	PhoneNum     string `json:"PhoneNum"`
	SendStatus   int    `json:"SendStatus"`
	ErrCode      string `json:"ErrCode"`
	TemplateCode string `json:"TemplateCode"`
	Content      string `json:"Content"`
	SendDate     string `json:"SendDate"`
	ReceiveDate  string `json:"ReceiveDate"`
	OutID        string `json:"OutId"`
}

func (s *Server) querySendDetails(w http.ResponseWriter, req request, requestID string) {
	p := req.params
	for _, name := range []string{"PhoneNumber", "SendDate", "PageSize", "CurrentPage"} {
		if p.Get(name) == "" {
			writeError(w, missing(name), requestID)
			return
		}
	}
	key, err := normalize(p.Get("PhoneNumber"))
	if err != nil {
		writeError(w, businessError("isv.MOBILE_NUMBER_ILLEGAL", ""), requestID)
		return
	}
	now := s.now().In(chinaTime())
	day, err := time.ParseInLocation("20060102", p.Get("SendDate"), chinaTime())
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, chinaTime())
	if err != nil || day.After(today) || day.Before(today.AddDate(0, 0, -queryHistoryDays)) {
		writeError(w, businessError("isv.INVALID_PARAMETERS", "SendDate must be yyyyMMdd within the last 30 days"), requestID)
		return
	}
	var pageSize, page int
	if _, err := fmt.Sscan(p.Get("PageSize"), &pageSize); err != nil || pageSize < 1 || pageSize > maxPageSize {
		writeError(w, businessError("isv.INVALID_PARAMETERS", "PageSize must be 1 to 50"), requestID)
		return
	}
	if _, err := fmt.Sscan(p.Get("CurrentPage"), &page); err != nil || page < 1 {
		writeError(w, businessError("isv.INVALID_PARAMETERS", "CurrentPage must be at least 1"), requestID)
		return
	}
	bizID := p.Get("BizId")

	s.mu.Lock()
	var all []detail
	for _, i := range s.byNumber[key] {
		m := s.sent[i]
		at := m.At.In(chinaTime())
		if at.Format("20060102") != day.Format("20060102") || (bizID != "" && m.BizID != bizID) {
			continue
		}
		d := detail{
			PhoneNum:     m.PhoneNumber,
			SendStatus:   int(Waiting),
			TemplateCode: m.TemplateCode,
			Content:      m.Content,
			SendDate:     at.Format(timeLayout),
			OutID:        m.OutID,
		}
		if rep, ok := s.reports[reportKey(m.BizID, key)]; ok {
			d.SendStatus = int(rep.status)
			d.ErrCode = rep.errCode
			d.ReceiveDate = rep.at.In(chinaTime()).Format(timeLayout)
		}
		all = append(all, d)
	}
	s.mu.Unlock()

	start := (page - 1) * pageSize
	pageItems := []detail{}
	if start < len(all) {
		pageItems = all[start:min(start+pageSize, len(all))]
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"Code":              "OK",
		"Message":           "OK",
		"RequestId":         requestID,
		"TotalCount":        len(all),
		"SmsSendDetailDTOs": map[string]any{"SmsSendDetailDTO": pageItems},
	})
}

func writeError(w http.ResponseWriter, e *apiError, requestID string) {
	if e.status != http.StatusOK {
		writeJSON(w, e.status, map[string]any{
			"RequestId": requestID,
			"HostId":    hostID,
			"Code":      e.code,
			"Message":   e.message,
			"Recommend": "https://api.aliyun.com/troubleshoot?q=" + url.QueryEscape(e.code) + "&product=Dysmsapi&requestId=" + requestID,
		})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"Code": e.code, "Message": e.message, "RequestId": requestID})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// stringObject decodes a JSON object whose values are all strings, as
// TemplateParam must be.
func stringObject(b []byte) (map[string]string, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil || raw == nil {
		return nil, errors.New("not a JSON object")
	}
	out := make(map[string]string, len(raw))
	for k, v := range raw {
		var sv string
		if err := json.Unmarshal(v, &sv); err != nil {
			return nil, fmt.Errorf("value of %q is not a string", k)
		}
		out[k] = sv
	}
	return out, nil
}

func templateVarPattern() *regexp.Regexp { return regexp.MustCompile(`\$\{([A-Za-z0-9_]+)\}`) }

// templateVars lists the ${variables} of a template text.
func templateVars(text string) []string {
	var vars []string
	for _, m := range templateVarPattern().FindAllStringSubmatch(text, -1) {
		vars = append(vars, m[1])
	}
	return vars
}

// render builds the text a receiver would read.
func render(sign, code, text string, known bool, params map[string]string) string {
	if known {
		return "【" + sign + "】" + templateVarPattern().ReplaceAllStringFunc(text, func(v string) string {
			return params[v[2:len(v)-1]]
		})
	}
	names := make([]string, 0, len(params))
	for k := range params {
		names = append(names, k)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("【" + sign + "】" + code)
	for _, k := range names {
		b.WriteString(" " + k + "=" + params[k])
	}
	return b.String()
}

// normalize turns a number in any form Dysmsapi accepts (bare mainland
// number, +86/86/0086 prefix, country code and number for elsewhere) into
// a key: the 11-digit number for the mainland, country code and number
// otherwise.
func normalize(raw string) (string, error) {
	s := strings.TrimPrefix(strings.TrimSpace(raw), "+")
	s = strings.TrimPrefix(s, "00")
	if s == "" || strings.Trim(s, "0123456789") != "" {
		return "", fmt.Errorf("%q is not a phone number", raw)
	}
	if len(s) == 13 && strings.HasPrefix(s, "861") {
		s = s[2:]
	}
	if len(s) == 11 && s[0] == '1' {
		num, err := phonenumbers.Parse(s, "CN")
		if err == nil && phonenumbers.IsValidNumber(num) {
			return s, nil
		}
	}
	num, err := phonenumbers.Parse("+"+s, "")
	if err != nil || !phonenumbers.IsValidNumber(num) {
		return "", fmt.Errorf("%q is not a valid phone number", raw)
	}
	return s, nil
}

func randomDigits(n int) string {
	var b strings.Builder
	for i := range n {
		lo := int64(0)
		if i == 0 {
			lo = 1
		}
		d, err := rand.Int(rand.Reader, big.NewInt(10-lo))
		if err != nil {
			panic(fmt.Sprintf("aliyunfake: read random: %v", err))
		}
		b.WriteByte(byte('0' + lo + d.Int64()))
	}
	return b.String()
}

// chinaTime is UTC+8, the zone of Aliyun's dates.
func chinaTime() *time.Location { return time.FixedZone("CST", 8*60*60) }
