package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/google/uuid"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/heraldhq/herald/providers"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/workflows"
)

// fakeStore is an in-memory Store with the contract of the real one:
// ErrNotFound for missing rows, ErrConflict for taken keys.
type fakeStore struct {
	mu          sync.Mutex
	apps        map[string]store.App
	channels    map[int64]store.Channel
	templates   map[int64]store.Template
	pools       map[int64][]store.PoolMember
	accounts    map[int64]store.ProviderAccount
	messages    map[string]*store.Message
	batches     map[string]*store.Batch
	events      map[string][]store.MessageEvent
	providerIDs map[string]string            // "<account>/<provider id>" -> task id
	grants      map[string]bool              // "<app>/<channel>"
	suppressed  map[string]store.Suppression // "<app>/<type>/<receiver key>"
	nextID      int64

	// Hooks and injected failures.
	fail func(method string) error // may panic, too
	// onGetMessage runs before each GetMessage reads, unlocked.
	onGetMessage func()
	// memberReceiptCalls counts ApplyMemberReceipts calls.
	memberReceiptCalls int
	pingErr            error
	beforeCreate       func(msgs []*store.Message, batch *store.Batch) // runs unlocked
	addEventErrs       []error                                         // popped per AddEvent call
}

func newFakeStore() *fakeStore {
	return &fakeStore{
		apps:        map[string]store.App{},
		channels:    map[int64]store.Channel{},
		templates:   map[int64]store.Template{},
		pools:       map[int64][]store.PoolMember{},
		accounts:    map[int64]store.ProviderAccount{},
		messages:    map[string]*store.Message{},
		batches:     map[string]*store.Batch{},
		events:      map[string][]store.MessageEvent{},
		providerIDs: map[string]string{},
		grants:      map[string]bool{},
		suppressed:  map[string]store.Suppression{},
	}
}

func (f *fakeStore) SuppressedKeys(_ context.Context, appID, channelType string, keys []string) (map[string]bool, error) {
	if err := f.injected("SuppressedKeys"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]bool{}
	for _, k := range keys {
		if _, ok := f.suppressed[appID+"/"+channelType+"/"+k]; ok {
			out[k] = true
		}
	}
	return out, nil
}

func (f *fakeStore) AddSuppression(_ context.Context, s *store.Suppression) error {
	if err := f.injected("AddSuppression"); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	k := s.AppID + "/" + s.ChannelType + "/" + s.ReceiverKey
	if _, ok := f.suppressed[k]; !ok {
		f.suppressed[k] = *s
	}
	return nil
}

func notFound(what string, id any) error { return fmt.Errorf("%s %v: %w", what, id, store.ErrNotFound) }

func (f *fakeStore) injected(method string) error {
	if f.fail == nil {
		return nil
	}
	return f.fail(method)
}

func (f *fakeStore) GetApp(_ context.Context, id string) (*store.App, error) {
	if err := f.injected("GetApp"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	a, ok := f.apps[id]
	if !ok {
		return nil, notFound("app", id)
	}
	return &a, nil
}

func (f *fakeStore) GetChannel(_ context.Context, id int64) (*store.Channel, error) {
	if err := f.injected("GetChannel"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.channels[id]
	if !ok {
		return nil, notFound("channel", id)
	}
	return &c, nil
}

func (f *fakeStore) ChannelGranted(_ context.Context, appID string, channelID int64) (bool, error) {
	if err := f.injected("ChannelGranted"); err != nil {
		return false, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.grants[fmt.Sprintf("%s/%d", appID, channelID)], nil
}

func (f *fakeStore) ListChannels(_ context.Context, flt store.ChannelFilter) ([]store.Channel, int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var all []store.Channel
	for _, c := range f.channels {
		if flt.AppID != nil && !f.grants[fmt.Sprintf("%s/%d", *flt.AppID, c.ID)] {
			continue
		}
		if flt.EnabledOnly && !c.Enabled {
			continue
		}
		if flt.Type != nil && c.Type != *flt.Type {
			continue
		}
		all = append(all, c)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].ID > all[j].ID })
	total := len(all)
	if flt.Offset >= len(all) {
		return []store.Channel{}, total, nil
	}
	all = all[flt.Offset:]
	if flt.Limit > 0 && flt.Limit < len(all) {
		all = all[:flt.Limit]
	}
	return all, total, nil
}

func (f *fakeStore) GetTemplate(_ context.Context, id int64) (*store.Template, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t, ok := f.templates[id]
	if !ok {
		return nil, notFound("template", id)
	}
	return &t, nil
}

func (f *fakeStore) ChannelPool(_ context.Context, channelID int64) ([]store.PoolMember, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]store.PoolMember(nil), f.pools[channelID]...), nil
}

