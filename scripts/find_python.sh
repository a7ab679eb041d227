#!/usr/bin/env bash
# Prints the path of a Python interpreter for one role:
#   main  - Python 3.12 (what we develop on, current ansible-core), else the
#           newest Python >= 3.11 found
#   smoke - a Python 3.11 (ansible-core 2.19, still common on enterprise controllers)
# Exits 1 (printing nothing) when none qualifies.
set -u
role="${1:-main}"
candidates=()
[ -n "${PYTHON:-}" ] && candidates+=("$PYTHON")
if command -v pyenv >/dev/null 2>&1; then
  root="$(pyenv root 2>/dev/null)"
  for v in "$root"/versions/3.1[2-9]*/bin/python3 "$root"/versions/3.11*/bin/python3; do
    [ -x "$v" ] && candidates+=("$v")
  done
fi
for name in python3.13 python3.12 python3.11 python3; do
  p="$(command -v "$name" 2>/dev/null)" && candidates+=("$p")
done
best=""; best_minor=0
for p in "${candidates[@]}"; do
  minor="$("$p" -c 'import sys, venv; print(sys.version_info[1] if sys.version_info[0] == 3 else 0)' 2>/dev/null)" || continue
  [ -n "$minor" ] || continue
  if [ "$role" = smoke ]; then
    [ "$minor" = 11 ] && { echo "$p"; exit 0; }
  elif [ "$minor" = 12 ]; then
    echo "$p"; exit 0
  elif [ "$minor" -ge 11 ] && [ "$minor" -gt "$best_minor" ]; then
    best="$p"; best_minor="$minor"
  fi
done
[ -n "$best" ] && { echo "$best"; exit 0; }
exit 1
