// Package wechatworkfake runs a local WeCom (企业微信) API server for tests.
// It speaks the parts of the real protocol Herald uses: gettoken issues
// access tokens with expires_in and returns the same token while it is
// valid, message/send checks the token, the agentid and each message
// type's required fields and answers partial failures with invaliduser /
// invalidparty / invalidtag, and webhook/send serves group robots by key.
// Errors come as the real JSON bodies, with HTTP 200.
//
// Faults are injected per request (FailNext, FailNextToken, Throttle, Hang,
// Down) and tokens can be expired on demand (ExpireTokens) to exercise the
// refresh path. Every accepted message is recorded (Sent), so tests can
// assert that a message went out exactly once.
//
//	fake := wechatworkfake.New(t, wechatworkfake.WithUsers("zhangsan", "lisi"))
//	cfg := wechatwork.Config{
//		CorpID:     wechatworkfake.DefaultCorpID,
//		CorpSecret: wechatworkfake.DefaultCorpSecret,
//		AgentID:    wechatworkfake.DefaultAgentID,
//		BaseURL:    fake.URL(),
//	}
//	robot := wechatwork.RobotConfig{WebhookURL: fake.WebhookURL(wechatworkfake.DefaultRobotKey)}
package wechatworkfake

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// The application and robot the fake knows unless told otherwise.
const (
	DefaultCorpID     = "ww0fa4e0c1d2b3a4f5"
	DefaultCorpSecret = "fakesecret-7Wq2Lr9xZp4Nv8Kc3Jh6Tg1Bm5Yd0Fs"
	DefaultAgentID    = int64(1000002)
	DefaultRobotKey   = "6c7e1a52-93d4-4b8f-a0e2-5f3d9c1b7a46"
	// DefaultTokenTTL is the lifetime WeCom gives an access token.
	DefaultTokenTTL = 7200 * time.Second
)

// Limits the real service applies to one message.
const (
	maxUsers       = 1000
	maxParties     = 100
	maxTags        = 100
	maxRequestBody = 1 << 20
)

// Message kinds in SentMessage.Kind.
const (
	KindApp   = "app"
	KindRobot = "robot"
)

// SentMessage is one message the fake accepted.
type SentMessage struct {
	// Kind is KindApp (message/send) or KindRobot (webhook/send).
	Kind string
	// MsgID is the id message/send answered with (application messages).
	MsgID   string
	AgentID int64
	// RobotKey is the webhook key (robot messages).
	RobotKey string
	MsgType  string
	// ToUser, ToParty and ToTag are the request's fields as sent.
	ToUser, ToParty, ToTag string
	// Users, Parties and Tags are the receivers the message went to: the
	// valid ones. Users is ["@all"] for a message to everyone.
	Users, Parties, Tags []string
	// Content is the text or markdown content, or a textcard's
	// description.
	Content string
	// Title, URL and BtnTxt are a textcard's.
	Title, URL, BtnTxt string
	// MentionedList and MentionedMobileList are a robot text message's.
	MentionedList, MentionedMobileList []string
	// DuplicateCheck is an application message's enable_duplicate_check
	// (1), and DuplicateCheckInterval its duplicate_check_interval in
	// seconds, 0 when the request leaves WeCom's default of 1800.
	DuplicateCheck         bool
	DuplicateCheckInterval int
	// Body is the raw request body.
	Body []byte
	At   time.Time
	// Answered is false when the fake took the message but never answered
	// (Hang): the sender cannot know it was sent.
	Answered bool
}

// Option configures a Server.
type Option func(*Server)

// WithApp adds an application (corp id, secret, agent id) the fake knows,
// besides the default one.
func WithApp(corpID, secret string, agentID int64) Option {
	return func(s *Server) { s.apps = append(s.apps, app{corpID: corpID, secret: secret, agentID: agentID}) }
}

// WithUsers registers member userids. Once any is registered, message/send
// reports other userids as invaliduser; with none, every userid is valid.
func WithUsers(ids ...string) Option {
	return func(s *Server) {
		for _, id := range ids {
			s.users[strings.ToLower(id)] = true
		}
	}
}

