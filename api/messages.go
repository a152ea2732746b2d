package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"go.uber.org/zap"

	"github.com/heraldhq/herald/internal/admission"
	"github.com/heraldhq/herald/internal/render"
	"github.com/heraldhq/herald/internal/taskcancel"
	"github.com/heraldhq/herald/internal/traffic"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/workflows"
)

const (
	endpointSend  = "POST /api/v1/messages"
	endpointBatch = "POST /api/v1/messages/batch"
	// headerReplayed marks a response replayed for an Idempotency-Key.
	headerReplayed = "Idempotent-Replayed"
	// startConcurrency bounds the workflow starts of one batch in flight.
	startConcurrency = 16
	// startTimeout bounds one workflow start; a message whose start fails
	// stays pending and the worker's sweeper starts it later.
	startTimeout = 10 * time.Second
)

// sendRequest is the parsed body of a single or batch send, before any
// lookup.
type sendRequest struct {
	ChannelID     int64
	Receiver      string
	Receivers     []json.RawMessage
	Params        map[string]string
	SignatureName string
	ScheduledAt   string
	Subject       string
	// Expiry is the request's expires_at or ttl_seconds, either or both
	// absent; Priority is "critical" or empty.
	Expiry   traffic.ExpiryRequest
	Priority string
	fields   fields
}

// parseSendRequest checks the members' presence and types. batchMax is 0
// for a single send, else the most receivers a batch may hold.
func parseSendRequest(body []byte, batchMax int) (*sendRequest, error) {
	f, err := parseObject(body)
	if err != nil {
		return nil, err
	}
	req := &sendRequest{fields: f}
	if req.ChannelID, err = f.id("channel_id"); err != nil {
		return nil, err
	}
	if batchMax == 0 {
		if req.Receiver, err = f.requiredStr("receiver"); err != nil {
			return nil, err
		}
	} else {
		if !f.has("receivers") {
			return nil, errMissing("receivers")
		}
		if err := json.Unmarshal(f["receivers"], &req.Receivers); err != nil {
			return nil, errInvalidParams("receivers must be a list of strings")
		}
		if len(req.Receivers) == 0 || len(req.Receivers) > batchMax {
			return nil, errInvalidValue("receivers must hold 1 to %d entries, got %d", batchMax, len(req.Receivers))
		}
	}
	if req.Params, err = f.templateParams(); err != nil {
		return nil, err
	}
	if req.SignatureName, err = f.str("signature_name"); err != nil {
		return nil, err
	}
	if req.ScheduledAt, err = f.str("scheduled_at"); err != nil {
		return nil, err
	}
	if req.Subject, err = f.str("subject"); err != nil {
		return nil, err
	}
	if req.Expiry, req.Priority, err = parseDeliveryFields(f); err != nil {
		return nil, err
	}
	return req, nil
}

// prepared is a send request checked against its channel: everything a
// message row needs except the receiver.
type prepared struct {
	channel     *store.Channel
	template    *store.Template
	pool        []store.PoolMember
	subject     string
	content     string
	params      map[string]string
	signature   string
	scheduledAt *time.Time
	attachments json.RawMessage
	maxAttempts int
	expiresAt   time.Time
	priority    string
}

