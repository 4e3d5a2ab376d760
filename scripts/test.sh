#!/usr/bin/env bash
# Runs every test: static checks, unit, API, security and Docker tests (against a real engine that this script
# starts), then the browser tests (Debian's Chromium).
set -euo pipefail
cd "$(dirname "$0")/.."

# The machine's services (Docker engine, Chromium, Redis and nginx) install and start in the background: apt and image
# builds wait on disk and network, while the checks below keep the CPUs busy.
setup_log=$(mktemp)
(
  set -e
  bash scripts/setup/docker.sh
  bash scripts/setup/chromium.sh
  bash scripts/setup/services.sh install
) >"$setup_log" 2>&1 &
setup_pid=$!

echo "== standalone (nothing read outside the repository)"
npx tsx scripts/check-standalone.ts

echo "== import rules"
bash scripts/check-imports.sh

echo "== lint and format (eslint, prettier)"
npm run --silent lint

echo "== typecheck"
npx tsc --noEmit -p tsconfig.json

echo "== web app typecheck"
npm run --silent check:app

echo "== web app build (some server tests serve it)"
npx tsx scripts/build-ui.ts

echo "== machine setup (docker engine, chromium, redis, nginx)"
if ! wait "$setup_pid"; then
  cat "$setup_log" >&2
  echo "machine setup failed" >&2
  exit 1
fi
cat "$setup_log"
rm -f "$setup_log"

echo "== tests"
shopt -s nullglob
# The slowest files first, so that the two slots finish together.
files=(tests/scale/*.test.ts tests/contract/*.test.ts tests/unit/*.test.ts tests/api/*.test.ts tests/security/*.test.ts tests/docker/*.test.ts)
# Two files at a time: most of the time goes to waiting on Docker and on child processes, not to this CPU.
node --import tsx --test --test-concurrency=2 --test-reporter=spec "${files[@]}"

echo "== browser"
npx playwright test
