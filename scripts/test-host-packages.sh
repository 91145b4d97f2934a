#!/usr/bin/env bash
# Install the test clients the mail e2e tests run (on the lab's `outsider` VM,
# piped over SSH, or on any Debian test machine as root). Idempotent: does
# nothing when everything is installed; `apt-get update` only when a package
# has no install candidate.
# Usage: scripts/test-host-packages.sh [--check]   (--check: exit 1 if something is missing)
set -euo pipefail

PACKAGES=(
  swaks        # scripted SMTP sessions (relay attempts, STARTTLS/AUTH probes)
  nmap         # smtp-open-relay NSE script
  testssl.sh   # TLS protocol and cipher audit (Debian 12: 3.0.8 as /usr/bin/testssl)
  openssl      # s_client negative protocol tests
  libnet-ssleay-perl # swaks --tls (STARTTLS, implicit TLS)
  bsdextrautils # hexdump etc. used by testssl.sh
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then missing+=("$p"); fi
done
if [ "${#missing[@]}" -eq 0 ]; then echo "test-host-packages: all ${#PACKAGES[@]} packages present"; exit 0; fi
if [ "${1:-}" = "--check" ]; then echo "test-host-packages: missing: ${missing[*]}" >&2; exit 1; fi
if [ "$(id -u)" -ne 0 ]; then echo "test-host-packages: must run as root to install: ${missing[*]}" >&2; exit 1; fi
export DEBIAN_FRONTEND=noninteractive
need_update=0
for p in "${missing[@]}"; do
  cand="$(apt-cache policy "$p" 2>/dev/null | awk '/Candidate:/ {print $2}')"
  if [ -z "$cand" ] || [ "$cand" = "(none)" ]; then need_update=1; break; fi
done
if [ "$need_update" -eq 1 ]; then apt-get update -qq; fi
apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null >/dev/null
echo "test-host-packages: installed ${missing[*]}"