// WithUnlicensedUsers registers members without a licence: message/send
// lists them in unlicenseduser and does not deliver to them.
func WithUnlicensedUsers(ids ...string) Option {
	return func(s *Server) {
		for _, id := range ids {
			s.unlicensed[strings.ToLower(id)] = true
		}
	}
}

// WithParties registers department ids, like WithUsers.
func WithParties(ids ...string) Option {
	return func(s *Server) {
		for _, id := range ids {
			s.parties[id] = true
		}
	}
}

// WithTags registers tag ids, like WithUsers.
func WithTags(ids ...string) Option {
	return func(s *Server) {
		for _, id := range ids {
			s.tags[id] = true
		}
	}
}

// WithRobotKey adds a robot webhook key the fake accepts, besides the
// default one.
func WithRobotKey(key string) Option {
	return func(s *Server) { s.robots[key] = true }
}

// WithTokenTTL sets the lifetime of issued tokens (default
// DefaultTokenTTL).
func WithTokenTTL(d time.Duration) Option {
	return func(s *Server) { s.ttl = d }
}

// WithClock sets the fake's clock, used for token expiry and send times.
// The default is time.Now.
func WithClock(now func() time.Time) Option {
	return func(s *Server) { s.now = now }
}

type app struct {
	corpID  string
	secret  string
	agentID int64
}

type issued struct {
	app     app
	expires time.Time
}

// Server is a running fake. All methods are safe for concurrent use.
type Server struct {
	srv *httptest.Server
	now func() time.Time
	ttl time.Duration

	// Fixed at construction.
	apps       []app
	users      map[string]bool
	unlicensed map[string]bool
	parties    map[string]bool
	tags       map[string]bool
	robots     map[string]bool

	ctx       context.Context // canceled by Close; ends hangs
	cancel    context.CancelFunc
	closeOnce sync.Once

	mu         sync.Mutex
	failQueue  []int
	tokenFails []int
	hang       int
	down       bool
	tokenHold  chan struct{} // gettoken waits while set (HoldTokens)
	tokens     map[string]*issued
	current    map[app]string // the app's valid token
	sent       []SentMessage
	tokenCalls int
	sendCalls  int
	robotCalls int
	sequence   uint64
}

// New starts a fake and closes it when the test ends.
func New(tb testing.TB, opts ...Option) *Server {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		now:        time.Now,
		ttl:        DefaultTokenTTL,
		apps:       []app{{corpID: DefaultCorpID, secret: DefaultCorpSecret, agentID: DefaultAgentID}},
		users:      map[string]bool{},
		unlicensed: map[string]bool{},
		parties:    map[string]bool{},
		tags:       map[string]bool{},
		robots:     map[string]bool{DefaultRobotKey: true},
		ctx:        ctx,
		cancel:     cancel,
		tokens:     map[string]*issued{},
		current:    map[app]string{},
	}
	for _, o := range opts {
		o(s)
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	tb.Cleanup(s.Close)
	return s
}

// URL is the fake's base URL, "http://127.0.0.1:port", for
// wechatwork.Config.BaseURL and RobotConfig.BaseURL.
func (s *Server) URL() string { return s.srv.URL }

// WebhookURL is a robot's full webhook address on the fake.
func (s *Server) WebhookURL(key string) string {
	return s.srv.URL + "/cgi-bin/webhook/send?key=" + key
}

// Close stops the server and releases held requests. It is safe to call
// more than once.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		s.cancel()
		s.srv.Close()
	})
}

// FailNext makes the next n message/send or webhook/send requests fail
// with errcode, after the access token or robot key was checked. Calls
// queue up in order.
func (s *Server) FailNext(n int, errcode int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.failQueue = append(s.failQueue, errcode)
	}
}

// FailNextToken makes the next n gettoken requests fail with errcode,
// after the corp id and secret were checked.
func (s *Server) FailNextToken(n int, errcode int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.tokenFails = append(s.tokenFails, errcode)
	}
}

// Throttle makes the next n sends fail with 45009, WeCom's frequency-limit
// answer.
func (s *Server) Throttle(n int) { s.FailNext(n, 45009) }

