package store

import (
	"context"
	"fmt"

	"github.com/uptrace/bun"
)

// CountBatchMembersByStatus returns how many members of a batch are in
// each status; statuses no member is in are left out. It reads the
// batch_id index only, whatever the batch's size, so it can be polled
// while the batch runs.
func (db *DB) CountBatchMembersByStatus(ctx context.Context, batchID string) (map[string]int, error) {
	return countBatchMembersByStatus(ctx, db.idb, batchID)
}

func countBatchMembersByStatus(ctx context.Context, idb bun.IDB, batchID string) (map[string]int, error) {
	out := map[string]int{}
	if batchID == "" {
		return out, nil
	}
	var rows []struct {
		Status string `bun:"status"`
		N      int    `bun:"n"`
	}
	err := idb.NewSelect().TableExpr("messages").ColumnExpr("status, count(*) AS n").
		Where("batch_id = ?", batchID).GroupExpr("status").Scan(ctx, &rows)
	if err != nil {
		return nil, fmt.Errorf("count members of batch %q by status: %w", batchID, mapErr(err))
	}
	for _, r := range rows {
		out[r.Status] = r.N
	}
	return out, nil
}
