#!/usr/bin/env bash
# Mutation testing (README "Mutation testing"): every target in order, or the ones named:
#   scripts/mutation.sh [tickets-lifecycle tickets-policy ... | report]
# Runs niced on the shared machine; MUTATION_CHILDREN (default 2) mutants at a time.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh mutation   # the test lock plus mutmut, hash-checked
exec nice -n 19 .venv/bin/python scripts/mutation.py "$@"