// Hang makes the next n sends (application or robot) take their messages,
// which are recorded, but never answer: the request is held until the
// client gives up or the fake closes, and then the connection is closed
// without an answer. This is how a timeout with an unknown outcome looks.
func (s *Server) Hang(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hang += n
}

// Down makes every request answer HTTP 502 with an HTML page, as a broken
// gateway in front of the service would, until Up. Nothing is sent.
func (s *Server) Down() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = true
}

// Up ends Down.
func (s *Server) Up() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = false
}

// ExpireTokens expires every token issued so far: sends using one are
// answered 42001, and the next gettoken issues a new token.
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, is := range s.tokens {
		is.expires = time.Time{}
	}
	clear(s.current)
}

// HoldTokens makes gettoken requests wait until release is called (or the
// fake closes), so a test can line up concurrent callers behind one fetch
// and let it finish when they all wait.
func (s *Server) HoldTokens() (release func()) {
	hold := make(chan struct{})
	s.mu.Lock()
	s.tokenHold = hold
	s.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			if s.tokenHold == hold {
				s.tokenHold = nil
			}
			s.mu.Unlock()
			close(hold)
		})
	}
}

// TokenCalls is the number of gettoken requests so far.
func (s *Server) TokenCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokenCalls
}

// SendCalls is the number of message/send requests so far, failed ones
// included.
func (s *Server) SendCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sendCalls
}

// RobotCalls is the number of webhook/send requests so far, failed ones
// included.
func (s *Server) RobotCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.robotCalls
}

// Sent returns the messages accepted so far, oldest first.
func (s *Server) Sent() []SentMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]SentMessage, len(s.sent))
	for i, m := range s.sent {
		m.Users = append([]string(nil), m.Users...)
		m.Parties = append([]string(nil), m.Parties...)
		m.Tags = append([]string(nil), m.Tags...)
		m.MentionedList = append([]string(nil), m.MentionedList...)
		m.MentionedMobileList = append([]string(nil), m.MentionedMobileList...)
		m.Body = append([]byte(nil), m.Body...)
		out[i] = m
	}
	return out
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	down := s.down
	s.mu.Unlock()
	if down {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		_, _ = io.WriteString(w, "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center></body></html>\n")
		return
	}
	switch r.URL.Path {
	case "/cgi-bin/gettoken":
		s.getToken(w, r)
	case "/cgi-bin/message/send":
		s.messageSend(w, r)
	case "/cgi-bin/webhook/send":
		s.webhookSend(w, r)
	default:
		http.NotFound(w, r)
	}
}

func (s *Server) getToken(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.tokenCalls++
	hold := s.tokenHold
	s.mu.Unlock()
	if hold != nil {
		select {
		case <-hold:
		case <-r.Context().Done():
			return
		case <-s.ctx.Done():
			return
		}
	}

	q := r.URL.Query()
	corpID, secret := q.Get("corpid"), q.Get("corpsecret")
	if corpID == "" {
		writeError(w, r, 41002)
		return
	}
	var corpKnown bool
	var match *app
	for i, a := range s.apps {
		if a.corpID != corpID {
			continue
		}
		corpKnown = true
		if a.secret == secret {
			match = &s.apps[i]
			break
		}
	}
	switch {
	case !corpKnown:
		writeError(w, r, 40013)
		return
	case secret == "":
		writeError(w, r, 41004)
		return
	case match == nil:
		writeError(w, r, 40001)
		return
	}

	s.mu.Lock()
	if len(s.tokenFails) > 0 {
		code := s.tokenFails[0]
		s.tokenFails = s.tokenFails[1:]
		s.mu.Unlock()
		writeError(w, r, code)
		return
	}
	now := s.now()
	// Within its validity the same token comes back, as WeCom does.
	tok, ok := s.current[*match]
	if is := s.tokens[tok]; !ok || is == nil || !now.Before(is.expires) {
		tok = newToken()
		s.tokens[tok] = &issued{app: *match, expires: now.Add(s.ttl)}
		s.current[*match] = tok
	}
	left := s.tokens[tok].expires.Sub(now)
	s.mu.Unlock()
	writeJSON(w, map[string]any{
		"errcode":      0,
		"errmsg":       "ok",
		"access_token": tok,
		"expires_in":   int64(left.Round(time.Second) / time.Second),
	})
}

