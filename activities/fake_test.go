package activities

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"

	"github.com/heraldhq/herald/providers"
	"github.com/heraldhq/herald/store"
)

// fakeStore is an in-memory Store. It hands out copies, so activities
// cannot change its rows except through the write methods, which it
// records.
type fakeStore struct {
	mu          sync.Mutex
	apps        map[string]store.App
	messages    map[string]store.Message
	batches     map[string]store.Batch
	channels    map[int64]store.Channel
	templates   map[int64]store.Template
	accounts    map[int64]store.ProviderAccount
	pools       map[int64][]store.PoolMember
	mappings    map[[2]int64]store.TemplateMapping
	rules       []store.Rule
	patches     []store.MessagePatch
	events      []store.MessageEvent
	records     []recordCall
	providerIDs []providerID
	// failAddProviderID fails that many AddProviderMessageID calls first.
	failAddProviderID int
}

// recordCall is one RecordMessage call as the store received it.
type recordCall struct {
	TaskID string
	Patch  store.MessagePatch
	Events []store.MessageEvent
}

type providerID struct {
	TaskID            string
	AccountID         int64
	ProviderMessageID string
}

var _ Store = (*fakeStore)(nil)

func newFakeStore() *fakeStore {
	return &fakeStore{
		apps:      make(map[string]store.App),
		messages:  make(map[string]store.Message),
		batches:   make(map[string]store.Batch),
		channels:  make(map[int64]store.Channel),
		templates: make(map[int64]store.Template),
		accounts:  make(map[int64]store.ProviderAccount),
		pools:     make(map[int64][]store.PoolMember),
		mappings:  make(map[[2]int64]store.TemplateMapping),
	}
}

func (s *fakeStore) GetBatch(_ context.Context, id string) (*store.Batch, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.batches[id]
	if !ok {
		return nil, fmt.Errorf("batch %s: %w", id, store.ErrNotFound)
	}
	return &v, nil
}

func (s *fakeStore) GetApp(_ context.Context, id string) (*store.App, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.apps[id]
	if !ok {
		return nil, store.ErrNotFound
	}
	return &v, nil
}

func (s *fakeStore) GetMessage(_ context.Context, taskID string) (*store.Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.messages[taskID]
	if !ok {
		return nil, store.ErrNotFound
	}
	return &v, nil
}

func (s *fakeStore) GetChannel(_ context.Context, id int64) (*store.Channel, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.channels[id]
	if !ok {
		return nil, store.ErrNotFound
	}
	return &v, nil
}

func (s *fakeStore) GetTemplate(_ context.Context, id int64) (*store.Template, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.templates[id]
	if !ok {
		return nil, store.ErrNotFound
	}
	return &v, nil
}

func (s *fakeStore) ChannelPool(_ context.Context, channelID int64) ([]store.PoolMember, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]store.PoolMember(nil), s.pools[channelID]...), nil
}

func (s *fakeStore) ListRules(_ context.Context, scene string) ([]store.Rule, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []store.Rule
	for _, r := range s.rules {
		if r.Enabled && (scene == "" || r.Scene == scene) {
			out = append(out, r)
		}
	}
	return out, nil
}

func (s *fakeStore) GetAccount(_ context.Context, id int64) (*store.ProviderAccount, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.accounts[id]
	if !ok {
		return nil, store.ErrNotFound
	}
	return &v, nil
}

func (s *fakeStore) GetTemplateMapping(_ context.Context, templateID, accountID int64) (*store.TemplateMapping, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.mappings[[2]int64{templateID, accountID}]
	if !ok {
		return nil, store.ErrNotFound
	}
	return &v, nil
}

func (s *fakeStore) UpdateMessage(_ context.Context, taskID string, p store.MessagePatch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.messages[taskID]; !ok {
		return store.ErrNotFound
	}
	s.applyPatch(taskID, p)
	return nil
}

