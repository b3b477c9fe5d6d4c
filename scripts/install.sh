#!/usr/bin/env bash
# Install into .venv exactly what requirements/LOCK.txt pins (hash-checked), then the
# project itself without resolving anything: `scripts/install.sh test`.
set -euo pipefail
cd "$(dirname "$0")/.."
lock="requirements/${1:?usage: scripts/install.sh base|scale|s3|test|bench|mutation}.txt"
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --require-hashes -r "$lock"
.venv/bin/python -m pip install -q --no-deps -e .