// checkToken finds the application of the request's access token.
func (s *Server) checkToken(r *http.Request) (app, int) {
	tok := r.URL.Query().Get("access_token")
	if tok == "" {
		return app{}, 41001
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	is, ok := s.tokens[tok]
	switch {
	case !ok:
		return app{}, 40014
	case !s.now().Before(is.expires):
		return app{}, 42001
	}
	return is.app, 0
}

// injected pops an injected failure. s.mu must not be held.
func (s *Server) injected() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.failQueue) == 0 {
		return 0
	}
	code := s.failQueue[0]
	s.failQueue = s.failQueue[1:]
	return code
}

// appRequest is the message/send body, for the types the fake knows.
type appRequest struct {
	ToUser                 string          `json:"touser"`
	ToParty                string          `json:"toparty"`
	ToTag                  string          `json:"totag"`
	MsgType                string          `json:"msgtype"`
	AgentID                json.RawMessage `json:"agentid"`
	Safe                   int             `json:"safe"`
	EnableIDTrans          int             `json:"enable_id_trans"`
	EnableDuplicateCheck   int             `json:"enable_duplicate_check"`
	DuplicateCheckInterval int             `json:"duplicate_check_interval"`
	Text                   *struct {
		Content string `json:"content"`
	} `json:"text"`
	Markdown *struct {
		Content string `json:"content"`
	} `json:"markdown"`
	TextCard *struct {
		Title       string `json:"title"`
		Description string `json:"description"`
		URL         string `json:"url"`
		BtnTxt      string `json:"btntxt"`
	} `json:"textcard"`
}

func (s *Server) messageSend(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.sendCalls++
	s.mu.Unlock()
	if r.Method != http.MethodPost {
		writeError(w, r, 43002)
		return
	}
	a, code := s.checkToken(r)
	if code != 0 {
		writeError(w, r, code)
		return
	}
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	if code := s.injected(); code != 0 {
		writeError(w, r, code)
		return
	}
	var req appRequest
	if err := json.Unmarshal(body, &req); err != nil {
		writeErrorMsg(w, r, 40058, "invalid Request Parameter, Warning: wrong json format.")
		return
	}
	agentID, ok := parseAgentID(req.AgentID)
	switch {
	case !ok:
		writeError(w, r, 41011)
		return
	case !s.knownAgent(a.corpID, agentID):
		writeError(w, r, 40056)
		return
	case agentID != a.agentID:
		writeError(w, r, 301002)
		return
	}

	msg := SentMessage{Kind: KindApp, AgentID: agentID, MsgType: req.MsgType,
		ToUser: req.ToUser, ToParty: req.ToParty, ToTag: req.ToTag, Body: body,
		DuplicateCheck: req.EnableDuplicateCheck == 1, DuplicateCheckInterval: req.DuplicateCheckInterval}
	switch req.MsgType {
	case "text":
		if req.Text == nil || req.Text.Content == "" {
			writeError(w, r, 44004)
			return
		}
		msg.Content = req.Text.Content
	case "markdown":
		if req.Markdown == nil || req.Markdown.Content == "" {
			writeError(w, r, 44004)
			return
		}
		msg.Content = req.Markdown.Content
	case "textcard":
		c := req.TextCard
		switch {
		case c == nil || c.Title == "":
			writeError(w, r, 41016)
			return
		case c.Description == "":
			writeError(w, r, 41033)
			return
		case c.URL == "":
			writeError(w, r, 41010)
			return
		}
		msg.Title, msg.Content, msg.URL, msg.BtnTxt = c.Title, c.Description, c.URL, c.BtnTxt
	default:
		writeError(w, r, 40008)
		return
	}

	users, parties, tags := splitIDs(req.ToUser), splitIDs(req.ToParty), splitIDs(req.ToTag)
	switch {
	case len(users) == 0 && len(parties) == 0 && len(tags) == 0:
		writeError(w, r, 82001)
		return
	case len(users) > maxUsers:
		writeError(w, r, 40032)
		return
	case len(parties) > maxParties:
		writeError(w, r, 82002)
		return
	case len(tags) > maxTags:
		writeError(w, r, 82003)
		return
	}

	var invalidUsers, unlicensed, invalidParties, invalidTags []string
	if len(users) == 1 && users[0] == "@all" {
		// toparty and totag are ignored for @all.
		msg.Users = []string{"@all"}
	} else {
		for _, u := range users {
			lu := strings.ToLower(u)
			switch {
			case s.unlicensed[lu]:
				unlicensed = append(unlicensed, lu)
			case len(s.users) > 0 && !s.users[lu]:
				invalidUsers = append(invalidUsers, lu)
			default:
				msg.Users = append(msg.Users, u)
			}
		}
		for _, p := range parties {
			if !isDigits(p) || (len(s.parties) > 0 && !s.parties[p]) {
				invalidParties = append(invalidParties, p)
				continue
			}
			msg.Parties = append(msg.Parties, p)
		}
		for _, t := range tags {
			if !isDigits(t) || (len(s.tags) > 0 && !s.tags[t]) {
				invalidTags = append(invalidTags, t)
				continue
			}
			msg.Tags = append(msg.Tags, t)
		}
	}
	if len(msg.Users) == 0 && len(msg.Parties) == 0 && len(msg.Tags) == 0 {
		writeError(w, r, 81013)
		return
	}

	hang := s.record(&msg)
	if hang {
		s.hold(r)
	}
	answer := map[string]any{
		"errcode":        0,
		"errmsg":         "ok",
		"invaliduser":    strings.Join(invalidUsers, "|"),
		"invalidparty":   strings.Join(invalidParties, "|"),
		"invalidtag":     strings.Join(invalidTags, "|"),
		"unlicenseduser": strings.Join(unlicensed, "|"),
		"msgid":          msg.MsgID,
	}
	writeJSON(w, answer)
}

