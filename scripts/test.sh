#!/usr/bin/env bash
# npm test: type-check, unit tests, then end-to-end tests against the lab
# (brought up from nothing when needed), then the lab's lifecycle test (down
# leaves nothing behind, warm up < 30 s) last, since it restarts the lab.
# Only MAILSTEAD_SKIP_E2E=1 skips the lab parts, and then this script says so.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh
echo "== tsc --noEmit (strict)"
npx tsc --noEmit
out=$(mktemp -d)
runs=("unit e2e" "lifecycle")
if [ "${MAILSTEAD_SKIP_E2E:-}" = "1" ]; then
  echo "!! E2E SKIPPED: MAILSTEAD_SKIP_E2E=1 is set; only unit tests run"
  runs=("unit")
elif [ "$(id -u)" != 0 ]; then
  echo "the e2e tests build VMs with systemd-nspawn and need root (or set MAILSTEAD_SKIP_E2E=1)" >&2
  exit 1
fi
rc=0
i=0
for projects in "${runs[@]}"; do
  args=()
  for p in $projects; do args+=(--project "$p"); done
  echo "== vitest ${args[*]}"
  i=$((i + 1))
  npx vitest run "${args[@]}" --reporter=default --reporter=json --outputFile.json="$out/vitest-$i.json" || rc=$?
  [ $rc = 0 ] || break
done
node -e '
  const fs = require("fs");
  let p = 0, f = 0, s = 0;
  for (const file of fs.readdirSync(process.argv[1])) {
    const r = JSON.parse(fs.readFileSync(`${process.argv[1]}/${file}`, "utf8"));
    p += r.numPassedTests; f += r.numFailedTests; s += r.numPendingTests + (r.numTodoTests || 0);
  }
  // Where the time goes (the suite must stay well under the CI limit): the slowest files.
  const files = [];
  for (const file of fs.readdirSync(process.argv[1])) {
    for (const t of JSON.parse(fs.readFileSync(`${process.argv[1]}/${file}`, "utf8")).testResults) files.push([t.endTime - t.startTime, t.name.replace(/^.*\/tests\//, "tests/")]);
  }
  files.sort((a, b) => b[0] - a[0]);
  console.log("slowest files: " + files.slice(0, 12).map(([ms, n]) => `${n} ${(ms / 1000).toFixed(0)} s`).join(", "));
  console.log(`${p} passed, ${f} failed` + (s ? `, ${s} skipped` : ""));
' "$out" || true
mkdir -p tests/e2e/.output && cp "$out"/*.json tests/e2e/.output/ 2>/dev/null || true
exit $rc
