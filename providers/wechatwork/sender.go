package wechatwork

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald/providers"
)

// WeCom message types the senders produce, and the message content types
// that choose them.
const (
	MsgTypeText     = "text"
	MsgTypeTextCard = "textcard"
	MsgTypeMarkdown = "markdown"
)

// Names of the message parameters a textcard reads.
const (
	// ParamURL is the address a textcard opens. Required for textcards.
	ParamURL = "url"
	// ParamButtonText is a textcard's button text (WeCom's default is
	// "详情").
	ParamButtonText = "btntxt"
)

// Sender sends application messages through one WeCom application. It is
// safe for concurrent use.
type Sender struct {
	cfg      Config
	client   *http.Client
	now      func() time.Time
	tokens   *tokenSource
	tokenURL string
	sendURL  string
}

// NewSender builds a sender for cfg, which is validated first and given
// its defaults. The sender keeps its own token cache; senders built by a
// Provider share the provider's.
func NewSender(cfg Config, opts ...Option) (*Sender, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return newSender(cfg.withDefaults(), newSettings(opts), newTokenCache()), nil
}

func newSender(cfg Config, set settings, cache *tokenCache) *Sender {
	q := url.Values{"corpid": {cfg.CorpID}, "corpsecret": {cfg.CorpSecret}}
	return &Sender{
		cfg:      cfg,
		client:   set.httpClient(),
		now:      set.now,
		tokens:   cache.source(keyOf(cfg)),
		tokenURL: cfg.BaseURL + "/cgi-bin/gettoken?" + q.Encode(),
		sendURL:  cfg.BaseURL + "/cgi-bin/message/send",
	}
}

// appMessage is the message/send body.
type appMessage struct {
	ToUser   string       `json:"touser,omitempty"`
	ToParty  string       `json:"toparty,omitempty"`
	ToTag    string       `json:"totag,omitempty"`
	MsgType  string       `json:"msgtype"`
	AgentID  int64        `json:"agentid"`
	Text     *textContent `json:"text,omitempty"`
	Markdown *textContent `json:"markdown,omitempty"`
	TextCard *textCard    `json:"textcard,omitempty"`
	// EnableDuplicateCheck (1) makes WeCom drop a message identical to one
	// sent within DuplicateCheckInterval seconds.
	EnableDuplicateCheck   int `json:"enable_duplicate_check,omitempty"`
	DuplicateCheckInterval int `json:"duplicate_check_interval,omitempty"`
}

type textContent struct {
	Content string `json:"content"`
}

type textCard struct {
	Title       string `json:"title"`
	Description string `json:"description"`
	URL         string `json:"url"`
	BtnTxt      string `json:"btntxt,omitempty"`
}

// sendAnswer is message/send's answer. The id lists and msgid are decoded
// leniently: a send WeCom accepted must not turn into an unknown outcome
// because a list came as an array or a number.
type sendAnswer struct {
	apiStatus
	InvalidUser    flexList   `json:"invaliduser"`
	InvalidParty   flexList   `json:"invalidparty"`
	InvalidTag     flexList   `json:"invalidtag"`
	UnlicensedUser flexList   `json:"unlicenseduser"`
	MsgID          flexString `json:"msgid"`
}

type tokenAnswer struct {
	apiStatus
	AccessToken string `json:"access_token"`
	ExpiresIn   int64  `json:"expires_in"`
}

