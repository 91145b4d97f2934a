#!/usr/bin/env bash
# The demo's webmail check: log in to Roundcube on mx1 as alice, as a browser would (curl with
# a cookie jar, Pebble's root trusted, the name resolved to the lab address), and say so.
set -euo pipefail
cd "$(dirname "$0")/.."
state=tests/lab/.state
url=https://mx1.example.test/
user=alice@example.test
pw=$(node -p "require('./$state/lab.json').mail.users.find(u => u.address === '$user').password")
jar=$(mktemp)
trap 'rm -f "$jar"' EXIT
c=(curl -sS --max-time 20 --cacert "$state/acme/pebble-root.pem" --resolve mx1.example.test:443:198.51.100.10 -b "$jar" -c "$jar")
page=$("${c[@]}" -w '\n%{time_total}' "$url")
took=$(printf '%s' "$page" | tail -n 1)
token=$(printf '%s' "$page" | grep -o 'name="_token" value="[^"]*' | sed 's/.*value="//')
[ -n "$token" ] || { echo "webmail: no login form at $url" >&2; exit 1; }
code=$("${c[@]}" -o /dev/null -w '%{http_code}' --data-urlencode "_token=$token" --data "_task=login&_action=login&_timezone=UTC&_url=" \
  --data-urlencode "_user=$user" --data-urlencode "_pass=$pw" "${url}?_task=login")
inbox=$("${c[@]}" "${url}?_task=mail&_mbox=INBOX")
if [ "$code" = 302 ] && printf '%s' "$inbox" | grep -q '"task":"mail"'; then
  echo "webmail: $url  (login page in ${took} s; $user logged in, INBOX open)"
  echo "         log in yourself as $user with: node -p \"require('./$state/lab.json').mail.users.find(u => u.address === '$user').password\""
else
  echo "webmail: the login as $user at $url did not work (HTTP $code)" >&2
  exit 1
fi
