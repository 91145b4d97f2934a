#!/bin/bash
# fail2ban's memory (PSS of fail2ban-server) under the tuning knobs tried for issue 7.
# Runs ON a converged mail host, as root, and restores its configuration at the end:
#   npx tsx tests/lab/cli.ts ssh mx1 "sudo bash -s" < scripts/bench-fail2ban-mem.sh
# Bounded: 7 restarts of fail2ban, 25 s settle each (about 3 min). Results: docs/fail2ban.md.
set -euo pipefail
jail=/etc/fail2ban/jail.local
dropin=/etc/systemd/system/fail2ban.service.d/zz-bench.conf
orig=$(mktemp)
cp "$jail" "$orig"
restore() { cp "$orig" "$jail"; rm -f "$dropin" "$orig"; systemctl daemon-reload; systemctl restart fail2ban; }
trap restore EXIT
mkdir -p "$(dirname "$dropin")"
measure() {
  systemctl daemon-reload
  systemctl restart fail2ban
  sleep 25
  local pid
  pid=$(systemctl show -p MainPID --value fail2ban)
  printf '%-44s PSS %6s KiB  anon %6s KiB  threads %s  jails %s\n' "$1" \
    "$(awk '/^Pss:/{print $2}' /proc/"$pid"/smaps_rollup)" "$(awk '/^Pss_Anon:/{print $2}' /proc/"$pid"/smaps_rollup)" \
    "$(ls /proc/"$pid"/task | wc -l)" "$(fail2ban-client status | sed -n 's/.*Number of jail:[[:space:]]*//p')"
}
measure "as converged (5 jails)"
sed 's/^backend = systemd$/backend = systemd[journalflags=4]/' "$orig" > "$jail"
measure "system journal only (journalflags=4)"
cp "$orig" "$jail"
printf '[Service]\nEnvironment=MALLOC_ARENA_MAX=1\n' > "$dropin"
measure "MALLOC_ARENA_MAX=1"
printf '[Service]\nEnvironment=PYTHONOPTIMIZE=2\n' > "$dropin"
measure "PYTHONOPTIMIZE=2 (first start compiles)"
measure "PYTHONOPTIMIZE=2"
rm -f "$dropin"
awk '/^\[postfix-sasl\]/{print; print "enabled = false"; skip=1; next} skip && /^enabled/{skip=0; next} {print}' "$orig" |
  awk '/^\[postfix\]/{print; print "filter = postfix[mode=extra]"; next} {print}' > "$jail"
measure "postfix + postfix-sasl merged (4 jails)"
sed 's/^enabled = true$/enabled = false/' "$orig" > "$jail"
measure "no jails"
