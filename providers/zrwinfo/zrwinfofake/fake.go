// Package zrwinfofake runs a local Zrwinfo (掌榕网, api.1cloudsp.com) SMS
// API for tests. It speaks the real protocol: form-encoded parameters on
// POST (or a query string on GET), the account's accesskey and secret in
// plain text checked exactly, JSON answers with a string "code" ("0" on
// success) and the real success bodies of the single-send, batch-send and
// status-pull APIs. Status reports are pushed to a callback URL in the
// shape integrators report (form fields by default) and served by the
// status pull, which works as a queue as the real one does.
//
// Zrwinfo publishes no error-code list. Only 9006 (超频) is known; the
// fake's other failure codes (the Code* constants starting with FAKE_) are
// its own stand-ins, so tests show how unknown codes are handled rather
// than pretend to know them.
//
// Faults are injected per request (FailNext, Throttle, Hang, Drop, Down).
// Every accepted message is recorded, so tests can assert that a message
// went out exactly once (Sent).
//
//	fake := zrwinfofake.New(t)
//	cfg := zrwinfo.Config{
//		AccessKey: zrwinfofake.DefaultAccessKey,
//		Secret:    zrwinfofake.DefaultSecret,
//		SignName:  "Herald",
//		BaseURL:   fake.URL(),
//	}
package zrwinfofake

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/providers/fakeserver"
)

// Credentials the fake knows unless told otherwise.
const (
	DefaultAccessKey = "heraldFakeAccessKey0"
	DefaultSecret    = "heraldFakeSecret00000000000000000"
)

// API paths the fake serves.
const (
	PathSingleSend = "/api/v2/single_send"
	PathBatchSend  = "/api/v2/send"
	PathStatus     = "/report/status"
)

// Result codes the fake answers with.
const (
	CodeOK = "0"
	// CodeTooFrequent (超频) is Zrwinfo's own code for requests that come
	// too fast.
	CodeTooFrequent = "9006"

	// The fake's stand-ins for codes Zrwinfo does not publish.
	CodeBadCredentials = "FAKE_AUTH"
	CodeMissingParam   = "FAKE_MISSING_PARAM"
	CodeBadParam       = "FAKE_BAD_PARAM"
	CodeBadMobile      = "FAKE_BAD_MOBILE"
	CodeBadSign        = "FAKE_BAD_SIGN"
	CodeBadTemplate    = "FAKE_BAD_TEMPLATE"
	CodeVariableCount  = "FAKE_VARIABLE_COUNT"
	CodeTooManyNumbers = "FAKE_TOO_MANY_NUMBERS"
)

// Delivery results as carriers write them; any other carrier code may be
// pushed too.
const (
	Delivered   = "DELIVRD"
	Undelivered = "UNDELIV"
	Rejected    = "REJECTD"
)

// PushFormat is how a status report is encoded in a push.
type PushFormat int

// Push formats.
const (
	// PushForm posts application/x-www-form-urlencoded fields, one report
	// per request.
	PushForm PushFormat = iota
	// PushMultipart posts multipart/form-data fields, one report per
	// request.
	PushMultipart
	// PushJSON posts a JSON array holding one report object.
	PushJSON
)

// DefaultPushFormat is the format of pushes unless WithPushFormat says
// otherwise: form fields, as integrators report Zrwinfo's pushes. It is the
// one place to change should Zrwinfo turn out to push JSON.
const DefaultPushFormat = PushForm

// Limits the fake applies. Zrwinfo publishes none; these are generous.
const (
	defaultMaxBatch     = 1000
	defaultPullPageSize = 100
	maxRequestBody      = 4 << 20
	pushAttempts        = 3 // the first push and two retries
	timeLayout          = "2006-01-02 15:04:05"
)

// SentMessage is one message the fake accepted.
type SentMessage struct {
	SmUUID string
	// BatchID is set for messages of a batch send.
	BatchID string
	// Mobile is the 11-digit number.
	Mobile     string
	TemplateID string
	Sign       string
	// Content is this number's variable string ("a##b").
	Content          string
	ScheduleSendTime string
	At               time.Time
	// Answered is false when the fake took the message but never answered
	// (Hang, Drop): the sender cannot know it was sent.
	Answered bool
}

// PushAttempt is one POST of a status report to the callback URL.
type PushAttempt struct {
	Body        []byte
	ContentType string
	StatusCode  int
	// Err is set when the push failed: no answer or a status other than
	// 200.
	Err error
}

