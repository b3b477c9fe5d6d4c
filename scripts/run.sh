#!/usr/bin/env bash
# The README's Run command: install, migrate, seed roles, print the admin login, serve.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e .
.venv/bin/flask --app wsgi support init ${ADMIN_EMAIL:+--email "$ADMIN_EMAIL"} ${ADMIN_PASSWORD:+--password "$ADMIN_PASSWORD"}
exec .venv/bin/flask --app wsgi support serve --host "${HOST:-127.0.0.1}" --port "${PORT:-5000}"