// prepare runs every check that does not depend on the receiver, for a
// request of the app. It writes nothing.
func (s *Server) prepare(ctx context.Context, appID string, req *sendRequest) (*prepared, error) {
	ch, err := s.grantedChannel(ctx, appID, req.ChannelID)
	if err != nil {
		return nil, err
	}
	if !ch.Enabled {
		return nil, errForbidden(CodeChannelDisabled, "channel %d is disabled", ch.ID)
	}
	tpl, err := s.channelTemplate(ctx, ch)
	if err != nil {
		return nil, err
	}
	if tpl == nil {
		return nil, NewError(http.StatusNotFound, CodeTemplateNotFound, "channel %d has no template", ch.ID)
	}
	if !templateVariablesValid(tpl) {
		// The channel is blocked until an operator fixes the template.
		return nil, NewError(http.StatusServiceUnavailable, CodeTemplateNotFound, "template of channel %d is unusable: its placeholders do not match its declared variables", ch.ID)
	}
	pool, err := s.store.ChannelPool(ctx, ch.ID)
	if err != nil {
		return nil, errDatabase("load channel pool", err)
	}
	if enabledAccounts(pool) == 0 {
		return nil, NewError(http.StatusServiceUnavailable, CodeNoProvider, "channel %d has no available provider account", ch.ID)
	}
	if err := checkSignature(ch, req.SignatureName); err != nil {
		return nil, err
	}
	if err := checkTemplateParams(tpl, req.Params); err != nil {
		return nil, err
	}
	if err := checkParamValues(tpl, req.Params); err != nil {
		return nil, err
	}
	now := s.now()
	sched, serr := parseSchedule(req.ScheduledAt, now, s.cfg.MaxScheduleAhead)
	if serr != nil {
		return nil, serr
	}
	expiresAt, err := messageExpiry(now, sched, req.Expiry, tpl, ch)
	if err != nil {
		return nil, err
	}
	att, aerr := parseAttachments(req.fields, ch.Type, s.cfg.MaxAttachmentBytes)
	if aerr != nil {
		return nil, aerr
	}
	subject := req.Subject
	if strings.TrimSpace(subject) == "" {
		// A subject is plain text: nothing to escape, and parameters with
		// line breaks were refused above.
		subject = render.Text(tpl.Subject, req.Params, render.Plain)
	} else if err := checkSubject(subject); err != nil {
		return nil, err
	}
	maxAttempts := ch.MaxAttempts
	if maxAttempts <= 0 {
		maxAttempts = s.cfg.DefaultMaxAttempts
	}
	return &prepared{
		channel:     ch,
		template:    tpl,
		pool:        pool,
		subject:     subject,
		content:     render.Text(tpl.Content, req.Params, render.For(ch.Type, tpl.ContentType)),
		params:      req.Params,
		signature:   req.SignatureName,
		scheduledAt: sched,
		attachments: att,
		maxAttempts: maxAttempts,
		expiresAt:   expiresAt,
		priority:    req.Priority,
	}, nil
}

// channelTemplate loads the channel's template, nil when it has none.
func (s *Server) channelTemplate(ctx context.Context, ch *store.Channel) (*store.Template, error) {
	if ch.TemplateID == nil {
		return nil, nil
	}
	tpl, err := s.store.GetTemplate(ctx, *ch.TemplateID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, errDatabase("load template", err)
	}
	return tpl, nil
}

func enabledAccounts(pool []store.PoolMember) int {
	n := 0
	for _, m := range pool {
		if m.Account.Enabled {
			n++
		}
	}
	return n
}

// newMessage builds the row of one accepted single send. (A member of a
// batch holds no attachments, nor subject, content or parameters: those
// are stored once, on the batch.)
func (s *Server) newMessage(app *store.App, p *prepared, receiver, key, hash string, now time.Time) *store.Message {
	m := s.messageRow(app, p, receiver, "", key, hash, now)
	m.Attachments = p.attachments
	return m
}

func (s *Server) messageRow(app *store.App, p *prepared, receiver, batchID, key, hash string, now time.Time) *store.Message {
	return &store.Message{
		TaskID:         s.newID(),
		BatchID:        batchID,
		AppID:          app.ID,
		ChannelID:      p.channel.ID,
		MessageType:    p.channel.Type,
		Receiver:       receiver,
		Subject:        p.subject,
		Content:        p.content,
		TemplateParams: p.params,
		SignatureName:  p.signature,
		Status:         workflows.StatusPending,
		MaxAttempts:    p.maxAttempts,
		ScheduledAt:    p.scheduledAt,
		ExpiresAt:      &p.expiresAt,
		Priority:       p.priority,
		IdempotencyKey: key,
		RequestHash:    hash,
		CreatedAt:      now,
		UpdatedAt:      now,
	}
}

// sendResponse is the data of POST /api/v1/messages.
type sendResponse struct {
	TaskID    string `json:"task_id"`
	Status    string `json:"status"`
	CreatedAt string `json:"created_at"`
}

