package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/uptrace/bun"
)

// MessagePatch changes the non-nil fields of a message.
type MessagePatch struct {
	Status            *string
	CallbackStatus    *string
	AccountID         *int64
	ProviderMessageID *string
	AttemptCount      *int
	LastError         *string
	FinishedAt        *time.Time
	HeldUntil         *time.Time
	// MaybeSent, with a final status that gives the quota unit back
	// (failed, cancelled), says that an attempt's outcome was unknown: a
	// provider may have sent the message, so its unit stays committed. It
	// is no column of its own; it decides how the patch settles the quota.
	MaybeSent bool
}

// messageProviderID maps one provider message id, from any attempt, back to
// its task.
type messageProviderID struct {
	bun.BaseModel `bun:"table:message_provider_ids,alias:mpi"`

	ID                int64     `bun:"id,pk,autoincrement"`
	TaskID            string    `bun:"task_id,notnull"`
	AccountID         int64     `bun:"account_id,notnull"`
	ProviderMessageID string    `bun:"provider_message_id,notnull"`
	CreatedAt         time.Time `bun:"created_at,notnull"`
}

// CreateMessages stores messages, and their batch when batch is not nil,
// in one transaction, setting IDs and zero timestamps. It returns
// ErrConflict, storing nothing, if a task id or a non-empty (app id,
// idempotency key) of a message or of the batch already exists, and a
// *QuotaExceededError, storing nothing, if the messages do not all fit
// their app's quotas: the reservation is part of the same transaction.
func (db *DB) CreateMessages(ctx context.Context, msgs []*Message, batch *Batch) error {
	now := db.timestamp()
	return db.RunInTx(ctx, func(ctx context.Context, tx *DB) error {
		return createMessages(ctx, tx.idb, now, tx.keys, tx.cipher, msgs, batch)
	})
}

// GetMessage returns the message of a task or ErrNotFound. A staged
// member of a batch is given its message row first (ExpandBatchMembers),
// so every task id a batch answered with reads as a message from the
// moment the batch is accepted.
func (db *DB) GetMessage(ctx context.Context, taskID string) (*Message, error) {
	m, err := getMessage(ctx, db.idb, db.cipher, taskID)
	if !errors.Is(err, ErrNotFound) {
		return m, err
	}
	member, xerr := db.expandStagedTask(ctx, taskID)
	if xerr != nil {
		return nil, xerr
	}
	if !member {
		return nil, err
	}
	return getMessage(ctx, db.idb, db.cipher, taskID)
}

// GetMessageByIdempotencyKey returns an app's message created with key, or
// ErrNotFound.
func (db *DB) GetMessageByIdempotencyKey(ctx context.Context, appID, key string) (*Message, error) {
	return getMessageByIdempotencyKey(ctx, db.idb, db.cipher, appID, key)
}

// UpdateMessage applies patch to a task's message and sets its UpdatedAt.
// It returns ErrNotFound if there is no such task. A final status settles
// the message's quota reservation, and the statistics count the change,
// in the same transaction.
func (db *DB) UpdateMessage(ctx context.Context, taskID string, patch MessagePatch) error {
	return db.RunInTx(ctx, func(ctx context.Context, tx *DB) error {
		var stats statsBatch
		if err := updateMessage(ctx, tx.idb, tx.cipher, tx.timestamp(), taskID, patch, &stats); err != nil {
			return err
		}
		if err := settleFinalQuota(ctx, tx.idb, taskID, patch); err != nil {
			return err
		}
		return stats.apply(ctx, tx.idb)
	})
}

// ListStaleMessages returns up to limit messages in status whose last
// update, and scheduled time if any, are before olderThan, least recently
// updated first; members of batch-workflow batches are left out. A limit of 0 or less means no limit.
func (db *DB) ListStaleMessages(ctx context.Context, status string, olderThan time.Time, limit int) ([]Message, error) {
	return listStaleMessages(ctx, db.idb, db.cipher, status, olderThan, limit)
}

