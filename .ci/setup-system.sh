#!/usr/bin/env bash
# Installs what a fresh Debian bookworm machine lacks to run irllrec's GPU paths on the CPU:
# Mesa >= 25 (lavapipe, a software Vulkan driver) from bookworm-backports, since Dawn rejects Mesa 22.
# With --browser it also installs Debian's Chromium for the browser tests.
# Idempotent: does nothing that is already done. Needs root (or sudo).
set -euo pipefail
want_browser=0
for a in "$@"; do [ "$a" = "--browser" ] && want_browser=1; done
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

have_lavapipe() {
  local v
  v=$(dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null || true)
  [ -n "$v" ] || return 1
  [ "${v%%.*}" -ge 25 ] 2>/dev/null
}
need_apt=0
have_lavapipe || need_apt=1
if [ $want_browser = 1 ] && ! command -v chromium >/dev/null 2>&1; then need_apt=1; fi
[ $need_apt = 1 ] || { echo "setup-system: software Vulkan (Mesa >= 25) already installed"; exit 0; }

if ! command -v apt-get >/dev/null 2>&1; then
  echo "setup-system: no apt-get here. Install a Vulkan driver with WebGPU support (Mesa >= 25 lavapipe, or a real GPU driver) by hand." >&2
  exit 1
fi
if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
  echo "setup-system: adding bookworm-backports to apt sources"
  echo 'deb http://deb.debian.org/debian bookworm-backports main' | $SUDO tee /etc/apt/sources.list.d/bookworm-backports.list >/dev/null
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
if ! have_lavapipe; then
  $SUDO apt-get install -y -qq -t bookworm-backports mesa-vulkan-drivers libvulkan1 >/dev/null
fi
if [ $want_browser = 1 ] && ! command -v chromium >/dev/null 2>&1; then
  $SUDO apt-get install -y -qq chromium >/dev/null
fi
echo "setup-system: mesa-vulkan-drivers $(dpkg-query -W -f='${Version}' mesa-vulkan-drivers)"
