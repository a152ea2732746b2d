DROP INDEX messages_quota_month;

--bun:split

DROP INDEX messages_quota_day;

--bun:split

ALTER TABLE messages DROP COLUMN sms_segments;

--bun:split

ALTER TABLE messages DROP COLUMN quota_month;

--bun:split

ALTER TABLE messages DROP COLUMN quota_day;

--bun:split

ALTER TABLE messages DROP COLUMN quota_scopes;

--bun:split

ALTER TABLE messages DROP COLUMN quota_state;

--bun:split

DROP TABLE quota_usage;

--bun:split

DROP TABLE quotas;

--bun:split

ALTER TABLE apps DROP COLUMN time_zone;
