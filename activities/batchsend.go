package activities

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.uber.org/zap"

	"github.com/heraldhq/herald/internal/breaker"
	"github.com/heraldhq/herald/internal/traffic"
	"github.com/heraldhq/herald/providers"
	"github.com/heraldhq/herald/rules"
	"github.com/heraldhq/herald/store"
)

// BatchStore is the part of the store the batch workflow's activities
// use: members loaded, claimed and settled by (batch, BatchSeq range).
type BatchStore interface {
	GetBatch(ctx context.Context, id string) (*store.Batch, error)
	GetMessage(ctx context.Context, taskID string) (*store.Message, error)
	LoadBatchMembers(ctx context.Context, f store.BatchMemberFilter) ([]store.Message, error)
	ExpandBatchMembers(ctx context.Context, batchID string, fromSeq, toSeq int) (int, error)
	UpdateBatchMembers(ctx context.Context, updates []store.MemberUpdate) ([]bool, error)
	AddProviderMessageIDs(ctx context.Context, ids []store.ProviderID) error
	CountBatchWork(ctx context.Context, batchID string, now time.Time, bucket int) (store.BatchMemberCounts, error)
	RecordBatchStatus(ctx context.Context, batchID, status string, finished bool) error
}

// WithBatches gives the activities the store of batch-workflow members;
// without it the batch activities refuse to run.
func WithBatches(st BatchStore) Option { return func(a *Activities) { a.batches = st } }

// Sizes of batch work.
const (
	// DefaultBulkChunk is the chunk of a channel whose providers have no
	// batch API: its members are sent one request each, BulkConcurrency
	// at a time.
	DefaultBulkChunk = 100
	// MaxBulkChunk bounds a chunk whatever the providers take (Tencent's
	// 200 numbers per request).
	MaxBulkChunk = 200
	// BulkConcurrency bounds the single sends in flight of one chunk.
	BulkConcurrency = 16
	// bulkPaceWait is the longest a chunk waits inside its activity for a
	// paced account's slots; a longer wait goes back to the workflow,
	// which waits on a durable timer and runs the rest later.
	bulkPaceWait = 2 * time.Second
	// settleLimit bounds the members one settle pass hands to the rule
	// engine, so the activity stays short; the next pass takes the rest.
	settleLimit = 1000
)

// Codes batch members end with, beside the single sends' ones.
const (
	// CodeNoAccount ends a member no enabled account of the pool can
	// take (all failed for it, or none reaches its country).
	CodeNoAccount = "NO_PROVIDER_AVAILABLE"
	// CodeGaveUp ends a member that used up its attempts.
	CodeGaveUp = "MAX_ATTEMPTS_REACHED"
	// CodeReceiptTimeout is a member's missing receipt.
	CodeReceiptTimeout = "RECEIPT_TIMEOUT"
	// CodeUnknownNotResent ends a member whose send may have gone out
	// through an account that cannot be asked and does not resend.
	CodeUnknownNotResent = "UNKNOWN_OUTCOME_NOT_RESENT"
	// CodeBatchCancelled ends the members of a cancelled batch.
	CodeBatchCancelled = "BATCH_CANCELLED"
)

// Timeline kinds of batch members (the same words as single sends').
const (
	memberAccepted   = "accepted"
	memberSendFailed = "send_failed"
	memberReconciled = "reconciled"
	memberTimeout    = "receipt_timeout"
	memberDecision   = "decision"
	memberFinished   = "finished"
	memberCancelled  = "cancelled"
)

// Statuses of members (as workflows names them).
const (
	stPending    = "pending"
	stProcessing = "processing"
	stSent       = "sent"
	stSuccess    = "success"
	stFailed     = "failed"
	stCancelled  = "cancelled"
)

// BatchPlanInput names the batch a plan is loaded for.
type BatchPlanInput struct {
	BatchID   string
	ChannelID int64
}

// BatchPlan is what the batch workflow needs to pace its chunks.
type BatchPlan struct {
	// ChunkSize is how many members one chunk activity sends: the
	// smallest batch size among the pool's batch APIs, else
	// DefaultBulkChunk.
	ChunkSize int
	// QuietUntil, when set, is when the quiet hours now in force end.
	QuietUntil time.Time
}

// LoadBatchPlan reads a batch's channel and pool for its workflow.
func (a *Activities) LoadBatchPlan(ctx context.Context, in BatchPlanInput) (BatchPlan, error) {
	p := BatchPlan{ChunkSize: DefaultBulkChunk}
	ch, err := a.store.GetChannel(ctx, in.ChannelID)
	if errors.Is(err, store.ErrNotFound) {
		// Chunks end every member for it.
		return p, nil
	}
	if err != nil {
		return p, fmt.Errorf("load channel %d: %w", in.ChannelID, err)
	}
	pool, err := a.store.ChannelPool(ctx, in.ChannelID)
	if err != nil {
		return p, fmt.Errorf("load pool of channel %d: %w", in.ChannelID, err)
	}
	size := 0
	for i := range pool {
		m := &pool[i]
		if !m.Account.Enabled || m.Weight <= 0 {
			continue
		}
		s, err := a.sender(&m.Account)
		if err != nil {
			continue
		}
		if bs, ok := s.(providers.BatchSender); ok && bs.MaxBatch() > 0 && (size == 0 || bs.MaxBatch() < size) {
			size = bs.MaxBatch()
		}
	}
	if size > 0 {
		p.ChunkSize = min(size, MaxBulkChunk)
	}
	if a.batches != nil {
		b, err := a.batches.GetBatch(ctx, in.BatchID)
		if err != nil {
			return p, fmt.Errorf("load batch %s: %w", in.BatchID, err)
		}
		app, err := a.store.GetApp(ctx, b.AppID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return p, fmt.Errorf("load app %s: %w", b.AppID, err)
		}
		until, _, err := a.quietUntil(ctx, &store.Message{AppID: b.AppID}, app, ch)
		if err != nil {
			return p, err
		}
		p.QuietUntil = until
	}
	return p, nil
}

// ChunkRequest asks for the due members of one BatchSeq range of a batch
// to be sent. The activity loads them itself: no receiver ever travels
// through the workflow.
type ChunkRequest struct {
	BatchID   string
	AppID     string
	ChannelID int64
	FromSeq   int
	ToSeq     int
	// Limit bounds the members sent (the chunk size).
	Limit int
}

