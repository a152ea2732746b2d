package store

import (
	"context"
	"fmt"
	"slices"

	"github.com/uptrace/bun"
)

// DefaultResealBatch is how many rows Reseal reads and rewrites at a time
// when ResealOptions.BatchSize is 0.
const DefaultResealBatch = 500

// ResealOptions configures Reseal.
type ResealOptions struct {
	// BatchSize is how many rows are read, and rewritten, per statement;
	// 0 means DefaultResealBatch.
	BatchSize int
	// DryRun counts what would be sealed again and writes nothing.
	DryRun bool
	// Progress, when set, is called after each batch with the table's
	// totals so far.
	Progress func(ResealProgress)
}

// ResealProgress is how far Reseal got through one table.
type ResealProgress struct {
	Table string
	// Scanned counts the rows read so far; Resealed those rewritten under
	// the current key (or, in a dry run, that would be); Skipped those a
	// concurrent writer changed between the read and the rewrite (their
	// new values are the writer's, sealed under its key); Keyed the
	// messages given the receiver key they lacked.
	Scanned, Resealed, Skipped, Keyed int
	// Done is set on the table's last report.
	Done bool
}

// sealedTable says which columns of a table hold sealed data.
type sealedTable struct {
	name string
	// key is the table's primary key column: rows are visited in its
	// order, so a batch is one index range.
	key string
	// text columns are sealed with SealText (personal data), bytes columns
	// with Encrypt (secrets). Any may be NULL or empty, which stays as it
	// is.
	text, bytes []string
}

// sealedTables lists every column the store seals.
var sealedTables = []sealedTable{
	{name: "apps", key: "id", bytes: []string{"secret_enc", "callback_secret_enc"}},
	{name: "provider_accounts", key: "id", bytes: []string{"config_enc", "callback_token_enc"}},
	{name: "batches", key: "id", text: []string{"attachments", "subject", "content", "template_params"}},
	{name: "batch_receivers", key: "id", text: []string{"receivers"}},
	{name: "redrives", key: "id", text: []string{"filter"}},
	{name: "messages", key: "id", text: []string{"receiver", "subject", "content", "last_error", "template_params", "attachments"}},
	{name: "message_events", key: "id", text: []string{"detail", "inputs", "data"}},
	{name: "audit_log", key: "id", text: []string{"diff"}},
}

// Reseal seals every sealed column of every row again under the current
// master key where it was sealed under a previous one, and seals what is
// still clear text (rows written before personal data was sealed). It
// also gives messages stored before receiver keys existed their receiver
// key, when the DB has a ReceiverKeyer. Rows are visited in batches in
// primary key order and each is rewritten only if no one changed it since
// it was read, so Reseal may run while the service runs, be stopped at any
// point and run again: rows already under the current key are passed over
// without being decrypted.
//
// Every process writing to the store must already seal under the current
// key (have it as master-key), or Reseal races with writes under the old
// one; running Reseal again after they all do catches those up.
func (db *DB) Reseal(ctx context.Context, opts ResealOptions) ([]ResealProgress, error) {
	if db.cipher == nil {
		return nil, ErrNoCipher
	}
	size := opts.BatchSize
	if size <= 0 {
		size = DefaultResealBatch
	}
	var out []ResealProgress
	for _, t := range sealedTables {
		p, err := db.resealTable(ctx, t, size, opts)
		if err != nil {
			return out, fmt.Errorf("reseal %s: %w", t.name, err)
		}
		out = append(out, p)
	}
	return out, nil
}

