// Package tencentfake runs a local Tencent Cloud SMS API 3.0 server for
// tests. It speaks the real protocol closely enough for the official Go SDK
// to talk to it: TC3-HMAC-SHA256 signatures are verified exactly, the
// SendSms, PullSmsSendStatus and PullSmsSendStatusByPhoneNumber actions
// answer in the real shapes, and delivery reports are pushed to a callback
// URL in the real JSON-array format.
//
// Faults are injected per request (FailNext, Throttle, Hang, Drop, Down) or
// per receiver (PerNumberCode). Every accepted message is recorded, so tests
// can assert that a message went out exactly once (Sent).
//
//	fake := tencentfake.New(t)
//	cfg := tencent.Config{
//		SecretID:  tencentfake.DefaultSecretID,
//		SecretKey: tencentfake.DefaultSecretKey,
//		SdkAppID:  tencentfake.DefaultSdkAppID,
//		SignName:  "Herald",
//		Endpoint:  fake.Endpoint(),
//		Scheme:    "http",
//	}
package tencentfake

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nyaruka/phonenumbers"

	"github.com/heraldhq/herald/providers/fakeserver"
)

// Credentials and app the fake knows unless told otherwise.
const (
	DefaultSecretID  = "AKIDheraldfake00000000000000000000000"
	DefaultSecretKey = "heraldfakesecretkey00000000000000"
	DefaultSdkAppID  = "1400000001"
)

// APIVersion is the only X-TC-Version the fake serves.
const APIVersion = "2021-01-11"

// Limits the real service applies.
const (
	maxNumbersPerSend = 200
	maxPullLimit      = 100
	maxPullHistory    = 7 * 24 * time.Hour
	maxRequestBody    = 1 << 20
	pushAttempts      = 3 // the first push and two retries
	receiptTimeLayout = "2006-01-02 15:04:05"
)

// Status is a delivery report status.
type Status string

// Report statuses as Tencent writes them.
const (
	Success Status = "SUCCESS"
	Fail    Status = "FAIL"
)

// SentMessage is one message the fake accepted (per-number code "Ok").
type SentMessage struct {
	SerialNo       string
	PhoneNumber    string // E.164
	SmsSdkAppID    string
	TemplateID     string
	TemplateParams []string
	SignName       string
	SessionContext string
	Fee            int
	At             time.Time
	// Answered is false when the fake took the message but never answered
	// (Hang, Drop): the sender cannot know it was sent.
	Answered bool
}

// PushAttempt is one POST of a receipt push to the callback URL.
type PushAttempt struct {
	Body       []byte
	StatusCode int
	// Err is set when the push failed: no answer, a non-200 status or a
	// result other than 0.
	Err error
}

// Option configures a Server.
type Option func(*Server)

// WithCredential adds a SecretId/SecretKey pair the fake accepts, besides
// the default one.
func WithCredential(secretID, secretKey string) Option {
	return func(s *Server) { s.creds[secretID] = secretKey }
}

// WithSdkAppID adds an SmsSdkAppId the fake knows, besides the default one.
func WithSdkAppID(id string) Option {
	return func(s *Server) { s.apps[id] = true }
}

// WithTemplate registers an approved template with its number of
// parameters. Once any template is registered, SendSms rejects unknown
// template ids and wrong parameter counts; with none, every id is accepted.
func WithTemplate(id string, params int) Option {
	return func(s *Server) { s.templates[id] = params }
}

// WithSignName registers an approved signature. Once any is registered,
// SendSms rejects other signatures; with none, every signature is accepted.
func WithSignName(name string) Option {
	return func(s *Server) { s.signs[name] = true }
}

// WithClock sets the fake's clock, used for the signature timestamp window,
// send and report times and pull windows. The default is time.Now.
func WithClock(now func() time.Time) Option {
	return func(s *Server) { s.now = now }
}

