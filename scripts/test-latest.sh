#!/usr/bin/env bash
# The suite against the newest releases setup.cfg's ranges allow, ignoring the lock, in
# a throwaway virtualenv: a breaking upstream release shows here before `scripts/lock.sh`
# locks it in. Arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="$(mktemp -d "${TMPDIR:-/tmp}/support-latest.XXXXXX")"
trap 'rm -rf "$venv"' EXIT
python3 -m venv "$venv"
"$venv/bin/python" -m pip install -q --no-cache-dir --upgrade --upgrade-strategy eager -e '.[test,scale]'
"$venv/bin/python" -m pip freeze --exclude support_app > "$venv/versions.txt"
echo "latest: $(tr '\n' ' ' < "$venv/versions.txt")"
"$venv/bin/python" -m pytest -n 2 "$@"
