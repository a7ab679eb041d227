#!/usr/bin/env bash
# CI quality gates: ruff (ruff.toml) over the Python code, ansible-lint
# (production profile, offline) over playbooks and roles, then the PowerShell
# syntax check of the collection's .ps1 files and the semantic check of the
# host scripts against Microsoft's cmdlet reference.
# Usage: scripts/lint.sh VENV_DIR   (the venv must already hold ansible-core)
set -uo pipefail

venv=${1:?usage: scripts/lint.sh VENV_DIR}
root=$(cd "$(dirname "$0")/.." && pwd)
py="$venv/bin/python"
reqs="$root/requirements-lint.txt"
[ -x "$py" ] || { echo "lint.sh: no python at $py" >&2; exit 2; }

# Install only when a pin is absent or different, so warm runs skip pip.
if ! "$py" - "$reqs" <<'PY'
import re, sys
from importlib.metadata import PackageNotFoundError, version

def norm(name):
    return re.sub(r"[-_.]+", "-", name).lower()

for line in open(sys.argv[1]):
    line = line.split("#", 1)[0].strip()
    if not line:
        continue
    name, _, pinned = line.partition("==")
    try:
        if version(norm(name)) != pinned.strip():
            sys.exit(1)
    except PackageNotFoundError:
        sys.exit(1)
PY
then
    echo "lint.sh: installing $(basename "$reqs") into $venv"
    # -qq: this machine's pip config prints a warning per package otherwise.
    "$py" -m pip install -qq -r "$reqs" || { echo "lint.sh: pip install failed" >&2; exit 2; }
fi

cd "$root"
# ansible-lint shells out to ansible-playbook; take it from the same venv.
export PATH="$venv/bin:$PATH"
rc=0

echo "== ruff check (ruff.toml)"
"$venv/bin/ruff" check plugins scripts tests || rc=1

echo "== ansible-lint --profile production --offline"
ansible-lint --profile production --offline || rc=1

echo "== check_ps1 --require-files"
"$py" scripts/check_ps1.py --require-files || rc=1

echo "== check_ps1 --semantics (cmdlets, parameters, Exchange value forms)"
"$py" scripts/check_ps1.py --semantics || rc=1

exit "$rc"