// ChunkResult is what one chunk did.
type ChunkResult struct {
	Sent, Failed, Retrying, Reconciled int
	// WaitUntil, when set, is when due members left in the range (quiet
	// hours, or an account paced beyond what a chunk waits) may go.
	WaitUntil time.Time
}

// bulkMember is one member on its way through a chunk.
type bulkMember struct {
	msg     store.Message
	account *store.ProviderAccount
	pm      providers.Message
}

// SendChunk sends the due members of a range: it settles members a
// previous execution left processing (their outcome is unknown), ends
// expired ones and those of a disabled app or channel, picks an account
// per member (weighted, skipping open breakers, failed accounts and
// accounts that do not reach the receiver's country), paces, claims the
// members (processing, one more attempt) before any provider call, sends
// them through the account's batch API or a bounded number of single
// sends, and writes every outcome, a failure through the rule engine.
func (a *Activities) SendChunk(ctx context.Context, req ChunkRequest) (ChunkResult, error) {
	defer keepAlive(ctx, BulkHeartbeatEvery)()
	var res ChunkResult
	if a.batches == nil {
		return res, temporal.NewNonRetryableApplicationError("batch store not configured in this worker", "batch.unconfigured", nil)
	}
	b, err := a.batches.GetBatch(ctx, req.BatchID)
	if err != nil {
		return res, fmt.Errorf("load batch %s: %w", req.BatchID, err)
	}
	if b.Status == store.BatchCancelled {
		return res, nil
	}
	// Usually the batch's background expansion wrote these rows already;
	// a chunk that overtakes it writes its own range.
	if _, err := a.batches.ExpandBatchMembers(ctx, req.BatchID, req.FromSeq, req.ToSeq); err != nil {
		return res, err
	}
	env, err := a.bulkEnv(ctx, b)
	if err != nil {
		return res, err
	}
	if err := a.reconcileMembers(ctx, env, req, &res); err != nil {
		return res, err
	}
	now := a.now()
	due, err := a.batches.LoadBatchMembers(ctx, store.BatchMemberFilter{
		BatchID: req.BatchID, FromSeq: req.FromSeq, ToSeq: req.ToSeq, Statuses: []string{stPending}, DueBy: &now, Limit: req.Limit,
	})
	if err != nil {
		return res, err
	}
	if len(due) == 0 {
		return res, nil
	}
	if env.problemCode != "" {
		err := a.endMembers(ctx, due, stFailed, env.problemCode, env.problemDetail, &res)
		return res, err
	}
	if !env.quietUntil.IsZero() {
		res.WaitUntil = env.quietUntil
		return res, nil
	}
	var ready []*bulkMember
	var ends []store.MemberUpdate
	for i := range due {
		m := &due[i]
		env.hydrate(m)
		if m.ExpiresAt != nil && !now.Before(*m.ExpiresAt) {
			detail := fmt.Sprintf("the message expired at %s before any provider accepted it; nothing was sent", m.ExpiresAt.UTC().Format(time.RFC3339))
			ends = append(ends, finalUpdate(m.TaskID, []string{stPending}, stFailed, CodeExpired, detail, false, a.now()))
			continue
		}
		acc, wait, err := env.pick(ctx, m)
		if err != nil {
			return res, err
		}
		switch {
		case acc != nil:
			ready = append(ready, &bulkMember{msg: *m, account: acc})
		case wait:
			// Every account it could use has its breaker open: look again
			// after the breaker's recheck.
			next := now.Add(BreakerRecheck)
			ends = append(ends, store.MemberUpdate{TaskID: m.TaskID, Patch: store.MemberPatch{From: []string{stPending}, NextAttemptAt: &next}})
		default:
			ends = append(ends, finalUpdate(m.TaskID, []string{stPending}, stFailed, CodeNoAccount, "no enabled provider account of the channel's pool is left for the receiver", false, a.now()))
		}
	}
	if err := a.write(ctx, ends, &res.Failed); err != nil {
		return res, err
	}
	groups, err := a.groupMembers(ctx, ready)
	if err != nil {
		return res, err
	}
	for _, g := range groups {
		if err := a.sendPaced(ctx, env, g, &res); err != nil {
			return res, err
		}
	}
	return res, nil
}

// sendPaced sends a group as its account's pace allows, waiting inside
// the activity for at most bulkPaceWait in all; members it could not
// give a slot by then stay pending and res.WaitUntil says when to come
// back. An account with a batch API gathers its slots and sends them in
// one request; one that takes a request per message sends each member as
// soon as its slot comes, so the provider sees the pace, not a burst.
func (a *Activities) sendPaced(ctx context.Context, env *bulkEnv, g []*bulkMember, res *ChunkResult) error {
	acc := g[0].account
	rate := a.bulkRate(acc)
	if rate.Limit <= 0 || a.pacer == nil {
		return a.sendGroup(ctx, env, g, res)
	}
	gather := false
	if s, err := a.sender(acc); err == nil {
		if bs, ok := s.(providers.BatchSender); ok && bs.MaxBatch() > 1 {
			gather = true
		}
	}
	deadline := a.now().Add(bulkPaceWait)
	for len(g) > 0 {
		n, wait, err := a.paceChunk(ctx, acc.ID, rate, len(g), deadline, gather)
		if err != nil {
			return err
		}
		if n > 0 {
			if err := a.sendGroup(ctx, env, g[:n], res); err != nil {
				return err
			}
			g = g[n:]
		}
		if len(g) == 0 {
			return nil
		}
		at := a.now().Add(wait)
		if at.After(deadline) || ctx.Err() != nil {
			if res.WaitUntil.IsZero() || at.Before(res.WaitUntil) {
				res.WaitUntil = at
			}
			return nil
		}
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
	}
	return nil
}

// bulkRate is the pace of acc for batch members; zero is none.
func (a *Activities) bulkRate(acc *store.ProviderAccount) providers.Rate {
	prov, err := a.providers.Get(acc.Kind)
	if err != nil {
		// The send refuses the account; pacing has nothing to add.
		return providers.Rate{}
	}
	return accountRate(acc.RateLimitPerMinute, prov, providers.Account{ID: acc.ID, Kind: acc.Kind, Config: acc.Config})
}