// Send delivers msg as an application message (message/send). The content
// type picks the WeCom type: "text" (or empty), "markdown" or "textcard";
// see the package documentation for the fields each uses.
//
// The access token is cached per application. When WeCom refuses it
// (40014, 42001, 40001), a new one is fetched, shared with concurrent
// sends, and the send is tried exactly once more.
//
// Acceptance is final (Result.Delivered): WeCom has no receipts. Receivers
// WeCom refused while sending to the rest are in Result.InvalidReceivers
// in the receiver syntax ("user1", "party:2", "tag:5"), members without a
// licence among them. Result.ProviderMessageID is WeCom's msgid, which only
// serves to recall the message.
//
// Failures are *providers.Error: WeCom errcodes classified by Classify; a
// request that never got out is transient; a send that got out but no
// readable answer is unknown_outcome.
func (s *Sender) Send(ctx context.Context, msg providers.Message) (providers.Result, error) {
	const op = "send wechatwork message"
	rcv, err := ParseReceiver(msg.Receiver)
	if err != nil {
		return providers.Result{}, &providers.Error{Class: providers.ClassPermanent, Code: CodeInvalidReceiver,
			Message: op + ": receiver: " + err.Error(), Err: err}
	}
	m, perr := buildAppMessage(msg, rcv, s.cfg.AgentID)
	if s.cfg.EnableDuplicateCheck {
		m.EnableDuplicateCheck, m.DuplicateCheckInterval = 1, s.cfg.DuplicateCheckInterval
	}
	if perr != nil {
		return providers.Result{}, perr
	}
	body, err := encodeJSON(m)
	if err != nil {
		return providers.Result{}, &providers.Error{Class: providers.ClassPermanent, Code: CodeInvalidMessage,
			Message: op + ": encode request", Err: err}
	}

	token, gen, perr := s.token(ctx, 0)
	if perr != nil {
		return providers.Result{}, perr
	}
	ans, perr := s.post(ctx, op, token, body)
	if perr != nil {
		return providers.Result{}, perr
	}
	if isTokenRefusal(*ans.ErrCode) {
		// WeCom refused the token before looking at the message, so
		// sending again cannot duplicate it.
		token, _, perr = s.token(ctx, gen)
		if perr != nil {
			return providers.Result{}, perr
		}
		ans, perr = s.post(ctx, op, token, body)
		if perr != nil {
			return providers.Result{}, perr
		}
	}
	if code := *ans.ErrCode; code != 0 {
		return providers.Result{}, vendorError(op, code, ans.ErrMsg)
	}
	return providers.Result{
		ProviderMessageID: string(ans.MsgID),
		Delivered:         true,
		InvalidReceivers:  ans.invalidReceivers(),
	}, nil
}

// buildAppMessage maps msg onto WeCom's message/send body.
func buildAppMessage(msg providers.Message, rcv Receivers, agentID int64) (appMessage, *providers.Error) {
	const op = "send wechatwork message"
	m := appMessage{AgentID: agentID}
	if rcv.All {
		m.ToUser = All
	} else {
		m.ToUser = strings.Join(rcv.Users, "|")
		m.ToParty = strings.Join(rcv.Parties, "|")
		m.ToTag = strings.Join(rcv.Tags, "|")
	}

	msgType, ok := appMsgType(msg.ContentType)
	if !ok {
		return appMessage{}, providers.Errorf(providers.ClassPermanent, CodeUnsupportedContentType,
			"%s: content type %q has no WeCom message type (use text, markdown or textcard)", op, msg.ContentType)
	}
	m.MsgType = msgType
	switch msgType {
	case MsgTypeText, MsgTypeMarkdown:
		if strings.TrimSpace(msg.Content) == "" {
			return appMessage{}, providers.Errorf(providers.ClassPermanent, CodeInvalidMessage, "%s: the content is empty", op)
		}
		if msgType == MsgTypeText {
			m.Text = &textContent{Content: msg.Content}
		} else {
			m.Markdown = &textContent{Content: msg.Content}
		}
	case MsgTypeTextCard:
		card := textCard{
			Title:       msg.Subject,
			Description: msg.Content,
			URL:         param(msg.Params, ParamURL),
			BtnTxt:      param(msg.Params, ParamButtonText),
		}
		var missing []string
		if strings.TrimSpace(card.Title) == "" {
			missing = append(missing, "a subject (the title)")
		}
		if strings.TrimSpace(card.Description) == "" {
			missing = append(missing, "content (the description)")
		}
		if strings.TrimSpace(card.URL) == "" {
			missing = append(missing, "a parameter "+strconv.Quote(ParamURL))
		}
		if len(missing) > 0 {
			return appMessage{}, providers.Errorf(providers.ClassPermanent, CodeInvalidMessage,
				"%s: a textcard needs %s", op, strings.Join(missing, ", "))
		}
		m.TextCard = &card
	}
	return m, nil
}

