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
# LOCK_CONSTRAINTS: optional constraint files (space-separated) for the test lock, e.g. a
# copy of the previous requirements/test.txt, so that adding a dependency moves no pin.
constraints=()
for file in ${LOCK_CONSTRAINTS:-}; do constraints+=(-c "$file"); done
rm -f requirements/*.txt
# The test lock is resolved first; the others are held to its versions so that what
# the tests ran with is what runs.
compile requirements/test.txt --extra test --extra scale --extra s3 "${constraints[@]}"
if [ -n "${LOCK_CONSTRAINTS:-}" ]; then  # their paths are no source of any pin: drop them
  python3 - requirements/test.txt ${LOCK_CONSTRAINTS} <<'PY'
import sys
path, drop = sys.argv[1], {f"    #   -c {name}" for name in sys.argv[2:]}
lines = [line for line in open(path).read().splitlines() if line not in drop]
out = []
for i, line in enumerate(lines):
    after = lines[i + 2] if i + 2 < len(lines) else ""
    if (line == "    # via" and lines[i + 1].startswith("    #   ")
            and not after.startswith("    #   ")):
        out.append("    # via " + lines[i + 1][len("    #   "):])
        lines[i + 1] = None
    elif line is not None:
        out.append(line)
open(path, "w").write("\n".join(out) + "\n")
PY
fi
compile requirements/base.txt -c requirements/test.txt
compile requirements/scale.txt --extra scale -c requirements/test.txt
compile requirements/s3.txt --extra scale --extra s3 -c requirements/test.txt
compile requirements/bench.txt --extra bench -c requirements/test.txt
compile requirements/mutation.txt --extra test --extra scale --extra mutation -c requirements/test.txt
echo "locked: $(ls requirements/*.txt | tr '\n' ' ')"
