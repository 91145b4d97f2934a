#!/usr/bin/env bash
# npm run demo: from a fresh clone, bring the local lab up (installing what it
# needs from Debian's packages), provision both mail hosts (mx1: Debian 12,
# example.test; mx2: Debian 13, example.net) with the real site playbook, send
# publish the DNS records (SPF, DKIM, DMARC) into the lab DNS and check them,
# send a message from alice@example.test to dave@example.net, read it back over
# IMAPS with its dkim=pass spf=pass dmarc=pass verdicts, and show how to poke at it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh
if [ "$(id -u)" != 0 ]; then echo "the lab builds VMs with systemd-nspawn and needs root" >&2; exit 1; fi
echo "== lab up"
npx tsx tests/lab/cli.ts up
inv=tests/lab/.state/inventory.yml
echo "== converge mx1 and mx2 (npx tsx playbooks/site.ts -i $inv --limit mail)"
npx tsx playbooks/site.ts -i "$inv" --limit mail
echo "== converge again: nothing should change"
npx tsx playbooks/site.ts -i "$inv" --limit mail
root=tests/lab/.state/acme/pebble-root.pem
echo "== mx1 serves a certificate from the lab's ACME CA (Pebble, certbot role); verified with Pebble's root:"
for p in 25 465 587 993; do
  case $p in 25|587) st="-starttls smtp" ;; *) st="" ;; esac
  # shellcheck disable=SC2086
  v=$(openssl s_client -connect 198.51.100.10:$p $st -servername mx1.example.test -verify_hostname mx1.example.test -CAfile "$root" -brief </dev/null 2>&1 | grep -E '^(Verification|Peer certificate)' | tr '\n' ' ' || true)
  echo "   mx1:$p  $v"
done
echo "== publish the DNS records dns.ts computes (SPF, DKIM, DMARC...) into the lab DNS (npx tsx scripts/demo-dns.ts)"
npx tsx scripts/demo-dns.ts
echo "== check them: npx tsx playbooks/verify.ts -i $inv --limit mail --resolver 198.51.100.1"
npx tsx playbooks/verify.ts -i "$inv" --limit mail --resolver 198.51.100.1
echo "== send alice@example.test -> dave@example.net and read it back (npx tsx scripts/demo-mail.ts)"
npx tsx scripts/demo-mail.ts
echo "== log in to the webmail as alice (bash scripts/demo-webmail.sh)"
bash scripts/demo-webmail.sh
cat <<'MSG'

Done. Poke at it:
  npm run lab -- ssh mx1                 # a shell on a mail host (mx1 Debian 12, mx2 Debian 13)
  npm run lab -- mem mx1                 # memory (PSS) per service
  npx tsx playbooks/site.ts -i tests/lab/.state/inventory.yml --check --diff   # what would change
  npx tsx scripts/demo-mail.ts           # the mail round trip again (with its DKIM/SPF/DMARC verdicts)
  npx tsx playbooks/dns.ts -i tests/lab/.state/inventory.yml --limit mail --format table   # the DNS records
  npx tsx playbooks/verify.ts -i tests/lab/.state/inventory.yml --limit mail --resolver 198.51.100.1

  # The demo mailboxes' passwords live in tests/lab/.state/lab.json (mail.users); this reads one:
  pw() { node -p "require('./tests/lab/.state/lab.json').mail.users.find(u => u.host === '$1').password"; }
  # TLS per port: both certificates are from the lab's ACME CA (Pebble), trusted with its root:
  openssl s_client -connect 198.51.100.10:587 -starttls smtp -CAfile tests/lab/.state/acme/pebble-root.pem -brief </dev/null
  openssl s_client -connect 198.51.100.10:465 -CAfile tests/lab/.state/acme/pebble-root.pem -brief </dev/null
  openssl s_client -connect 198.51.100.20:993 -CAfile tests/lab/.state/acme/pebble-root.pem -brief </dev/null
  # Webmail (docs/webmail.md): https://mx1.example.test/ (alice@example.test, password: pw mx1) and
  # https://mx2.example.net/ (dave@example.net, pw mx2); the lab DNS is 198.51.100.1, the CA Pebble's root.
  # PHP runs only while someone uses it (30 s idle period in the lab): the first page after idle,
  curl -s -o /dev/null -w 'HTTP %{http_code} in %{time_total} s\n' --cacert tests/lab/.state/acme/pebble-root.pem --resolve mx1.example.test:443:198.51.100.10 https://mx1.example.test/
  # The web side (docs/web.md): the MTA-STS policy and Thunderbird's autoconfig, over HTTPS:
  curl --cacert tests/lab/.state/acme/pebble-root.pem --resolve mta-sts.example.test:443:198.51.100.10 https://mta-sts.example.test/.well-known/mta-sts.txt
  curl --cacert tests/lab/.state/acme/pebble-root.pem --resolve autoconfig.example.net:443:198.51.100.20 https://autoconfig.example.net/mail/config-v1.1.xml
  npm run lab -- ssh mx1 sudo journalctl -t mailstead-cert   # what the certificate deploy hook did
  # Submit with swaks on 587 (STARTTLS + AUTH), from outsider (apt-get install swaks there if missing):
  npm run lab -- ssh outsider swaks --server 198.51.100.10 --port 587 --tls \
      --auth-user alice@example.test --auth-password "$(pw mx1)" \
      --from alice@example.test --to dave@example.net --header "'Subject: hello from swaks'"
  # Read dave's INBOX over IMAPS by hand:
  { echo "a LOGIN dave@example.net $(pw mx2)"; echo "b SELECT INBOX"; \
    echo "c FETCH 1:* (BODY.PEEK[HEADER.FIELDS (FROM SUBJECT DATE)])"; echo "d LOGOUT"; sleep 3; } \
    | openssl s_client -connect 198.51.100.20:993 -crlf -quiet
  npm run lab -- down                    # remove the lab (cached images stay)
MSG