func (f *fakeStore) CreateMessages(_ context.Context, msgs []*store.Message, batch *store.Batch) error {
	if f.beforeCreate != nil {
		f.beforeCreate(msgs, batch)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if batch != nil {
		if _, ok := f.batches[batch.ID]; ok {
			return fmt.Errorf("batch id: %w", store.ErrConflict)
		}
		if batch.IdempotencyKey != "" {
			for _, b := range f.batches {
				if b.AppID == batch.AppID && b.IdempotencyKey == batch.IdempotencyKey {
					return fmt.Errorf("batch idempotency key: %w", store.ErrConflict)
				}
			}
		}
	}
	for _, m := range msgs {
		if _, ok := f.messages[m.TaskID]; ok {
			return fmt.Errorf("task id: %w", store.ErrConflict)
		}
		if m.IdempotencyKey == "" {
			continue
		}
		for _, o := range f.messages {
			if o.AppID == m.AppID && o.IdempotencyKey == m.IdempotencyKey {
				return fmt.Errorf("idempotency key: %w", store.ErrConflict)
			}
		}
	}
	if batch != nil {
		b := *batch
		f.batches[b.ID] = &b
	}
	for _, m := range msgs {
		f.nextID++
		m.ID = f.nextID
		c := *m
		f.messages[c.TaskID] = &c
	}
	return nil
}

// CreateBatch stores the members as rows numbered by BatchSeq whose
// shared fields stay on the batch, as the real store's expanded members
// are, with the task ids the real store gives them.
func (f *fakeStore) CreateBatch(ctx context.Context, b *store.Batch, member *store.Message, receivers []string) error {
	if b.WorkflowID == "" || len(receivers) == 0 {
		return errors.New("create batch: needs a workflow id and members")
	}
	if b.MemberPrefix == "" {
		b.MemberPrefix = uuid.NewString()[:28]
	}
	b.MessageType, b.SignatureName = member.MessageType, member.SignatureName
	b.UpdatedAt = &b.CreatedAt
	msgs := make([]*store.Message, len(receivers))
	for i, r := range receivers {
		m := *member
		m.TaskID, m.Receiver, m.BatchID, m.BatchSeq = b.MemberTaskID(i+1), r, b.ID, i+1
		m.Subject, m.Content, m.TemplateParams, m.Attachments = "", "", nil, nil
		m.ScheduledAt = b.ScheduledAt
		msgs[i] = &m
	}
	return f.CreateMessages(ctx, msgs, b)
}

// hydrate fills a member from its batch, as the real store's reads do.
// f.mu is held.
func (f *fakeStore) hydrate(m *store.Message) {
	b, ok := f.batches[m.BatchID]
	if m.BatchSeq == 0 || !ok {
		return
	}
	if m.Subject == "" {
		m.Subject = b.Subject
	}
	if m.Content == "" {
		m.Content = b.Content
	}
	if m.TemplateParams == nil {
		m.TemplateParams = b.TemplateParams
	}
	if len(m.Attachments) == 0 {
		m.Attachments = b.Attachments
	}
}

func (f *fakeStore) ListBatchMembers(_ context.Context, batchID string) ([]store.BatchMember, error) {
	if err := f.injected("ListBatchMembers"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var ms []*store.Message
	for _, m := range f.messages {
		if m.BatchID == batchID {
			ms = append(ms, m)
		}
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].BatchSeq < ms[j].BatchSeq })
	out := make([]store.BatchMember, len(ms))
	for i, m := range ms {
		out[i] = store.BatchMember{TaskID: m.TaskID, Receiver: m.Receiver}
	}
	return out, nil
}

