DROP TABLE admin_login_failures;

--bun:split

DROP TABLE admin_refresh_tokens;

--bun:split

DROP TABLE admin_users;