// paceChunk takes up to n send slots of a paced account, waiting for
// them while the wait ends before deadline, or, unless gather, only until
// it holds one; it returns how many it took and, when fewer than n, how
// long until the next slot.
func (a *Activities) paceChunk(ctx context.Context, accountID int64, rate providers.Rate, n int, deadline time.Time, gather bool) (int, time.Duration, error) {
	for got := 0; got < n; {
		wait, err := a.paceBulk(ctx, accountID, rate)
		if err != nil {
			return got, 0, err
		}
		if wait <= 0 {
			got++
			continue
		}
		if (got > 0 && !gather) || a.now().Add(wait).After(deadline) {
			return got, wait, nil
		}
		select {
		case <-ctx.Done():
			return got, wait, nil
		case <-time.After(wait):
		}
	}
	return n, 0, nil
}

// bulkEnv is what a batch's chunk shares: the batch, its channel's pool
// and rules, the breaker states, and whether anything stops every member.
type bulkEnv struct {
	batch      *store.Batch
	channel    *store.Channel
	pool       []store.PoolMember
	providers  map[int64]providers.Provider
	breakerOff map[int64]bool
	// halfOpen holds the probe round of each half-open account; probes
	// the probe sends this chunk took and has not yet given a member.
	halfOpen   map[int64]int
	probes     map[int64]int
	rules      []rules.Rule
	maxAtt     int
	timeout    time.Duration
	quietUntil time.Time

	problemCode, problemDetail string

	a *Activities
}

func (a *Activities) bulkEnv(ctx context.Context, b *store.Batch) (*bulkEnv, error) {
	env := &bulkEnv{batch: b, a: a, providers: map[int64]providers.Provider{}, breakerOff: map[int64]bool{},
		halfOpen: map[int64]int{}, probes: map[int64]int{}}
	ch, err := a.store.GetChannel(ctx, b.ChannelID)
	if errors.Is(err, store.ErrNotFound) {
		env.problemCode, env.problemDetail = "CHANNEL_NOT_FOUND", fmt.Sprintf("channel %d no longer exists", b.ChannelID)
		return env, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load channel %d: %w", b.ChannelID, err)
	}
	env.channel = ch
	app, err := a.store.GetApp(ctx, b.AppID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("load app %s: %w", b.AppID, err)
	}
	if code, detail := disabled(&store.Message{AppID: b.AppID}, app, ch); code != "" {
		env.problemCode, env.problemDetail = code, detail
		return env, nil
	}
	if env.quietUntil, _, err = a.quietUntil(ctx, &store.Message{AppID: b.AppID}, app, ch); err != nil {
		return nil, err
	}
	if env.pool, err = a.store.ChannelPool(ctx, ch.ID); err != nil {
		return nil, fmt.Errorf("load pool of channel %d: %w", ch.ID, err)
	}
	for _, m := range env.pool {
		if p, err := a.providers.Get(m.Account.Kind); err == nil {
			env.providers[m.Account.ID] = p
		}
	}
	if a.breakers != nil {
		states, err := a.breakers.ListBreakerStates(ctx)
		if err != nil {
			return nil, fmt.Errorf("load breaker states: %w", err)
		}
		for _, st := range states {
			// A half-open account's few probes would all go to one chunk
			// of a hundred: a chunk takes at most one, and only when no
			// other account can take its members (see pick).
			if st.State == string(breaker.Open) || st.State == string(breaker.HalfOpen) {
				env.breakerOff[st.AccountID] = true
			}
			if st.State == string(breaker.HalfOpen) {
				env.halfOpen[st.AccountID] = st.Round
			}
		}
	}
	stored, err := a.store.ListRules(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("load rules: %w", err)
	}
	for _, r := range stored {
		if rr, err := ToRule(r); err == nil {
			env.rules = append(env.rules, rr)
		}
	}
	env.maxAtt = ch.MaxAttempts
	if env.maxAtt <= 0 {
		env.maxAtt = DefaultMaxAttempts
	}
	env.timeout = time.Duration(ch.ReceiptTimeoutSeconds) * time.Second
	if env.timeout <= 0 {
		env.timeout = DefaultReceiptTimeout
	}
	return env, nil
}

// hydrate fills in what the batch stores once for its members; the
// member's own non-empty values win.
func (e *bulkEnv) hydrate(m *store.Message) {
	b := e.batch
	if m.Subject == "" {
		m.Subject = b.Subject
	}
	if m.Content == "" {
		m.Content = b.Content
	}
	if len(m.TemplateParams) == 0 {
		m.TemplateParams = b.TemplateParams
	}
	if m.SignatureName == "" {
		m.SignatureName = b.SignatureName
	}
	if m.MessageType == "" {
		m.MessageType = b.MessageType
	}
}

// candidates lists the accounts a member may use now, and whether any
// more are kept off only by their breakers.
func (e *bulkEnv) candidates(m *store.Message) (cands []Candidate, breakerWait bool) {
	for _, pm := range e.usable(m) {
		acc := pm.Account
		if e.breakerOff[acc.ID] && e.probes[acc.ID] == 0 {
			breakerWait = true
			continue
		}
		cands = append(cands, Candidate{AccountID: acc.ID, Weight: pm.Weight})
	}
	return cands, breakerWait
}

// usable lists the pool's accounts that can take m, breakers aside:
// enabled, weighted, not failed for m, reaching its receiver's country.
func (e *bulkEnv) usable(m *store.Message) []store.PoolMember {
	failed := failedAccounts(m.FailedAccounts)
	region, byCountry := "", e.channel.Type == store.ChannelSMS
	if byCountry {
		region = traffic.RegionOf(m.Receiver)
	}
	var out []store.PoolMember
	for _, pm := range e.pool {
		acc := pm.Account
		p, known := e.providers[acc.ID]
		if !acc.Enabled || pm.Weight <= 0 || !known || slices.Contains(failed, acc.ID) {
			continue
		}
		if byCountry && !traffic.AccountReaches(p, acc.Countries, region) {
			continue
		}
		out = append(out, pm)
	}
	return out
}

// pick chooses a member's account by the channel's weighted rotation; wait
// is true when none is free but some are kept off by their breakers. When
// only half-open accounts could take the member, it takes one probe send
// of one of them for the member: without single sends through the
// account, the batch's own probe is what closes its breaker again.
func (e *bulkEnv) pick(ctx context.Context, m *store.Message) (acc *store.ProviderAccount, wait bool, err error) {
	cands, breakerWait := e.candidates(m)
	if len(cands) == 0 && breakerWait {
		took, err := e.takeProbe(ctx, m)
		if err != nil {
			return nil, false, err
		}
		if took {
			cands, breakerWait = e.candidates(m)
		}
	}
	id, ok := e.a.balancer.Pick(e.channel.ID, cands)
	if !ok {
		return nil, breakerWait, nil
	}
	if e.probes[id] > 0 {
		e.probes[id]--
	}
	return e.account(id), false, nil
}