func (f *fakeStore) CountBatchMembers(_ context.Context, batchID string) (store.BatchCounts, error) {
	if err := f.injected("CountBatchMembers"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	out := store.BatchCounts{}
	for _, m := range f.messages {
		if m.BatchID == batchID {
			out[m.Status]++
		}
	}
	return out, nil
}

func (f *fakeStore) SetBatchStatus(_ context.Context, batchID, status string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, ok := f.batches[batchID]
	if !ok {
		return notFound("batch", batchID)
	}
	if b.Status == store.BatchRunning || b.Status == store.BatchPaused {
		b.Status = status
	}
	return nil
}

func (f *fakeStore) GetMessage(_ context.Context, taskID string) (*store.Message, error) {
	if f.onGetMessage != nil {
		f.onGetMessage()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	m, ok := f.messages[taskID]
	if !ok {
		return nil, notFound("message", taskID)
	}
	c := *m
	f.hydrate(&c)
	return &c, nil
}

func (f *fakeStore) GetMessageByIdempotencyKey(_ context.Context, appID, key string) (*store.Message, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, m := range f.messages {
		if m.AppID == appID && m.IdempotencyKey == key {
			c := *m
			return &c, nil
		}
	}
	return nil, notFound("message with key", key)
}

func (f *fakeStore) GetBatch(_ context.Context, id string) (*store.Batch, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, ok := f.batches[id]
	if !ok {
		return nil, notFound("batch", id)
	}
	c := *b
	return &c, nil
}

func (f *fakeStore) GetBatchByIdempotencyKey(_ context.Context, appID, key string) (*store.Batch, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, b := range f.batches {
		if b.AppID == appID && b.IdempotencyKey == key {
			c := *b
			return &c, nil
		}
	}
	return nil, notFound("batch with key", key)
}

func (f *fakeStore) ListBatchMessages(_ context.Context, batchID string) ([]store.Message, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []store.Message
	for _, m := range f.messages {
		if m.BatchID == batchID {
			c := *m
			f.hydrate(&c)
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func (f *fakeStore) UpdateMessage(_ context.Context, taskID string, p store.MessagePatch) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	m, ok := f.messages[taskID]
	if !ok {
		return notFound("message", taskID)
	}
	if p.Status != nil {
		m.Status = *p.Status
	}
	if p.CallbackStatus != nil {
		m.CallbackStatus = *p.CallbackStatus
	}
	if p.AccountID != nil {
		m.AccountID = p.AccountID
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
		m.FinishedAt = p.FinishedAt
	}
	return nil
}

func (f *fakeStore) FindTaskByProviderMessageID(_ context.Context, accountID int64, pmid string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	id, ok := f.providerIDs[fmt.Sprintf("%d/%s", accountID, pmid)]
	if !ok {
		return "", notFound("provider message id", pmid)
	}
	return id, nil
}

func (f *fakeStore) FindTasksByProviderMessageIDs(_ context.Context, accountID int64, pmids []string) (map[string]string, error) {
	if err := f.injected("FindTasksByProviderMessageIDs"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]string{}
	for _, pmid := range pmids {
		if id, ok := f.providerIDs[fmt.Sprintf("%d/%s", accountID, pmid)]; ok {
			out[pmid] = id
		}
	}
	return out, nil
}

// ApplyMemberReceipts marks batch-workflow members as the store does, in
// short: delivered ends one success, a failure of a sent one marks it
// for the batch, anything else is late. It counts its calls.
func (f *fakeStore) ApplyMemberReceipts(_ context.Context, receipts []store.TaskReceipt) ([]string, error) {
	if err := f.injected("ApplyMemberReceipts"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.memberReceiptCalls++
	effects := make([]string, len(receipts))
	for i, r := range receipts {
		m, ok := f.messages[r.TaskID]
		switch {
		case !ok || m.BatchSeq == 0:
			effects[i] = store.ReceiptNotMember
		case r.Status == "delivered" && m.Status != "success" && m.Status != "failed" && m.Status != "cancelled":
			m.Status, m.CallbackStatus = "success", r.Status
			effects[i] = store.ReceiptDelivered
		case m.Status == "sent" && m.CallbackStatus == "":
			m.CallbackStatus = r.Status
			effects[i] = store.ReceiptFailedMarked
		default:
			effects[i] = store.ReceiptLate
		}
	}
	return effects, nil
}

func (f *fakeStore) TaskAcceptance(_ context.Context, taskID string, accountID int64) (store.Acceptance, error) {
	if err := f.injected("TaskAcceptance"); err != nil {
		return store.Acceptance{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var a store.Acceptance
	for k, task := range f.providerIDs {
		if task != taskID {
			continue
		}
		switch k {
		case fmt.Sprintf("%d/herald-task:%s", accountID, taskID):
			a.WithoutID = true
		default:
			if strings.HasPrefix(k, fmt.Sprintf("%d/", accountID)) {
				a.WithID = true
			}
		}
	}
	return a, nil
}

func (f *fakeStore) FindLatestMessageTo(_ context.Context, accountID int64, receivers []string) (*store.Message, error) {
	if err := f.injected("FindLatestMessageTo"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var latest *store.Message
	for _, m := range f.messages {
		if m.AccountID == nil || *m.AccountID != accountID || !slices.Contains(receivers, m.Receiver) {
			continue
		}
		if latest == nil || m.CreatedAt.After(latest.CreatedAt) || (m.CreatedAt.Equal(latest.CreatedAt) && m.ID > latest.ID) {
			latest = m
		}
	}
	if latest == nil {
		return nil, notFound("message on account", accountID)
	}
	c := *latest
	return &c, nil
}

func (f *fakeStore) GetAccount(_ context.Context, id int64) (*store.ProviderAccount, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a, ok := f.accounts[id]
	if !ok {
		return nil, notFound("account", id)
	}
	return &a, nil
}

func (f *fakeStore) AddEvent(_ context.Context, e *store.MessageEvent) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.addEventErrs) > 0 {
		err := f.addEventErrs[0]
		f.addEventErrs = f.addEventErrs[1:]
		if err != nil {
			return err
		}
	}
	for _, o := range f.events[e.TaskID] {
		if o.Seq == e.Seq {
			return nil
		}
	}
	f.events[e.TaskID] = append(f.events[e.TaskID], *e)
	return nil
}

func (f *fakeStore) NextEventSeq(_ context.Context, taskID string) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	next := 1
	for _, e := range f.events[taskID] {
		if e.Seq >= next {
			next = e.Seq + 1
		}
	}
	return next, nil
}

func (f *fakeStore) ListEvents(_ context.Context, taskID string) ([]store.MessageEvent, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := append([]store.MessageEvent(nil), f.events[taskID]...)
	sort.Slice(out, func(i, j int) bool { return out[i].Seq < out[j].Seq })
	return out, nil
}

func (f *fakeStore) QuotaReport(context.Context, string, time.Time) ([]store.QuotaStatus, error) {
	return []store.QuotaStatus{}, nil
}

func (f *fakeStore) QueryStats(context.Context, store.StatsQuery) ([]store.StatsRow, error) {
	return []store.StatsRow{}, nil
}

func (f *fakeStore) Ping(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.pingErr
}

// Fixture writers used by the tests.

func (f *fakeStore) putApp(a store.App) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.apps[a.ID] = a
}

func (f *fakeStore) putChannel(c store.Channel) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.channels[c.ID] = c
}

// grant lets the app use the channels.
func (f *fakeStore) grant(appID string, channelIDs ...int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, id := range channelIDs {
		f.grants[fmt.Sprintf("%s/%d", appID, id)] = true
	}
}

// revoke takes the channels from the app.
func (f *fakeStore) revoke(appID string, channelIDs ...int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, id := range channelIDs {
		delete(f.grants, fmt.Sprintf("%s/%d", appID, id))
	}
}

func (f *fakeStore) putTemplate(t store.Template) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.templates[t.ID] = t
}

func (f *fakeStore) putAccount(a store.ProviderAccount, channelIDs ...int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.accounts[a.ID] = a
	for _, id := range channelIDs {
		f.pools[id] = append(f.pools[id], store.PoolMember{Account: a, Weight: 1})
	}
}

func (f *fakeStore) putMessage(m store.Message) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nextID++
	m.ID = f.nextID
	f.messages[m.TaskID] = &m
}

func (f *fakeStore) putProviderID(accountID int64, pmid, taskID string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.providerIDs[fmt.Sprintf("%d/%s", accountID, pmid)] = taskID
}

// putAcceptedWithoutID records that the account accepted a send of the
// task without returning a provider id, as the store keys it.
func (f *fakeStore) putAcceptedWithoutID(accountID int64, taskID string) {
	f.putProviderID(accountID, "herald-task:"+taskID, taskID)
}

func (f *fakeStore) messageCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.messages)
}

