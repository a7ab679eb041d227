#!/usr/bin/env bash
# The headless browser the report page tests use (tests/test_reports/test_report_browser.py):
# Debian's chromium, from the distribution's own packages, never a downloaded build.
#   scripts/install_browser.sh     install it when missing (root with apt), else say how
# Exit 0 when a browser is there (or was installed), 1 when one is needed and could not be installed.
set -euo pipefail

found() {
  local candidate
  for candidate in "${ONPREM_CHROMIUM:-}" /usr/bin/chromium "$(command -v chromium 2>/dev/null || true)" \
                   "$(command -v chromium-browser 2>/dev/null || true)"; do
    if [ -n "$candidate" ] && [ -x "$candidate" ]; then
      echo "$candidate"
      return 0
    fi
  done
  return 1
}

if browser="$(found)"; then
  echo "report browser: $browser ($("$browser" --version 2>/dev/null || echo 'version unknown'))"
  exit 0
fi

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "report browser: installing Debian's chromium with apt-get" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y --no-install-recommends chromium >/dev/null \
    || { apt-get update >/dev/null && apt-get install -y --no-install-recommends chromium >/dev/null; }
  if browser="$(found)"; then
    echo "report browser: $browser ($("$browser" --version 2>/dev/null || echo 'version unknown'))"
    exit 0
  fi
fi

cat >&2 <<'MSG'
No Chromium for the report page tests (tests/test_reports/test_report_browser.py).
  Debian/Ubuntu, as root:   apt-get install -y chromium
  Fedora/RHEL:              dnf install -y chromium
  Elsewhere: install Chromium and point ONPREM_CHROMIUM at its binary.
Without it those tests skip, except when CI is set: there they fail.
MSG
exit 1
