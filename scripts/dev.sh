#!/usr/bin/env bash
# One entry point for the README's commands.
#   scripts/dev.sh demo      set up, start the lab, run the main job against it
#   scripts/dev.sh test      set up, then lint, ansible-test sanity and every test (what CI runs)
#   scripts/dev.sh lab-stop  stop the lab (its state is kept in .lab/)
#   scripts/dev.sh setup     only create the virtual environment(s)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"

need_python() {
  cat >&2 <<'MSG'
This needs Python 3.11 or newer with the venv module (3.12 preferred).
On Debian/Ubuntu:  sudo apt-get install -y python3 python3-venv
Or point PYTHON at an interpreter:  PYTHON=/path/to/python3.12 scripts/dev.sh ...
MSG
  exit 2
}

# make_venv DIR PYTHON: create DIR with the run-time and test requirements.
make_venv() {
  local dir="$1" py="$2" stamp
  stamp="$(cat requirements.txt requirements-test.txt | sha256sum | cut -c1-16)-$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
  if [ -f "$dir/.stamp" ] && [ "$(cat "$dir/.stamp")" = "$stamp" ] && [ -x "$dir/bin/python" ]; then
    return 0
  fi
  echo "== setting up $dir with $py" >&2
  rm -rf "$dir"
  "$py" -m venv "$dir" || need_python
  # pip's chatter goes to a log that is shown only when the install fails.
  if ! { "$dir/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip &&
         "$dir/bin/python" -m pip install --quiet --disable-pip-version-check \
           -r requirements.txt -r requirements-test.txt; } >"$dir.pip.log" 2>&1; then
    cat "$dir.pip.log" >&2
    echo "pip could not install the requirements into $dir (log above; PyPI must be reachable)" >&2
    exit 2
  fi
  echo "$stamp" > "$dir/.stamp"
  "$dir/bin/python" -c 'import ansible, winrm, sys; print("   python %s, ansible-core %s" % (sys.version.split()[0], ansible.__version__))' >&2
}

main_venv() {
  local py
  py="$(scripts/find_python.sh main)" || need_python
  make_venv .venv "$py"
}

lab() { PYTHONPATH="$ROOT/tests" .venv/bin/python -m lab "$@"; }

case "${1:-}" in
  setup)
    main_venv
    ;;
  demo)
    main_venv
    lab start
    export PATH="$ROOT/.venv/bin:$PATH" ANSIBLE_CONFIG="$ROOT/ansible.cfg"
    ansible-playbook -i .lab/inventory.yml playbooks/remediate.yml -e exchange_report_dir="$ROOT/reports"
    echo
    echo "Before/after report: $ROOT/reports/exchange-remediation.html (also .json, .csv, .md);"
    echo "the audits are in reports/before/ and reports/after/, the patch and protection reports beside it."
    echo "The lab keeps running; stop it with: scripts/dev.sh lab-stop"
    ;;
  lab-stop)
    if [ -x .venv/bin/python ]; then lab stop; else echo "lab is not set up"; fi
    ;;
  lab)
    shift; main_venv; lab "$@"
    ;;
  test)
    main_venv
    status=0
    # Parallel test workers (pytest-xdist). Lab tests mostly wait on WinRM
    # polls, installer and restart timers, so more workers than cores pays.
    workers="${PYTEST_WORKERS:-4}"
    # phase NAME COMMAND...: run one phase, time it, remember a failure.
    phase() {
      local name="$1" start rc=0
      shift
      start=$(date +%s)
      "$@" || rc=$?
      echo "== $name: $([ "$rc" = 0 ] && echo passed || echo "FAILED (rc=$rc)") in $(( $(date +%s) - start ))s"
      [ "$rc" = 0 ] || status=1
    }
    # Quality gates: ruff, ansible-lint (production profile) and a real PowerShell
    # grammar over every .ps1 file, then the host scripts read against
    # Microsoft's cmdlet reference (check_ps1.py --semantics).
    phase lint bash scripts/lint.sh .venv
    # ansible-test sanity (pylint, pep8, validate-modules, ansible-doc, imports...)
    # on a copy of the collection; its chatter (venv and pip set-up) goes to a
    # log that is shown only when it fails.
    sanity() {
      local log=.venv.sanity.log
      if bash scripts/sanity.sh .venv >"$log" 2>&1; then
        echo "   tests: $(sed -n 's/^Running sanity test "\(.*\)".*/\1/p' "$log" | paste -sd ' ')" >&2
        grep '^sanity\.sh:' "$log" >&2
      else
        grep -v 'Using locale' "$log" >&2
        return 1
      fi
    }
    phase "ansible-test sanity" sanity
    # The headless browser of the report page tests (Debian's chromium). When
    # it cannot be installed those tests skip, except under CI, where they fail.
    bash scripts/install_browser.sh || true
    # Smoke run on the oldest supported pair (Python 3.11 + ansible-core 2.19)
    # when the main run uses something newer.
    main_minor="$(.venv/bin/python -c 'import sys; print(sys.version_info[1])')"
    if [ "$main_minor" != 11 ] && smoke_py="$(scripts/find_python.sh smoke)"; then
      make_venv .venv-smoke "$smoke_py"
      echo "== smoke tests on $(.venv-smoke/bin/python -c 'import ansible,sys; print("python %s, ansible-core %s" % (sys.version.split()[0], ansible.__version__))')"
      phase "smoke tests" .venv-smoke/bin/python -m pytest -m smoke -q -p no:cacheprovider -n "$workers" tests
    fi
    echo "== full suite on $(.venv/bin/python -c 'import ansible,sys; print("python %s, ansible-core %s" % (sys.version.split()[0], ansible.__version__))'), $workers workers"
    phase "full suite" .venv/bin/python -m pytest -q -p no:cacheprovider -n "$workers" --durations=25 tests
    exit "$status"
    ;;
  *)
    sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