// RecordMessage behaves like the real store's: all or nothing, an empty
// patch leaves the message alone, and events are idempotent on (task, seq).
func (s *fakeStore) RecordMessage(_ context.Context, taskID string, p store.MessagePatch, events []*store.MessageEvent) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	// Both the patch and the events need the task, so nothing is written
	// for a missing one.
	if _, ok := s.messages[taskID]; !ok && (p != store.MessagePatch{} || len(events) > 0) {
		return store.ErrNotFound
	}
	call := recordCall{TaskID: taskID, Patch: p}
	if p != (store.MessagePatch{}) {
		s.applyPatch(taskID, p)
	}
	for _, e := range events {
		e.TaskID = taskID
		call.Events = append(call.Events, *e)
		s.addEvent(*e)
	}
	s.records = append(s.records, call)
	return nil
}

// applyPatch changes an existing message; the caller holds s.mu.
func (s *fakeStore) applyPatch(taskID string, p store.MessagePatch) {
	m := s.messages[taskID]
	s.patches = append(s.patches, p)
	if p.Status != nil {
		m.Status = *p.Status
	}
	if p.CallbackStatus != nil {
		m.CallbackStatus = *p.CallbackStatus
	}
	if p.AccountID != nil {
		id := *p.AccountID
		m.AccountID = &id
	}
	if p.ProviderMessageID != nil {
		m.ProviderMessageID = *p.ProviderMessageID
	}
	if p.AttemptCount != nil {
		m.AttemptCount = *p.AttemptCount
	}
	if p.LastError != nil {
		m.LastError = *p.LastError
	}
	if p.FinishedAt != nil {
		at := *p.FinishedAt
		m.FinishedAt = &at
	}
	s.messages[taskID] = m
}

// addEvent appends e unless its (task, seq) is stored; the caller holds
// s.mu.
func (s *fakeStore) addEvent(e store.MessageEvent) {
	for _, have := range s.events {
		if have.TaskID == e.TaskID && have.Seq == e.Seq {
			return
		}
	}
	s.events = append(s.events, e)
}

func (s *fakeStore) AddProviderMessageID(_ context.Context, taskID string, accountID int64, pid string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failAddProviderID > 0 {
		s.failAddProviderID--
		return errFakeStoreDown
	}
	id := providerID{TaskID: taskID, AccountID: accountID, ProviderMessageID: pid}
	for _, have := range s.providerIDs {
		if have == id {
			return nil
		}
	}
	s.providerIDs = append(s.providerIDs, id)
	return nil
}

// RecordAccepted behaves like the real store's: the provider id mapping,
// the patch (with account and provider id) and the events together, or
// nothing.
func (s *fakeStore) RecordAccepted(ctx context.Context, taskID string, accountID int64, pid string, p store.MessagePatch, events []*store.MessageEvent) error {
	s.mu.Lock()
	if _, ok := s.messages[taskID]; !ok {
		s.mu.Unlock()
		return store.ErrNotFound
	}
	s.mu.Unlock()
	if pid != "" {
		if err := s.AddProviderMessageID(ctx, taskID, accountID, pid); err != nil {
			return err
		}
		p.ProviderMessageID = &pid
	}
	p.AccountID = &accountID
	return s.RecordMessage(ctx, taskID, p, events)
}

func (s *fakeStore) message(t *testing.T, taskID string) store.Message {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.messages[taskID]
	if !ok {
		t.Fatalf("no message %s", taskID)
	}
	return m
}

func (s *fakeStore) recordedIDs() []providerID {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]providerID(nil), s.providerIDs...)
}

func (s *fakeStore) recordedEvents() []store.MessageEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]store.MessageEvent(nil), s.events...)
}

func (s *fakeStore) recordedPatches() []store.MessagePatch {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]store.MessagePatch(nil), s.patches...)
}

func (s *fakeStore) recordCalls() []recordCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]recordCall(nil), s.records...)
}

type fakeError string

func (e fakeError) Error() string { return string(e) }

const errFakeStoreDown = fakeError("store unavailable")

// fakeProvider is a provider kind whose senders answer what the test says.
type fakeProvider struct {
	kind string
	// receipts makes ReceiptHandler non-nil.
	receipts bool
	// checks makes senders implement providers.StatusChecker.
	checks bool
	// newErr fails NewSender.
	newErr error
	// policy is what SendPolicy reports.
	policy providers.SendPolicy

	mu     sync.Mutex
	built  []providers.Account
	sent   []providers.Message
	result providers.Result
	err    error
	// check answers CheckStatus.
	check struct {
		receipt providers.Receipt
		found   bool
		err     error
	}
	queries []providers.StatusQuery
}

