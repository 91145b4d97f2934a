#!/usr/bin/env bash
# Install the Debian packages the mailstead test lab needs on the host.
# Idempotent: does nothing when everything is installed; runs `apt-get update`
# only when a package has no install candidate in the current lists.
# Usage: scripts/lab-host-packages.sh [--check]   (--check: exit 1 if something is missing)
set -euo pipefail

PACKAGES=(
  debootstrap          # base images
  systemd-container    # systemd-nspawn
  apt-cacher-ng        # apt proxy for the VMs on the lab bridge
  knot                 # lab DNS (knotd, keymgr)
  knot-dnsutils        # kdig, knsupdate
  pebble               # ACME test server
  openssl              # lab CA for pebble's TLS
  openssh-client       # ssh, ssh-keygen
  iproute2             # ip (bridge)
  util-linux           # nsenter, setpriv, setsid
  curl                 # ad-hoc checks
  chromium             # the real browser the webmail e2e test (tests/e2e/browser.test.ts) drives
  libnss3-tools        # certutil: trusts Pebble's root in that browser's NSS db
  debian-archive-keyring
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "lab-host-packages: all ${#PACKAGES[@]} packages present"
  exit 0
fi
if [ "${1:-}" = "--check" ]; then
  echo "lab-host-packages: missing: ${missing[*]}" >&2
  exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "lab-host-packages: must run as root to install: ${missing[*]}" >&2
  exit 1
fi

echo "lab-host-packages: installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive

# Update the package lists only if some missing package has no candidate.
need_update=0
for p in "${missing[@]}"; do
  cand="$(apt-cache policy "$p" 2>/dev/null | awk '/Candidate:/ {print $2}')"
  if [ -z "$cand" ] || [ "$cand" = "(none)" ]; then need_update=1; break; fi
done
if [ "$need_update" -eq 1 ]; then
  echo "lab-host-packages: apt-get update"
  apt-get update -qq
fi

# apt-cacher-ng asks whether to allow CONNECT tunnels: no.
echo "apt-cacher-ng apt-cacher-ng/tunnelenable boolean false" | debconf-set-selections

apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null
echo "lab-host-packages: done"