func (f *fakeStore) batchCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.batches)
}

func (f *fakeStore) eventsOf(taskID string) []store.MessageEvent {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]store.MessageEvent(nil), f.events[taskID]...)
}

// fakeEngine records what the API asked of the workflow engine.
type fakeEngine struct {
	mu      sync.Mutex
	starts  []workflows.SendInput
	cancels []string
	// batchStarts, batchUpdates ("<batch>/<update>") and memberCancels
	// ("<batch>/<task>") record the batch workflow calls; updateStatus
	// answers an update (nil answers from the update's name), updateErr
	// and memberErr fail them.
	batchStarts   []workflows.BatchInput
	batchUpdates  []string
	memberCancels []string
	batchStartErr error
	updateErr     error
	memberErr     error
	signals       map[string][]workflows.Receipt
	startErr      error
	cancelErr     error
	onCancel      func(taskID string)
	signalErr     func(taskID string) error
	checkErr      error
}

func newFakeEngine() *fakeEngine { return &fakeEngine{signals: map[string][]workflows.Receipt{}} }

func (e *fakeEngine) StartSend(_ context.Context, in workflows.SendInput) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.starts = append(e.starts, in)
	return e.startErr
}

func (e *fakeEngine) StartBatch(_ context.Context, in workflows.BatchInput) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.batchStarts = append(e.batchStarts, in)
	return e.batchStartErr
}

