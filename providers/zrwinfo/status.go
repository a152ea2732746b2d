package zrwinfo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/heraldhq/herald/providers"
)

// Limits of the pulled-report store and of one status check.
const (
	// bookTTL is how long a pulled report is kept for a CheckStatus that
	// has not come yet. Reconciliation runs within hours of a send.
	bookTTL = 72 * time.Hour
	// bookMax bounds the reports kept per Zrwinfo account; the oldest go
	// first.
	bookMax = 20000
	// maxPullsPerCheck bounds the pulls one CheckStatus makes while the
	// queue keeps returning reports of other messages.
	maxPullsPerCheck = 10
	// pullSlack lets a report dated a little before SentAt match by
	// number, for clocks a little apart.
	pullSlack = time.Minute
)

// pullAnswer is the status pull's result. Reports are decoded one by one so
// that one malformed report does not cost the others, which Zrwinfo has
// already taken off its queue.
type pullAnswer struct {
	Data []json.RawMessage `json:"data"`
}

// CheckStatus looks up the delivery report of a message with the status
// pull API (/report/status), which Zrwinfo serves only when 主动获取 is
// switched on in its console.
//
// That API is a queue of the account's reports, not a query: every report
// it returns is gone from Zrwinfo. So each pulled report is kept (per
// Zrwinfo account, for 72 hours, in memory) for the checks that come for
// it later, and handed to the WithPulledReceipts function if one is set.
// A check first looks among the kept reports and pulls only when the
// report is not there, up to ten pulls while the queue has reports.
//
// With a ProviderMessageID (an smUuid or a BatchMessageID) the report must
// carry that key. Without one (the send's answer was lost) the report is
// matched by the receiver's number: the earliest report for that number
// dated no earlier than SentAt (less a minute) that no other check took.
// Two sends to one number in flight at once can then swap reports; both
// are to the same receiver.
//
// found is false when no report has come yet.
func (s *Sender) CheckStatus(ctx context.Context, q providers.StatusQuery) (providers.Receipt, bool, error) {
	var mobile string
	if q.ProviderMessageID == "" {
		if strings.TrimSpace(q.Receiver) == "" {
			return providers.Receipt{}, false, errors.New("check zrwinfo status: need a provider message id or a receiver")
		}
		m, err := mainlandMobile(q.Receiver)
		if err != nil {
			return providers.Receipt{}, false, fmt.Errorf("check zrwinfo status: receiver: %w", err)
		}
		mobile = m
	}
	if r, ok := s.book.find(q, mobile); ok {
		return r, true, nil
	}

	s.book.pullMu.Lock()
	defer s.book.pullMu.Unlock()
	// Another check may have pulled the report while this one waited.
	if r, ok := s.book.find(q, mobile); ok {
		return r, true, nil
	}
	for range maxPullsPerCheck {
		got, err := s.pull(ctx, nil)
		if err != nil {
			return providers.Receipt{}, false, err
		}
		if got == 0 {
			break
		}
		if r, ok := s.book.find(q, mobile); ok {
			return r, true, nil
		}
	}
	return providers.Receipt{}, false, nil
}

// PullReceipts pulls one page of reports from Zrwinfo's queue, keeps them
// for CheckStatus, hands them to the WithPulledReceipts function if set,
// and returns them, keyed as the receipt handler keys pushed reports. It
// is for a poller on accounts that use the pull instead of pushes.
// Reports in a shape Herald cannot read are skipped.
func (s *Sender) PullReceipts(ctx context.Context) ([]providers.Receipt, error) {
	s.book.pullMu.Lock()
	defer s.book.pullMu.Unlock()
	var out []providers.Receipt
	_, err := s.pull(ctx, func(rs []providers.Receipt) { out = append(out, rs...) })
	if err != nil {
		return nil, err
	}
	return out, nil
}

// pull pulls one page, keeps the reports it could read and passes them to
// collect and the sink. It returns how many reports Zrwinfo returned.
// s.book.pullMu must be held.
func (s *Sender) pull(ctx context.Context, collect func([]providers.Receipt)) (int, error) {
	var ans pullAnswer
	if pe := s.call(ctx, "pull sms status", pathStatus, s.credentials(), &ans); pe != nil {
		return 0, pe
	}
	now := s.now()
	groups := make([][]providers.Receipt, 0, len(ans.Data))
	var all []providers.Receipt
	for _, raw := range ans.Data {
		var rep report
		if json.Unmarshal(raw, &rep) != nil {
			continue
		}
		rs, err := rep.receipts(s.now)
		if err != nil {
			continue
		}
		groups = append(groups, rs)
		all = append(all, rs...)
	}
	s.book.add(groups, now)
	if len(all) > 0 {
		if collect != nil {
			collect(all)
		}
		if s.sink != nil {
			s.sink(s.accountID, all)
		}
	}
	return len(ans.Data), nil
}

// reportBook keeps the reports pulled for one Zrwinfo account.
type reportBook struct {
	// pullMu makes pulls of one account take turns, so concurrent checks
	// do not drain the queue past each other.
	pullMu sync.Mutex

	mu      sync.Mutex
	entries []*bookEntry // oldest first
	byKey   map[string]*bookEntry
}

// bookEntry is one pulled report.
type bookEntry struct {
	receipt providers.Receipt // the report's primary receipt
	keys    []string
	mobile  string
	added   time.Time
	// claimed is set once a check took the report, so a match by number
	// does not hand it out twice.
	claimed bool
}

func newReportBook() *reportBook {
	return &reportBook{byKey: make(map[string]*bookEntry)}
}

// add keeps one entry per report; groups holds each report's receipts,
// primary first.
func (b *reportBook) add(groups [][]providers.Receipt, now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, rs := range groups {
		e := &bookEntry{
			receipt: rs[0],
			mobile:  strings.TrimPrefix(rs[0].Receiver, "+86"),
			added:   now,
		}
		for _, r := range rs {
			e.keys = append(e.keys, r.ProviderMessageID)
			b.byKey[r.ProviderMessageID] = e
		}
		b.entries = append(b.entries, e)
	}
	drop := 0
	for drop < len(b.entries) && (len(b.entries)-drop > bookMax || now.Sub(b.entries[drop].added) > bookTTL) {
		for _, k := range b.entries[drop].keys {
			if b.byKey[k] == b.entries[drop] {
				delete(b.byKey, k)
			}
		}
		b.entries[drop] = nil
		drop++
	}
	b.entries = b.entries[drop:]
}

// find returns the kept report for q: by key when q has a
// ProviderMessageID, otherwise by number (see CheckStatus).
func (b *reportBook) find(q providers.StatusQuery, mobile string) (providers.Receipt, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if q.ProviderMessageID != "" {
		e, ok := b.byKey[q.ProviderMessageID]
		if !ok {
			return providers.Receipt{}, false
		}
		e.claimed = true
		r := e.receipt
		r.ProviderMessageID = q.ProviderMessageID
		return r, true
	}
	var best *bookEntry
	for _, e := range b.entries {
		if e.claimed || e.mobile != mobile {
			continue
		}
		if !q.SentAt.IsZero() && e.receipt.At.Before(q.SentAt.Add(-pullSlack)) {
			continue
		}
		if best == nil || e.receipt.At.Before(best.receipt.At) {
			best = e
		}
	}
	if best == nil {
		return providers.Receipt{}, false
	}
	best.claimed = true
	return best.receipt, true
}