func (s *Server) sendMessage(c echo.Context) error {
	ctx := c.Request().Context()
	app := appFrom(c)
	body := bodyFrom(c)
	req, err := parseSendRequest(body, 0)
	if err != nil {
		return err
	}
	key, err := idempotencyKey(c)
	if err != nil {
		return err
	}
	hash := requestHash(endpointSend, body)
	if key != "" {
		resp, err := s.replaySend(ctx, app, key, hash)
		if err != nil || resp != nil {
			return s.replied(c, resp, err)
		}
	}

	p, err := s.prepare(ctx, app.ID, req)
	if err != nil {
		return err
	}
	receiver, _, rerr := normalizeReceiver(p.channel.Type, req.Receiver)
	if rerr != nil {
		return rerr
	}

	verdicts, err := s.admit(ctx, app, p, []string{receiver})
	if err != nil {
		return err
	}
	if r := verdicts[0]; r != nil {
		return refusalError(r)
	}
	msg := s.newMessage(app, p, receiver, key, hash, s.now().UTC())
	if err := s.store.CreateMessages(ctx, []*store.Message{msg}, nil); err != nil {
		if errors.Is(err, store.ErrConflict) && key != "" {
			// A concurrent request with the same key won the race.
			resp, rerr := s.replaySend(ctx, app, key, hash)
			if rerr != nil || resp != nil {
				return s.replied(c, resp, rerr)
			}
		}
		if qe := s.quotaRefused(err, app); qe != nil {
			return qe
		}
		return errDatabase("create message", err)
	}
	s.metrics.MessageAccepted(app.ID, msg.ChannelID, 1)
	s.startSends(ctx, []*store.Message{msg})
	return success(c, sendResponse{TaskID: msg.TaskID, Status: msg.Status, CreatedAt: formatTime(msg.CreatedAt)})
}

// replied answers with a replayed response (or the error that replaced it).
func (s *Server) replied(c echo.Context, resp any, err error) error {
	if err != nil {
		return err
	}
	c.Response().Header().Set(headerReplayed, "true")
	return success(c, resp)
}

// replaySend returns the original response for a used Idempotency-Key, nil
// when the key is new, or a 409 when it came with a different request.
func (s *Server) replaySend(ctx context.Context, app *store.App, key, hash string) (*sendResponse, error) {
	m, err := s.store.GetMessageByIdempotencyKey(ctx, app.ID, key)
	if errors.Is(err, store.ErrNotFound) {
		// The key may belong to a batch: then this request differs from it.
		if _, berr := s.store.GetBatchByIdempotencyKey(ctx, app.ID, key); berr == nil {
			return nil, errIdempotencyMismatch(key)
		} else if !errors.Is(berr, store.ErrNotFound) {
			return nil, errDatabase("load batch by idempotency key", berr)
		}
		return nil, nil
	}
	if err != nil {
		return nil, errDatabase("load message by idempotency key", err)
	}
	if m.RequestHash != hash {
		return nil, errIdempotencyMismatch(key)
	}
	// The original answer: a message is always accepted as pending.
	return &sendResponse{TaskID: m.TaskID, Status: workflows.StatusPending, CreatedAt: formatTime(m.CreatedAt)}, nil
}

// startSends starts the workflows of accepted messages. A failure is only
// logged: the message is durably pending and the worker's sweeper starts
// it later. Starts outlive a client that hangs up.
func (s *Server) startSends(ctx context.Context, msgs []*store.Message) {
	ctx = context.WithoutCancel(ctx)
	sem := make(chan struct{}, startConcurrency)
	var wg sync.WaitGroup
	for _, m := range msgs {
		in := workflows.SendInput{TaskID: m.TaskID, AppID: m.AppID, ChannelID: m.ChannelID}
		if m.ScheduledAt != nil {
			in.ScheduledAt = *m.ScheduledAt
		}
		if m.ExpiresAt != nil {
			in.ExpiresAt = *m.ExpiresAt
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			sctx, cancel := context.WithTimeout(ctx, startTimeout)
			defer cancel()
			if err := s.engine.StartSend(sctx, in); err != nil {
				s.log.Warn("start send workflow failed; the message stays pending for the sweeper",
					zap.String("task_id", in.TaskID), zap.Error(err))
			}
		}()
	}
	wg.Wait()
}

// batchTask links a receiver's position in the request to its task.
type batchTask struct {
	Index  int    `json:"index"`
	TaskID string `json:"task_id"`
}

// rejection explains why one receiver of a batch was refused.
type rejection struct {
	Index    int    `json:"index"`
	Receiver string `json:"receiver"`
	Code     int    `json:"code"`
	Message  string `json:"message"`
}

// batchResponse is the data of POST /api/v1/messages/batch.
type batchResponse struct {
	BatchID      string      `json:"batch_id"`
	TotalCount   int         `json:"total_count"`
	SuccessCount int         `json:"success_count"`
	FailedCount  int         `json:"failed_count"`
	CreatedAt    string      `json:"created_at"`
	Tasks        []batchTask `json:"tasks"`
	Rejected     []rejection `json:"rejected"`
}