func (e *fakeEngine) UpdateBatch(_ context.Context, batchID, update string) (string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.batchUpdates = append(e.batchUpdates, batchID+"/"+update)
	if e.updateErr != nil {
		return "", e.updateErr
	}
	switch update {
	case workflows.BatchPauseUpdate:
		return store.BatchPaused, nil
	case workflows.BatchCancelUpdate:
		return store.BatchCancelled, nil
	default:
		return store.BatchRunning, nil
	}
}

func (e *fakeEngine) CancelBatchMember(_ context.Context, batchID, taskID string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.memberCancels = append(e.memberCancels, batchID+"/"+taskID)
	return e.memberErr
}

func (e *fakeEngine) batchStartsCopy() []workflows.BatchInput {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]workflows.BatchInput(nil), e.batchStarts...)
}

func (e *fakeEngine) batchCallsCopy() (updates, memberCancels []string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.batchUpdates...), append([]string(nil), e.memberCancels...)
}

func (e *fakeEngine) CancelSend(_ context.Context, taskID string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.cancels = append(e.cancels, taskID)
	if e.onCancel != nil {
		e.onCancel(taskID)
	}
	return e.cancelErr
}

func (e *fakeEngine) DeliverReceipt(_ context.Context, taskID string, r workflows.Receipt) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.signalErr != nil {
		if err := e.signalErr(taskID); err != nil {
			return err
		}
	}
	e.signals[taskID] = append(e.signals[taskID], r)
	return nil
}

func (e *fakeEngine) Check(context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.checkErr
}

func (e *fakeEngine) startCount() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.starts)
}

func (e *fakeEngine) cancelsCopy() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.cancels...)
}

func (e *fakeEngine) startsCopy() []workflows.SendInput {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]workflows.SendInput(nil), e.starts...)
}

func (e *fakeEngine) signalsOf(taskID string) []workflows.Receipt {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]workflows.Receipt(nil), e.signals[taskID]...)
}

// fakeProvider pushes receipts as a JSON list of providers.Receipt and
// wants HTTP 200 with "OK" (accepted) or "RETRY" (send again) back.
type fakeProvider struct {
	kind       string
	noReceipts bool
}

func (p fakeProvider) Kind() string                         { return p.kind }
func (p fakeProvider) ValidateConfig(json.RawMessage) error { return nil }
func (p fakeProvider) NewSender(providers.Account) (providers.Sender, error) {
	return nil, fmt.Errorf("not used")
}

func (p fakeProvider) ReceiptHandler() providers.ReceiptHandler {
	if p.noReceipts {
		return nil
	}
	return fakeReceipts{}
}

type fakeReceipts struct{}

func (fakeReceipts) ParseReceipts(r *http.Request) ([]providers.Receipt, error) {
	var out []providers.Receipt
	if err := json.NewDecoder(r.Body).Decode(&out); err != nil {
		return nil, fmt.Errorf("decode receipts: %w", err)
	}
	return out, nil
}

func (fakeReceipts) Acknowledge(w http.ResponseWriter, ok bool) {
	if ok {
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte("OK"))
		return
	}
	_, _ = w.Write([]byte("RETRY"))
}

// replyingProvider is a fakeProvider that also pushes replies, as a JSON
// list of providers.Reply, acknowledged like its receipts.
type replyingProvider struct{ fakeProvider }

var _ providers.ReplyProvider = replyingProvider{}

func (replyingProvider) ReplyHandler() providers.ReplyHandler { return fakeReplies{} }

type fakeReplies struct{ fakeReceipts }

func (fakeReplies) ParseReplies(r *http.Request) ([]providers.Reply, error) {
	var out []providers.Reply
	if err := json.NewDecoder(r.Body).Decode(&out); err != nil {
		return nil, fmt.Errorf("decode replies: %w", err)
	}
	return out, nil
}
