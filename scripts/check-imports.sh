#!/usr/bin/env bash
# The import rules of docs/architecture.md (.dependency-cruiser.cjs): one-way seams and no cycles.
set -euo pipefail
cd "$(dirname "$0")/.."
npx depcruise --config .dependency-cruiser.cjs --output-type err server runners db app
