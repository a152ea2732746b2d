// Package feishufake runs a local Feishu / Lark custom bot endpoint
// (POST /open-apis/bot/v2/hook/<hook id>) for tests.
//
// It speaks the real protocol: the signature is verified exactly
// (timestamp in seconds within an hour of the fake's clock, sign =
// Base64(HMAC-SHA256(key = timestamp + "\n" + secret, message = empty)),
// both read from the JSON body), keywords are checked, each msg_type's
// content is validated, bodies over 20 KB are refused, and answers are
// Feishu's JSON bodies with HTTP 200: {"StatusCode":0,...,"code":0,...} on
// success, {"code":...,"data":{},"msg":...} on errors. Each bot takes at
// most 100 messages a minute and 5 a second; the next is answered 11232
// (both configurable with WithRateLimit).
//
// Faults are injected per request: FailNext, Throttle, Hang, Drop, Down.
// Every accepted message is recorded (Sent).
//
//	fake := feishufake.New(t)
//	cfg := feishu.Config{
//		HookID:  feishufake.DefaultHookID,
//		Secret:  feishufake.DefaultSecret,
//		BaseURL: fake.URL(),
//	}
//
// Which code Feishu gives for each kind of malformed body (an unknown
// msg_type, a post without content) is not documented; the fake answers
// 9499 "Bad Request" for all of them.
package feishufake

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/providers/fakeserver"
)

// The bot the fake knows unless told otherwise: signed, no keywords.
const (
	DefaultHookID = "2f7c9a3e-5b1d-4e8f-a6c2-0d9b8e7f6a5c"
	DefaultSecret = "qW3eR5tY7uI9oP1aS3dF5g"
)

// Limits of the real service.
const (
	DefaultPerMinute = 100
	DefaultPerSecond = 5
	// TimestampWindow is how far a signed request's timestamp may be from
	// the server's clock.
	TimestampWindow = time.Hour
	// MaxBodyBytes is the largest body a bot takes.
	MaxBodyBytes = 20 << 10
)

// Codes the fake answers with.
const (
	CodeOK               = 0
	CodeBadRequest       = 9499
	CodeFrequencyLimited = 11232
	CodeTokenInvalid     = 19001
	CodeSignMismatch     = 19021
	CodeIPNotAllowed     = 19022
	CodeKeywordsNotFound = 19024
)

// Bot is one custom bot the fake serves.
type Bot struct {
	HookID string
	// Secret, when set, makes the bot require a signature.
	Secret string
	// Keywords, when set, must appear (at least one) in the message.
	Keywords []string
}

// SentMessage is one message a bot accepted.
type SentMessage struct {
	HookID  string
	MsgType string
	// Title is the post's title or the card header's.
	Title string
	// Text is the text of the message: content.text, the post's text and
	// link elements one paragraph a line, or the card's text contents.
	Text string
	// Mentions lists the user ids @-mentioned ("all" for everyone).
	Mentions []string
	// Card is the card of an interactive message.
	Card json.RawMessage
	// Body is the request body as received.
	Body []byte
	At   time.Time
	// Answered is false when the fake took the message but never answered
	// (Hang, Drop): the sender cannot know it was posted.
	Answered bool
}

// Option configures a Server.
type Option func(*Server)

// WithBot adds a bot the fake serves, besides the default one (which a bot
// with the same hook id replaces).
func WithBot(b Bot) Option {
	return func(s *Server) {
		b.Keywords = slices.Clone(b.Keywords)
		s.bots[b.HookID] = b
	}
}

// WithClock sets the fake's clock, used for the signature window, the rate
// limit and send times. The default is time.Now.
func WithClock(now func() time.Time) Option {
	return func(s *Server) { s.now = now }
}

// WithRateLimit sets how many messages one bot takes a minute and a second
// before the next is refused with 11232 (defaults 100 and 5). Zero turns
// that limit off.
func WithRateLimit(perMinute, perSecond int) Option {
	return func(s *Server) { s.perMinute, s.perSecond = perMinute, perSecond }
}

// WithLegacyAnswer makes the fake answer a success the way older bots do,
// {"Extra":null,"StatusCode":0,"StatusMessage":"success"}, without "code".
func WithLegacyAnswer() Option {
	return func(s *Server) { s.legacy = true }
}

// Server is a running fake. All methods are safe for concurrent use.
type Server struct {
	srv *httptest.Server
	now func() time.Time

	// Fixed at construction.
	bots      map[string]Bot
	perMinute int
	perSecond int
	legacy    bool

	faults fakeserver.Faults[int]
	life   *fakeserver.Background // ends held requests on Close

	mu     sync.Mutex
	sent   []SentMessage
	recent map[string][]time.Time // accepted send times per bot, within a minute
}