// WithPushRetryInterval sets the pause between receipt push retries
// (default 100ms).
func WithPushRetryInterval(d time.Duration) Option {
	return func(s *Server) { s.pushRetry = d }
}

// Server is a running fake. All methods are safe for concurrent use.
type Server struct {
	srv       *httptest.Server
	now       func() time.Time
	pushRetry time.Duration

	// Fixed at construction.
	creds     map[string]string
	apps      map[string]bool
	templates map[string]int
	signs     map[string]bool

	faults fakeserver.Faults[string]
	// life ends held requests and pushes on Close, and runs automatic
	// receipts.
	life   *fakeserver.Background
	pusher *fakeserver.Pusher

	mu         sync.Mutex
	perNumber  map[string]string
	sent       []SentMessage
	bySerial   map[string]int // index into sent
	reports    []*report
	reportOf   map[string]*report
	callback   string
	autoDelay  time.Duration
	autoStatus Status
	seq        uint64
}

// report is the delivery report of one accepted message.
type report struct {
	serial     string
	status     Status
	errMsg     string
	desc       string
	receivedAt time.Time
	pulled     bool // already returned by PullSmsSendStatus
}

// New starts a fake and closes it when the test ends.
func New(tb testing.TB, opts ...Option) *Server {
	tb.Helper()
	s := &Server{
		now:       time.Now,
		pushRetry: 100 * time.Millisecond,
		creds:     map[string]string{DefaultSecretID: DefaultSecretKey},
		apps:      map[string]bool{DefaultSdkAppID: true},
		templates: map[string]int{},
		signs:     map[string]bool{},
		life:      fakeserver.NewBackground(),
		perNumber: map[string]string{},
		bySerial:  map[string]int{},
		reportOf:  map[string]*report{},
	}
	for _, o := range opts {
		o(s)
	}
	s.pusher = fakeserver.NewPusher("tencentfake", pushAttempts, s.pushRetry, acceptPushAnswer)
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	tb.Cleanup(s.Close)
	return s
}

// URL is the fake's base URL, "http://127.0.0.1:port".
func (s *Server) URL() string { return s.srv.URL }

// Endpoint is the fake's host:port, for the SDK's HttpProfile.Endpoint
// (with scheme "http").
func (s *Server) Endpoint() string { return strings.TrimPrefix(s.srv.URL, "http://") }

// Close stops the server, releases held requests and waits for pending
// receipt pushes to give up. It is safe to call more than once.
func (s *Server) Close() { s.life.Close(s.srv.Close) }

// FailNext makes the next n requests (any action, after the signature
// check) fail with the request-level error code. Calls queue up in order.
func (s *Server) FailNext(n int, code string) { s.faults.FailNext(n, code) }

// Throttle makes the next n requests fail with RequestLimitExceeded.
func (s *Server) Throttle(n int) { s.FailNext(n, "RequestLimitExceeded") }

