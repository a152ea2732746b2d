DROP TABLE IF EXISTS message_events;
--bun:split
DROP TABLE IF EXISTS message_provider_ids;
--bun:split
DROP TABLE IF EXISTS messages;
--bun:split
DROP TABLE IF EXISTS batches;
--bun:split
DROP TABLE IF EXISTS rules;
--bun:split
DROP TABLE IF EXISTS template_mappings;
--bun:split
DROP TABLE IF EXISTS channel_accounts;
--bun:split
DROP TABLE IF EXISTS provider_accounts;
--bun:split
DROP TABLE IF EXISTS channels;
--bun:split
DROP TABLE IF EXISTS templates;
--bun:split
DROP TABLE IF EXISTS apps;