// New starts a fake and closes it when the test ends.
func New(tb testing.TB, opts ...Option) *Server {
	tb.Helper()
	s := &Server{
		now:       time.Now,
		bots:      map[string]Bot{DefaultHookID: {HookID: DefaultHookID, Secret: DefaultSecret}},
		perMinute: DefaultPerMinute,
		perSecond: DefaultPerSecond,
		life:      fakeserver.NewBackground(),
		recent:    map[string][]time.Time{},
	}
	for _, o := range opts {
		o(s)
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	tb.Cleanup(s.Close)
	return s
}

// URL is the fake's base URL, "http://127.0.0.1:port", for
// feishu.Config.BaseURL.
func (s *Server) URL() string { return s.srv.URL }

// WebhookURL is the full webhook URL of the bot with hookID, for
// feishu.Config.WebhookURL.
func (s *Server) WebhookURL(hookID string) string {
	return s.srv.URL + "/open-apis/bot/v2/hook/" + hookID
}

// Close stops the server and releases held requests. It is safe to call
// more than once.
func (s *Server) Close() { s.life.Close(s.srv.Close) }

// FailNext makes the next n requests that pass the hook id, signature and
// content checks fail with code. Calls queue up in order.
func (s *Server) FailNext(n, code int) { s.faults.FailNext(n, code) }

// Throttle makes the next n requests fail with 11232.
func (s *Server) Throttle(n int) { s.FailNext(n, CodeFrequencyLimited) }

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
		m.Mentions = slices.Clone(m.Mentions)
		m.Card = slices.Clone(m.Card)
		m.Body = slices.Clone(m.Body)
		out[i] = m
	}
	return out
}

// apiError is a refusal: a code with its msg.
type apiError struct {
	code int
	msg  string
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if s.faults.IsDown() {
		fakeserver.WriteDownPage(w, http.StatusBadGateway, "502 Bad Gateway")
		return
	}
	hookID, ok := strings.CutPrefix(r.URL.Path, "/open-apis/bot/v2/hook/")
	if !ok || hookID == "" || strings.Contains(hookID, "/") {
		http.NotFound(w, r)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
	if err != nil {
		return // the client went away mid-request
	}
	msg, apiErr := s.check(r, hookID, body)
	if apiErr == nil {
		apiErr = s.injectedFailure()
	}
	if apiErr == nil {
		apiErr = s.admit(hookID)
	}
	if apiErr != nil {
		writeError(w, apiErr)
		return
	}

	s.mu.Lock()
	end := s.faults.TakeEnding()
	msg.Answered = end.Answered()
	s.sent = append(s.sent, msg)
	s.mu.Unlock()

	fakeserver.Withhold(r, s.life.Done(), end)
	s.writeSuccess(w)
}

// inbound is the custom bot body.
type inbound struct {
	Timestamp json.RawMessage `json:"timestamp"`
	Sign      string          `json:"sign"`
	MsgType   string          `json:"msg_type"`
	Content   json.RawMessage `json:"content"`
	Card      json.RawMessage `json:"card"`
}

// check applies what Feishu checks before taking a message: the hook id,
// the body size, the signature, the content and the keywords.
func (s *Server) check(r *http.Request, hookID string, body []byte) (SentMessage, *apiError) {
	bot, ok := s.bots[hookID]
	if !ok {
		return SentMessage{}, &apiError{CodeTokenInvalid, "param invalid: incoming webhook access token invalid"}
	}
	if r.Method != http.MethodPost || len(body) > MaxBodyBytes {
		return SentMessage{}, &apiError{CodeBadRequest, "Bad Request"}
	}
	var in inbound
	if err := json.Unmarshal(body, &in); err != nil {
		return SentMessage{}, &apiError{CodeBadRequest, "Bad Request"}
	}
	if bot.Secret != "" {
		if e := verifySign(in.Timestamp, in.Sign, bot.Secret, s.now()); e != nil {
			return SentMessage{}, e
		}
	}
	msg, e := parseMessage(in)
	if e != nil {
		return SentMessage{}, e
	}
	if len(bot.Keywords) > 0 && !slices.ContainsFunc(bot.Keywords, func(k string) bool {
		return strings.Contains(msg.Title+"\n"+msg.Text, k)
	}) {
		return SentMessage{}, &apiError{CodeKeywordsNotFound, "Key Words Not Found"}
	}
	msg.HookID = hookID
	msg.Body = slices.Clone(body)
	msg.At = s.now()
	return msg, nil
}

// verifySign checks the signature as Feishu does. The timestamp is
// accepted as a JSON string or number of seconds.
func verifySign(rawTS json.RawMessage, sign, secret string, now time.Time) *apiError {
	fail := &apiError{CodeSignMismatch, "sign match fail or timestamp is not within one hour from current time"}
	var ts string
	if err := json.Unmarshal(rawTS, &ts); err != nil {
		var n json.Number
		if err := json.Unmarshal(rawTS, &n); err != nil {
			return fail
		}
		ts = n.String()
	}
	secs, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fail
	}
	if d := now.Sub(time.Unix(secs, 0)); d > TimestampWindow || d < -TimestampWindow {
		return fail
	}
	mac := hmac.New(sha256.New, []byte(ts+"\n"+secret))
	want := base64.StdEncoding.EncodeToString(mac.Sum(nil))
	if sign == "" || !hmac.Equal([]byte(sign), []byte(want)) {
		return fail
	}
	return nil
}