// appMsgType maps a message content type to a WeCom message type.
func appMsgType(contentType string) (string, bool) {
	switch strings.ToLower(strings.TrimSpace(contentType)) {
	case "", "text", "text/plain":
		return MsgTypeText, true
	case "markdown", "text/markdown":
		return MsgTypeMarkdown, true
	case "textcard":
		return MsgTypeTextCard, true
	}
	return "", false
}

// param returns the value of the last parameter called name, as a later
// parameter overrides an earlier one.
func param(params []providers.Param, name string) string {
	v := ""
	for _, p := range params {
		if p.Name == name {
			v = p.Value
		}
	}
	return v
}

// token returns a token newer than generation newerThan, as a classified
// error when none can be had.
func (s *Sender) token(ctx context.Context, newerThan uint64) (string, uint64, *providers.Error) {
	token, gen, err := s.tokens.get(ctx, s.now, newerThan, s.fetchToken)
	if err != nil {
		var pe *providers.Error
		if errors.As(err, &pe) {
			return "", 0, pe
		}
		// The wait for another caller's fetch ended with ctx.
		return "", 0, classifyTransport("get wechatwork access token", err, false)
	}
	return token, gen, nil
}

// fetchToken calls gettoken. Nothing is sent by it, so no failure here is
// an unknown outcome.
func (s *Sender) fetchToken(ctx context.Context) (string, time.Duration, error) {
	const op = "get wechatwork access token"
	ex, err := do(ctx, s.client, s.cfg.Timeout(), http.MethodGet, s.tokenURL, nil)
	if err != nil {
		return "", 0, classifyTransport(op, err, false)
	}
	var ans tokenAnswer
	if !decodeAnswer(ex.body, &ans, &ans.apiStatus) {
		return "", 0, badAnswer(op, ex, false)
	}
	if *ans.ErrCode != 0 {
		return "", 0, vendorError(op, *ans.ErrCode, ans.ErrMsg)
	}
	if ans.AccessToken == "" {
		return "", 0, &providers.Error{Class: providers.ClassTransient, Code: CodeBadAnswer,
			Message: op + ": answer has no access_token"}
	}
	return ans.AccessToken, tokenLifetime(ans.ExpiresIn), nil
}

// post sends one message/send request. The answer it returns has an
// errcode.
func (s *Sender) post(ctx context.Context, op, token string, body []byte) (sendAnswer, *providers.Error) {
	target := s.sendURL + "?access_token=" + url.QueryEscape(token)
	ex, err := do(ctx, s.client, s.cfg.Timeout(), http.MethodPost, target, body)
	if err != nil {
		return sendAnswer{}, classifyTransport(op, err, true)
	}
	var ans sendAnswer
	if !decodeAnswer(ex.body, &ans, &ans.apiStatus) {
		return sendAnswer{}, badAnswer(op, ex, true)
	}
	return ans, nil
}

// invalidReceivers lists what WeCom refused, in the receiver syntax.
func (a sendAnswer) invalidReceivers() []string {
	var out []string
	out = append(out, a.InvalidUser...)
	out = append(out, a.UnlicensedUser...)
	for _, p := range a.InvalidParty {
		out = append(out, "party:"+p)
	}
	for _, t := range a.InvalidTag {
		out = append(out, "tag:"+t)
	}
	return out
}

// flexList decodes an id list WeCom gives as "a|b" (documented), and also
// as an array or a single number.
type flexList []string

func (l *flexList) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*l = splitIDs(s)
		return nil
	}
	var arr []json.RawMessage
	if err := json.Unmarshal(b, &arr); err == nil {
		var out []string
		for _, item := range arr {
			var one flexString
			if json.Unmarshal(item, &one) == nil && one != "" {
				out = append(out, string(one))
			}
		}
		*l = out
		return nil
	}
	var one flexString
	if err := json.Unmarshal(b, &one); err == nil && one != "" {
		*l = flexList{string(one)}
	}
	// Anything else is ignored rather than failing an accepted send.
	return nil
}

func splitIDs(s string) []string {
	var out []string
	for id := range strings.SplitSeq(s, "|") {
		if id = strings.TrimSpace(id); id != "" {
			out = append(out, id)
		}
	}
	return out
}

// flexString decodes a string, or a number in its JSON spelling.
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*f = flexString(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err == nil {
		*f = flexString(n.String())
	}
	return nil
}