func (s *Server) knownAgent(corpID string, agentID int64) bool {
	for _, a := range s.apps {
		if a.corpID == corpID && a.agentID == agentID {
			return true
		}
	}
	return false
}

// robotRequest is the webhook/send body, for the types the fake knows.
type robotRequest struct {
	MsgType string `json:"msgtype"`
	Text    *struct {
		Content             string   `json:"content"`
		MentionedList       []string `json:"mentioned_list"`
		MentionedMobileList []string `json:"mentioned_mobile_list"`
	} `json:"text"`
	Markdown *struct {
		Content string `json:"content"`
	} `json:"markdown"`
}

func (s *Server) webhookSend(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.robotCalls++
	s.mu.Unlock()
	if r.Method != http.MethodPost {
		writeError(w, r, 43002)
		return
	}
	key := r.URL.Query().Get("key")
	if key == "" || !s.robots[key] {
		writeError(w, r, 93000)
		return
	}
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	if code := s.injected(); code != 0 {
		writeError(w, r, code)
		return
	}
	var req robotRequest
	if err := json.Unmarshal(body, &req); err != nil {
		writeErrorMsg(w, r, 40058, "invalid Request Parameter, Warning: wrong json format.")
		return
	}
	msg := SentMessage{Kind: KindRobot, RobotKey: key, MsgType: req.MsgType, Body: body}
	switch req.MsgType {
	case "text":
		if req.Text == nil || req.Text.Content == "" {
			writeError(w, r, 44004)
			return
		}
		msg.Content = req.Text.Content
		msg.MentionedList = req.Text.MentionedList
		msg.MentionedMobileList = req.Text.MentionedMobileList
	case "markdown":
		if req.Markdown == nil || req.Markdown.Content == "" {
			writeError(w, r, 44004)
			return
		}
		msg.Content = req.Markdown.Content
	default:
		writeError(w, r, 40008)
		return
	}
	if s.record(&msg) {
		s.hold(r)
	}
	writeJSON(w, map[string]any{"errcode": 0, "errmsg": "ok"})
}

