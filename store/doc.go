// Package store is Herald's data layer: apps, channels and their provider
// account pools, templates, rules, messages with their timelines, and the
// schema migrations for both supported databases, PostgreSQL and an
// embedded SQLite file.
//
// Every query method runs on its own, or inside a transaction when called on
// the *DB that RunInTx hands to its function. Missing rows come back as
// ErrNotFound and broken uniqueness rules as ErrConflict, both wrapped with
// what was being done, so test them with errors.Is. App secrets and provider
// account configs are sealed with the Cipher before they reach the database,
// and so is personal data (receivers, contents, replies; see
// personaldata.go), which callers only ever see in clear text. A Cipher
// built with previous master keys reads what they sealed, and DB.Reseal
// seals it again under the current key.
//
// Usage:
//
//	key, err := store.ParseMasterKey(os.Getenv("HERALD_MASTER_KEY"))
//	if err != nil {
//		return err
//	}
//	cipher, err := store.NewCipher(key)
//	if err != nil {
//		return err
//	}
//	db, err := store.Open(ctx, store.Options{URL: "sqlite:///var/lib/herald/herald.db", Cipher: cipher})
//	if err != nil {
//		return err
//	}
//	defer db.Close()
//	if _, err := db.MigrateUp(ctx); err != nil {
//		return err
//	}
//	err = db.RunInTx(ctx, func(ctx context.Context, tx *store.DB) error {
//		msg, err := tx.GetMessage(ctx, taskID)
//		if err != nil {
//			return err
//		}
//		status := "cancelled"
//		return tx.UpdateMessage(ctx, msg.TaskID, store.MessagePatch{Status: &status})
//	})
//
// On SQLite the store keeps a single connection, which serializes writers
// in this process; inside RunInTx use only the tx it gives, never the outer
// DB.
package store