// takeProbe takes a probe send of a half-open account the member could
// use, at most once per account and chunk.
func (e *bulkEnv) takeProbe(ctx context.Context, m *store.Message) (bool, error) {
	for _, pm := range e.usable(m) {
		id := pm.Account.ID
		round, half := e.halfOpen[id]
		if !half {
			continue
		}
		// One try per chunk, whatever its answer.
		delete(e.halfOpen, id)
		ok, err := e.a.breakers.TakeBreakerProbe(ctx, id, round)
		if err != nil {
			return false, fmt.Errorf("take a probe of account %d: %w", id, err)
		}
		if ok {
			e.a.log.Info("batch probe send through a half-open account", zapAccount(id), zap.Int("round", round))
			e.probes[id]++
			return true, nil
		}
	}
	return false, nil
}

func (e *bulkEnv) account(id int64) *store.ProviderAccount {
	for i := range e.pool {
		if e.pool[i].Account.ID == id {
			return &e.pool[i].Account
		}
	}
	return nil
}

func failedAccounts(s string) []int64 {
	var out []int64
	for _, f := range strings.Split(s, ",") {
		if id, err := strconv.ParseInt(strings.TrimSpace(f), 10, 64); err == nil {
			out = append(out, id)
		}
	}
	return out
}

// groupMembers builds each member's provider message and groups them by
// what one batch request shares: account, template and signature.
func (a *Activities) groupMembers(ctx context.Context, ready []*bulkMember) ([][]*bulkMember, error) {
	var keys []string
	groups := map[string][]*bulkMember{}
	for _, bm := range ready {
		pm, err := a.buildMessage(ctx, &bm.msg, bm.account.ID, bm.msg.AttemptCount+1)
		if err != nil {
			return nil, fmt.Errorf("build message %s: %w", bm.msg.TaskID, err)
		}
		bm.pm = pm
		key := fmt.Sprintf("%d\x00%s\x00%s", bm.account.ID, pm.TemplateCode, pm.Signature)
		if _, ok := groups[key]; !ok {
			keys = append(keys, key)
		}
		groups[key] = append(groups[key], bm)
	}
	out := make([][]*bulkMember, 0, len(keys))
	for _, k := range keys {
		out = append(out, groups[k])
	}
	return out, nil
}

// sendGroup claims a group's members and sends them through their one
// account, then writes every outcome.
func (a *Activities) sendGroup(ctx context.Context, env *bulkEnv, g []*bulkMember, res *ChunkResult) error {
	acc := g[0].account
	claims := make([]store.MemberUpdate, len(g))
	processing := stProcessing
	for i, bm := range g {
		accountID := acc.ID
		// No timeline event of its own: the attempt's outcome writes one,
		// which saves two writes per member.
		claims[i] = store.MemberUpdate{TaskID: bm.msg.TaskID, Patch: store.MemberPatch{
			From: []string{stPending}, NewAttempt: true,
			MessagePatch: store.MessagePatch{Status: &processing, AccountID: &accountID},
		}}
	}
	applied, err := a.batches.UpdateBatchMembers(ctx, claims)
	if err != nil {
		return fmt.Errorf("claim members: %w", err)
	}
	claimed := g[:0:0]
	for i, ok := range applied {
		if ok {
			claimed = append(claimed, g[i])
		}
	}
	if len(claimed) == 0 {
		return nil
	}
	sender, err := a.sender(acc)
	var outs []providers.BatchOutcome
	switch {
	case err != nil:
		outs = sameOutcome(len(claimed), providers.Errorf(providers.ClassConfig, "ACCOUNT_CONFIG_INVALID", "provider account %d: %v", acc.ID, err))
	case !acc.Enabled:
		outs = sameOutcome(len(claimed), providers.Errorf(providers.ClassAccount, "ACCOUNT_DISABLED", "provider account %d is disabled", acc.ID))
	default:
		outs = a.sendMembers(ctx, acc, sender, claimed)
	}
	var ids []store.ProviderID
	for i, o := range outs {
		if o.Err == nil {
			ids = append(ids, store.ProviderID{TaskID: claimed[i].msg.TaskID, AccountID: acc.ID, ProviderMessageID: o.Result.ProviderMessageID})
		}
	}
	recorded := true
	if err := a.batches.AddProviderMessageIDs(ctx, ids); err != nil {
		// Not fatal: the outcomes below record them one by one.
		a.log.Warn("provider ids of a chunk not recorded early", zapAccount(acc.ID), zapErr(err))
		recorded = false
	}
	activity.RecordHeartbeat(ctx)
	return a.writeOutcomes(ctx, env, acc, claimed, outs, recorded, res)
}

func sameOutcome(n int, err error) []providers.BatchOutcome {
	outs := make([]providers.BatchOutcome, n)
	for i := range outs {
		outs[i].Err = err
	}
	return outs
}

// sendMembers sends claimed members through sender: in requests of the
// provider's batch API where it has one, else BulkConcurrency single
// sends at a time. A batch request that failed as a whole is every
// member's outcome.
func (a *Activities) sendMembers(ctx context.Context, acc *store.ProviderAccount, sender providers.Sender, ms []*bulkMember) []providers.BatchOutcome {
	outs := make([]providers.BatchOutcome, len(ms))
	started := a.now()
	if bs, ok := sender.(providers.BatchSender); ok && bs.MaxBatch() > 1 {
		size := bs.MaxBatch()
		for from := 0; from < len(ms); from += size {
			part := ms[from:min(from+size, len(ms))]
			msgs := make([]providers.Message, len(part))
			for i, bm := range part {
				msgs[i] = bm.pm
			}
			got, err := bs.SendBatch(ctx, msgs)
			for i := range part {
				switch {
				case err != nil:
					outs[from+i].Err = err
				case i < len(got):
					outs[from+i] = got[i]
				default:
					outs[from+i].Err = &providers.Error{Class: providers.ClassUnknownOutcome, Code: "BATCH_SHORT_ANSWER",
						Message: fmt.Sprintf("the provider answered for %d of %d messages", len(got), len(msgs))}
				}
			}
		}
	} else {
		var wg sync.WaitGroup
		sem := make(chan struct{}, BulkConcurrency)
		for i, bm := range ms {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				r, err := sender.Send(ctx, bm.pm)
				outs[i] = providers.BatchOutcome{Result: r, Err: err}
			}()
		}
		wg.Wait()
	}
	took := a.now().Sub(started)
	for _, o := range outs {
		a.reportOutcome(acc.ID, o.Err)
		class, code := "", ""
		if o.Err != nil {
			pe := providers.AsError(o.Err)
			class, code = string(pe.Class), pe.Code
		}
		a.metrics.SendAttempt(acc.Kind, class, code, took)
	}
	return outs
}