func badContent() *apiError { return &apiError{CodeBadRequest, "Bad Request: fail to parse content"} }

func atUserPattern() *regexp.Regexp { return regexp.MustCompile(`<at user_id="([^"]*)">`) }

func atCardPattern() *regexp.Regexp { return regexp.MustCompile(`<at id=([^>\s]+)>`) }

// parseMessage validates the content per msg_type.
func parseMessage(in inbound) (SentMessage, *apiError) {
	msg := SentMessage{MsgType: in.MsgType}
	switch in.MsgType {
	case "text":
		var c struct {
			Text string `json:"text"`
		}
		if json.Unmarshal(in.Content, &c) != nil || strings.TrimSpace(c.Text) == "" {
			return SentMessage{}, badContent()
		}
		msg.Text = c.Text
		for _, m := range atUserPattern().FindAllStringSubmatch(c.Text, -1) {
			msg.Mentions = append(msg.Mentions, m[1])
		}
	case "post":
		if e := parsePost(in.Content, &msg); e != nil {
			return SentMessage{}, e
		}
	case "interactive":
		if e := parseCard(in.Card, &msg); e != nil {
			return SentMessage{}, e
		}
	case "image":
		var c struct {
			ImageKey string `json:"image_key"`
		}
		if json.Unmarshal(in.Content, &c) != nil || c.ImageKey == "" {
			return SentMessage{}, badContent()
		}
	case "share_chat":
		var c struct {
			ShareChatID string `json:"share_chat_id"`
		}
		if json.Unmarshal(in.Content, &c) != nil || c.ShareChatID == "" {
			return SentMessage{}, badContent()
		}
	default:
		return SentMessage{}, &apiError{CodeBadRequest, "Bad Request"}
	}
	return msg, nil
}

// postElement is one rich-text element. Pointers tell a missing field from
// an empty one.
type postElement struct {
	Tag      string  `json:"tag"`
	Text     *string `json:"text"`
	Href     *string `json:"href"`
	UserID   *string `json:"user_id"`
	ImageKey *string `json:"image_key"`
}

func parsePost(raw json.RawMessage, msg *SentMessage) *apiError {
	var c struct {
		Post map[string]struct {
			Title   string          `json:"title"`
			Content [][]postElement `json:"content"`
		} `json:"post"`
	}
	if json.Unmarshal(raw, &c) != nil || len(c.Post) == 0 {
		return badContent()
	}
	locales := make([]string, 0, len(c.Post))
	for l := range c.Post {
		locales = append(locales, l)
	}
	slices.Sort(locales)
	for _, l := range locales {
		p := c.Post[l]
		if len(p.Content) == 0 {
			return badContent()
		}
		var lines []string
		for _, para := range p.Content {
			var line strings.Builder
			for _, el := range para {
				switch {
				case el.Tag == "text" && el.Text != nil:
					line.WriteString(*el.Text)
				case el.Tag == "a" && el.Text != nil && el.Href != nil && *el.Href != "":
					line.WriteString(*el.Text)
				case el.Tag == "at" && el.UserID != nil && *el.UserID != "":
					msg.Mentions = append(msg.Mentions, *el.UserID)
				case el.Tag == "img" && el.ImageKey != nil && *el.ImageKey != "":
				default:
					return badContent()
				}
			}
			lines = append(lines, line.String())
		}
		// The first locale in order stands for the message.
		if msg.Text == "" {
			msg.Title, msg.Text = p.Title, strings.Join(lines, "\n")
		}
	}
	return nil
}

