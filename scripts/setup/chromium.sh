#!/usr/bin/env bash
# Installs Debian's chromium for the Playwright browser tests when /usr/bin/chromium is missing.
# Idempotent and quiet on success. Playwright must never download a browser of its own: tests drive this one.
set -euo pipefail

readonly CHROMIUM=/usr/bin/chromium

if [ -x "$CHROMIUM" ]; then
  exit 0
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
export DEBIAN_FRONTEND=noninteractive
if ! { apt-get update -q && apt-get install -y -q --no-install-recommends chromium; } >"$log" 2>&1; then
  cat "$log" >&2
  echo "chromium setup: apt-get could not install chromium" >&2
  exit 1
fi
[ -x "$CHROMIUM" ] || { echo "chromium setup: $CHROMIUM is still missing after install" >&2; exit 1; }
