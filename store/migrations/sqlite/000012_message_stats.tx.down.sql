DROP TABLE message_stats_hour;

--bun:split

DROP TABLE message_stats_minute;
