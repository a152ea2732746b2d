// Package dingtalkfake runs a local DingTalk custom group robot endpoint
// (POST /robot/send?access_token=...) for tests.
//
// It speaks the real protocol: the "sign" security setting is verified
// exactly (timestamp in milliseconds within an hour of the fake's clock,
// Base64 HMAC-SHA256 of "timestamp\nsecret" keyed with the secret, read
// from the URL-decoded query), keywords are checked, each msgtype's
// required fields are validated, and answers are HTTP 200 with
// {"errcode":...,"errmsg":...} as DingTalk sends them. Each robot takes at
// most 20 messages a minute; the next one is answered 130101 and the robot
// is blocked for ten minutes (both configurable with WithRateLimit).
//
// Faults are injected per request: FailNext, Throttle, Hang, Drop, Down.
// Every accepted message is recorded (Sent).
//
//	fake := dingtalkfake.New(t)
//	cfg := dingtalk.Config{
//		AccessToken: dingtalkfake.DefaultAccessToken,
//		Secret:      dingtalkfake.DefaultSecret,
//		BaseURL:     fake.URL(),
//	}
//
// Which errcode DingTalk gives for a malformed body (not JSON, an unknown
// msgtype, a missing field) is not documented; the fake answers 40035
// "缺少参数 <name>", the code the live service gives for a missing
// access_token.
package dingtalkfake

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/providers/fakeserver"
)

// The robot the fake knows unless told otherwise: signed, no keywords.
const (
	DefaultAccessToken = "5f1e0c6a3b7d4e2f9a8b1c0d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f"
	DefaultSecret      = "SEC0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e"
)

// Limits of the real service.
const (
	DefaultRateLimit  = 20
	DefaultRateWindow = time.Minute
	DefaultRateBlock  = 10 * time.Minute
	// TimestampWindow is how far a signed request's timestamp may be from
	// the server's clock.
	TimestampWindow = time.Hour
	maxRequestBody  = 1 << 20
)

// Errcodes the fake answers with.
const (
	CodeOK               = 0
	CodeBusy             = -1
	CodeMissingParameter = 40035
	CodeNeedPost         = 43002
	CodeTooFast          = 130101
	CodeTokenNotExist    = 300005
	CodeSecurity         = 310000
)

// Robot is one custom robot the fake serves.
type Robot struct {
	AccessToken string
	// Secret, when set, makes the robot require a signature.
	Secret string
	// Keywords, when set, must appear (at least one) in the message.
	Keywords []string
}

// SentMessage is one message a robot accepted.
type SentMessage struct {
	AccessToken string
	MsgType     string
	// Title is markdown.title or actionCard.title.
	Title string
	// Text is text.content, markdown.text or actionCard.text.
	Text        string
	SingleTitle string
	SingleURL   string
	AtMobiles   []string
	AtUserIDs   []string
	IsAtAll     bool
	// Body is the request body as received.
	Body []byte
	At   time.Time
	// Answered is false when the fake took the message but never answered
	// (Hang, Drop): the sender cannot know it was posted.
	Answered bool
}

// Option configures a Server.
type Option func(*Server)

// WithRobot adds a robot the fake serves, besides the default one (which
// a robot with the same access token replaces).
func WithRobot(r Robot) Option {
	return func(s *Server) {
		r.Keywords = slices.Clone(r.Keywords)
		s.robots[r.AccessToken] = r
	}
}

// WithClock sets the fake's clock, used for the signature window, the
// rate limit and send times. The default is time.Now.
func WithClock(now func() time.Time) Option {
	return func(s *Server) { s.now = now }
}

// WithRateLimit sets how many messages one robot takes per window before
// the next is refused with 130101 and the robot is blocked for block
// (defaults 20, one minute, ten minutes). Tests use small numbers to
// trigger it quickly. A limit of 0 turns the limit off.
func WithRateLimit(limit int, window, block time.Duration) Option {
	return func(s *Server) { s.rateLimit, s.rateWindow, s.rateBlock = limit, window, block }
}