// ListBatchMessages returns the messages of a batch by id.
func (db *DB) ListBatchMessages(ctx context.Context, batchID string) ([]Message, error) {
	return listBatchMessages(ctx, db.idb, db.cipher, batchID)
}

// FindLatestMessageTo returns the most recent message sent through
// accountID to any of receivers, the spellings one receiver may have been
// stored under (a reply names its sender in the provider's form, which
// need not be the one the message was sent to). It returns ErrNotFound when
// there is none, and for an empty receivers.
func (db *DB) FindLatestMessageTo(ctx context.Context, accountID int64, receivers []string) (*Message, error) {
	return findLatestMessageTo(ctx, db.idb, db.cipher, db.keys, accountID, receivers)
}

// GetBatch returns a batch or ErrNotFound.
func (db *DB) GetBatch(ctx context.Context, id string) (*Batch, error) {
	return getBatch(ctx, db.idb, db.cipher, id)
}

// GetBatchByIdempotencyKey returns an app's batch created with key, or
// ErrNotFound.
func (db *DB) GetBatchByIdempotencyKey(ctx context.Context, appID, key string) (*Batch, error) {
	return getBatchByIdempotencyKey(ctx, db.idb, db.cipher, appID, key)
}

// AddProviderMessageID records that a provider knows a task's message by
// providerMessageID on an account. Recording the same mapping again does
// nothing; mapping an id already taken by another task is ErrConflict.
func (db *DB) AddProviderMessageID(ctx context.Context, taskID string, accountID int64, providerMessageID string) error {
	return addProviderMessageID(ctx, db.idb, db.timestamp(), taskID, accountID, providerMessageID)
}

// FindTaskByProviderMessageID returns the task a provider message id on an
// account belongs to, or ErrNotFound.
func (db *DB) FindTaskByProviderMessageID(ctx context.Context, accountID int64, providerMessageID string) (string, error) {
	return findTaskByProviderMessageID(ctx, db.idb, accountID, providerMessageID)
}

func createMessages(ctx context.Context, idb bun.IDB, now time.Time, keys *ReceiverKeyer, c *Cipher, msgs []*Message, batch *Batch) error {
	if batch != nil {
		if batch.CreatedAt.IsZero() {
			batch.CreatedAt = now
		}
		batch.CreatedAt = normTime(batch.CreatedAt)
		row := *batch
		var err error
		if row.Attachments, err = sealJSON(c, batch.Attachments); err != nil {
			return fmt.Errorf("create batch: seal attachments: %w", err)
		}
		if _, err := idb.NewInsert().Model(&row).Exec(ctx); err != nil {
			return fmt.Errorf("create batch: %w", mapErr(err))
		}
	}
	if len(msgs) == 0 {
		return nil
	}
	for _, m := range msgs {
		m.CreatedAt, m.UpdatedAt = createdTimes(now, m.CreatedAt, m.UpdatedAt)
		m.ScheduledAt = normTimePtr(m.ScheduledAt)
		m.ExpiresAt = normTimePtr(m.ExpiresAt)
		m.FinishedAt = normTimePtr(m.FinishedAt)
		if keys != nil && m.ReceiverKey == "" {
			m.ReceiverKey = keys.Key(m.MessageType, m.Receiver)
		}
		if m.MessageType == ChannelSMS && m.SMSSegments == 0 {
			m.SMSSegments = SMSSegments(m.Content, m.SignatureName)
		}
	}
	if err := reserveQuotas(ctx, idb, msgs); err != nil {
		return err
	}
	var stats statsBatch
	if err := stats.countAccepted(ctx, idb, msgs); err != nil {
		return err
	}
	// Inserting in chunks keeps each statement well under the drivers'
	// parameter and size limits for large batches.
	// The rows stored are sealed copies, so callers keep their clear text.
	rows := make([]Message, len(msgs))
	for i, m := range msgs {
		row, err := sealMessage(c, m)
		if err != nil {
			return fmt.Errorf("create message %q: %w", m.TaskID, err)
		}
		rows[i] = row
	}
	const chunk = 500
	for start := 0; start < len(rows); start += chunk {
		part := rows[start:min(start+chunk, len(rows))]
		if _, err := idb.NewInsert().Model(&part).Returning("id").Exec(ctx); err != nil {
			return fmt.Errorf("create messages: %w", mapErr(err))
		}
	}
	for i := range rows {
		msgs[i].ID = rows[i].ID
	}
	// Counted last, after the quota rows, as every writer does (see
	// statsBatch).
	return stats.apply(ctx, idb)
}