// PerNumberCode makes SendSms answer code for phone (in any format the
// service accepts) instead of "Ok", until called again with "" or "Ok".
func (s *Server) PerNumberCode(phone, code string) {
	key, _, err := normalize(phone)
	if err != nil {
		key = phone
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if code == "" || code == "Ok" {
		delete(s.perNumber, key)
		return
	}
	s.perNumber[key] = code
}

// Hang makes the next n SendSms requests take their messages (they are
// recorded, reported and visible to pulls) but never answer: the request
// is held until the client gives up or the fake closes. This is how a
// timeout with an unknown outcome looks.
func (s *Server) Hang(n int) { s.faults.Hang(n) }

// Drop makes the next n SendSms requests take their messages and then close
// the connection without an answer, like a reset after the request was
// written.
func (s *Server) Drop(n int) { s.faults.Drop(n) }

// Down makes every request fail with HTTP 500 and an HTML body, as a broken
// gateway in front of the service would, until Up. Nothing is sent.
func (s *Server) Down() { s.faults.Down() }

// Up ends Down.
func (s *Server) Up() { s.faults.Up() }

// SetCallback sets the URL delivery reports are pushed to. Empty stops
// pushes; reports are still recorded for the pull actions.
func (s *Server) SetCallback(url string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.callback = url
}

// AutoReceipt reports every message accepted from now on with status after
// delay: the report becomes visible to the pull actions and is pushed to
// the callback URL, if set. An empty status turns it off.
func (s *Server) AutoReceipt(delay time.Duration, status Status) {
	if status != "" && status != Success && status != Fail {
		panic(fmt.Sprintf("tencentfake: AutoReceipt status %q is not SUCCESS or FAIL", status))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.autoDelay, s.autoStatus = delay, status
}

// PushReceipt reports the message serialNo with status now: the report is
// recorded for the pull actions and, when a callback URL is set, pushed to
// it (retrying twice, as Tencent does). It returns the last push error.
func (s *Server) PushReceipt(serialNo string, status Status) error {
	body, callback, err := s.recordReport(serialNo, status)
	if err != nil {
		return err
	}
	if callback == "" {
		return nil
	}
	return s.push(callback, body)
}

// Sent returns the messages accepted so far, oldest first.
func (s *Server) Sent() []SentMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]SentMessage, len(s.sent))
	for i, m := range s.sent {
		m.TemplateParams = append([]string(nil), m.TemplateParams...)
		out[i] = m
	}
	return out
}

// Pushes returns every receipt push attempt so far, oldest first.
func (s *Server) Pushes() []PushAttempt {
	log := s.pusher.Log()
	out := make([]PushAttempt, len(log))
	for i, a := range log {
		out[i] = PushAttempt{Body: a.Body, StatusCode: a.StatusCode, Err: a.Err}
	}
	return out
}

// apiError is a request-level failure.
type apiError struct {
	code, message string
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	requestID := uuid.NewString()
	if s.faults.IsDown() {
		fakeserver.WriteDownPage(w, http.StatusInternalServerError, "500 Internal Server Error")
		return
	}

	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBody+1))
	if err != nil {
		return // the client went away mid-request
	}
	action, apiErr := s.checkRequest(r, body)
	if apiErr == nil {
		apiErr = s.injectedFailure()
	}
	if apiErr != nil {
		writeError(w, apiErr, requestID)
		return
	}

	switch action {
	case "SendSms":
		s.sendSms(w, r, body, requestID)
	case "PullSmsSendStatus":
		s.pullSmsSendStatus(w, body, requestID)
	case "PullSmsSendStatusByPhoneNumber":
		s.pullByPhoneNumber(w, body, requestID)
	}
}

