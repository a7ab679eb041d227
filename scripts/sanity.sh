#!/usr/bin/env bash
# ansible-test sanity over the collection, as collection maintainers run it.
#
#   scripts/sanity.sh [VENV_DIR] [ansible-test sanity options...]
#
# VENV_DIR (default .venv) must hold ansible-core. ansible-test refuses a
# checkout that is not under .../ansible_collections/<namespace>/<name>, and it
# resolves symlinks before looking, so the collection is COPIED to a temporary
# tree (without venvs, lab state, git data or the .collections self-link).
# The copy holds what ships (galaxy.yml build_ignore) plus tests/unit and
# tests/sanity, which ansible-test itself uses; the developer tooling that never
# ships (scripts, benchmarks, awx, examples, the lab and its tests under tests/) is left out.
# Each sanity venv is bootstrapped from a pip "get-pip" script that ansible-test
# normally downloads from a host this network cannot reach; we seed its cache
# with a small stand-in that uses the interpreter's own ensurepip instead.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv=${1:-$root/.venv}
[ $# -gt 0 ] && shift
venv=$(cd "$venv" && pwd)
py="$venv/bin/python"
[ -x "$venv/bin/ansible-test" ] || { echo "sanity.sh: no ansible-test in $venv" >&2; exit 2; }
python_version=$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')

# Seed ansible-test's pip bootstrap cache (file name follows the pip version
# ansible-test pins for its venvs).
pip_version=$("$py" - <<'PY'
from ansible_test._internal.python_requirements import get_venv_packages
class _Python:  # only .version is read
    version = None
print(get_venv_packages(_Python())["pip"])
PY
)
cache="$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"
mkdir -p "$(dirname "$cache")"
cat > "$cache" <<'PY'
# Stand-in for get-pip.py, written by onprem.exchange scripts/sanity.sh.
# ansible-test runs this inside a fresh venv with pip's arguments. ensurepip
# runs in a child process because it points PIP_CONFIG_FILE at /dev/null,
# which would drop this machine's pip configuration (index and certificates).
import subprocess
import sys

subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"])
args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "pip", "install", "--upgrade"] + args)
PY

work=$(mktemp -d "${TMPDIR:-/tmp}/onprem-exchange-sanity.XXXXXX")
trap 'rm -rf "$work"' EXIT
dest="$work/ansible_collections/onprem/exchange"
mkdir -p "$dest"
# tar keeps modes and skips what must not be tested or cannot be copied.
tar -C "$root" \
    --exclude=./.git --exclude='./.venv*' --exclude=./.lab --exclude=./.collections \
    --exclude=./.pytest_cache --exclude='__pycache__' --exclude='*.pyc' \
    --exclude=./reports --exclude=./tests/output --exclude='./onprem-exchange-*.tar.gz' \
    --exclude=./benchmarks/results --exclude=./context \
    --exclude=./.ci --exclude=./scripts --exclude=./benchmarks --exclude=./awx --exclude=./inventory \
    --exclude=./ansible.cfg --exclude=./pytest.ini --exclude=./Makefile --exclude=./execution-environment.yml \
    --exclude=./examples \
    --exclude=./requirements-lint.txt --exclude=./ruff.toml --exclude=./requirements-test.txt \
    --exclude=./tests/lab --exclude='./tests/test_*' --exclude=./tests/conftest.py --exclude=./tests/labtools.py \
    -cf - . | tar -C "$dest" -xf -

cd "$dest"
export PATH="$venv/bin:$PATH"
start=$(date +%s)
rc=0
ansible-test sanity --venv --python "$python_version" --color no "$@" || rc=$?
echo "sanity.sh: ansible-test sanity on Python $python_version finished with rc=$rc in $(( $(date +%s) - start ))s"
exit "$rc"
