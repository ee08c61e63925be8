#!/usr/bin/env bash
# Prints a make step's banner and how long the previous step took, so a long
# `make test` or `make demo` is never silent. Usage: scripts/step.sh "what runs now"
set -euo pipefail
mark=build/.step
mkdir -p build
now=$(date +%s)
if [ -f "$mark" ]; then
  read -r since name < "$mark"
  printf '    (%s: %ss)\n' "$name" "$((now - since))"
fi
if [ "${1:-}" = "done" ]; then
  rm -f "$mark"
  exit 0
fi
printf '\n==> %s  [%s]\n' "$1" "$(date +%H:%M:%S)"
printf '%s %s\n' "$now" "$1" > "$mark"
