#!/usr/bin/env bash
# npm test: type-check, unit tests, then end-to-end tests against the lab
# (brought up from nothing when needed). Only MAILSTEAD_SKIP_E2E=1 skips the
# e2e part, and then this script says so.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh
echo "== tsc --noEmit (strict)"
npx tsc --noEmit
out=$(mktemp -d)
projects=(--project unit)
if [ "${MAILSTEAD_SKIP_E2E:-}" = "1" ]; then
  echo "!! E2E SKIPPED: MAILSTEAD_SKIP_E2E=1 is set; only unit tests run"
else
  if [ "$(id -u)" != 0 ]; then echo "e2e tests build VMs and need root (or set MAILSTEAD_SKIP_E2E=1)" >&2; exit 1; fi
  projects+=(--project e2e)
fi
echo "== vitest ${projects[*]}"
set +e
npx vitest run "${projects[@]}" --reporter=default --reporter=json --outputFile.json="$out/vitest.json"
rc=$?
set -e
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed` + (r.numPendingTests ? `, ${r.numPendingTests} skipped` : ""));
' "$out/vitest.json" || true
exit $rc