func getMessage(ctx context.Context, idb bun.IDB, c *Cipher, taskID string) (*Message, error) {
	m := new(Message)
	if err := idb.NewSelect().Model(m).Where("m.task_id = ?", taskID).Scan(ctx); err != nil {
		return nil, fmt.Errorf("get message %q: %w", taskID, mapErr(err))
	}
	if err := openMessage(c, m); err != nil {
		return nil, fmt.Errorf("get message: %w", err)
	}
	if err := hydrateMember(ctx, idb, c, m); err != nil {
		return nil, fmt.Errorf("get message %q: %w", taskID, err)
	}
	return m, nil
}

func getMessageByIdempotencyKey(ctx context.Context, idb bun.IDB, c *Cipher, appID, key string) (*Message, error) {
	if key == "" {
		return nil, fmt.Errorf("get message by idempotency key: empty key: %w", ErrNotFound)
	}
	m := new(Message)
	err := idb.NewSelect().Model(m).
		Where("m.app_id = ?", appID).
		Where("m.idempotency_key = ?", key).
		Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("get message of app %q by idempotency key: %w", appID, mapErr(err))
	}
	if err := openMessage(c, m); err != nil {
		return nil, fmt.Errorf("get message by idempotency key: %w", err)
	}
	return m, nil
}

// updateMessage applies p and adds what it changes in the statistics to
// stats, which the caller applies at the end of its transaction.
func updateMessage(ctx context.Context, idb bun.IDB, c *Cipher, now time.Time, taskID string, p MessagePatch, stats *statsBatch) error {
	if statsTouched(p) {
		st, err := lockMessageState(ctx, idb, taskID)
		if err != nil {
			return err
		}
		if err := stats.countChange(ctx, idb, st, p, now); err != nil {
			return err
		}
	}
	q := idb.NewUpdate().Model((*Message)(nil)).Set("updated_at = ?", now).Where("task_id = ?", taskID)
	if p.Status != nil {
		q = q.Set("status = ?", *p.Status)
	}
	if p.CallbackStatus != nil {
		q = q.Set("callback_status = ?", *p.CallbackStatus)
	}
	if p.AccountID != nil {
		q = q.Set("account_id = ?", *p.AccountID)
	}
	if p.ProviderMessageID != nil {
		q = q.Set("provider_message_id = ?", *p.ProviderMessageID)
	}
	if p.AttemptCount != nil {
		q = q.Set("attempt_count = ?", *p.AttemptCount)
	}
	if p.LastError != nil {
		sealed, err := c.SealText(*p.LastError)
		if err != nil {
			return fmt.Errorf("update message %q: seal last error: %w", taskID, err)
		}
		q = q.Set("last_error = ?", sealed)
	}
	if p.FinishedAt != nil {
		q = q.Set("finished_at = ?", normTime(*p.FinishedAt))
	}
	if p.HeldUntil != nil {
		q = q.Set("held_until = ?", normTime(*p.HeldUntil))
	}
	if err := execOne(ctx, q); err != nil {
		return fmt.Errorf("update message %q: %w", taskID, err)
	}
	return nil
}

