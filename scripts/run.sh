#!/usr/bin/env bash
# The README's Run command: install from the lock, migrate, seed roles, print the admin
# login, serve on HOST:PORT (default 127.0.0.1:5000).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh base
.venv/bin/flask --app wsgi support init ${ADMIN_EMAIL:+--email "$ADMIN_EMAIL"} ${ADMIN_PASSWORD:+--password "$ADMIN_PASSWORD"}
exec .venv/bin/flask --app wsgi support serve --host "${HOST:-127.0.0.1}" --port "${PORT:-5000}"