// Option configures a Server.
type Option func(*Server)

// WithCredential adds an accesskey/secret pair the fake accepts, besides
// the default one.
func WithCredential(accessKey, secret string) Option {
	return func(s *Server) { s.creds[accessKey] = secret }
}

// WithTemplate registers an approved template with its number of
// variables. Once any template is registered, sends naming another
// template or giving another number of variables are refused; with none,
// every template id is accepted.
func WithTemplate(id string, variables int) Option {
	return func(s *Server) { s.templates[id] = variables }
}

// WithSign registers an approved signature, as text in 【】 or as a
// numeric signature id. Once any is registered, other signatures are
// refused; with none, every well-formed signature is accepted.
func WithSign(sign string) Option {
	return func(s *Server) { s.signs[sign] = true }
}

// WithClock sets the fake's clock, used for send and report times. The
// default is time.Now.
func WithClock(now func() time.Time) Option {
	return func(s *Server) { s.now = now }
}

// WithPushRetryInterval sets the pause between push retries (default
// 100ms).
func WithPushRetryInterval(d time.Duration) Option {
	return func(s *Server) { s.pushRetry = d }
}

// WithPushFormat sets how reports are pushed (default DefaultPushFormat).
func WithPushFormat(f PushFormat) Option {
	return func(s *Server) { s.pushFormat = f }
}

// WithPullPageSize sets the most reports one status pull returns (default
// 100).
func WithPullPageSize(n int) Option {
	return func(s *Server) { s.pageSize = n }
}

// WithMaxBatch sets the most numbers one batch send takes (default 1000).
func WithMaxBatch(n int) Option {
	return func(s *Server) { s.maxBatch = n }
}

// Server is a running fake. All methods are safe for concurrent use.
type Server struct {
	srv        *httptest.Server
	now        func() time.Time
	pushRetry  time.Duration
	pushFormat PushFormat
	pageSize   int
	maxBatch   int

	// Fixed at construction.
	creds     map[string]string
	templates map[string]int
	signs     map[string]bool

	faults fakeserver.Faults[string]
	// life ends held requests and pushes on Close, and runs automatic
	// receipts.
	life   *fakeserver.Background
	pusher *fakeserver.Pusher

	mu         sync.Mutex
	sent       []SentMessage
	byUUID     map[string]int // index into sent
	reports    []*report
	reportOf   map[string]*report
	callback   string
	autoDelay  time.Duration
	autoResult string
	pulls      int
	seq        uint64
}

// report is the status report of one accepted message.
type report struct {
	smUUID string
	result string
	at     time.Time
	pulled bool // already returned by the status pull
}

// New starts a fake and closes it when the test ends.
func New(tb testing.TB, opts ...Option) *Server {
	tb.Helper()
	s := &Server{
		now:        time.Now,
		pushRetry:  100 * time.Millisecond,
		pushFormat: DefaultPushFormat,
		pageSize:   defaultPullPageSize,
		maxBatch:   defaultMaxBatch,
		creds:      map[string]string{DefaultAccessKey: DefaultSecret},
		templates:  map[string]int{},
		signs:      map[string]bool{},
		life:       fakeserver.NewBackground(),
		byUUID:     map[string]int{},
		reportOf:   map[string]*report{},
	}
	for _, o := range opts {
		o(s)
	}
	s.pusher = fakeserver.NewPusher("zrwinfofake", pushAttempts, s.pushRetry, nil)
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	tb.Cleanup(s.Close)
	return s
}

// URL is the fake's base URL, "http://127.0.0.1:port", for the account's
// base_url.
func (s *Server) URL() string { return s.srv.URL }

// Close stops the server, releases held requests and waits for pending
// pushes to give up. It is safe to call more than once.
func (s *Server) Close() { s.life.Close(s.srv.Close) }

// FailNext makes the next n requests (any API, after the credential check)
// fail with code. Calls queue up in order.
func (s *Server) FailNext(n int, code string) { s.faults.FailNext(n, code) }

// Throttle makes the next n requests fail with 9006 (超频).
func (s *Server) Throttle(n int) { s.FailNext(n, CodeTooFrequent) }

// Hang makes the next n send requests take their messages (they are
// recorded and reported) but never answer: the request is held until the
// client gives up or the fake closes. This is how a timeout with an
// unknown outcome looks.
func (s *Server) Hang(n int) { s.faults.Hang(n) }