// parseCard accepts a card as an object, or as a string holding one, as
// Feishu does, and requires content in it.
func parseCard(raw json.RawMessage, msg *SentMessage) *apiError {
	var asString string
	if json.Unmarshal(raw, &asString) == nil {
		raw = json.RawMessage(asString)
	}
	var c struct {
		Type         string            `json:"type"`
		Header       *json.RawMessage  `json:"header"`
		Elements     []json.RawMessage `json:"elements"`
		I18nElements map[string]any    `json:"i18n_elements"`
		Body         map[string]any    `json:"body"`
		Data         map[string]any    `json:"data"`
	}
	if json.Unmarshal(raw, &c) != nil {
		return badContent()
	}
	switch {
	case c.Type == "template" && c.Data != nil:
	case len(c.Elements) > 0, len(c.I18nElements) > 0, len(c.Body) > 0:
	default:
		return badContent()
	}
	for _, el := range c.Elements {
		var e struct {
			Tag string `json:"tag"`
		}
		if json.Unmarshal(el, &e) != nil || e.Tag == "" {
			return badContent()
		}
	}
	var whole any
	_ = json.Unmarshal(raw, &whole)
	var texts []string
	collectContents(whole, &texts)
	if c.Header != nil {
		var h struct {
			Title struct {
				Content string `json:"content"`
			} `json:"title"`
		}
		_ = json.Unmarshal(*c.Header, &h)
		msg.Title = h.Title.Content
		if len(texts) > 0 && texts[0] == msg.Title {
			texts = texts[1:]
		}
	}
	msg.Text = strings.Join(texts, "\n")
	for _, m := range atCardPattern().FindAllStringSubmatch(msg.Text, -1) {
		msg.Mentions = append(msg.Mentions, m[1])
	}
	msg.Card = slices.Clone(raw)
	return nil
}

// collectContents gathers every string value of a "content" key, in
// document order for arrays and in key order for objects.
func collectContents(v any, out *[]string) {
	switch v := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		// The header comes before the elements.
		slices.SortFunc(keys, func(a, b string) int {
			return strings.Compare(cardKeyOrder(a), cardKeyOrder(b))
		})
		for _, k := range keys {
			if s, ok := v[k].(string); ok && k == "content" {
				*out = append(*out, s)
				continue
			}
			collectContents(v[k], out)
		}
	case []any:
		for _, e := range v {
			collectContents(e, out)
		}
	}
}

func cardKeyOrder(k string) string {
	if k == "header" {
		return "0"
	}
	return "1" + k
}

func (s *Server) injectedFailure() *apiError {
	code, ok := s.faults.NextFailure()
	if !ok {
		return nil
	}
	return &apiError{code, messageFor(code)}
}

// admit counts a message against its bot's rates, refusing it when the bot
// is over either.
func (s *Server) admit(hookID string) *apiError {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	kept := s.recent[hookID][:0]
	inSecond := 0
	for _, t := range s.recent[hookID] {
		if now.Sub(t) < time.Minute {
			kept = append(kept, t)
			if now.Sub(t) < time.Second {
				inSecond++
			}
		}
	}
	s.recent[hookID] = kept
	if (s.perMinute > 0 && len(kept) >= s.perMinute) || (s.perSecond > 0 && inSecond >= s.perSecond) {
		return &apiError{CodeFrequencyLimited, messageFor(CodeFrequencyLimited)}
	}
	s.recent[hookID] = append(kept, now)
	return nil
}

// messageFor is the msg Feishu gives with a code, for the codes tests
// inject most.
func messageFor(code int) string {
	switch code {
	case CodeBadRequest:
		return "Bad Request"
	case CodeFrequencyLimited:
		return "frequency limited psm[lark.oapi.app_platform_runtime]appID[1]"
	case CodeTokenInvalid:
		return "param invalid: incoming webhook access token invalid"
	case CodeSignMismatch:
		return "sign match fail or timestamp is not within one hour from current time"
	case CodeIPNotAllowed:
		return "Ip Not Allowed"
	case CodeKeywordsNotFound:
		return "Key Words Not Found"
	}
	return fmt.Sprintf("error %d injected by feishufake", code)
}

func (s *Server) writeSuccess(w http.ResponseWriter) {
	if s.legacy {
		writeJSON(w, []byte(`{"Extra":null,"StatusCode":0,"StatusMessage":"success"}`))
		return
	}
	writeJSON(w, []byte(`{"StatusCode":0,"StatusMessage":"success","code":0,"data":{},"msg":"success"}`))
}

func writeError(w http.ResponseWriter, e *apiError) {
	var buf bytes.Buffer
	_ = json.NewEncoder(&buf).Encode(struct {
		Code int      `json:"code"`
		Data struct{} `json:"data"`
		Msg  string   `json:"msg"`
	}{Code: e.code, Msg: e.msg})
	writeJSON(w, buf.Bytes())
}

// writeJSON answers HTTP 200: Feishu reports bot errors inside a 200.
func writeJSON(w http.ResponseWriter, body []byte) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}
