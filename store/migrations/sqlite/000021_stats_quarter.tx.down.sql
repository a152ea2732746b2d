DROP TABLE message_stats_quarter;