// record stores an accepted message, giving an application message its
// msgid, and reports whether the request is to hang.
func (s *Server) record(msg *SentMessage) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	hang := s.hang > 0
	if hang {
		s.hang--
	}
	s.sequence++
	if msg.Kind == KindApp {
		msg.MsgID = fmt.Sprintf("%s_%d", randomHex(16), s.sequence)
	}
	msg.At = s.now()
	msg.Answered = !hang
	s.sent = append(s.sent, *msg)
	return hang
}

// hold keeps a request until the client or the fake gives up, then drops
// the connection without an answer.
func (s *Server) hold(r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-s.ctx.Done():
	}
	panic(http.ErrAbortHandler)
}

func readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBody+1))
	if err != nil {
		return nil, false // the client went away mid-request
	}
	if len(body) > maxRequestBody {
		writeError(w, r, 45002)
		return nil, false
	}
	return body, true
}

// parseAgentID reads agentid as WeCom does: a number, or a string of
// digits.
func parseAgentID(raw json.RawMessage) (int64, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return 0, false
	}
	var n int64
	if err := json.Unmarshal(raw, &n); err == nil {
		return n, n > 0
	}
	var str string
	if err := json.Unmarshal(raw, &str); err == nil {
		if err := json.Unmarshal([]byte(str), &n); err == nil {
			return n, n > 0
		}
	}
	return 0, false
}

func splitIDs(s string) []string {
	var out []string
	for _, id := range strings.Split(s, "|") {
		if id = strings.TrimSpace(id); id != "" {
			out = append(out, id)
		}
	}
	return out
}

func isDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

// errorText is WeCom's errmsg for the codes the fake answers.
func errorText(code int) string {
	switch code {
	case -1:
		return "system busy"
	case 40001:
		return "invalid credential"
	case 40008:
		return "invalid message type"
	case 40013:
		return "invalid corpid"
	case 40014:
		return "invalid access_token"
	case 40032:
		return "invalid userid list size"
	case 40056:
		return "invalid agentid"
	case 41001:
		return "access_token missing"
	case 41002:
		return "corpid missing"
	case 41004:
		return "corpsecret missing"
	case 41010:
		return "url missing"
	case 41011:
		return "agentid missing"
	case 41016:
		return "title missing"
	case 41033:
		return "description missing"
	case 42001:
		return "access_token expired"
	case 43002:
		return "require POST method"
	case 44004:
		return "empty content"
	case 45002:
		return "content size out of limit"
	case 45009:
		return "api freq out of limit"
	case 45033:
		return "api concurrent out of limit"
	case 48002:
		return "api forbidden"
	case 60020:
		return "not allow to access from your ip"
	case 81013:
		return "user & party & tag all invalid"
	case 82001:
		return "All touser & toparty & totag invalid"
	case 82002:
		return "invalid party list size"
	case 82003:
		return "invalid tag list size"
	case 93000:
		return "invalid webhook url"
	case 301002:
		return "not allow operate another agent with this accesstoken."
	}
	return "error injected by wechatworkfake"
}

func writeError(w http.ResponseWriter, r *http.Request, code int) {
	writeErrorMsg(w, r, code, errorText(code))
}

// writeErrorMsg answers an error the way WeCom does: HTTP 200, errcode and
// an errmsg with a hint, the caller's address and a link.
func writeErrorMsg(w http.ResponseWriter, r *http.Request, code int, text string) {
	ip, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		ip = r.RemoteAddr
	}
	msg := fmt.Sprintf("%s, hint: [%d_%s], from ip: %s, more info at https://open.work.weixin.qq.com/devtool/query?e=%d",
		text, time.Now().Unix(), randomHex(6), ip, code)
	writeJSON(w, map[string]any{"errcode": code, "errmsg": msg})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(http.StatusOK)
	_ = json.NewEncoder(w).Encode(v)
}

func newToken() string { return randomHex(48) }

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(errors.New("wechatworkfake: no randomness: " + err.Error()))
	}
	return hex.EncodeToString(b)
}
