#!/usr/bin/env bash
# npm run demo: from a fresh clone, bring the local lab up (installing what it
# needs from Debian's packages), provision mx1 with the real site playbook,
# and show how to poke at it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh
if [ "$(id -u)" != 0 ]; then echo "the lab builds VMs with systemd-nspawn and needs root" >&2; exit 1; fi
echo "== lab up"
npx tsx tests/lab/cli.ts up
inv=tests/lab/.state/inventory.yml
echo "== converge mx1 (npx tsx playbooks/site.ts -i $inv --limit mx1)"
npx tsx playbooks/site.ts -i "$inv" --limit mx1
echo "== converge again: nothing should change"
npx tsx playbooks/site.ts -i "$inv" --limit mx1
cat <<MSG

Done. Poke at it:
  npm run lab -- ssh mx1                 # a shell on the mail host (Debian 12)
  npm run lab -- mem mx1                 # memory (PSS) per service
  npx tsx playbooks/site.ts -i $inv --check --diff   # what would change
  npm run lab -- down                    # remove the lab (cached images stay)
MSG