// Server is a running fake. All methods are safe for concurrent use.
type Server struct {
	srv *httptest.Server
	now func() time.Time

	// Fixed at construction.
	robots     map[string]Robot
	rateLimit  int
	rateWindow time.Duration
	rateBlock  time.Duration

	faults fakeserver.Faults[int]
	life   *fakeserver.Background // ends held requests on Close

	mu      sync.Mutex
	sent    []SentMessage
	recent  map[string][]time.Time // accepted send times per robot, within the window
	blocked map[string]time.Time   // robot -> blocked until
}

// New starts a fake and closes it when the test ends.
func New(tb testing.TB, opts ...Option) *Server {
	tb.Helper()
	s := &Server{
		now:        time.Now,
		robots:     map[string]Robot{DefaultAccessToken: {AccessToken: DefaultAccessToken, Secret: DefaultSecret}},
		rateLimit:  DefaultRateLimit,
		rateWindow: DefaultRateWindow,
		rateBlock:  DefaultRateBlock,
		life:       fakeserver.NewBackground(),
		recent:     map[string][]time.Time{},
		blocked:    map[string]time.Time{},
	}
	for _, o := range opts {
		o(s)
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	tb.Cleanup(s.Close)
	return s
}

// URL is the fake's base URL, "http://127.0.0.1:port", for
// dingtalk.Config.BaseURL.
func (s *Server) URL() string { return s.srv.URL }

// WebhookURL is the full webhook URL of the robot with accessToken, for
// dingtalk.Config.WebhookURL.
func (s *Server) WebhookURL(accessToken string) string {
	return s.srv.URL + "/robot/send?access_token=" + accessToken
}

// Close stops the server and releases held requests. It is safe to call
// more than once.
func (s *Server) Close() { s.life.Close(s.srv.Close) }

// FailNext makes the next n requests that pass the token and signature
// checks fail with errcode. Calls queue up in order.
func (s *Server) FailNext(n, errcode int) { s.faults.FailNext(n, errcode) }

// Throttle makes the next n requests fail with 130101, without blocking
// the robot afterwards.
func (s *Server) Throttle(n int) { s.FailNext(n, CodeTooFast) }

// Hang makes the next n valid messages be accepted (recorded, counted
// against the rate) but never answered: the request is held until the
// client gives up or the fake closes. This is how a timeout with an
// unknown outcome looks.
func (s *Server) Hang(n int) { s.faults.Hang(n) }

// Drop makes the next n valid messages be accepted and then closes the
// connection without an answer.
func (s *Server) Drop(n int) { s.faults.Drop(n) }

// Down makes every request fail with HTTP 502 and an HTML body, as a
// broken gateway in front of the service would, until Up. Nothing is
// posted.
func (s *Server) Down() { s.faults.Down() }

// Up ends Down.
func (s *Server) Up() { s.faults.Up() }

// Sent returns the messages accepted so far, oldest first.
func (s *Server) Sent() []SentMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]SentMessage, len(s.sent))
	for i, m := range s.sent {
		m.AtMobiles = slices.Clone(m.AtMobiles)
		m.AtUserIDs = slices.Clone(m.AtUserIDs)
		m.Body = slices.Clone(m.Body)
		out[i] = m
	}
	return out
}

// apiError is a refusal: an errcode with its errmsg.
type apiError struct {
	code int
	msg  string
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if s.faults.IsDown() {
		fakeserver.WriteDownPage(w, http.StatusBadGateway, "502 Bad Gateway")
		return
	}
	if r.URL.Path != "/robot/send" {
		http.NotFound(w, r)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBody+1))
	if err != nil {
		return // the client went away mid-request
	}
	robot, msg, apiErr := s.check(r, body)
	if apiErr == nil {
		apiErr = s.injectedFailure()
	}
	if apiErr == nil {
		apiErr = s.admit(robot.AccessToken)
	}
	if apiErr != nil {
		writeAnswer(w, apiErr.code, apiErr.msg)
		return
	}

	s.mu.Lock()
	end := s.faults.TakeEnding()
	msg.Answered = end.Answered()
	s.sent = append(s.sent, msg)
	s.mu.Unlock()

	fakeserver.Withhold(r, s.life.Done(), end)
	writeAnswer(w, CodeOK, "ok")
}

