DROP TABLE message_stats_hour_channel;

--bun:split

DROP TABLE message_stats_hour;

--bun:split

DROP TABLE message_stats_minute;