// checkRequest applies the checks every API 3.0 call goes through: method,
// size, common headers and the signature.
func (s *Server) checkRequest(r *http.Request, body []byte) (string, *apiError) {
	if r.Method != http.MethodPost {
		return "", &apiError{"UnsupportedProtocol", "This server only implements POST with a JSON body."}
	}
	if len(body) > maxRequestBody {
		return "", &apiError{"RequestSizeLimitExceeded", "The request body is too large."}
	}
	for _, h := range []string{"X-TC-Action", "X-TC-Version", "X-TC-Region", "X-TC-Timestamp"} {
		if r.Header.Get(h) == "" {
			return "", &apiError{"MissingParameter", fmt.Sprintf("The request is missing a required parameter `%s`.", h)}
		}
	}
	action := r.Header.Get("X-TC-Action")
	switch action {
	case "SendSms", "PullSmsSendStatus", "PullSmsSendStatusByPhoneNumber":
	default:
		return "", &apiError{"InvalidAction", fmt.Sprintf("The action `%s` is not found or not implemented.", action)}
	}
	if v := r.Header.Get("X-TC-Version"); v != APIVersion {
		return "", &apiError{"NoSuchVersion", fmt.Sprintf("The API version `%s` does not exist for sms; use %s.", v, APIVersion)}
	}
	switch region := r.Header.Get("X-TC-Region"); region {
	case "ap-guangzhou", "ap-beijing", "ap-nanjing":
	default:
		return "", &apiError{"UnsupportedRegion", fmt.Sprintf("The action does not support the region `%s`.", region)}
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(strings.ToLower(ct), "application/json") {
		return "", &apiError{"UnsupportedProtocol", "The request body must be application/json."}
	}
	if f := verifySignature(r, body, s.now(), s.secretKey); f != nil {
		return "", &apiError{f.code, f.message}
	}
	return action, nil
}

func (s *Server) secretKey(id string) (string, bool) {
	k, ok := s.creds[id]
	return k, ok
}

func (s *Server) injectedFailure() *apiError {
	code, ok := s.faults.NextFailure()
	if !ok {
		return nil
	}
	return &apiError{code, messageFor(code)}
}

// messageFor is the message the service gives with a code, for the codes
// tests inject most.
func messageFor(code string) string {
	switch code {
	case "RequestLimitExceeded":
		return "Your current request times equals to `3000` in a second, which exceeds the frequency limit `3000` for a second. Please reduce the frequency of calls."
	case "InternalError", "InternalError.Timeout", "InternalError.SendAndRecvFail":
		return "An internal error has occurred. Retry your request, but if the problem persists, contact us."
	case "FailedOperation.InsufficientBalanceInSmsPackage":
		return "The SMS package balance is insufficient."
	case "FailedOperation.PhoneNumberInBlacklist":
		return "The phone number is in the blocklist."
	case "InvalidParameterValue.IncorrectPhoneNumber":
		return "The phone number format is incorrect."
	case "FailedOperation.SignatureIncorrectOrUnapproved":
		return "The signature is incorrect or unapproved."
	case "FailedOperation.TemplateIncorrectOrUnapproved":
		return "The template is incorrect or unapproved."
	}
	return "Error " + code + " injected by tencentfake."
}

// sendSmsRequest is the SendSms body. Unknown fields are rejected, as the
// service rejects unknown parameters.
type sendSmsRequest struct {
	PhoneNumberSet   []string `json:"PhoneNumberSet"`
	SmsSdkAppID      string   `json:"SmsSdkAppId"`
	TemplateID       string   `json:"TemplateId"`
	SignName         string   `json:"SignName"`
	TemplateParamSet []string `json:"TemplateParamSet"`
	ExtendCode       string   `json:"ExtendCode"`
	SessionContext   string   `json:"SessionContext"`
	SenderID         string   `json:"SenderId"`
}

type sendStatus struct {
	SerialNo       string `json:"SerialNo"`
	PhoneNumber    string `json:"PhoneNumber"`
	Fee            int    `json:"Fee"`
	SessionContext string `json:"SessionContext"`
	Code           string `json:"Code"`
	Message        string `json:"Message"`
	IsoCode        string `json:"IsoCode"`
}

func (s *Server) sendSms(w http.ResponseWriter, r *http.Request, body []byte, requestID string) {
	var req sendSmsRequest
	if apiErr := decodeParams(body, &req); apiErr != nil {
		writeError(w, apiErr, requestID)
		return
	}
	if apiErr := s.checkSendParams(req); apiErr != nil {
		writeError(w, apiErr, requestID)
		return
	}

	type number struct {
		raw, e164, iso string
		mainland, ok   bool
	}
	numbers := make([]number, len(req.PhoneNumberSet))
	var mainland, global bool
	for i, raw := range req.PhoneNumberSet {
		e164, iso, err := normalize(raw)
		numbers[i] = number{raw: raw, e164: e164, iso: iso, mainland: iso == "CN", ok: err == nil}
		if err == nil {
			mainland = mainland || iso == "CN"
			global = global || iso != "CN"
		}
	}
	if mainland && global {
		writeError(w, &apiError{"UnsupportedOperation.ContainDomesticAndInternationalPhoneNumber",
			"Chinese mainland and international numbers cannot be sent in one request."}, requestID)
		return
	}
	if mainland && req.SignName == "" {
		writeError(w, &apiError{"MissingParameter", "The request is missing a required parameter `SignName`."}, requestID)
		return
	}

	s.mu.Lock()
	end := s.faults.TakeEnding()
	now := s.now()
	statuses := make([]sendStatus, len(numbers))
	var accepted []string
	for i, n := range numbers {
		st := sendStatus{PhoneNumber: n.e164, SessionContext: req.SessionContext, IsoCode: n.iso}
		if !n.ok {
			st.PhoneNumber = n.raw
			st.Code, st.Message = "InvalidParameterValue.IncorrectPhoneNumber", messageFor("InvalidParameterValue.IncorrectPhoneNumber")
			statuses[i] = st
			continue
		}
		if code, ok := s.perNumber[n.e164]; ok {
			st.Code, st.Message = code, messageFor(code)
			statuses[i] = st
			continue
		}
		s.seq++
		st.SerialNo = fmt.Sprintf("2433:%010d%018d", s.seq, rand.Uint64N(1e18))
		st.Fee, st.Code, st.Message = 1, "Ok", "send success"
		statuses[i] = st
		s.bySerial[st.SerialNo] = len(s.sent)
		s.sent = append(s.sent, SentMessage{
			SerialNo:       st.SerialNo,
			PhoneNumber:    n.e164,
			SmsSdkAppID:    req.SmsSdkAppID,
			TemplateID:     req.TemplateID,
			TemplateParams: append([]string(nil), req.TemplateParamSet...),
			SignName:       req.SignName,
			SessionContext: req.SessionContext,
			Fee:            1,
			At:             now,
			Answered:       end.Answered(),
		})
		accepted = append(accepted, st.SerialNo)
	}
	s.scheduleAutoReceiptsLocked(accepted)
	s.mu.Unlock()

	fakeserver.Withhold(r, s.life.Done(), end)
	writeJSON(w, map[string]any{"SendStatusSet": statuses, "RequestId": requestID})
}

func (s *Server) checkSendParams(req sendSmsRequest) *apiError {
	switch {
	case req.SmsSdkAppID == "":
		return missing("SmsSdkAppId")
	case !s.apps[req.SmsSdkAppID]:
		return &apiError{"InvalidParameterValue.SdkAppIdNotExist", "The SdkAppId does not exist."}
	case req.TemplateID == "":
		return missing("TemplateId")
	case len(req.PhoneNumberSet) == 0:
		return &apiError{"MissingParameter.EmptyPhoneNumberSet", "The PhoneNumberSet is empty."}
	case len(req.PhoneNumberSet) > maxNumbersPerSend:
		return &apiError{"LimitExceeded.PhoneNumberCountLimit", fmt.Sprintf("At most %d phone numbers can be sent in one request.", maxNumbersPerSend)}
	case len(req.SessionContext) > 512:
		return &apiError{"InvalidParameterValue.ContentLengthLimit", "SessionContext must be shorter than 512 bytes."}
	}
	if len(s.templates) > 0 {
		params, ok := s.templates[req.TemplateID]
		if !ok {
			return &apiError{"FailedOperation.TemplateIncorrectOrUnapproved", messageFor("FailedOperation.TemplateIncorrectOrUnapproved")}
		}
		if params != len(req.TemplateParamSet) {
			return &apiError{"FailedOperation.TemplateParamSetNotMatchApprovedTemplate",
				fmt.Sprintf("The template has %d parameters, the request has %d.", params, len(req.TemplateParamSet))}
		}
	}
	if len(s.signs) > 0 && req.SignName != "" && !s.signs[req.SignName] {
		return &apiError{"FailedOperation.SignatureIncorrectOrUnapproved", messageFor("FailedOperation.SignatureIncorrectOrUnapproved")}
	}
	return nil
}

// scheduleAutoReceiptsLocked starts the automatic reports for serials.
// s.mu must be held.
func (s *Server) scheduleAutoReceiptsLocked(serials []string) {
	if s.autoStatus == "" {
		return
	}
	delay, status := s.autoDelay, s.autoStatus
	for _, serial := range serials {
		s.life.After(delay, func() {
			body, callback, err := s.recordReport(serial, status)
			if err != nil || callback == "" {
				return
			}
			_ = s.push(callback, body) // recorded in Pushes
		})
	}
}

// pushedReport is one element of the push body, in Tencent's field names.
type pushedReport struct {
	UserReceiveTime string `json:"user_receive_time"`
	NationCode      string `json:"nationcode"`
	Mobile          string `json:"mobile"`
	ReportStatus    string `json:"report_status"`
	ErrMsg          string `json:"errmsg"`
	Description     string `json:"description"`
	SID             string `json:"sid"`
	Ext             string `json:"ext,omitempty"`
}

// recordReport stores the report of serial and returns the push body and
// the callback URL to push it to.
func (s *Server) recordReport(serial string, status Status) ([]byte, string, error) {
	if status != Success && status != Fail {
		return nil, "", fmt.Errorf("tencentfake: report status %q is not SUCCESS or FAIL", status)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	i, ok := s.bySerial[serial]
	if !ok {
		return nil, "", fmt.Errorf("tencentfake: no message with serial number %q", serial)
	}
	msg := s.sent[i]
	rep := s.reportOf[serial]
	if rep == nil {
		rep = &report{serial: serial}
		s.reportOf[serial] = rep
		s.reports = append(s.reports, rep)
	}
	rep.status, rep.receivedAt, rep.pulled = status, s.now(), false
	rep.errMsg, rep.desc = "DELIVRD", "用户短信送达成功"
	if status == Fail {
		rep.errMsg, rep.desc = "UNDELIV", "用户短信送达失败"
	}
	cc, national := splitNumber(msg.PhoneNumber)
	body, err := json.Marshal([]pushedReport{{
		UserReceiveTime: rep.receivedAt.In(chinaTime()).Format(receiptTimeLayout),
		NationCode:      cc,
		Mobile:          national,
		ReportStatus:    string(status),
		ErrMsg:          rep.errMsg,
		Description:     rep.desc,
		SID:             serial,
		Ext:             msg.SessionContext,
	}})
	if err != nil {
		return nil, "", fmt.Errorf("tencentfake: encode report: %w", err)
	}
	return body, s.callback, nil
}

// push posts body to the callback, retrying twice when the answer is not
// HTTP 200 with result 0.
func (s *Server) push(callback string, body []byte) error {
	return s.pusher.Push(s.life.Context(), callback, "application/json", body)
}

// acceptPushAnswer accepts an answer {"result":0,...}.
func acceptPushAnswer(answer []byte) error {
	var ack struct {
		Result *int `json:"result"`
	}
	if err := json.Unmarshal(answer, &ack); err != nil || ack.Result == nil {
		return fmt.Errorf("tencentfake: push answer %q is not {\"result\":0,...}", answer)
	}
	if *ack.Result != 0 {
		return fmt.Errorf("tencentfake: push answered result %d", *ack.Result)
	}
	return nil
}

type pullStatus struct {
	UserReceiveTime int64   `json:"UserReceiveTime"`
	CountryCode     string  `json:"CountryCode"`
	SubscriberNum   string  `json:"SubscriberNumber"`
	PhoneNumber     string  `json:"PhoneNumber"`
	SerialNo        string  `json:"SerialNo"`
	ReportStatus    string  `json:"ReportStatus"`
	Description     string  `json:"Description"`
	SessionContext  *string `json:"SessionContext"`
}

// pullStatusLocked renders rep for the pull actions. s.mu must be held.
func (s *Server) pullStatusLocked(rep *report) pullStatus {
	msg := s.sent[s.bySerial[rep.serial]]
	cc, national := splitNumber(msg.PhoneNumber)
	ps := pullStatus{
		UserReceiveTime: rep.receivedAt.Unix(),
		CountryCode:     cc,
		SubscriberNum:   national,
		PhoneNumber:     msg.PhoneNumber,
		SerialNo:        rep.serial,
		ReportStatus:    string(rep.status),
		Description:     rep.errMsg,
	}
	if msg.SessionContext != "" {
		sc := msg.SessionContext
		ps.SessionContext = &sc
	}
	return ps
}

// pullSmsSendStatus returns reports not returned before, oldest first: the
// pull works as a queue.
func (s *Server) pullSmsSendStatus(w http.ResponseWriter, body []byte, requestID string) {
	var req struct {
		SmsSdkAppID string  `json:"SmsSdkAppId"`
		Limit       *uint64 `json:"Limit"`
	}
	if apiErr := decodeParams(body, &req); apiErr != nil {
		writeError(w, apiErr, requestID)
		return
	}
	if apiErr := s.checkApp(req.SmsSdkAppID); apiErr != nil {
		writeError(w, apiErr, requestID)
		return
	}
	if apiErr := checkLimit(req.Limit); apiErr != nil {
		writeError(w, apiErr, requestID)
		return
	}
	s.mu.Lock()
	set := []pullStatus{}
	for _, rep := range s.reports {
		if uint64(len(set)) >= *req.Limit {
			break
		}
		if rep.pulled || s.sent[s.bySerial[rep.serial]].SmsSdkAppID != req.SmsSdkAppID {
			continue
		}
		rep.pulled = true
		set = append(set, s.pullStatusLocked(rep))
	}
	s.mu.Unlock()
	writeJSON(w, map[string]any{"PullSmsSendStatusSet": set, "RequestId": requestID})
}

// pullByPhoneNumber returns the reports of messages sent to one number
// between BeginTime and EndTime; it does not consume them.
func (s *Server) pullByPhoneNumber(w http.ResponseWriter, body []byte, requestID string) {
	var req struct {
		BeginTime   *uint64 `json:"BeginTime"`
		EndTime     *uint64 `json:"EndTime"`
		Offset      *uint64 `json:"Offset"`
		Limit       *uint64 `json:"Limit"`
		PhoneNumber string  `json:"PhoneNumber"`
		SmsSdkAppID string  `json:"SmsSdkAppId"`
	}
	if apiErr := decodeParams(body, &req); apiErr != nil {
		writeError(w, apiErr, requestID)
		return
	}
	if apiErr := s.checkApp(req.SmsSdkAppID); apiErr != nil {
		writeError(w, apiErr, requestID)
		return
	}
	if apiErr := checkLimit(req.Limit); apiErr != nil {
		writeError(w, apiErr, requestID)
		return
	}
	now := s.now()
	switch {
	case req.BeginTime == nil:
		writeError(w, missing("BeginTime"), requestID)
		return
	case req.PhoneNumber == "":
		writeError(w, missing("PhoneNumber"), requestID)
		return
	case time.Unix(int64(*req.BeginTime), 0).Before(now.Add(-maxPullHistory)):
		writeError(w, &apiError{"InvalidParameterValue.BeginTimeVerifyFail", "BeginTime must be within the last 7 days."}, requestID)
		return
	}
	end := now
	if req.EndTime != nil {
		end = time.Unix(int64(*req.EndTime), 0)
	}
	begin := time.Unix(int64(*req.BeginTime), 0)
	if end.Before(begin) {
		writeError(w, &apiError{"InvalidParameterValue.EndTimeVerifyFail", "EndTime must not be before BeginTime."}, requestID)
		return
	}
	phone, _, err := normalize(req.PhoneNumber)
	if err != nil {
		writeError(w, &apiError{"InvalidParameterValue.IncorrectPhoneNumber", messageFor("InvalidParameterValue.IncorrectPhoneNumber")}, requestID)
		return
	}
	var offset uint64
	if req.Offset != nil {
		offset = *req.Offset
	}

	s.mu.Lock()
	set := []pullStatus{}
	var skipped uint64
	for _, rep := range s.reports {
		msg := s.sent[s.bySerial[rep.serial]]
		sentAt := msg.At.Truncate(time.Second)
		if msg.PhoneNumber != phone || msg.SmsSdkAppID != req.SmsSdkAppID || sentAt.Before(begin) || sentAt.After(end) {
			continue
		}
		if skipped < offset {
			skipped++
			continue
		}
		if uint64(len(set)) >= *req.Limit {
			break
		}
		set = append(set, s.pullStatusLocked(rep))
	}
	s.mu.Unlock()
	writeJSON(w, map[string]any{"PullSmsSendStatusSet": set, "RequestId": requestID})
}

func (s *Server) checkApp(id string) *apiError {
	switch {
	case id == "":
		return missing("SmsSdkAppId")
	case !s.apps[id]:
		return &apiError{"InvalidParameterValue.SdkAppIdNotExist", "The SdkAppId does not exist."}
	}
	return nil
}

func checkLimit(limit *uint64) *apiError {
	switch {
	case limit == nil:
		return missing("Limit")
	case *limit == 0 || *limit > maxPullLimit:
		return &apiError{"InvalidParameterValue.LimitVerifyFail", fmt.Sprintf("Limit must be between 1 and %d.", maxPullLimit)}
	}
	return nil
}

func missing(param string) *apiError {
	return &apiError{"MissingParameter", fmt.Sprintf("The request is missing a required parameter `%s`.", param)}
}

// decodeParams decodes an action's JSON body; an unknown parameter or a
// wrongly typed one is refused as the service does.
func decodeParams(body []byte, v any) *apiError {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var typeErr *json.UnmarshalTypeError
		switch {
		case errors.As(err, &typeErr):
			return &apiError{"InvalidParameter", fmt.Sprintf("The parameter `%s` has the wrong type.", typeErr.Field)}
		case strings.HasPrefix(err.Error(), "json: unknown field"):
			return &apiError{"UnknownParameter", fmt.Sprintf("The parameter %s is not recognized.", strings.TrimPrefix(err.Error(), "json: unknown field "))}
		default:
			return &apiError{"FailedOperation.JsonParseFail", "The request body is not valid JSON."}
		}
	}
	return nil
}

func writeError(w http.ResponseWriter, e *apiError, requestID string) {
	writeJSON(w, map[string]any{
		"Error":     map[string]string{"Code": e.code, "Message": e.message},
		"RequestId": requestID,
	})
}

// writeJSON answers HTTP 200 with {"Response": v}; API 3.0 reports errors
// inside a 200 too.
func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_ = json.NewEncoder(w).Encode(map[string]any{"Response": v})
}

// normalize turns a number in any form the service accepts (E.164, 0086 or
// 86 prefix, bare mainland number) into E.164 and its ISO region.
func normalize(raw string) (e164, iso string, err error) {
	num, err := phonenumbers.Parse(raw, "CN")
	if err != nil {
		return "", "", err
	}
	if !phonenumbers.IsValidNumber(num) {
		return "", "", errors.New("not a valid phone number")
	}
	return phonenumbers.Format(num, phonenumbers.E164), phonenumbers.GetRegionCodeForNumber(num), nil
}

// splitNumber splits an E.164 number into country code and national number.
func splitNumber(e164 string) (cc, national string) {
	num, err := phonenumbers.Parse(e164, "")
	if err != nil {
		return "", strings.TrimPrefix(e164, "+")
	}
	return fmt.Sprint(num.GetCountryCode()), phonenumbers.GetNationalSignificantNumber(num)
}

// chinaTime is UTC+8, the zone of user_receive_time.
func chinaTime() *time.Location { return time.FixedZone("CST", 8*60*60) }