// writeOutcomes turns the provider's answers into member updates: an
// accepted member is sent (or success where acceptance is delivery), an
// unknown outcome stays processing for the next pass to reconcile, any
// other failure goes to the rule engine.
func (a *Activities) writeOutcomes(ctx context.Context, env *bulkEnv, acc *store.ProviderAccount, ms []*bulkMember, outs []providers.BatchOutcome, idsRecorded bool, res *ChunkResult) error {
	expectsReceipt := false
	if p, ok := env.providers[acc.ID]; ok {
		expectsReceipt = p.ReceiptHandler() != nil
	}
	updates := make([]store.MemberUpdate, 0, len(ms))
	for i, bm := range ms {
		o := outs[i]
		m := bm.msg
		m.AttemptCount++
		if o.Err == nil {
			u := a.acceptedUpdate(m.TaskID, acc, o.Result, expectsReceipt)
			u.Patch.IDRecorded = idsRecorded
			updates = append(updates, u)
			res.Sent++
			continue
		}
		pe := providers.AsError(o.Err)
		a.recordBounce(ctx, &m, acc.Kind, pe)
		if pe.Class == providers.ClassUnknownOutcome {
			// Left processing: the next pass over its range asks the
			// provider, or applies on_unknown_outcome, before any resend.
			a.log.Info("batch member send outcome unknown", zap.String("task_id", m.TaskID), zapAccount(acc.ID), zap.String("code", pe.Code))
			continue
		}
		f := rules.Failure{Scene: rules.SceneSendFailure, Class: pe.Class, Code: pe.Code, Message: pe.Message,
			ProviderKind: acc.Kind, MessageType: env.channel.Type, RetryAfter: pe.RetryAfter}
		u := env.decide(&m, acc, f, []string{stProcessing}, memberSendFailed)
		updates = append(updates, u)
		if isFinalUpdate(u) {
			res.Failed++
		} else {
			res.Retrying++
		}
	}
	return a.write(ctx, updates, nil)
}

func isFinalUpdate(u store.MemberUpdate) bool {
	return u.Patch.Status != nil && (*u.Patch.Status == stFailed || *u.Patch.Status == stSuccess || *u.Patch.Status == stCancelled)
}

// acceptedUpdate records a provider's acceptance of a member's attempt.
func (a *Activities) acceptedUpdate(taskID string, acc *store.ProviderAccount, r providers.Result, expectsReceipt bool) store.MemberUpdate {
	now := a.now()
	accountID := acc.ID
	p := store.MemberPatch{From: []string{stProcessing}, Accepted: true, MessagePatch: store.MessagePatch{AccountID: &accountID}}
	if pid := r.ProviderMessageID; pid != "" {
		p.ProviderMessageID = &pid
	}
	if r.Delivered || !expectsReceipt {
		status := stSuccess
		p.Status, p.FinishedAt = &status, &now
		if r.Delivered {
			cb := "delivered"
			p.CallbackStatus = &cb
		}
		p.Event = &store.MessageEvent{Kind: memberFinished, Status: stSuccess, AccountID: &accountID, Detail: "accepted by the provider"}
		return store.MemberUpdate{TaskID: taskID, Patch: p}
	}
	status := stSent
	p.Status, p.SentAt = &status, &now
	p.Event = &store.MessageEvent{Kind: memberAccepted, Status: stSent, AccountID: &accountID,
		Detail: "accepted by the provider; waiting for the delivery receipt"}
	return store.MemberUpdate{TaskID: taskID, Patch: p}
}

// decide asks the rule engine what to do about a member's failure and
// returns the update that does it: pending again (due after the delay,
// off the account on a switch) or failed. from is the status the member
// must still be in.
func (e *bulkEnv) decide(m *store.Message, acc *store.ProviderAccount, f rules.Failure, from []string, kind string) store.MemberUpdate {
	failed := failedAccounts(m.FailedAccounts)
	left := 0
	cands, breakerWait := e.candidates(m)
	for _, c := range cands {
		if c.AccountID != acc.ID {
			left++
		}
	}
	if breakerWait {
		left++
	}
	maxAtt := m.MaxAttempts
	if maxAtt <= 0 {
		maxAtt = e.maxAtt
	}
	counted := m.AttemptCount
	in := rules.Input{Now: e.a.now(), Rules: e.rules, Failure: f, MaxAttempts: maxAtt, AccountsLeft: left}
	if f.Class == rules.ClassThrottled {
		// Throttling uses up no attempt; its refusals, this one included,
		// grow the wait and its total wait ends it, as for single sends.
		counted--
		in.AttemptsOnAccount = m.ThrottledCount + 1
		in.DeferredFor = time.Duration(m.DeferredMS) * time.Millisecond
	} else {
		in.AttemptsOnAccount = max(counted, 1)
	}
	in.TotalAttempts = max(counted, 1)
	d := rules.Decide(in)
	accountID := acc.ID
	text := memberFailureText(f)
	cancelled := e.batch.Status == store.BatchCancelled
	if cancelled && (d.Action == rules.ActionRetry || d.Action == rules.ActionSwitch) {
		u := finalUpdate(m.TaskID, from, stCancelled, CodeBatchCancelled, "the batch was cancelled before a retry", f.Class == rules.ClassUnknownOutcome, e.a.now())
		u.Patch.LastError = &text
		return u
	}
	detail := fmt.Sprintf("%s: %s: %s", text, d.Action, d.Reason)
	p := store.MemberPatch{From: from, MessagePatch: store.MessagePatch{LastError: &text},
		Event: &store.MessageEvent{Kind: kind, Status: stPending, AccountID: &accountID, Code: f.Code, Detail: detail}}
	switch d.Action {
	case rules.ActionRetry, rules.ActionSwitch:
		pending := stPending
		next := e.a.now().Add(d.Delay)
		p.Status, p.NextAttemptAt = &pending, &next
		if f.Class == rules.ClassThrottled {
			p.UndoAttempt, p.Throttled, p.Deferred = true, true, d.Delay
		}
		if d.Action == rules.ActionSwitch && !slices.Contains(failed, acc.ID) {
			list := strings.Trim(m.FailedAccounts+","+strconv.FormatInt(acc.ID, 10), ",")
			p.FailedAccounts = &list
		}
		return store.MemberUpdate{TaskID: m.TaskID, Patch: p}
	}
	code := f.Code
	if d.Action == "" || code == "" {
		code = CodeGaveUp
	}
	u := finalUpdate(m.TaskID, from, stFailed, code, detail, f.Class == rules.ClassUnknownOutcome, e.a.now())
	u.Patch.LastError = &text
	return u
}

