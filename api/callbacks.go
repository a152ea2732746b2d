package api

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"go.uber.org/zap"

	"github.com/heraldhq/herald/internal/breaker"
	"github.com/heraldhq/herald/providers"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/workflows"
)

// Timeline kinds the API writes itself, outside the send workflow.
const (
	// EventLateReceipt is the timeline kind of a receipt that arrived after
	// its message's workflow had finished.
	EventLateReceipt = "late_receipt"
	// EventReply is the timeline kind of a reply the receiver sent back; its
	// Detail is the reply's text.
	EventReply = "reply"
)

// callback receives a provider's delivery receipts for one account:
// POST /callbacks/{provider}/{account_id}?token=... . The token, not an app
// signature, authenticates the push.
func (s *Server) callback(c echo.Context) error {
	acc, p, err := s.callbackTarget(c)
	if err != nil {
		return err
	}
	h := p.ReceiptHandler()
	if h == nil {
		return errNoCallbackEndpoint()
	}
	ctx := c.Request().Context()
	w := c.Response()
	receipts, err := h.ParseReceipts(s.limitPush(c))
	if err != nil {
		s.refuseUnparsable(w, h, "receipt", acc, err)
		return nil
	}
	if err := s.applyReceipts(ctx, acc, receipts); err != nil {
		// Refuse the whole push so the provider sends it again; receipts
		// already applied are harmless to repeat.
		s.log.Error("receipts not applied; asking the provider to retry", zap.String("provider", acc.Kind),
			zap.Int64("account_id", acc.ID), zap.Int("receipts", len(receipts)), zap.Error(err))
		h.Acknowledge(w, false)
		return nil
	}
	h.Acknowledge(w, true)
	return nil
}

// errNoCallbackEndpoint is the answer to every callback that fails
// authentication — an unknown or malformed account id, an account of
// another provider kind, an unknown provider, a wrong or missing token —
// so accounts and tokens cannot be probed.
func errNoCallbackEndpoint() error {
	return NewError(http.StatusNotFound, CodeInvalidParams, "no such callback endpoint")
}

// dummyToken is compared against when no account matches, so an unknown
// account costs the same comparison as a wrong token.
var dummyToken = []byte("no-account-has-this-callback-token")

// callbackTarget resolves the account a callback URL names, checks the
// URL's token against it (looked up by id, decrypted by the store,
// compared in constant time) and returns it with its provider. Every
// failure gets the one answer errNoCallbackEndpoint and counts as a failed
// authentication of the client IP, in the counter and under the limits of
// the signed API (AuthFailureLimit, AuthFailureWindow); over the limit,
// the answer is 429 with Retry-After instead.
//
// Unlike the signed API, the limit is checked only after the token has
// failed, so a push that authenticates is never counted nor refused, even
// from an address over the limit: refusing it would lose a receipt the
// provider may not send again, and a provider address that also sends
// wrong tokens is misconfigured, not attacking. Checking first buys
// nothing here anyway: nothing is read or parsed before the token check,
// which costs one lookup by primary key, the only way to tell a valid push
// from a guess.
func (s *Server) callbackTarget(c echo.Context) (*store.ProviderAccount, providers.Provider, error) {
	acc, p, err := s.authenticateCallback(c)
	if err != nil {
		return nil, nil, err
	}
	if acc != nil {
		return acc, p, nil
	}
	if err := s.checkAuthFailures(c); err != nil {
		return nil, nil, err
	}
	s.recordAuthFailure(c)
	return nil, nil, errNoCallbackEndpoint()
}

