#!/usr/bin/env bash
# Installs the Debian packages the test suite needs (real senders, fault injection tools), only
# when something is missing, and makes sure none of them leaves a daemon running: the integration
# tests start their own Prometheus / VictoriaMetrics on free loopback ports, and a packaged
# service on 9090/9100/8428/8429 would only get in the way. Idempotent; run as root (or via sudo).
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive

# command the tests run -> Debian package that provides it
declare -A NEED=(
  [gcc]=build-essential              # the native hot path (native/hotpath.c, npm run build)
  [prometheus]=prometheus            # test/integration/prometheus.test.ts (sender)
  [promtool]=prometheus              # ... dumps Prometheus's TSDB as the ground truth
  [vmagent]=victoria-metrics         # test/integration/vmagent.test.ts (sender)
  [victoria-metrics]=victoria-metrics # ... single-node storage as the ground truth
  [strace]=strace                    # fault injection: ENOSPC / EIO on chosen syscalls
  [mount]=mount                      # small tmpfs / loop filesystems
  [losetup]=mount
  [unshare]=util-linux
  [mkfs.ext4]=e2fsprogs              # ext4 on a loop file (real fsync)
  [ip]=iproute2                      # network namespaces, veth, tc
  [tc]=iproute2
  [nft]=nftables                     # drop / reset connections
  [fincore]=util-linux-extra         # page-cache residency of WAL files (--wal-drop-cache)
)
# Services these packages ship; none may run.
SERVICES=(prometheus prometheus-node-exporter victoria-metrics vmagent)

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO=(sudo -n); else
    echo "install-test-deps: not root and no sudo; cannot install packages" >&2
  fi
fi

has() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/sbin/$1" ]; }

missing=()
for cmd in "${!NEED[@]}"; do
  pkg=${NEED[$cmd]}
  if ! has "$cmd" || ! dpkg -s "$pkg" >/dev/null 2>&1; then
    case " ${missing[*]-} " in *" $pkg "*) ;; *) missing+=("$pkg") ;; esac
  fi
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "install-test-deps: installing ${missing[*]}"
  # Keep maintainer scripts from starting services while installing (the Debian mechanism:
  # invoke-rc.d asks policy-rc.d, and 101 means "not allowed"). Only ours is removed afterwards.
  policy=/usr/sbin/policy-rc.d
  own_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee "$policy" >/dev/null
    "${SUDO[@]}" chmod 755 "$policy"
    own_policy=1
  fi
  cleanup() { if [ "$own_policy" = 1 ]; then "${SUDO[@]}" rm -f "$policy"; fi; }
  trap cleanup EXIT
  "${SUDO[@]}" apt-get update -qq
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  cleanup
  trap - EXIT
else
  echo "install-test-deps: all present"
fi

# Stop and disable any packaged service (harmless when systemd is not running or the unit is absent).
if command -v systemctl >/dev/null 2>&1; then
  for s in "${SERVICES[@]}"; do
    if systemctl list-unit-files "$s.service" 2>/dev/null | grep -q "^$s.service"; then
      "${SUDO[@]}" systemctl disable --now "$s.service" >/dev/null 2>&1 || "${SUDO[@]}" systemctl disable "$s.service" >/dev/null 2>&1 || true
    fi
  done
fi
for s in "${SERVICES[@]}"; do
  if [ -x "/etc/init.d/$s" ]; then "${SUDO[@]}" "/etc/init.d/$s" stop >/dev/null 2>&1 || true; fi
done

# Nothing of theirs may be listening on the packaged default ports.
if command -v ss >/dev/null 2>&1; then
  busy=$(ss -Hltnp 2>/dev/null | grep -E ':(9090|9100|8428|8429)[[:space:]]' | grep -E 'prometheus|node_exporter|victoria|vmagent' || true)
  if [ -n "$busy" ]; then
    echo "install-test-deps: a packaged daemon is still listening:" >&2
    echo "$busy" >&2
    exit 1
  fi
fi

for cmd in "${!NEED[@]}"; do
  has "$cmd" || { echo "install-test-deps: $cmd still missing" >&2; exit 1; }
done
