#!/usr/bin/env bash
# Install the npm dependencies from the committed lockfile when they are missing
# or older than the lockfile (a fresh clone has none).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "== npm ci"
  npm ci --no-audit --no-fund
fi