func (db *DB) resealTable(ctx context.Context, t sealedTable, size int, opts ResealOptions) (ResealProgress, error) {
	p := ResealProgress{Table: t.name}
	cols := append(append([]string{t.key}, t.text...), t.bytes...)
	keying := t.name == "messages" && db.keys != nil
	if keying {
		cols = append(cols, "message_type", "receiver_key")
	}
	var after any
	for {
		q := db.idb.NewSelect().TableExpr(t.name).Column(cols...).OrderExpr(t.key + " ASC").Limit(int64(size))
		if after != nil {
			q = q.Where("? > ?", bun.Ident(t.key), after)
		}
		var rows []map[string]any
		if err := q.Scan(ctx, &rows); err != nil {
			return p, fmt.Errorf("read rows: %w", mapErr(err))
		}
		for _, row := range rows {
			set, err := db.resealRow(t, row, keying, &p)
			if err != nil {
				return p, fmt.Errorf("row %v: %w", row[t.key], err)
			}
			if len(set) == 0 || opts.DryRun {
				if len(set) > 0 {
					p.Resealed++
				}
				continue
			}
			changed, err := db.rewriteRow(ctx, t, row, set)
			if err != nil {
				return p, fmt.Errorf("row %v: %w", row[t.key], err)
			}
			if changed {
				p.Resealed++
			} else {
				p.Skipped++
			}
		}
		p.Scanned += len(rows)
		if len(rows) > 0 {
			after = scannedArg(rows[len(rows)-1][t.key])
		}
		p.Done = len(rows) < size
		if opts.Progress != nil {
			opts.Progress(p)
		}
		if p.Done {
			return p, nil
		}
	}
}

// scannedArg turns a scanned key into a query argument: drivers may return
// text keys as bytes.
func scannedArg(v any) any {
	if b, ok := v.([]byte); ok {
		return string(b)
	}
	return v
}

// resealRow returns the columns of row to rewrite, with their new values:
// those not under the current key, and a missing receiver key.
func (db *DB) resealRow(t sealedTable, row map[string]any, keying bool, p *ResealProgress) (map[string]any, error) {
	set := map[string]any{}
	rowKey, _ := textValue(row["receiver_key"])
	needKey := keying && rowKey == ""
	var receiver string
	for _, col := range t.text {
		v, ok := textValue(row[col])
		if !ok || v == "" {
			continue
		}
		current := SealedKeyID(v) == db.cipher.KeyID()
		if current && (col != "receiver" || !needKey) {
			continue
		}
		plain, err := db.cipher.OpenText(v)
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", col, err)
		}
		if col == "receiver" {
			receiver = plain
		}
		if current {
			continue
		}
		if set[col], err = db.cipher.SealText(plain); err != nil {
			return nil, fmt.Errorf("seal %s: %w", col, err)
		}
	}
	for _, col := range t.bytes {
		b, _ := row[col].([]byte)
		if len(b) == 0 {
			continue
		}
		plain, current, err := db.cipher.decrypt(b)
		if err != nil {
			return nil, fmt.Errorf("decrypt %s: %w", col, err)
		}
		if current {
			continue
		}
		if set[col], err = db.cipher.Encrypt(plain); err != nil {
			return nil, fmt.Errorf("encrypt %s: %w", col, err)
		}
	}
	if needKey && receiver != "" {
		typ, _ := textValue(row["message_type"])
		set["receiver_key"] = db.keys.Key(typ, receiver)
		p.Keyed++
	}
	return set, nil
}

// textValue reads a scanned text column; false for NULL.
func textValue(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case []byte:
		return string(v), true
	}
	return "", false
}

// rewriteRow writes set into row if every column it changes still holds
// what was read; it reports whether it did.
func (db *DB) rewriteRow(ctx context.Context, t sealedTable, row, set map[string]any) (bool, error) {
	same := " IS NOT DISTINCT FROM ?"
	if db.dialect == DialectSQLite {
		same = " IS ?"
	}
	q := db.idb.NewUpdate().TableExpr(t.name).Where("? = ?", bun.Ident(t.key), scannedArg(row[t.key]))
	for col, v := range set {
		old := row[col]
		if !slices.Contains(t.bytes, col) {
			old = scannedArg(old)
		}
		q = q.Set("? = ?", bun.Ident(col), v).Where("?"+same, bun.Ident(col), old)
	}
	res, err := q.Exec(ctx)
	if err != nil {
		return false, fmt.Errorf("rewrite: %w", mapErr(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("rewrite: %w", err)
	}
	return n == 1, nil
}