func listStaleMessages(ctx context.Context, idb bun.IDB, c *Cipher, status string, olderThan time.Time, limit int) ([]Message, error) {
	ms := []Message{}
	q := idb.NewSelect().Model(&ms).
		Where("m.status = ?", status).
		Where("m.updated_at < ?", olderThan.UTC()).
		// A message scheduled later is not stale yet, however long ago it
		// was accepted; leaving it out keeps it from crowding out the
		// messages the sweeper is looking for.
		Where("(m.scheduled_at IS NULL OR m.scheduled_at < ?)", olderThan.UTC()).
		// Nor is one its workflow holds for quiet hours.
		Where("(m.held_until IS NULL OR m.held_until < ?)", olderThan.UTC()).
		// A member of a batch-workflow batch is its batch workflow's to
		// send, never a send workflow's.
		Where("m.batch_seq = 0").
		OrderExpr("m.updated_at ASC, m.id ASC")
	if limit > 0 {
		q = q.Limit(int64(limit))
	}
	if err := q.Scan(ctx); err != nil {
		return nil, fmt.Errorf("list stale %q messages: %w", status, mapErr(err))
	}
	if err := openMessages(c, ms); err != nil {
		return nil, fmt.Errorf("list stale %q messages: %w", status, err)
	}
	return ms, nil
}

func listBatchMessages(ctx context.Context, idb bun.IDB, c *Cipher, batchID string) ([]Message, error) {
	ms := []Message{}
	if batchID == "" {
		return ms, nil
	}
	// Members of a batch-workflow batch are in request order by batch_seq;
	// older batches' messages were inserted in that order.
	err := idb.NewSelect().Model(&ms).Where(memberOf, batchID).OrderExpr("m.batch_seq ASC, m.id ASC").Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("list messages of batch %q: %w", batchID, mapErr(err))
	}
	if err := openMessages(c, ms); err != nil {
		return nil, fmt.Errorf("list messages of batch %q: %w", batchID, err)
	}
	if err := hydrateMembers(ctx, idb, c, ms); err != nil {
		return nil, fmt.Errorf("list messages of batch %q: %w", batchID, err)
	}
	return ms, nil
}

func findLatestMessageTo(ctx context.Context, idb bun.IDB, c *Cipher, keys *ReceiverKeyer, accountID int64, receivers []string) (*Message, error) {
	// Receivers stay out of the error text: they are phone numbers or
	// addresses, and errors end up in logs.
	if len(receivers) == 0 {
		return nil, fmt.Errorf("find latest message on account %d: no receiver given: %w", accountID, ErrNotFound)
	}
	m := new(Message)
	err := idb.NewSelect().Model(m).
		Where("m.account_id = ?", accountID).
		WhereGroup(" AND ", func(q *bun.SelectQuery) *bun.SelectQuery {
			// The receiver column is sealed, so receivers are found by
			// their keyed hash. A row stored before receivers were keyed
			// has no key and its receiver in clear text; it is matched on
			// that until `herald keys rotate` keys it.
			if rk := receiverLookupKeys(keys, receivers); len(rk) > 0 {
				q = q.Where("m.receiver_key IN (?)", bun.List(rk))
			}
			return q.WhereOr("(m.receiver_key = '' AND m.receiver IN (?))", bun.List(receivers))
		}).
		OrderExpr("m.created_at DESC, m.id DESC").
		Limit(1).
		Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("find latest message on account %d: %w", accountID, mapErr(err))
	}
	if err := openMessage(c, m); err != nil {
		return nil, fmt.Errorf("find latest message on account %d: %w", accountID, err)
	}
	if err := hydrateMember(ctx, idb, c, m); err != nil {
		return nil, fmt.Errorf("find latest message on account %d: %w", accountID, err)
	}
	return m, nil
}