type acceptedReceiver struct {
	index      int
	raw        string
	normalized string
}

// classifyReceivers validates each receiver of a batch on its own and
// refuses repeats after normalisation.
func classifyReceivers(channelType string, raws []json.RawMessage) ([]acceptedReceiver, []rejection) {
	checked := checkReceivers(channelType, raws)
	var accepted []acceptedReceiver
	var rejected []rejection
	seen := make(map[string]int, len(raws))
	for i, c := range checked {
		if c.rejected != nil {
			rejected = append(rejected, *c.rejected)
			continue
		}
		if first, dup := seen[c.dedup]; dup {
			rejected = append(rejected, rejection{Index: i, Receiver: c.raw, Code: CodeInvalidValue, Message: "duplicate of receivers[" + strconv.Itoa(first) + "]"})
			continue
		}
		seen[c.dedup] = i
		accepted = append(accepted, acceptedReceiver{index: i, raw: c.raw, normalized: c.normalized})
	}
	return accepted, rejected
}

// checkedReceiver is one receiver of a batch validated on its own.
type checkedReceiver struct {
	raw, normalized, dedup string
	rejected               *rejection
}

// checkReceiversChunk is how many receivers one goroutine of
// checkReceivers validates: parsing a phone number costs microseconds, so a
// batch of 100,000 is spread over the cores.
const checkReceiversChunk = 4096

// checkReceivers validates and normalises every receiver of a batch, in
// parallel for a large one, each result at its receiver's index.
func checkReceivers(channelType string, raws []json.RawMessage) []checkedReceiver {
	out := make([]checkedReceiver, len(raws))
	check := func(from, to int) {
		for i := from; i < to; i++ {
			r, ok := jsonString(raws[i])
			if !ok {
				out[i].rejected = &rejection{Index: i, Receiver: string(raws[i]), Code: CodeInvalidParams, Message: "receiver must be a string"}
				continue
			}
			norm, dedup, rerr := normalizeReceiver(channelType, r)
			if rerr != nil {
				out[i].rejected = &rejection{Index: i, Receiver: r, Code: rerr.Code, Message: rerr.Message}
				continue
			}
			out[i] = checkedReceiver{raw: r, normalized: norm, dedup: dedup}
		}
	}
	if len(raws) <= checkReceiversChunk {
		check(0, len(raws))
		return out
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for from := 0; from < len(raws); from += checkReceiversChunk {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			check(from, min(from+checkReceiversChunk, len(raws)))
		}()
	}
	wg.Wait()
	return out
}

// jsonString reads a JSON value that should be a string. The request
// was parsed already, so a string without escapes is the bytes between
// its quotes (when they are UTF-8, which json.Unmarshal would otherwise
// repair): a batch's 100,000 receivers skip a decoder each.
func jsonString(raw json.RawMessage) (string, bool) {
	if len(raw) >= 2 && raw[0] == '"' && raw[len(raw)-1] == '"' && bytes.IndexByte(raw, '\\') < 0 && utf8.Valid(raw) {
		return string(raw[1 : len(raw)-1]), true
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false
	}
	return s, true
}