var _ providers.Provider = (*fakeProvider)(nil)

func (p *fakeProvider) Kind() string                         { return p.kind }
func (p *fakeProvider) ValidateConfig(json.RawMessage) error { return nil }

func (p *fakeProvider) NewSender(acc providers.Account) (providers.Sender, error) {
	if p.newErr != nil {
		return nil, p.newErr
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.built = append(p.built, acc)
	if p.checks {
		return checkingSender{fakeSender{p}}, nil
	}
	return fakeSender{p}, nil
}

func (p *fakeProvider) SendPolicy(providers.Account) providers.SendPolicy { return p.policy }

func (p *fakeProvider) ReceiptHandler() providers.ReceiptHandler {
	if p.receipts {
		return fakeReceipts{}
	}
	return nil
}

func (p *fakeProvider) messages() []providers.Message {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]providers.Message(nil), p.sent...)
}

func (p *fakeProvider) accounts() []providers.Account {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]providers.Account(nil), p.built...)
}

func (p *fakeProvider) statusQueries() []providers.StatusQuery {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]providers.StatusQuery(nil), p.queries...)
}

type fakeSender struct{ p *fakeProvider }

func (s fakeSender) Send(_ context.Context, msg providers.Message) (providers.Result, error) {
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	s.p.sent = append(s.p.sent, msg)
	return s.p.result, s.p.err
}

type checkingSender struct{ fakeSender }

func (s checkingSender) CheckStatus(_ context.Context, q providers.StatusQuery) (providers.Receipt, bool, error) {
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	s.p.queries = append(s.p.queries, q)
	return s.p.check.receipt, s.p.check.found, s.p.check.err
}

type fakeReceipts struct{}

func (fakeReceipts) ParseReceipts(*http.Request) ([]providers.Receipt, error) { return nil, nil }
func (fakeReceipts) Acknowledge(http.ResponseWriter, bool)                    {}

// now is the fixed clock of the activities under test.
var now = time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)

const taskID = "0b6c1b0e-8a5e-4a36-9a53-0d2f5a3c6e11"

// world is one message in a channel with a fake provider account, over a
// fake store.
type world struct {
	st   *fakeStore
	prov *fakeProvider
	acts *Activities
}

// setup builds a world: app "app-1", channel 3 (SMS, template 9 with
// variables code and minutes), account 11 of the fake kind in its pool, and
// one pending message.
func setup(t *testing.T, opts ...Option) *world {
	t.Helper()
	st := newFakeStore()
	prov := &fakeProvider{kind: "fake", receipts: true}
	tplID := int64(9)
	st.apps["app-1"] = store.App{ID: "app-1", Name: "shop", Enabled: true}
	st.templates[tplID] = store.Template{ID: tplID, Name: "otp", ContentType: "text/plain", Content: "Code {{code}}, valid {{minutes}} min", Variables: []string{"code", "minutes"}}
	st.channels[3] = store.Channel{ID: 3, Name: "otp-sms", Type: store.ChannelSMS, TemplateID: &tplID, Enabled: true}
	acc := store.ProviderAccount{ID: 11, Name: "primary", Kind: "fake", Config: json.RawMessage(`{}`), Weight: 1, Enabled: true, CallbackToken: "tok", UpdatedAt: now}
	st.accounts[acc.ID] = acc
	st.pools[3] = []store.PoolMember{{Account: acc, Weight: 1}}
	st.messages[taskID] = store.Message{
		TaskID: taskID, AppID: "app-1", ChannelID: 3, MessageType: store.ChannelSMS,
		Receiver: "+8613800138000", Content: "Code 4321, valid 5 min",
		TemplateParams: map[string]string{"code": "4321", "minutes": "5"}, SignatureName: "Shop",
		Status: "pending",
	}
	opts = append([]Option{WithClock(func() time.Time { return now })}, opts...)
	a := New(Config{CallbackBaseURL: "https://herald.example"}, st, providers.NewRegistry(prov), nil, opts...)
	return &world{st: st, prov: prov, acts: a}
}

// newSuite returns a test suite that keeps the SDK's logs out of the test
// output: failed sends are logged at error level by design.
func newSuite() *testsuite.WorkflowTestSuite {
	s := &testsuite.WorkflowTestSuite{}
	s.SetLogger(log.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	return s
}