// check applies what DingTalk checks before taking a message: method,
// access token, the security settings and the message's own fields.
func (s *Server) check(r *http.Request, body []byte) (Robot, SentMessage, *apiError) {
	if r.Method != http.MethodPost {
		return Robot{}, SentMessage{}, &apiError{CodeNeedPost, "需要POST请求"}
	}
	q := r.URL.Query()
	token := q.Get("access_token")
	if token == "" {
		return Robot{}, SentMessage{}, &apiError{CodeMissingParameter, "缺少参数 access_token"}
	}
	robot, ok := s.robots[token]
	if !ok {
		return Robot{}, SentMessage{}, &apiError{CodeTokenNotExist, "token is not exist"}
	}
	if robot.Secret != "" {
		if e := verifySign(q.Get("timestamp"), q.Get("sign"), robot.Secret, s.now()); e != nil {
			return Robot{}, SentMessage{}, e
		}
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return Robot{}, SentMessage{}, &apiError{CodeMissingParameter, "缺少参数 json"}
	}
	if len(body) > maxRequestBody {
		return Robot{}, SentMessage{}, &apiError{CodeMissingParameter, "缺少参数 json"}
	}
	msg, e := parseMessage(body)
	if e != nil {
		return Robot{}, SentMessage{}, e
	}
	if len(robot.Keywords) > 0 && !slices.ContainsFunc(robot.Keywords, func(k string) bool {
		return strings.Contains(msg.Title+"\n"+msg.Text, k)
	}) {
		return Robot{}, SentMessage{}, &apiError{CodeSecurity, "keywords not in content"}
	}
	msg.AccessToken = token
	msg.Body = slices.Clone(body)
	msg.At = s.now()
	return robot, msg, nil
}

// verifySign checks the "sign" security setting as DingTalk does. The
// query has already been URL-decoded once, so a sign the client did not
// escape (a "+" read as a space) or escaped twice does not match.
func verifySign(timestamp, sign, secret string, now time.Time) *apiError {
	ms, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return &apiError{CodeSecurity, "invalid timestamp"}
	}
	if d := now.Sub(time.UnixMilli(ms)); d > TimestampWindow || d < -TimestampWindow {
		return &apiError{CodeSecurity, "invalid timestamp"}
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(timestamp + "\n" + secret))
	want := base64.StdEncoding.EncodeToString(mac.Sum(nil))
	if sign == "" || !hmac.Equal([]byte(sign), []byte(want)) {
		return &apiError{CodeSecurity, "sign not match"}
	}
	return nil
}

// inbound is the robot send body, every msgtype.
type inbound struct {
	MsgType string `json:"msgtype"`
	Text    *struct {
		Content string `json:"content"`
	} `json:"text"`
	Markdown *struct {
		Title string `json:"title"`
		Text  string `json:"text"`
	} `json:"markdown"`
	ActionCard *struct {
		Title       string `json:"title"`
		Text        string `json:"text"`
		SingleTitle string `json:"singleTitle"`
		SingleURL   string `json:"singleURL"`
		Btns        []struct {
			Title     string `json:"title"`
			ActionURL string `json:"actionURL"`
		} `json:"btns"`
	} `json:"actionCard"`
	Link *struct {
		Title      string `json:"title"`
		Text       string `json:"text"`
		MessageURL string `json:"messageUrl"`
	} `json:"link"`
	FeedCard *struct {
		Links []struct {
			Title      string `json:"title"`
			MessageURL string `json:"messageURL"`
			PicURL     string `json:"picURL"`
		} `json:"links"`
	} `json:"feedCard"`
	At *struct {
		AtMobiles []string `json:"atMobiles"`
		AtUserIDs []string `json:"atUserIds"`
		IsAtAll   bool     `json:"isAtAll"`
	} `json:"at"`
}

func missing(name string) *apiError { return &apiError{CodeMissingParameter, "缺少参数 " + name} }

