#!/usr/bin/env bash
# Regenerate the hash-locked requirements under requirements/ from setup.cfg's ranges
# (Python 3.11, Linux). Run it after changing a dependency or to take newer releases;
# commit the result. Needs PyPI. uv is only the lock tool: it is installed, pinned, into
# a throwaway virtualenv and is no dependency of the project.
set -euo pipefail
cd "$(dirname "$0")/.."
UV_VERSION=0.13.9
tools="$(mktemp -d "${TMPDIR:-/tmp}/support-lock.XXXXXX")"
trap 'rm -rf "$tools"' EXIT
python3 -m venv "$tools/venv"
"$tools/venv/bin/python" -m pip install -q "uv==$UV_VERSION"

compile() {  # compile OUTPUT [uv pip compile options...]
  local output="$1"; shift
  "$tools/venv/bin/uv" pip compile setup.cfg --quiet --generate-hashes \
    --python-version 3.11 --python-platform linux \
    --custom-compile-command "scripts/lock.sh" "$@" -o "$output"
}
rm -f requirements/*.txt
# The test lock is resolved first; the others are held to its versions so that what
# the tests ran with is what runs.
compile requirements/test.txt --extra test --extra scale
compile requirements/base.txt -c requirements/test.txt
compile requirements/scale.txt --extra scale -c requirements/test.txt
compile requirements/bench.txt --extra bench -c requirements/test.txt
compile requirements/mutation.txt --extra test --extra scale --extra mutation -c requirements/test.txt
echo "locked: $(ls requirements/*.txt | tr '\n' ' ')"