// authenticateCallback returns the authenticated account and provider, or
// nil ones when authentication fails; an error only when the store cannot
// be read.
func (s *Server) authenticateCallback(c echo.Context) (*store.ProviderAccount, providers.Provider, error) {
	token := []byte(c.QueryParam("token"))
	kind := pathParam(c, "provider")
	accountID, err := strconv.ParseInt(pathParam(c, "account_id"), 10, 64)
	if err != nil {
		subtle.ConstantTimeCompare(token, dummyToken)
		return nil, nil, nil
	}
	acc, err := s.store.GetAccount(c.Request().Context(), accountID)
	if errors.Is(err, store.ErrNotFound) {
		subtle.ConstantTimeCompare(token, dummyToken)
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, errDatabase("load provider account", err)
	}
	ok := acc.CallbackToken != "" && subtle.ConstantTimeCompare(token, []byte(acc.CallbackToken)) == 1
	if !ok || acc.Kind != kind {
		return nil, nil, nil
	}
	p, err := s.providers.Get(kind)
	if err != nil {
		return nil, nil, nil
	}
	return acc, p, nil
}

// limitPush bounds the body of a provider's push and returns the request
// to parse.
func (s *Server) limitPush(c echo.Context) *http.Request {
	req := c.Request()
	req.Body = http.MaxBytesReader(c.Response(), req.Body, s.cfg.MaxBodyBytes)
	return req
}

// acknowledger writes the answer a provider expects to its push; receipt
// and reply handlers both are one.
type acknowledger interface {
	Acknowledge(w http.ResponseWriter, ok bool)
}

// refuseUnparsable answers a push the provider's handler could not parse
// with the provider's negative acknowledgement, under an error status even
// when the provider's refusal carries a success one.
func (s *Server) refuseUnparsable(w http.ResponseWriter, ack acknowledger, what string, acc *store.ProviderAccount, err error) {
	s.log.Warn("unparsable "+what+" callback", zap.String("provider", acc.Kind), zap.Int64("account_id", acc.ID), zap.Error(err))
	ow := &statusOverride{ResponseWriter: w, status: http.StatusBadRequest}
	ack.Acknowledge(ow, false)
	ow.finish()
}

// boundReceipt is a receipt with the task it was bound to.
type boundReceipt struct {
	providers.Receipt
	taskID string
	// inFlight: the task is being sent through the account right now (see
	// bindReceipts).
	inFlight bool
}