func memberFailureText(f rules.Failure) string {
	if f.Code == "" {
		return string(f.Class) + ": " + f.Message
	}
	return string(f.Class) + ": " + f.Code + ": " + f.Message
}

// finalUpdate ends a member in status (failed or cancelled) from one of
// the from statuses; maybeSent keeps its quota unit (an unknown outcome).
func finalUpdate(taskID string, from []string, status, code, detail string, maybeSent bool, now time.Time) store.MemberUpdate {
	st := status
	p := store.MemberPatch{From: from, MessagePatch: store.MessagePatch{Status: &st, FinishedAt: &now, MaybeSent: maybeSent},
		Event: &store.MessageEvent{Kind: memberFinished, Status: status, Code: code, Detail: detail}}
	if status == stFailed {
		d := detail
		p.LastError = &d
	}
	if status == stCancelled {
		p.Event.Kind = memberCancelled
	}
	return store.MemberUpdate{TaskID: taskID, Patch: p}
}

// write applies updates, counting into n those that applied.
func (a *Activities) write(ctx context.Context, updates []store.MemberUpdate, n *int) error {
	if len(updates) == 0 {
		return nil
	}
	applied, err := a.batches.UpdateBatchMembers(ctx, updates)
	if err != nil {
		return fmt.Errorf("write member outcomes: %w", err)
	}
	if n != nil {
		for _, ok := range applied {
			if ok {
				*n++
			}
		}
	}
	return nil
}

// endMembers ends members with one status and code.
func (a *Activities) endMembers(ctx context.Context, ms []store.Message, status, code, detail string, res *ChunkResult) error {
	updates := make([]store.MemberUpdate, len(ms))
	for i, m := range ms {
		updates[i] = finalUpdate(m.TaskID, []string{stPending}, status, code, detail, false, a.now())
	}
	return a.write(ctx, updates, &res.Failed)
}

// reconcileMembers settles the members of the range left processing: an
// earlier execution of this chunk (or a send whose answer was lost)
// claimed them, and may or may not have reached the provider. Where the
// provider can be asked, it is; where not, the account's
// on_unknown_outcome decides between failing and sending again.
func (a *Activities) reconcileMembers(ctx context.Context, env *bulkEnv, req ChunkRequest, res *ChunkResult) error {
	left, err := a.batches.LoadBatchMembers(ctx, store.BatchMemberFilter{
		BatchID: req.BatchID, FromSeq: req.FromSeq, ToSeq: req.ToSeq, Statuses: []string{stProcessing},
	})
	if err != nil || len(left) == 0 {
		return err
	}
	var updates []store.MemberUpdate
	for i := range left {
		m := &left[i]
		env.hydrate(m)
		u, err := a.reconcileMember(ctx, env, m)
		if err != nil {
			return err
		}
		updates = append(updates, u)
		res.Reconciled++
	}
	return a.write(ctx, updates, nil)
}

func (a *Activities) reconcileMember(ctx context.Context, env *bulkEnv, m *store.Message) (store.MemberUpdate, error) {
	unknown := rules.Failure{Scene: rules.SceneSendFailure, Class: rules.ClassUnknownOutcome, Code: "SEND_NOT_CONFIRMED",
		Message: "a chunk's send may have reached the provider"}
	if m.AccountID == nil || env.channel == nil {
		return finalUpdate(m.TaskID, []string{stProcessing}, stFailed, CodeUnknownNotResent, unknown.Message, true, a.now()), nil
	}
	acc := env.account(*m.AccountID)
	if acc == nil {
		loaded, err := a.store.GetAccount(ctx, *m.AccountID)
		if err != nil {
			return finalUpdate(m.TaskID, []string{stProcessing}, stFailed, CodeUnknownNotResent, unknown.Message, true, a.now()), nil //nolint:nilerr // a deleted account cannot be asked; the member ends as the rules for unknown outcomes say
		}
		acc = loaded
	}
	unknown.ProviderKind, unknown.MessageType = acc.Kind, env.channel.Type
	sender, err := a.sender(acc)
	checker, canCheck := sender.(providers.StatusChecker)
	prov, _ := a.providers.Get(acc.Kind)
	var policy providers.SendPolicy
	if prov != nil {
		policy = providers.SendPolicyOf(prov, providers.Account{ID: acc.ID, Kind: acc.Kind, Config: acc.Config})
	}
	if _, batched := sender.(providers.BatchSender); batched && policy.BatchUnchecked {
		// Its status pull cannot resolve a send that went out in a batch
		// request (and may be pulled only once).
		canCheck = false
	}
	if err == nil && canCheck {
		rcpt, found, err := checker.CheckStatus(ctx, providers.StatusQuery{TaskID: m.TaskID, Receiver: m.Receiver, SentAt: m.UpdatedAt.Add(-time.Minute), Batched: true})
		if err == nil && found {
			return a.reconciledUpdate(m.TaskID, acc, rcpt, prov != nil && prov.ReceiptHandler() != nil), nil
		}
		if err != nil {
			a.log.Warn("status check of a batch member failed", zap.String("task_id", m.TaskID), zapAccount(acc.ID), zapErr(err))
		}
		return env.decide(m, acc, unknown, []string{stProcessing}, memberSendFailed), nil
	}
	if policy.OnUnknownOutcome == providers.OnUnknownFail {
		return finalUpdate(m.TaskID, []string{stProcessing}, stFailed, CodeUnknownNotResent,
			"the outcome of the send is unknown and the account does not resend (on_unknown_outcome: fail)", true, a.now()), nil
	}
	return env.decide(m, acc, unknown, []string{stProcessing}, memberSendFailed), nil
}

