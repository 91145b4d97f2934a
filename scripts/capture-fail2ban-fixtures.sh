#!/usr/bin/env bash
# Capture real log lines for tests/unit/fixtures/fail2ban/<release>/ from the
# lab's mail hosts (mx1 = Debian 12, mx2 = Debian 13), after
# tests/e2e/fail2ban.test.ts (or any attack from outsider, 198.51.100.30) has
# left failures in their journals. For each jail: <jail>.fail.log holds lines
# every one of which the jail's filter must count; <jail>.pass.log holds
# lines of legitimate use (logins that worked, connections) that it must not.
# The e2e test runs fail2ban-regex on them inside each release's VM.
#   bash scripts/capture-fail2ban-fixtures.sh   (the lab must be up)
set -euo pipefail
cd "$(dirname "$0")/.."
ATTACKER=198.51.100.30
ssh_() { npm run -s lab -- ssh "$1" "sudo sh -c $(printf %q "$2")"; }
pick() { # host, journal selector, grep -E pattern, count
  ssh_ "$1" "journalctl --no-pager -o short $2 | grep -E -- $(printf %q "$3") | tail -n $4"
}
for pair in mx1:debian12 mx2:debian13; do
  h=${pair%%:*}
  d=tests/unit/fixtures/fail2ban/${pair##*:}
  mkdir -p "$d"
  pf="_SYSTEMD_UNIT=postfix@-.service + _SYSTEMD_UNIT=postfix.service"
  pick "$h" "_SYSTEMD_UNIT=dovecot.service" "(auth failed|tried to use).*rip=$ATTACKER," 4 > "$d/dovecot.fail.log"
  pick "$h" "_SYSTEMD_UNIT=dovecot.service" "-login: Login: user=|Logged out|Disconnected: Connection closed \(no auth attempts" 4 > "$d/dovecot.pass.log"
  # Debian 13's sshd also drops a penalised source's connections ("drop connection ... penalty")
  pick "$h" "SYSLOG_IDENTIFIER=sshd + SYSLOG_IDENTIFIER=sshd-session" "(Invalid user|Connection closed by (authenticating|invalid) user).* $ATTACKER port|drop connection .*\\[$ATTACKER\\].*penalty: failed authentication" 6 > "$d/sshd.fail.log"
  pick "$h" "SYSLOG_IDENTIFIER=sshd + SYSLOG_IDENTIFIER=sshd-session" "Accepted publickey for|session opened for user|Received disconnect from 198.51.100.1 " 4 > "$d/sshd.pass.log"
  pick "$h" "$pf" "\[$ATTACKER\]: SASL [A-Z]+ authentication failed" 4 > "$d/postfix-sasl.fail.log"
  pick "$h" "$pf" "sasl_method=PLAIN, sasl_username=|Anonymous TLS connection established from|disconnect from .*auth=1" 4 > "$d/postfix-sasl.pass.log"
  pick "$h" "$pf" "reject: RCPT from [^[]*\[$ATTACKER\]: 55[04] 5\.(1\.1|7\.1) " 4 > "$d/postfix.fail.log"
  pick "$h" "$pf" "postfix/smtpd\[[0-9]+\]: (connect from|disconnect from|[0-9A-F]+: client=)" 4 > "$d/postfix.pass.log"
  ssh_ "$h" "grep -E 'NOTICE +\[(sshd|dovecot|postfix|postfix-sasl)\] Ban ' /var/log/fail2ban.log | tail -n 5" > "$d/recidive.fail.log"
  ssh_ "$h" "grep -E '\[recidive\] (Ban|Found)|NOTICE +\[[a-z-]+\] Unban ' /var/log/fail2ban.log | tail -n 4" > "$d/recidive.pass.log"
  wc -l "$d"/*.log
done
