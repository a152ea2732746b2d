#!/bin/sh
# Creates Herald's and Temporal's database users (first start only). The
# Temporal schema job creates Temporal's databases itself.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" <<SQL
CREATE USER herald WITH PASSWORD '$HERALD_DB_PASSWORD';
CREATE DATABASE herald OWNER herald;
CREATE USER temporal WITH PASSWORD '$TEMPORAL_DB_PASSWORD' CREATEDB;
SQL