func (s *Server) sendBatch(c echo.Context) error {
	ctx := c.Request().Context()
	app := appFrom(c)
	body := bodyFrom(c)
	req, err := parseSendRequest(body, s.cfg.BatchMaxSize)
	if err != nil {
		return err
	}
	key, err := idempotencyKey(c)
	if err != nil {
		return err
	}
	hash := requestHash(endpointBatch, body)
	if key != "" {
		resp, err := s.replayBatch(ctx, app, req, key, hash)
		if err != nil || resp != nil {
			return s.replied(c, resp, err)
		}
	}

	p, err := s.prepare(ctx, app.ID, req)
	if err != nil {
		return err
	}
	accepted, rejected := classifyReceivers(p.channel.Type, req.Receivers)
	if len(accepted) == 0 {
		e := errReceiver("no valid receiver in the batch")
		e.Data = map[string]any{"rejected": rejected}
		return e
	}
	if err := s.checkBatchFootprint(p, accepted); err != nil {
		return err
	}
	accepted, rejected, err = s.admitBatch(ctx, app, p, accepted, rejected)
	if err != nil {
		return err
	}

	now := s.now().UTC()
	batch := &store.Batch{
		ID:             s.newID(),
		AppID:          app.ID,
		ChannelID:      p.channel.ID,
		TotalCount:     len(req.Receivers),
		SuccessCount:   len(accepted),
		FailedCount:    len(rejected),
		IdempotencyKey: key,
		RequestHash:    hash,
		CreatedAt:      now,
		Attachments:    p.attachments,
		Status:         store.BatchRunning,
		Subject:        p.subject,
		Content:        p.content,
		TemplateParams: p.params,
		ScheduledAt:    p.scheduledAt,
	}
	batch.WorkflowID = workflows.BatchWorkflowID(batch.ID)
	// What every member row holds besides its task id and receiver; the
	// store keeps subject, content, parameters and attachments once, on
	// the batch. Members carry no key of their own: the key is the batch's.
	member := s.messageRow(app, p, "", batch.ID, "", hash, now)
	receivers := make([]string, len(accepted))
	for i, a := range accepted {
		receivers[i] = a.normalized
	}
	if err := s.store.CreateBatch(ctx, batch, member, receivers); err != nil {
		if errors.Is(err, store.ErrConflict) && key != "" {
			resp, rerr := s.replayBatch(ctx, app, req, key, hash)
			if rerr != nil || resp != nil {
				return s.replied(c, resp, rerr)
			}
		}
		if qe := s.quotaRefused(err, app); qe != nil {
			return qe
		}
		return errDatabase("create batch", err)
	}
	// Task ids are the batch's member prefix and each member's seq.
	tasks := make([]batchTask, len(accepted))
	for i, a := range accepted {
		tasks[i] = batchTask{Index: a.index, TaskID: batch.MemberTaskID(i + 1)}
	}
	s.metrics.MessageAccepted(app.ID, p.channel.ID, len(receivers))
	s.startBatch(ctx, batch, member)
	return success(c, batchResponse{
		BatchID:      batch.ID,
		TotalCount:   batch.TotalCount,
		SuccessCount: batch.SuccessCount,
		FailedCount:  batch.FailedCount,
		CreatedAt:    formatTime(batch.CreatedAt),
		Tasks:        tasks,
		Rejected:     nonNil(rejected),
	})
}

// startBatch starts the workflow of a stored batch: one start, whatever
// the number of receivers. A failure is only logged: the batch is durably
// running and the worker's sweeper starts its workflow later. The start
// outlives a client that hangs up.
func (s *Server) startBatch(ctx context.Context, b *store.Batch, member *store.Message) {
	in := workflows.BatchInput{BatchID: b.ID, AppID: b.AppID, ChannelID: b.ChannelID, Members: b.SuccessCount}
	if b.ScheduledAt != nil {
		in.ScheduledAt = *b.ScheduledAt
	}
	if member.ExpiresAt != nil {
		in.ExpiresAt = *member.ExpiresAt
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), startTimeout)
	defer cancel()
	if err := s.engine.StartBatch(sctx, in); err != nil {
		s.log.Warn("start batch workflow failed; the batch stays running for the sweeper",
			zap.String("batch_id", b.ID), zap.Error(err))
	}
}

// admit runs the receiver checks of the admission service over normalised
// receivers and returns its verdicts, one per receiver, or the refusal of
// the whole request when its admitted receivers exceed the app's message
// rate.
func (s *Server) admit(ctx context.Context, app *store.App, p *prepared, receivers []string) ([]*admission.Refusal, error) {
	verdicts, err := s.admission.Admit(ctx, admission.Request{
		AppID: app.ID, Channel: p.channel, Template: p.template, Pool: p.pool, Receivers: receivers,
		Priority: p.priority, MessagesPerMinute: s.messagesPerMinute(app),
	})
	var rl *admission.RateLimitedError
	switch {
	case errors.Is(err, admission.ErrCache):
		// Caps that cannot be counted protect no one: refuse for now.
		return nil, errCache("receiver checks", err)
	case errors.As(err, &rl):
		s.log.Info("send refused over the message rate", zap.String("app_id", app.ID), zap.Int64("channel_id", p.channel.ID),
			zap.Int("receivers", len(receivers)))
		return nil, refusalError(&rl.Refusal)
	case err != nil:
		return nil, errDatabase("receiver checks", err)
	}
	s.logRefusals(app, p, verdicts)
	return verdicts, nil
}

