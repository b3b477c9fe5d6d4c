#!/usr/bin/env bash
# The README's Test command: .venv from the test lock, then the suite (or the given
# pytest arguments) on two workers.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh test
.venv/bin/python -m pytest -n 2 "$@"