// reconciledUpdate records what a status check found of a member's send.
func (a *Activities) reconciledUpdate(taskID string, acc *store.ProviderAccount, r providers.Receipt, expectsReceipt bool) store.MemberUpdate {
	u := a.acceptedUpdate(taskID, acc, providers.Result{ProviderMessageID: r.ProviderMessageID}, expectsReceipt)
	u.Patch.Event.Kind = memberReconciled
	switch r.Status {
	case providers.ReceiptDelivered:
		now := a.now()
		success, cb := stSuccess, string(r.Status)
		u.Patch.Status, u.Patch.CallbackStatus, u.Patch.FinishedAt, u.Patch.SentAt = &success, &cb, &now, nil
	case providers.ReceiptFailed, providers.ReceiptRejected:
		// Sent, with the verdict the next settle pass hands to the rules.
		cb := string(r.Status)
		u.Patch.CallbackStatus = &cb
	}
	return u
}

// SettleRequest asks for one settle pass over a batch.
type SettleRequest struct {
	BatchID string
	// Bucket is the BatchSeq width of the work ranges returned (the
	// chunk size).
	Bucket int
}

// SeqRange is a range of BatchSeq, both ends included.
type SeqRange struct{ From, To int }

// SettleResult is a batch's state after a settle pass.
type SettleResult struct {
	ByStatus map[string]int
	// Due counts members to send now; WorkRanges are the BatchSeq ranges
	// holding them or members left processing.
	Due        int
	WorkRanges []SeqRange
	// NextDue is when the earliest member waiting for a retry is due.
	NextDue time.Time
	// Final is true when every member is final.
	Final bool
}

// SettleBatch hands the rule engine the members whose receipt failed or
// never came within the channel's receipt timeout (after asking the
// provider, where it can answer), and counts the batch's members. The
// batch workflow runs it every few seconds instead of taking a signal per
// receipt.
func (a *Activities) SettleBatch(ctx context.Context, req SettleRequest) (SettleResult, error) {
	defer keepAlive(ctx, BulkHeartbeatEvery)()
	var res SettleResult
	if a.batches == nil {
		return res, temporal.NewNonRetryableApplicationError("batch store not configured in this worker", "batch.unconfigured", nil)
	}
	b, err := a.batches.GetBatch(ctx, req.BatchID)
	if err != nil {
		return res, fmt.Errorf("load batch %s: %w", req.BatchID, err)
	}
	// A member still staged (its chunk failed for good before it wrote
	// the rows) is counted and found due only as a row.
	if _, err := a.batches.ExpandBatchMembers(ctx, b.ID, 1, 0); err != nil {
		return res, err
	}
	env, err := a.bulkEnv(ctx, b)
	if err != nil {
		return res, err
	}
	if env.channel != nil {
		if err := a.settleReceipts(ctx, env, b); err != nil {
			return res, err
		}
	}
	counts, err := a.batches.CountBatchWork(ctx, b.ID, a.now(), req.Bucket)
	if err != nil {
		return res, err
	}
	res.ByStatus, res.Due, res.Final = counts.ByStatus, counts.Due, counts.Final()
	for _, r := range counts.WorkRanges {
		res.WorkRanges = append(res.WorkRanges, SeqRange{From: r.From, To: r.To})
	}
	if counts.NextDue != nil {
		res.NextDue = *counts.NextDue
	}
	return res, nil
}

func (a *Activities) settleReceipts(ctx context.Context, env *bulkEnv, b *store.Batch) error {
	failed, err := a.batches.LoadBatchMembers(ctx, store.BatchMemberFilter{
		BatchID: b.ID, Statuses: []string{stSent}, CallbackStatuses: []string{"failed", "rejected"}, Limit: settleLimit,
	})
	if err != nil {
		return err
	}
	var updates []store.MemberUpdate
	for i := range failed {
		m := &failed[i]
		acc := a.memberAccount(ctx, env, m)
		if acc == nil {
			continue
		}
		f := rules.Failure{Scene: rules.SceneCallbackFailure, Class: rules.ClassReceiptFailed, Code: m.CallbackStatus,
			Message: m.LastError, ProviderKind: acc.Kind, MessageType: env.channel.Type}
		updates = append(updates, env.decide(m, acc, f, []string{stSent}, memberDecision))
	}
	cutoff := a.now().Add(-env.timeout)
	late, err := a.batches.LoadBatchMembers(ctx, store.BatchMemberFilter{
		BatchID: b.ID, Statuses: []string{stSent}, SentBefore: &cutoff, Limit: settleLimit,
	})
	if err != nil {
		return err
	}
	lateUpdates := make([]store.MemberUpdate, len(late))
	var wg sync.WaitGroup
	sem := make(chan struct{}, BulkConcurrency)
	for i := range late {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			lateUpdates[i] = a.receiptTimedOut(ctx, env, &late[i])
		}()
		if i%100 == 99 {
			activity.RecordHeartbeat(ctx, i)
		}
	}
	wg.Wait()
	for _, u := range lateUpdates {
		if u.TaskID != "" {
			updates = append(updates, u)
		}
	}
	return a.write(ctx, updates, nil)
}

// receiptTimedOut settles a sent member whose receipt did not come within
// the channel's receipt timeout: the provider's own status where it can
// tell one, else a receipt timeout for the rule engine. An empty TaskID
// means nothing to write.
func (a *Activities) receiptTimedOut(ctx context.Context, env *bulkEnv, m *store.Message) store.MemberUpdate {
	env.hydrate(m)
	acc := a.memberAccount(ctx, env, m)
	if acc == nil {
		return store.MemberUpdate{}
	}
	detail := fmt.Sprintf("no delivery receipt within %s", env.timeout)
	if sender, err := a.sender(acc); err == nil {
		if checker, ok := sender.(providers.StatusChecker); ok {
			rcpt, found, err := checker.CheckStatus(ctx, providers.StatusQuery{TaskID: m.TaskID, ProviderMessageID: m.ProviderMessageID, Receiver: m.Receiver, SentAt: deref(m.SentAt)})
			if err == nil && found && rcpt.Status != providers.ReceiptPending {
				return a.checkedUpdate(m.TaskID, acc, rcpt)
			}
			detail += "; the provider has no final status either"
		}
	}
	f := rules.Failure{Scene: rules.SceneCallbackFailure, Class: rules.ClassReceiptTimeout, Code: CodeReceiptTimeout,
		Message: detail, ProviderKind: acc.Kind, MessageType: env.channel.Type}
	return env.decide(m, acc, f, []string{stSent}, memberTimeout)
}

