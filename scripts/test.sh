#!/usr/bin/env bash
# Runs every test: type check, unit, API and Docker tests (against a real engine that this script starts).
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== standalone (nothing read outside the repository)"
npx tsx scripts/check-standalone.ts

echo "== import rules"
bash scripts/check-imports.sh

echo "== lint and format (eslint, prettier)"
npm run --silent lint

echo "== typecheck"
npx tsc --noEmit -p tsconfig.json

if compgen -G "tests/docker/*.test.ts" > /dev/null; then
  echo "== docker engine"
  bash scripts/setup/docker.sh
fi

echo "== web app typecheck"
npm run --silent check:app

echo "== web app build (some server tests serve it)"
npx tsx scripts/build-ui.ts

echo "== tests"
shopt -s nullglob
files=(tests/unit/*.test.ts tests/api/*.test.ts tests/security/*.test.ts tests/docker/*.test.ts)
# Two files at a time: most of the time goes to waiting on Docker and on child processes, not to this CPU.
node --import tsx --test --test-concurrency=2 --test-reporter=spec "${files[@]}"

echo "== browser"
npm run --silent test:e2e