// logRefusals logs, once per request, how many receivers each check
// refused, with the app, channel and template and never a receiver, so
// operators see caps, opt-outs and countries at work.
func (s *Server) logRefusals(app *store.App, p *prepared, verdicts []*admission.Refusal) {
	var byRule map[string]int
	for _, v := range verdicts {
		if v == nil {
			continue
		}
		if byRule == nil {
			byRule = map[string]int{}
		}
		byRule[v.Rule]++
	}
	if byRule == nil {
		return
	}
	fields := []zap.Field{zap.String("app_id", app.ID), zap.Int64("channel_id", p.channel.ID)}
	if p.template != nil {
		fields = append(fields, zap.Int64("template_id", p.template.ID))
	}
	for _, rule := range slices.Sorted(maps.Keys(byRule)) {
		fields = append(fields, zap.Int(rule, byRule[rule]))
	}
	s.log.Info("receivers refused at accept", fields...)
}

// refusalError is the answer to a single send whose receiver is refused.
func refusalError(r *admission.Refusal) *Error {
	return &Error{Status: r.Status, Code: r.Code, Message: r.Message, RetryAfter: r.RetryAfter}
}

// admitBatch moves the receivers the admission service refuses from
// accepted to rejected, in request order. When it refuses them all, the
// request fails: with 429 and the earliest Retry-After when every refusal
// is a receiver cap, else as a batch with no valid receiver.
func (s *Server) admitBatch(ctx context.Context, app *store.App, p *prepared, accepted []acceptedReceiver, rejected []rejection) ([]acceptedReceiver, []rejection, error) {
	receivers := make([]string, len(accepted))
	for i, a := range accepted {
		receivers[i] = a.normalized
	}
	verdicts, err := s.admit(ctx, app, p, receivers)
	if err != nil {
		return nil, nil, err
	}
	kept := accepted[:0:0]
	var refused []*admission.Refusal
	for i, a := range accepted {
		r := verdicts[i]
		if r == nil {
			kept = append(kept, a)
			continue
		}
		refused = append(refused, r)
		rejected = append(rejected, rejection{Index: a.index, Receiver: a.raw, Code: r.Code, Message: r.Message})
	}
	slices.SortFunc(rejected, func(a, b rejection) int { return a.Index - b.Index })
	if len(kept) > 0 {
		return kept, rejected, nil
	}
	allCapped := true
	var wait time.Duration
	for _, r := range refused {
		if r.Code != admission.CodeReceiverCapped {
			allCapped = false
			break
		}
		if wait == 0 || r.RetryAfter < wait {
			wait = r.RetryAfter
		}
	}
	if allCapped {
		e := NewError(http.StatusTooManyRequests, CodeRateLimited, "every receiver of the batch is over a receiver cap")
		e.RetryAfter = wait
		e.Data = map[string]any{"rejected": rejected}
		return nil, nil, e
	}
	e := errReceiver("no valid receiver in the batch")
	e.Data = map[string]any{"rejected": rejected}
	return nil, nil, e
}

// batchFootprintFactor bounds what one batch request may write to the
// store, as a multiple of the batch body limit. The rendered subject,
// content, parameters and attachments are stored once, on the batch; each
// member row holds its receiver (sealed, and keyed) and the row's other
// columns.
const batchFootprintFactor = 4

// memberRowOverhead approximates a member row beside its receiver: ids,
// receiver key, status columns, timestamps and the index entries.
const memberRowOverhead = 512

// checkBatchFootprint refuses a batch whose rows would together exceed
// batchFootprintFactor times the batch body limit, so a request cannot
// make the store write without bound whatever the limits are set to.
func (s *Server) checkBatchFootprint(p *prepared, accepted []acceptedReceiver) error {
	total := int64(len(p.subject) + len(p.content) + len(p.attachments))
	for k, v := range p.params {
		total += int64(len(k) + len(v) + 6)
	}
	for _, a := range accepted {
		// A sealed receiver is about twice its clear length.
		total += int64(2*len(a.normalized) + memberRowOverhead)
	}
	if limit := batchFootprintFactor * s.cfg.BatchMaxBodyBytes; total > limit {
		return errInvalidValue("this batch would store about %d bytes for %d receivers, more than the limit of %d; send fewer receivers per request",
			total, len(accepted), limit)
	}
	return nil
}