// Drop makes the next n send requests take their messages and then close
// the connection without an answer.
func (s *Server) Drop(n int) { s.faults.Drop(n) }

// Down makes every request fail with HTTP 503 and an HTML page, as a
// gateway in front of a stopped service would, until Up. Nothing is sent.
func (s *Server) Down() { s.faults.Down() }

// Up ends Down.
func (s *Server) Up() { s.faults.Up() }

// SetCallback sets the URL reports are pushed to. Empty stops pushes;
// reports are still queued for the status pull.
func (s *Server) SetCallback(url string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.callback = url
}

// AutoReceipt reports every message accepted from now on with result
// (Delivered, Undelivered or any carrier code) after delay: the report is
// queued for the status pull and pushed to the callback URL, if set. An
// empty result turns it off.
func (s *Server) AutoReceipt(delay time.Duration, result string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.autoDelay, s.autoResult = delay, result
}

// PushReceipt reports the message smUUID with result now: the report is
// queued for the status pull and, when a callback URL is set, pushed to it
// (retrying twice). It returns the last push error.
func (s *Server) PushReceipt(smUUID, result string) error {
	body, contentType, callback, err := s.recordReport(smUUID, result)
	if err != nil {
		return err
	}
	if callback == "" {
		return nil
	}
	return s.push(callback, body, contentType)
}

// Sent returns the messages accepted so far, oldest first.
func (s *Server) Sent() []SentMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]SentMessage(nil), s.sent...)
}

// Pushes returns every push attempt so far, oldest first.
func (s *Server) Pushes() []PushAttempt {
	log := s.pusher.Log()
	out := make([]PushAttempt, len(log))
	for i, a := range log {
		out[i] = PushAttempt{Body: a.Body, ContentType: a.ContentType, StatusCode: a.StatusCode, Err: a.Err}
	}
	return out
}

// Pulls returns how many status pulls the fake answered with success.
func (s *Server) Pulls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pulls
}

// apiError is a failure answered as {"code":..., "msg":...}.
type apiError struct {
	code, msg string
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if s.faults.IsDown() {
		fakeserver.WriteDownPage(w, http.StatusServiceUnavailable, "503 Service Temporarily Unavailable")
		return
	}
	var allowed map[string]bool
	switch r.URL.Path {
	case PathSingleSend:
		allowed = params("accesskey", "secret", "sign", "templateId", "mobile", "content")
	case PathBatchSend:
		allowed = params("accesskey", "secret", "sign", "templateId", "mobile", "content", "data", "scheduleSendTime")
	case PathStatus:
		allowed = params("accesskey", "secret")
	default:
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodPost && r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxRequestBody)
	// ParseForm reads a POST body only when it is form-encoded, as the
	// service does; parameters sent any other way are missing.
	if err := r.ParseForm(); err != nil {
		writeError(w, &apiError{CodeBadParam, "请求参数格式错误"})
		return
	}
	form := r.Form
	if e := checkParams(form, allowed); e != nil {
		writeError(w, e)
		return
	}
	if e := s.checkCredentials(form); e != nil {
		writeError(w, e)
		return
	}
	if e := s.injectedFailure(); e != nil {
		writeError(w, e)
		return
	}
	switch r.URL.Path {
	case PathSingleSend:
		s.singleSend(w, r, form)
	case PathBatchSend:
		s.batchSend(w, r, form)
	case PathStatus:
		s.status(w)
	}
}