// receiverLookupKeys returns the receiver keys the spellings may be stored
// under: each as a non-e-mail receiver and, when it looks like an address,
// as an e-mail one (lower-cased). It returns nil without a keyer.
func receiverLookupKeys(keys *ReceiverKeyer, receivers []string) []string {
	if keys == nil {
		return nil
	}
	var out []string
	add := func(k string) {
		if !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	for _, r := range receivers {
		add(keys.Key(ChannelSMS, r))
		if strings.Contains(r, "@") {
			add(keys.Key(ChannelEmail, r))
		}
	}
	return out
}

func getBatch(ctx context.Context, idb bun.IDB, c *Cipher, id string) (*Batch, error) {
	b := new(Batch)
	if err := idb.NewSelect().Model(b).Where("b.id = ?", id).Scan(ctx); err != nil {
		return nil, fmt.Errorf("get batch %q: %w", id, mapErr(err))
	}
	if err := openBatch(c, b); err != nil {
		return nil, fmt.Errorf("get batch %q: %w", id, err)
	}
	return b, nil
}

func getBatchByIdempotencyKey(ctx context.Context, idb bun.IDB, c *Cipher, appID, key string) (*Batch, error) {
	if key == "" {
		return nil, fmt.Errorf("get batch by idempotency key: empty key: %w", ErrNotFound)
	}
	b := new(Batch)
	err := idb.NewSelect().Model(b).
		Where("b.app_id = ?", appID).
		Where("b.idempotency_key = ?", key).
		Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("get batch of app %q by idempotency key: %w", appID, mapErr(err))
	}
	if err := openBatch(c, b); err != nil {
		return nil, fmt.Errorf("get batch of app %q by idempotency key: %w", appID, err)
	}
	return b, nil
}

func addProviderMessageID(ctx context.Context, idb bun.IDB, now time.Time, taskID string, accountID int64, providerMessageID string) error {
	row := &messageProviderID{TaskID: taskID, AccountID: accountID, ProviderMessageID: providerMessageID, CreatedAt: now}
	res, err := idb.NewInsert().Model(row).
		On("CONFLICT (account_id, provider_message_id) DO NOTHING").
		Exec(ctx)
	if err != nil {
		return fmt.Errorf("add provider message id of task %q: %w", taskID, mapErr(err))
	}
	if n, err := res.RowsAffected(); err == nil && n > 0 {
		return nil
	}
	// Nothing inserted: the id is known already, for this task or another.
	owner, err := findTaskByProviderMessageID(ctx, idb, accountID, providerMessageID)
	if err != nil {
		return fmt.Errorf("add provider message id of task %q: %w", taskID, err)
	}
	if owner != taskID {
		return fmt.Errorf("add provider message id of task %q: account %d already maps it to task %q: %w", taskID, accountID, owner, ErrConflict)
	}
	return nil
}

// acceptedWithoutID is the provider message id recorded for a send the
// account accepted without returning one. It is unique per task, as the
// table's (account, provider id) key requires, and names only this task,
// so a receipt that echoes it can reach no other message.
func acceptedWithoutID(taskID string) string { return "herald-task:" + taskID }

// Acceptance is what an account's provider accepted of one task, over all
// attempts.
type Acceptance struct {
	// WithID is true when the provider returned a message id for a send.
	WithID bool
	// WithoutID is true when a send was accepted without one (a provider
	// that returns none, a send found by a status query).
	WithoutID bool
}

// Accepted reports whether the account accepted any send of the task.
func (a Acceptance) Accepted() bool { return a.WithID || a.WithoutID }

// TaskAcceptance reports what the account accepted of the task.
func (db *DB) TaskAcceptance(ctx context.Context, taskID string, accountID int64) (Acceptance, error) {
	return taskAcceptance(ctx, db.idb, taskID, accountID)
}

func taskAcceptance(ctx context.Context, idb bun.IDB, taskID string, accountID int64) (Acceptance, error) {
	var ids []string
	err := idb.NewSelect().Model((*messageProviderID)(nil)).Column("provider_message_id").
		Where("task_id = ?", taskID).
		Where("account_id = ?", accountID).
		Scan(ctx, &ids)
	if err != nil {
		return Acceptance{}, fmt.Errorf("acceptance of task %q by account %d: %w", taskID, accountID, mapErr(err))
	}
	var a Acceptance
	for _, id := range ids {
		if id == acceptedWithoutID(taskID) {
			a.WithoutID = true
		} else {
			a.WithID = true
		}
	}
	return a, nil
}

func findTaskByProviderMessageID(ctx context.Context, idb bun.IDB, accountID int64, providerMessageID string) (string, error) {
	var taskID string
	err := idb.NewSelect().Model((*messageProviderID)(nil)).
		Column("task_id").
		Where("account_id = ?", accountID).
		Where("provider_message_id = ?", providerMessageID).
		Scan(ctx, &taskID)
	if err != nil {
		return "", fmt.Errorf("find task by provider message id on account %d: %w", accountID, mapErr(err))
	}
	return taskID, nil
}