// applyReceipts applies the receipts of one push: each goes to its
// message's workflow, or is recorded on the message when the workflow
// has already finished; those of batch-workflow members are applied in
// the store together (see store.ApplyMemberReceipts), with no workflow of
// their own. A receipt is applied only to a message this account accepted
// (see bindReceipts); any other is skipped, logged without its
// receiver. An error means some receipt could not be applied now and the
// push should be redelivered.
func (s *Server) applyReceipts(ctx context.Context, acc *store.ProviderAccount, receipts []providers.Receipt) error {
	bound, err := s.bindReceipts(ctx, acc.ID, receipts)
	if err != nil {
		return err
	}
	var settled []bool
	if settled, err = s.applyMemberReceipts(ctx, acc, bound); err != nil {
		return err
	}
	// Each task's receipts go to its workflow in their order; tasks go at
	// once, up to receiptDeliveries: a delivery waits for a worker to
	// take the receipt (see workflows.Client.DeliverReceipt), and a push
	// of a hundred receipts must not wait a hundred times in a row.
	var (
		order  []string
		byTask = map[string][]boundReceipt{}
	)
	for i, b := range bound {
		if !b.inFlight {
			s.countReceipt(ctx, acc.ID, b.taskID, b.Receipt)
		}
		s.metrics.Receipt(acc.Kind, string(b.Status))
		if settled[i] {
			continue
		}
		if _, seen := byTask[b.taskID]; !seen {
			order = append(order, b.taskID)
		}
		byTask[b.taskID] = append(byTask[b.taskID], b)
	}
	var (
		wg    sync.WaitGroup
		slots = make(chan struct{}, receiptDeliveries)
		errs  = make([]error, len(order))
	)
	for i, taskID := range order {
		slots <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			for _, b := range byTask[taskID] {
				if errs[i] = s.deliverReceipt(ctx, acc, b); errs[i] != nil {
					return
				}
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// receiptDeliveries is how many tasks of one push get their receipts at
// once.
const receiptDeliveries = 16

// bindReceipts finds the message each receipt belongs to, binding it
// to what this account's provider accepted (on any attempt, so a delivery
// through one account still counts after a switch to another):
//   - a provider message id the account returned for a send names that
//     send's task, whatever task id the receipt also carries;
//   - otherwise the receipt's task id (Aliyun OutId) names the task if the
//     account accepted a send of it: any send for a receipt without a
//     provider id; for one with an id, only a send accepted without an id
//     (found by a status query), since the account returned no id to
//     check it against.
//
// Anything else is left out, logged, and changes nothing: a provider id
// the account never returned for the message is not believed; nor is a
// receipt with an unknown status. The one exception is inFlight: the
// receipt's task is being sent through this account right now, so its
// acceptance may not be recorded yet (a push that beats the provider's
// answer, or a worker that died mid-send). It goes to the workflow only,
// which checks it against the provider id once the send returns; it is
// never stored as a late receipt.
//
// The provider ids of the whole push are looked up in one query;
// resolveByTaskID binds the receipts none matched.
func (s *Server) bindReceipts(ctx context.Context, accountID int64, receipts []providers.Receipt) ([]boundReceipt, error) {
	var ids []string
	for _, r := range receipts {
		if r.ProviderMessageID != "" {
			ids = append(ids, r.ProviderMessageID)
		}
	}
	known, err := s.store.FindTasksByProviderMessageIDs(ctx, accountID, ids)
	if err != nil {
		return nil, fmt.Errorf("find tasks by provider message ids: %w", err)
	}
	bound := make([]boundReceipt, 0, len(receipts))
	for _, r := range receipts {
		switch r.Status {
		case providers.ReceiptDelivered, providers.ReceiptFailed, providers.ReceiptRejected:
		default:
			s.log.Warn("receipt with unknown status skipped", zap.Int64("account_id", accountID),
				zap.String("provider_message_id", r.ProviderMessageID), zap.String("status", string(r.Status)))
			continue
		}
		b := boundReceipt{Receipt: r}
		if id, ok := known[r.ProviderMessageID]; ok && r.ProviderMessageID != "" {
			b.taskID = id
		} else if b.taskID, b.inFlight, err = s.resolveByTaskID(ctx, accountID, r); err != nil {
			return nil, err
		}
		if b.taskID == "" {
			s.log.Info("receipt for an unknown message skipped: no send this account accepted matches it", zap.Int64("account_id", accountID),
				zap.String("provider_message_id", r.ProviderMessageID), zap.String("task_id", r.TaskID))
			continue
		}
		bound = append(bound, b)
	}
	return bound, nil
}

// memberReceiptSlots is how many pushes with receipts of batch members one
// API process applies at once.
const memberReceiptSlots = 8

// applyMemberReceipts applies, in one store call, the receipts that
// belong to members of batch-workflow batches, and reports which
// receipts it settled; the others are single sends' for their workflows.
// A member's receipt that beat the recording of its send refuses the
// push for now, so the provider delivers it again once the send is
// recorded.
func (s *Server) applyMemberReceipts(ctx context.Context, acc *store.ProviderAccount, bound []boundReceipt) ([]bool, error) {
	settled := make([]bool, len(bound))
	var (
		receipts []store.TaskReceipt
		at       []int
	)
	for i, b := range bound {
		if b.inFlight {
			m, err := s.store.GetMessage(ctx, b.taskID)
			if err != nil {
				return nil, fmt.Errorf("load message of receipt: %w", err)
			}
			if m.BatchSeq != 0 {
				return nil, fmt.Errorf("receipt for batch member %s arrived before its send was recorded", b.taskID)
			}
			continue
		}
		receipts = append(receipts, store.TaskReceipt{TaskID: b.taskID, MemberReceipt: store.MemberReceipt{
			AccountID: acc.ID, ProviderMessageID: b.ProviderMessageID, Status: string(b.Status), Code: b.Code, Description: b.Description,
		}})
		at = append(at, i)
	}
	if len(receipts) == 0 {
		return settled, nil
	}
	select {
	case s.memberSlots <- struct{}{}:
		defer func() { <-s.memberSlots }()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	effects, err := s.store.ApplyMemberReceipts(ctx, receipts)
	if err != nil {
		return nil, fmt.Errorf("apply receipts to batch members: %w", err)
	}
	for j, effect := range effects {
		settled[at[j]] = effect != store.ReceiptNotMember
	}
	return settled, nil
}

// deliverReceipt hands a single send's receipt to its workflow, or records
// it on the message when the workflow has already finished.
func (s *Server) deliverReceipt(ctx context.Context, acc *store.ProviderAccount, b boundReceipt) error {
	at := b.At
	if at.IsZero() {
		at = s.now()
	}
	wr := workflows.Receipt{
		AccountID:         acc.ID,
		ProviderMessageID: b.ProviderMessageID,
		Status:            string(b.Status),
		Code:              b.Code,
		Description:       b.Description,
		At:                at.UTC(),
	}
	err := s.engine.DeliverReceipt(ctx, b.taskID, wr)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, workflows.ErrWorkflowClosed) && b.inFlight:
		// The send it was believed to belong to ended unaccepted: nothing
		// binds the receipt to the message.
		s.log.Info("receipt for an unknown message skipped: its send ended before it was accepted", zap.Int64("account_id", acc.ID),
			zap.String("provider_message_id", b.ProviderMessageID), zap.String("task_id", b.taskID))
		return nil
	case errors.Is(err, workflows.ErrWorkflowClosed):
		return s.storeLateReceipt(ctx, b.taskID, wr)
	}
	return fmt.Errorf("deliver receipt to task %s: %w", b.taskID, err)
}

// resolveByTaskID binds a receipt whose provider id, if any, matched no
// send of the account (see bindReceipts).
func (s *Server) resolveByTaskID(ctx context.Context, accountID int64, r providers.Receipt) (taskID string, inFlight bool, err error) {
	if r.TaskID == "" {
		return "", false, nil
	}
	a, err := s.store.TaskAcceptance(ctx, r.TaskID, accountID)
	if err != nil {
		return "", false, fmt.Errorf("check acceptance of the receipt's task: %w", err)
	}
	if a.WithoutID || (a.WithID && r.ProviderMessageID == "") {
		return r.TaskID, false, nil
	}
	if a.Accepted() {
		// The account returned ids for this message: another one, or
		// this one, written after the lookup above: look again.
		return s.findByProviderID(ctx, accountID, r)
	}
	m, err := s.store.GetMessage(ctx, r.TaskID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return "", false, nil
	case err != nil:
		return "", false, fmt.Errorf("load message of receipt: %w", err)
	}
	if m.AccountID == nil || *m.AccountID != accountID {
		return "", false, nil
	}
	if m.Status == workflows.StatusProcessing {
		return m.TaskID, true, nil
	}
	// Accepted since the acceptance was checked: the provider's id is
	// written with the status, so look again.
	return s.findByProviderID(ctx, accountID, r)
}

// findByProviderID finds the task the account's id in r belongs to, or
// none. resolveByTaskID asks it once a check sees the send accepted,
// after bindReceipts's lookup of the whole push found nothing: a receipt
// can race its send's acceptance, the first lookup running before the
// acceptance is written. The id and the
// status are written in one transaction, so once a check saw the
// acceptance, the second lookup finds the id if it is this send's.
func (s *Server) findByProviderID(ctx context.Context, accountID int64, r providers.Receipt) (string, bool, error) {
	if r.ProviderMessageID == "" {
		return "", false, nil
	}
	id, err := s.store.FindTaskByProviderMessageID(ctx, accountID, r.ProviderMessageID)
	switch {
	case err == nil:
		return id, false, nil
	case errors.Is(err, store.ErrNotFound):
		return "", false, nil
	}
	return "", false, fmt.Errorf("find task by provider message id: %w", err)
}

// storeLateReceipt records a receipt on a message whose workflow is closed.
// The message's status is final and stays as it is; callback_status is set
// only if no receipt was recorded before.
func (s *Server) storeLateReceipt(ctx context.Context, taskID string, r workflows.Receipt) error {
	data, err := json.Marshal(map[string]any{
		"provider_message_id": r.ProviderMessageID,
		"status":              r.Status,
		"code":                r.Code,
		"description":         r.Description,
		"at":                  r.At,
	})
	if err != nil {
		return fmt.Errorf("encode late receipt: %w", err)
	}
	accountID := r.AccountID
	// A concurrent writer may take the same seq; one retry with a fresh seq
	// settles it.
	for attempt := 0; ; attempt++ {
		seq, err := s.store.NextEventSeq(ctx, taskID)
		if err != nil {
			return fmt.Errorf("next event seq of task %s: %w", taskID, err)
		}
		err = s.store.AddEvent(ctx, &store.MessageEvent{
			TaskID:    taskID,
			Seq:       seq,
			Kind:      EventLateReceipt,
			Status:    r.Status,
			AccountID: &accountID,
			Code:      r.Code,
			Detail:    r.Description,
			Data:      data,
			CreatedAt: s.now().UTC(),
		})
		if err == nil {
			break
		}
		if !errors.Is(err, store.ErrConflict) || attempt > 0 {
			return fmt.Errorf("add late receipt event to task %s: %w", taskID, err)
		}
	}
	m, err := s.store.GetMessage(ctx, taskID)
	if err != nil {
		return fmt.Errorf("load message %s: %w", taskID, err)
	}
	if m.CallbackStatus != "" {
		return nil
	}
	status := r.Status
	if err := s.store.UpdateMessage(ctx, taskID, store.MessagePatch{CallbackStatus: &status}); err != nil {
		return fmt.Errorf("set callback status of task %s: %w", taskID, err)
	}
	return nil
}

// statusOverride replaces a success status written through it with status,
// so a provider's negative acknowledgement of a malformed push also carries
// an error status.
type statusOverride struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusOverride) WriteHeader(code int) {
	if w.wrote {
		return
	}
	w.wrote = true
	if code < http.StatusMultipleChoices {
		code = w.status
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusOverride) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// finish sends the status when the acknowledgement wrote nothing.
func (w *statusOverride) finish() {
	if !w.wrote {
		w.WriteHeader(w.status)
	}
}

// receiptCountTTL is how long a counted receipt is remembered so that a
// repeat of it is not counted again; providers repeat pushes within hours.
const receiptCountTTL = 48 * time.Hour

// countReceipt tells the account's breaker about a receipt of a send it
// accepted, once per send: providers push a receipt again when our answer
// was lost or slow, and every API process may get a copy, so the first
// to claim the send's key in Redis counts it. A send is the task, the
// account and the provider's message id (each accepted attempt has its
// own; without one, the task's one send through the account). A
// rejection is the receiver's or the content's (blocked number, refused
// template) and says nothing about the account. Counting is best effort:
// with Redis down the receipt is not counted, since a breaker missing a
// sample is safer than one hearing it twice.
func (s *Server) countReceipt(ctx context.Context, accountID int64, taskID string, r providers.Receipt) {
	if s.receipts == nil {
		return
	}
	var c breaker.Counts
	switch r.Status {
	case providers.ReceiptDelivered:
		c.ReceiptsDelivered = 1
	case providers.ReceiptFailed:
		c.ReceiptsFailed = 1
	default:
		return
	}
	key := fmt.Sprintf("herald:rcpt-counted:%d:%s:%s", accountID, taskID, r.ProviderMessageID)
	first, err := claimOnce(ctx, s.redis, key, receiptCountTTL)
	if err != nil {
		s.log.Warn("receipt not counted for the account's breaker: redis unavailable", zap.Int64("account_id", accountID), zap.Error(err))
		return
	}
	if first {
		s.receipts.Add(accountID, c)
	}
}