// checkedUpdate records the final status a provider reported for a sent
// member whose receipt never came: delivered ends it, a failure waits for
// the next pass's rule engine with its verdict.
func (a *Activities) checkedUpdate(taskID string, acc *store.ProviderAccount, r providers.Receipt) store.MemberUpdate {
	accountID := acc.ID
	cb := string(r.Status)
	p := store.MemberPatch{From: []string{stSent}, MessagePatch: store.MessagePatch{CallbackStatus: &cb},
		Event: &store.MessageEvent{Kind: memberReconciled, Status: cb, AccountID: &accountID, Code: r.Code, Detail: "receipt missing; the provider reports " + cb}}
	if r.Status == providers.ReceiptDelivered {
		now := a.now()
		success := stSuccess
		p.Status, p.FinishedAt = &success, &now
	} else {
		text := "receipt " + cb
		if r.Description != "" {
			text += " (" + r.Description + ")"
		}
		p.LastError = &text
	}
	return store.MemberUpdate{TaskID: taskID, Patch: p}
}

func deref(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}

// memberAccount is the account of a member's current attempt.
func (a *Activities) memberAccount(ctx context.Context, env *bulkEnv, m *store.Message) *store.ProviderAccount {
	if m.AccountID == nil {
		return nil
	}
	if acc := env.account(*m.AccountID); acc != nil {
		return acc
	}
	acc, err := a.store.GetAccount(ctx, *m.AccountID)
	if err != nil {
		return &store.ProviderAccount{ID: *m.AccountID}
	}
	return acc
}

// CancelMembersRequest cancels a batch's members not yet on their way.
type CancelMembersRequest struct {
	BatchID string
	// TaskID, when set, cancels this one member only.
	TaskID string
}

// ErrorNotCancellable is the application error type of a member that is
// on its way or final and can no longer be cancelled.
const ErrorNotCancellable = "batch.member_not_cancellable"

// CancelBatchMembers cancels the batch's pending members (or one of them):
// conditional updates, so a member a running chunk claimed first is left
// to that chunk. It returns how many it cancelled; for one member that is
// not pending, a non-retryable ErrorNotCancellable error.
func (a *Activities) CancelBatchMembers(ctx context.Context, req CancelMembersRequest) (int, error) {
	defer keepAlive(ctx, BulkHeartbeatEvery)()
	if a.batches == nil {
		return 0, temporal.NewNonRetryableApplicationError("batch store not configured in this worker", "batch.unconfigured", nil)
	}
	if req.TaskID != "" {
		m, err := a.batches.GetMessage(ctx, req.TaskID)
		if errors.Is(err, store.ErrNotFound) || (err == nil && m.BatchID != req.BatchID) {
			return 0, temporal.NewNonRetryableApplicationError("no such member of the batch", ErrorNotCancellable, nil)
		}
		if err != nil {
			return 0, err
		}
		applied, err := a.batches.UpdateBatchMembers(ctx, []store.MemberUpdate{
			finalUpdate(req.TaskID, []string{stPending}, stCancelled, "", "cancelled on request", false, a.now()),
		})
		if err != nil {
			return 0, err
		}
		if !applied[0] {
			return 0, temporal.NewNonRetryableApplicationError("the member is "+m.Status+" and can no longer be cancelled", ErrorNotCancellable, nil)
		}
		return 1, nil
	}
	if _, err := a.batches.ExpandBatchMembers(ctx, req.BatchID, 1, 0); err != nil {
		return 0, err
	}
	total := 0
	for {
		ms, err := a.batches.LoadBatchMembers(ctx, store.BatchMemberFilter{BatchID: req.BatchID, Statuses: []string{stPending}, Limit: 500})
		if err != nil {
			return total, err
		}
		if len(ms) == 0 {
			return total, nil
		}
		updates := make([]store.MemberUpdate, len(ms))
		for i, m := range ms {
			updates[i] = finalUpdate(m.TaskID, []string{stPending}, stCancelled, CodeBatchCancelled, "the batch was cancelled", false, a.now())
		}
		if err := a.write(ctx, updates, &total); err != nil {
			return total, err
		}
		activity.RecordHeartbeat(ctx, total)
	}
}

// ExpandRequest names the batch whose staged members ExpandBatch writes.
type ExpandRequest struct {
	BatchID string
}

// ExpandBatch gives every staged member of a batch its message row, run
// by run, and returns how many it wrote. The batch workflow runs it once
// when it starts, beside its chunks, so the members of a batch that waits
// (scheduled, paused, held by quiet hours) are listed and found by
// receiver well before their chunks run.
func (a *Activities) ExpandBatch(ctx context.Context, req ExpandRequest) (int, error) {
	defer keepAlive(ctx, BulkHeartbeatEvery)()
	if a.batches == nil {
		return 0, temporal.NewNonRetryableApplicationError("batch store not configured in this worker", "batch.unconfigured", nil)
	}
	return a.batches.ExpandBatchMembers(ctx, req.BatchID, 1, 0)
}

// BatchStatusRequest sets a batch's status.
type BatchStatusRequest struct {
	BatchID  string
	Status   string
	Finished bool
}

// SetBatchStatus writes a batch's status (and finish time).
func (a *Activities) SetBatchStatus(ctx context.Context, req BatchStatusRequest) error {
	if a.batches == nil {
		return temporal.NewNonRetryableApplicationError("batch store not configured in this worker", "batch.unconfigured", nil)
	}
	return a.batches.RecordBatchStatus(ctx, req.BatchID, req.Status, req.Finished)
}

// BulkHeartbeatEvery is how often a batch activity tells Temporal its
// worker is alive, whatever it is waiting on (a provider call, a pacing
// slot, the store); the batch workflow's heartbeat timeout is a few of
// these, so a chunk whose worker died is handed to another worker within
// it rather than after the chunk's whole time limit.
const BulkHeartbeatEvery = 5 * time.Second

// keepAlive heartbeats every interval until the returned stop is called.
// Liveness, not progress: each activity's start-to-close timeout still
// bounds one that is stuck. Local activities have no heartbeat.
func keepAlive(ctx context.Context, every time.Duration) (stop func()) {
	if !activity.IsActivity(ctx) || activity.GetInfo(ctx).IsLocalActivity {
		return func() {}
	}
	return tick(ctx, every, func() { activity.RecordHeartbeat(ctx) })
}

// tick calls beat every interval until stop is called or ctx ends; stop
// returns once beat is no longer called.
func tick(ctx context.Context, every time.Duration, beat func()) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				beat()
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
	}
}