// parseMessage validates the body per msgtype.
func parseMessage(body []byte) (SentMessage, *apiError) {
	var in inbound
	if err := json.Unmarshal(body, &in); err != nil {
		return SentMessage{}, missing("json")
	}
	msg := SentMessage{MsgType: in.MsgType}
	switch in.MsgType {
	case "text":
		if in.Text == nil || strings.TrimSpace(in.Text.Content) == "" {
			return SentMessage{}, missing("text")
		}
		msg.Text = in.Text.Content
	case "markdown":
		switch {
		case in.Markdown == nil:
			return SentMessage{}, missing("markdown")
		case strings.TrimSpace(in.Markdown.Title) == "":
			return SentMessage{}, missing("markdown.title")
		case strings.TrimSpace(in.Markdown.Text) == "":
			return SentMessage{}, missing("markdown.text")
		}
		msg.Title, msg.Text = in.Markdown.Title, in.Markdown.Text
	case "actionCard":
		c := in.ActionCard
		switch {
		case c == nil:
			return SentMessage{}, missing("actionCard")
		case strings.TrimSpace(c.Title) == "":
			return SentMessage{}, missing("actionCard.title")
		case strings.TrimSpace(c.Text) == "":
			return SentMessage{}, missing("actionCard.text")
		}
		if len(c.Btns) > 0 {
			for _, b := range c.Btns {
				if b.Title == "" || b.ActionURL == "" {
					return SentMessage{}, missing("actionCard.btns")
				}
			}
		} else if c.SingleTitle == "" || c.SingleURL == "" {
			return SentMessage{}, missing("actionCard.singleTitle")
		}
		msg.Title, msg.Text, msg.SingleTitle, msg.SingleURL = c.Title, c.Text, c.SingleTitle, c.SingleURL
	case "link":
		l := in.Link
		if l == nil || l.Title == "" || l.Text == "" || l.MessageURL == "" {
			return SentMessage{}, missing("link")
		}
		msg.Title, msg.Text = l.Title, l.Text
	case "feedCard":
		if in.FeedCard == nil || len(in.FeedCard.Links) == 0 {
			return SentMessage{}, missing("feedCard")
		}
		for _, l := range in.FeedCard.Links {
			if l.Title == "" || l.MessageURL == "" {
				return SentMessage{}, missing("feedCard.links")
			}
		}
		msg.Title = in.FeedCard.Links[0].Title
	default:
		return SentMessage{}, missing("msgtype")
	}
	if in.At != nil {
		msg.AtMobiles = in.At.AtMobiles
		msg.AtUserIDs = in.At.AtUserIDs
		msg.IsAtAll = in.At.IsAtAll
	}
	return msg, nil
}

func (s *Server) injectedFailure() *apiError {
	code, ok := s.faults.NextFailure()
	if !ok {
		return nil
	}
	return &apiError{code, messageFor(code)}
}

// admit counts a message against its robot's rate, refusing it (and
// blocking the robot) when the robot is over the limit.
func (s *Server) admit(token string) *apiError {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rateLimit <= 0 {
		return nil
	}
	now := s.now()
	if until, ok := s.blocked[token]; ok {
		if now.Before(until) {
			return &apiError{CodeTooFast, messageFor(CodeTooFast)}
		}
		delete(s.blocked, token)
	}
	kept := s.recent[token][:0]
	for _, t := range s.recent[token] {
		if now.Sub(t) < s.rateWindow {
			kept = append(kept, t)
		}
	}
	if len(kept) >= s.rateLimit {
		s.recent[token] = kept
		s.blocked[token] = now.Add(s.rateBlock)
		return &apiError{CodeTooFast, messageFor(CodeTooFast)}
	}
	s.recent[token] = append(kept, now)
	return nil
}

// messageFor is the errmsg DingTalk gives with a code, for the codes tests
// inject most.
func messageFor(code int) string {
	switch code {
	case CodeBusy:
		return "系统繁忙"
	case CodeTooFast:
		return "send too fast, exceed 20 times per minute"
	case CodeSecurity:
		return "sign not match"
	case CodeTokenNotExist, 300001:
		return "token is not exist"
	case CodeMissingParameter:
		return "缺少参数 json"
	}
	return fmt.Sprintf("error %d injected by dingtalkfake", code)
}

// writeAnswer answers HTTP 200 with errcode and errmsg: DingTalk reports
// errors inside a 200.
func writeAnswer(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_ = json.NewEncoder(w).Encode(struct {
		ErrCode int    `json:"errcode"`
		ErrMsg  string `json:"errmsg"`
	}{code, msg})
}