func params(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

// checkParams refuses parameters the API does not have and parameters given
// twice. The real service may ignore unknown parameters; refusing them
// catches a misspelt optional one.
func checkParams(form url.Values, allowed map[string]bool) *apiError {
	for k, vs := range form {
		switch {
		case !allowed[k]:
			return &apiError{CodeBadParam, "未知参数: " + k}
		case len(vs) > 1:
			return &apiError{CodeBadParam, "参数重复: " + k}
		}
	}
	return nil
}

// checkCredentials compares accesskey and secret with the pairs the fake
// knows, exactly: case and whitespace count.
func (s *Server) checkCredentials(form url.Values) *apiError {
	key, hasKey := form["accesskey"]
	secret, hasSecret := form["secret"]
	switch {
	case !hasKey:
		return missing("accesskey")
	case !hasSecret:
		return missing("secret")
	}
	want, ok := s.creds[key[0]]
	if !ok || want != secret[0] {
		return &apiError{CodeBadCredentials, "accesskey或secret错误"}
	}
	return nil
}

func (s *Server) injectedFailure() *apiError {
	code, ok := s.faults.NextFailure()
	if !ok {
		return nil
	}
	return &apiError{code, messageFor(code)}
}

// messageFor is the msg given with a code.
func messageFor(code string) string {
	switch code {
	case CodeTooFrequent:
		return "超频"
	case CodeBadCredentials:
		return "accesskey或secret错误"
	case CodeBadMobile:
		return "手机号码格式错误"
	case CodeBadSign:
		return "签名不存在或未审核通过"
	case CodeBadTemplate:
		return "模板不存在或未审核通过"
	case CodeVariableCount:
		return "模板变量个数不匹配"
	}
	return "错误 " + code + "（zrwinfofake 注入）"
}

func missing(param string) *apiError {
	return &apiError{CodeMissingParam, "缺少参数: " + param}
}

// mobilePattern is an 11-digit mainland mobile number, the only form the
// domestic API takes.
func mobilePattern() *regexp.Regexp { return regexp.MustCompile(`^1[3-9][0-9]{9}$`) }

// signPattern is a signature: text in 【】 or a numeric signature id.
func signPattern() *regexp.Regexp { return regexp.MustCompile(`^(【[^【】]+】|[0-9]+)$`) }

func (s *Server) checkSign(form url.Values) *apiError {
	sign := form.Get("sign")
	switch {
	case sign == "":
		return missing("sign")
	case !signPattern().MatchString(sign):
		return &apiError{CodeBadSign, "签名格式错误，应为【签名】或签名ID"}
	case len(s.signs) > 0 && !s.signs[sign]:
		return &apiError{CodeBadSign, messageFor(CodeBadSign)}
	}
	return nil
}

func (s *Server) checkTemplate(id string, contents []string) *apiError {
	if id == "" {
		return missing("templateId")
	}
	if len(s.templates) == 0 {
		return nil
	}
	want, ok := s.templates[id]
	if !ok {
		return &apiError{CodeBadTemplate, messageFor(CodeBadTemplate)}
	}
	for _, c := range contents {
		if got := countVariables(c); got != want {
			return &apiError{CodeVariableCount, fmt.Sprintf("模板需要%d个变量，实际%d个", want, got)}
		}
	}
	return nil
}

// countVariables counts the values in a content parameter, joined by "##"
// or "$$".
func countVariables(content string) int {
	if content == "" {
		return 0
	}
	sep := "##"
	if !strings.Contains(content, sep) && strings.Contains(content, "$$") {
		sep = "$$"
	}
	return len(strings.Split(content, sep))
}

func (s *Server) singleSend(w http.ResponseWriter, r *http.Request, form url.Values) {
	if e := s.checkSign(form); e != nil {
		writeError(w, e)
		return
	}
	mobile := form.Get("mobile")
	_, hasContent := form["content"]
	switch {
	case form.Get("templateId") == "":
		writeError(w, missing("templateId"))
		return
	case mobile == "":
		writeError(w, missing("mobile"))
		return
	case !hasContent:
		writeError(w, missing("content"))
		return
	case strings.Contains(mobile, ","):
		writeError(w, &apiError{CodeBadMobile, "单发接口只能发送一个号码"})
		return
	case !mobilePattern().MatchString(mobile):
		writeError(w, &apiError{CodeBadMobile, messageFor(CodeBadMobile)})
		return
	}
	content := form.Get("content")
	if e := s.checkTemplate(form.Get("templateId"), []string{content}); e != nil {
		writeError(w, e)
		return
	}
	ids, end := s.accept("", form.Get("templateId"), form.Get("sign"), "", []numberContent{{mobile, content}})
	fakeserver.Withhold(r, s.life.Done(), end)
	writeJSON(w, map[string]string{"code": CodeOK, "msg": "SUCCESS", "smUuid": ids[0]})
}

type numberContent struct {
	mobile, content string
}

func (s *Server) batchSend(w http.ResponseWriter, r *http.Request, form url.Values) {
	if e := s.checkSign(form); e != nil {
		writeError(w, e)
		return
	}
	if form.Get("templateId") == "" {
		// Without a template, content is free text for manual review, which
		// the fake does not offer.
		writeError(w, missing("templateId"))
		return
	}
	_, hasData := form["data"]
	_, hasMobile := form["mobile"]
	_, hasContent := form["content"]
	var items []numberContent
	switch {
	case hasData && (hasMobile || hasContent):
		writeError(w, &apiError{CodeBadParam, "data与mobile/content不能同时使用"})
		return
	case hasData:
		var data map[string]string
		if err := json.Unmarshal([]byte(form.Get("data")), &data); err != nil {
			writeError(w, &apiError{CodeBadParam, "data不是合法的JSON对象"})
			return
		}
		if len(data) == 0 {
			writeError(w, &apiError{CodeBadParam, "data为空"})
			return
		}
		for m, c := range data {
			items = append(items, numberContent{m, c})
		}
		// Map order is random; record in number order so tests can rely on it.
		slices.SortFunc(items, func(a, b numberContent) int { return strings.Compare(a.mobile, b.mobile) })
	case !hasMobile || form.Get("mobile") == "":
		writeError(w, missing("mobile"))
		return
	case !hasContent:
		writeError(w, missing("content"))
		return
	default:
		for _, m := range strings.Split(form.Get("mobile"), ",") {
			items = append(items, numberContent{strings.TrimSpace(m), form.Get("content")})
		}
	}
	if len(items) > s.maxBatch {
		writeError(w, &apiError{CodeTooManyNumbers, fmt.Sprintf("号码个数超过%d", s.maxBatch)})
		return
	}
	contents := make([]string, len(items))
	for i, it := range items {
		if !mobilePattern().MatchString(it.mobile) {
			writeError(w, &apiError{CodeBadMobile, messageFor(CodeBadMobile)})
			return
		}
		contents[i] = it.content
	}
	if e := s.checkTemplate(form.Get("templateId"), contents); e != nil {
		writeError(w, e)
		return
	}
	schedule := form.Get("scheduleSendTime")
	if schedule != "" {
		if _, err := time.Parse(timeLayout, schedule); err != nil {
			writeError(w, &apiError{CodeBadParam, "scheduleSendTime格式应为yyyy-MM-dd HH:mm:ss"})
			return
		}
	}
	batchID := fmt.Sprintf("%d%08d", s.now().Unix(), rand.Uint32N(1e8))
	_, end := s.accept(batchID, form.Get("templateId"), form.Get("sign"), schedule, items)
	fakeserver.Withhold(r, s.life.Done(), end)
	writeJSON(w, map[string]string{"code": CodeOK, "msg": "SUCCESS", "batchId": batchID})
}

// accept records the messages and schedules their automatic reports. It
// returns their smUuids and whether to answer.
func (s *Server) accept(batchID, templateID, sign, schedule string, items []numberContent) ([]string, fakeserver.Ending) {
	s.mu.Lock()
	defer s.mu.Unlock()
	end := s.faults.TakeEnding()
	now := s.now()
	ids := make([]string, len(items))
	for i, it := range items {
		s.seq++
		id := fmt.Sprintf("%d_1_0_%s_1_%s_1", 10000+s.seq, it.mobile, randomWord(7))
		ids[i] = id
		s.byUUID[id] = len(s.sent)
		s.sent = append(s.sent, SentMessage{
			SmUUID:           id,
			BatchID:          batchID,
			Mobile:           it.mobile,
			TemplateID:       templateID,
			Sign:             sign,
			Content:          it.content,
			ScheduleSendTime: schedule,
			At:               now,
			Answered:         end.Answered(),
		})
	}
	s.scheduleAutoReceiptsLocked(ids)
	return ids, end
}

func randomWord(n int) string {
	const letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	b := make([]byte, n)
	for i := range b {
		b[i] = letters[rand.IntN(len(letters))]
	}
	return string(b)
}

// pulledReport is one element of the status pull's data, and of a JSON
// push.
type pulledReport struct {
	SmUUID        string `json:"smUuid"`
	DeliverTime   string `json:"deliverTime"`
	Mobile        string `json:"mobile"`
	DeliverResult string `json:"deliverResult"`
	BatchID       string `json:"batchId,omitempty"`
}

// status returns reports not returned before, oldest first: the pull works
// as a queue.
func (s *Server) status(w http.ResponseWriter) {
	s.mu.Lock()
	data := []pulledReport{}
	for _, rep := range s.reports {
		if len(data) >= s.pageSize {
			break
		}
		if rep.pulled {
			continue
		}
		rep.pulled = true
		data = append(data, s.renderLocked(rep))
	}
	s.pulls++
	s.mu.Unlock()
	writeJSON(w, map[string]any{"code": CodeOK, "msg": "SUCCESS", "data": data})
}

// renderLocked renders rep in Zrwinfo's field names. s.mu must be held.
func (s *Server) renderLocked(rep *report) pulledReport {
	msg := s.sent[s.byUUID[rep.smUUID]]
	return pulledReport{
		SmUUID:        rep.smUUID,
		DeliverTime:   rep.at.In(chinaTime()).Format(timeLayout),
		Mobile:        msg.Mobile,
		DeliverResult: rep.result,
		BatchID:       msg.BatchID,
	}
}

// scheduleAutoReceiptsLocked starts the automatic reports for ids. s.mu
// must be held.
func (s *Server) scheduleAutoReceiptsLocked(ids []string) {
	if s.autoResult == "" {
		return
	}
	delay, result := s.autoDelay, s.autoResult
	for _, id := range ids {
		s.life.After(delay, func() {
			body, contentType, callback, err := s.recordReport(id, result)
			if err != nil || callback == "" {
				return
			}
			_ = s.push(callback, body, contentType) // recorded in Pushes
		})
	}
}

// recordReport queues the report of smUUID and returns the push body, its
// content type and the callback URL to push it to.
func (s *Server) recordReport(smUUID, result string) ([]byte, string, string, error) {
	if result == "" {
		return nil, "", "", errors.New("zrwinfofake: empty delivery result")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.byUUID[smUUID]; !ok {
		return nil, "", "", fmt.Errorf("zrwinfofake: no message with smUuid %q", smUUID)
	}
	rep := s.reportOf[smUUID]
	if rep == nil {
		rep = &report{smUUID: smUUID}
		s.reportOf[smUUID] = rep
		s.reports = append(s.reports, rep)
	}
	rep.result, rep.at, rep.pulled = result, s.now(), false
	body, contentType, err := encodePush(s.pushFormat, s.renderLocked(rep))
	if err != nil {
		return nil, "", "", err
	}
	return body, contentType, s.callback, nil
}

// encodePush encodes one report as a push body.
func encodePush(f PushFormat, rep pulledReport) ([]byte, string, error) {
	fields := url.Values{}
	fields.Set("smUuid", rep.SmUUID)
	fields.Set("mobile", rep.Mobile)
	if rep.BatchID != "" {
		fields.Set("batchId", rep.BatchID)
	}
	fields.Set("deliverResult", rep.DeliverResult)
	fields.Set("deliverTime", rep.DeliverTime)

	switch f {
	case PushForm:
		return []byte(fields.Encode()), "application/x-www-form-urlencoded;charset=utf-8", nil
	case PushMultipart:
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		for _, k := range []string{"smUuid", "mobile", "batchId", "deliverResult", "deliverTime"} {
			if v := fields.Get(k); v != "" {
				if err := mw.WriteField(k, v); err != nil {
					return nil, "", fmt.Errorf("zrwinfofake: encode push: %w", err)
				}
			}
		}
		if err := mw.Close(); err != nil {
			return nil, "", fmt.Errorf("zrwinfofake: encode push: %w", err)
		}
		return buf.Bytes(), mw.FormDataContentType(), nil
	case PushJSON:
		body, err := json.Marshal([]pulledReport{rep})
		if err != nil {
			return nil, "", fmt.Errorf("zrwinfofake: encode push: %w", err)
		}
		return body, "application/json;charset=utf-8", nil
	}
	return nil, "", fmt.Errorf("zrwinfofake: unknown push format %d", f)
}

// push posts body to the callback, retrying twice when the answer is not
// HTTP 200.
func (s *Server) push(callback string, body []byte, contentType string) error {
	return s.pusher.Push(s.life.Context(), callback, contentType, body)
}

func writeError(w http.ResponseWriter, e *apiError) {
	writeJSON(w, map[string]string{"code": e.code, "msg": e.msg})
}

// writeJSON answers HTTP 200: Zrwinfo reports failures inside a 200.
func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(http.StatusOK)
	_ = json.NewEncoder(w).Encode(v)
}

// chinaTime is UTC+8, the zone of deliverTime.
func chinaTime() *time.Location { return time.FixedZone("CST", 8*60*60) }