// replayBatch rebuilds the original response of a batch whose
// Idempotency-Key is reused with the same request. The request being the
// same, re-validating its receivers gives the same split, and each accepted
// receiver is matched to its stored task.
func (s *Server) replayBatch(ctx context.Context, app *store.App, req *sendRequest, key, hash string) (*batchResponse, error) {
	b, err := s.store.GetBatchByIdempotencyKey(ctx, app.ID, key)
	if errors.Is(err, store.ErrNotFound) {
		if _, merr := s.store.GetMessageByIdempotencyKey(ctx, app.ID, key); merr == nil {
			return nil, errIdempotencyMismatch(key)
		} else if !errors.Is(merr, store.ErrNotFound) {
			return nil, errDatabase("load message by idempotency key", merr)
		}
		return nil, nil
	}
	if err != nil {
		return nil, errDatabase("load batch by idempotency key", err)
	}
	if b.RequestHash != hash {
		return nil, errIdempotencyMismatch(key)
	}
	members, channelType, err := s.batchMembers(ctx, b)
	if err != nil {
		return nil, err
	}
	resp := &batchResponse{
		BatchID:      b.ID,
		TotalCount:   b.TotalCount,
		SuccessCount: b.SuccessCount,
		FailedCount:  b.FailedCount,
		CreatedAt:    formatTime(b.CreatedAt),
		Tasks:        []batchTask{},
		Rejected:     []rejection{},
	}
	if len(members) == 0 {
		return resp, nil
	}
	byReceiver := make(map[string]string, len(members))
	for _, m := range members {
		byReceiver[m.Receiver] = m.TaskID
	}
	accepted, rejected := classifyReceivers(channelType, req.Receivers)
	for _, a := range accepted {
		if id, ok := byReceiver[a.normalized]; ok {
			resp.Tasks = append(resp.Tasks, batchTask{Index: a.index, TaskID: id})
		} else {
			// Refused at accept by a receiver check, whose verdict is not
			// stored; checking again now could answer differently.
			rejected = append(rejected, rejection{Index: a.index, Receiver: a.raw, Code: CodeInvalidReceiver,
				Message: "receiver was refused when the batch was accepted (opt-out, country or receiver cap)"})
		}
	}
	slices.SortFunc(rejected, func(a, b rejection) int { return a.Index - b.Index })
	resp.Rejected = nonNil(rejected)
	return resp, nil
}

// batchMembers returns the task ids and receivers of a batch's members
// and their channel type. Members of a batch-workflow batch are read
// without the rest of their rows: a replay of 100,000 receivers must stay
// fast.
func (s *Server) batchMembers(ctx context.Context, b *store.Batch) ([]store.BatchMember, string, error) {
	if b.WorkflowID != "" {
		members, err := s.store.ListBatchMembers(ctx, b.ID)
		if err != nil {
			return nil, "", errDatabase("list batch members", err)
		}
		return members, b.MessageType, nil
	}
	msgs, err := s.store.ListBatchMessages(ctx, b.ID)
	if err != nil {
		return nil, "", errDatabase("list batch messages", err)
	}
	if len(msgs) == 0 {
		return nil, "", nil
	}
	members := make([]store.BatchMember, len(msgs))
	for i, m := range msgs {
		members[i] = store.BatchMember{TaskID: m.TaskID, Receiver: m.Receiver}
	}
	return members, msgs[0].MessageType, nil
}

// loadOwnMessage returns a task of the calling app through a channel it is
// granted; any other task, and a malformed id, is "not found" so ids of
// other apps cannot be probed.
func (s *Server) loadOwnMessage(c echo.Context) (*store.Message, error) {
	taskID := pathParam(c, "task_id")
	if _, err := uuid.Parse(taskID); err != nil {
		return nil, NewError(http.StatusNotFound, CodeTaskNotFound, "task not found")
	}
	m, err := s.store.GetMessage(c.Request().Context(), taskID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errTaskNotFound(taskID)
	}
	if err != nil {
		return nil, errDatabase("load message", err)
	}
	if m.AppID != appFrom(c).ID {
		return nil, errTaskNotFound(taskID)
	}
	// A message of a channel the app is no longer granted is out of its
	// reach like the channel itself.
	if _, err := s.grantedChannel(c.Request().Context(), m.AppID, m.ChannelID); err != nil {
		return nil, err
	}
	return m, nil
}

