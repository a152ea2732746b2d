-- The quarter-hour rollup: minute rows older than the minutes kept
-- (store.StatsMinutesKept) are folded into it by the workers' sweep, so
-- the minute table stays a week long while hour and day questions in
-- time zones whose offset is not a whole hour (India, Nepal, parts of
-- Australia) can still be answered for older ranges. Rows are moved, not
-- copied: a question reads both tables and counts each message once.
-- Every row is shard 0 (the fold writes no other). bucket is the start of
-- the quarter hour in Unix seconds (UTC).

CREATE TABLE message_stats_quarter (LIKE message_stats_minute INCLUDING ALL);