func normMessage(m *Message) {
	m.CreatedAt = normTime(m.CreatedAt)
	m.UpdatedAt = normTime(m.UpdatedAt)
	m.ScheduledAt = normTimePtr(m.ScheduledAt)
	m.ExpiresAt = normTimePtr(m.ExpiresAt)
	m.HeldUntil = normTimePtr(m.HeldUntil)
	m.FinishedAt = normTimePtr(m.FinishedAt)
	m.ErasedAt = normTimePtr(m.ErasedAt)
}

// RecordMessage applies a status patch and appends timeline events in one
// transaction, so the status and its history never disagree. An empty patch
// writes only the events; events are idempotent on (task_id, seq).
func (db *DB) RecordMessage(ctx context.Context, taskID string, patch MessagePatch, events []*MessageEvent) error {
	return db.RunInTx(ctx, func(ctx context.Context, tx *DB) error {
		return recordMessage(ctx, tx.idb, tx.cipher, tx.timestamp(), taskID, patch, events)
	})
}

// recordMessage applies patch, unless empty, and appends events; the
// statistics count the change last (see statsBatch).
func recordMessage(ctx context.Context, idb bun.IDB, c *Cipher, now time.Time, taskID string, patch MessagePatch, events []*MessageEvent) error {
	var stats statsBatch
	if patch != (MessagePatch{}) {
		if err := updateMessage(ctx, idb, c, now, taskID, patch, &stats); err != nil {
			return err
		}
	}
	for _, e := range events {
		e.TaskID = taskID
		if err := addEvent(ctx, idb, c, now, e); err != nil {
			return err
		}
	}
	if err := settleFinalQuota(ctx, idb, taskID, patch); err != nil {
		return err
	}
	return stats.apply(ctx, idb)
}

// RecordAccepted stores what a provider's acceptance of a send tells:
// the provider's message id mapped to the task and set on the message,
// plus a status patch and timeline events, all in one transaction so a
// receipt that arrives at once finds the mapping and the status together.
// An acceptance without a provider id (a provider that returns none, a
// send found by a status query) is recorded too, keyed by the task, so
// TaskAcceptance knows every account that accepted the task. The message's
// quota reservation is committed in the same transaction, once.
func (db *DB) RecordAccepted(ctx context.Context, taskID string, accountID int64, providerMessageID string, patch MessagePatch, events []*MessageEvent) error {
	return db.RunInTx(ctx, func(ctx context.Context, tx *DB) error {
		now := tx.timestamp()
		key := providerMessageID
		if key == "" {
			key = acceptedWithoutID(taskID)
		} else {
			patch.ProviderMessageID = &providerMessageID
		}
		if err := addProviderMessageID(ctx, tx.idb, now, taskID, accountID, key); err != nil {
			return err
		}
		patch.AccountID = &accountID
		// A provider took the message: its unit is spent whatever the
		// outcome.
		if err := settleQuota(ctx, tx.idb, taskID, QuotaCommitted); err != nil {
			return err
		}
		return recordMessage(ctx, tx.idb, tx.cipher, now, taskID, patch, events)
	})
}

// FindTasksByProviderMessageIDs is FindTaskByProviderMessageID for many
// ids of one account, in one query: it maps each id found to its task.
func (db *DB) FindTasksByProviderMessageIDs(ctx context.Context, accountID int64, providerMessageIDs []string) (map[string]string, error) {
	out := make(map[string]string, len(providerMessageIDs))
	if len(providerMessageIDs) == 0 {
		return out, nil
	}
	var rows []messageProviderID
	err := db.idb.NewSelect().Model(&rows).Column("task_id", "provider_message_id").
		Where("account_id = ?", accountID).Where("provider_message_id IN (?)", bun.List(providerMessageIDs)).Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("find tasks by provider message ids on account %d: %w", accountID, mapErr(err))
	}
	for _, r := range rows {
		out[r.ProviderMessageID] = r.TaskID
	}
	return out, nil
}