// messageView is the data of GET /api/v1/messages/{task_id}: the legacy
// fields first, then Herald's additions.
type messageView struct {
	ID             int64   `json:"id"`
	TaskID         string  `json:"task_id"`
	AppID          string  `json:"app_id"`
	ChannelID      int64   `json:"channel_id"`
	MessageType    string  `json:"message_type"`
	Receiver       string  `json:"receiver"`
	Content        string  `json:"content"`
	Status         string  `json:"status"`
	CallbackStatus string  `json:"callback_status"`
	RetryCount     int     `json:"retry_count"`
	MaxRetry       int     `json:"max_retry"`
	CreatedAt      string  `json:"created_at"`
	UpdatedAt      string  `json:"updated_at"`
	BatchID        string  `json:"batch_id"`
	ScheduledAt    *string `json:"scheduled_at"`
	FinishedAt     *string `json:"finished_at"`
	LastError      string  `json:"last_error"`
	// ExpiresAt is null for messages accepted before expiries existed.
	ExpiresAt *string `json:"expires_at"`
	Priority  string  `json:"priority"`
	// RedrivenTo is the task an operator resent this one as, so a client
	// tracking this id can follow the resend; null when not resent.
	RedrivenTo *string `json:"redriven_to"`
}

func (s *Server) getMessage(c echo.Context) error {
	m, err := s.loadOwnMessage(c)
	if err != nil {
		return err
	}
	return success(c, messageView{
		ID:             m.ID,
		TaskID:         m.TaskID,
		AppID:          m.AppID,
		ChannelID:      m.ChannelID,
		MessageType:    m.MessageType,
		Receiver:       m.Receiver,
		Content:        m.Content,
		Status:         m.Status,
		CallbackStatus: m.CallbackStatus,
		RetryCount:     max(m.AttemptCount-1, 0),
		MaxRetry:       max(m.MaxAttempts-1, 0),
		CreatedAt:      formatTime(m.CreatedAt),
		UpdatedAt:      formatTime(m.UpdatedAt),
		BatchID:        m.BatchID,
		ScheduledAt:    formatTimePtr(m.ScheduledAt),
		FinishedAt:     formatTimePtr(m.FinishedAt),
		LastError:      m.LastError,
		ExpiresAt:      formatTimePtr(m.ExpiresAt),
		Priority:       priorityName(m.Priority),
		RedrivenTo:     nullIfEmpty(m.RedrivenTo),
	})
}

// eventView is one entry of GET /api/v1/messages/{task_id}/events.
type eventView struct {
	Seq       int    `json:"seq"`
	Kind      string `json:"kind"`
	Status    string `json:"status"`
	AccountID *int64 `json:"account_id"`
	Code      string `json:"code"`
	Detail    string `json:"detail"`
	CreatedAt string `json:"created_at"`
}

func (s *Server) listEvents(c echo.Context) error {
	m, err := s.loadOwnMessage(c)
	if err != nil {
		return err
	}
	events, err := s.store.ListEvents(c.Request().Context(), m.TaskID)
	if err != nil {
		return errDatabase("list events", err)
	}
	items := make([]eventView, 0, len(events))
	for _, e := range events {
		items = append(items, eventView{
			Seq: e.Seq, Kind: e.Kind, Status: e.Status, AccountID: e.AccountID,
			Code: e.Code, Detail: e.Detail, CreatedAt: formatTime(e.CreatedAt),
		})
	}
	return success(c, map[string]any{"items": items})
}

// cancelResponse is the data of DELETE /api/v1/messages/{task_id}.
type cancelResponse struct {
	TaskID string `json:"task_id"`
	Status string `json:"status"`
}

func (s *Server) cancelMessage(c echo.Context) error {
	m, err := s.loadOwnMessage(c)
	if err != nil {
		return err
	}
	err = taskcancel.Cancel(c.Request().Context(), s.store, s.engine, m)
	var nc *taskcancel.NotCancellableError
	switch {
	case errors.As(err, &nc):
		return NewError(http.StatusConflict, CodeInvalidValue, "%s", nc.Error())
	case errors.Is(err, taskcancel.ErrNotStarted):
		return NewError(http.StatusConflict, CodeInvalidValue, "task %s cannot be cancelled right now because its delivery has not started yet; try again shortly", m.TaskID)
	case err != nil:
		return errEngine("cancel send", err)
	}
	return success(c, cancelResponse{TaskID: m.TaskID, Status: workflows.StatusCancelled})
}

func nullIfEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func formatTimePtr(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := formatTime(*t)
	return &s
}
