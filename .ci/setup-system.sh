#!/usr/bin/env bash
# Installs what a fresh Debian bookworm machine lacks to run irllrec's GPU paths on the CPU:
# Mesa >= 25 (lavapipe, a software Vulkan driver) from bookworm-backports, since Dawn rejects Mesa 22.
# With --browser it also installs Debian's Chromium for the browser tests.
# Idempotent: does nothing that is already done. Needs root (or sudo).
# The backports source uses the mirror this machine's bookworm sources already name (a local mirror or proxy
# keeps working); `--backports-line` prints the line it would add and exits (APT_DIR=DIR reads DIR instead of
# /etc/apt: test/ci/setup-system.test.ts).
set -euo pipefail
want_browser=0
for a in "$@"; do [ "$a" = "--browser" ] && want_browser=1; done
APT_DIR="${APT_DIR:-/etc/apt}"

# The bookworm-backports line for the first `bookworm` source in APT_DIR: one-line `deb [opts] URI bookworm …`
# in sources.list and sources.list.d/*.list, or deb822 stanzas (Types: deb, URIs:, Suites: … bookworm …,
# Signed-By: a key file) in sources.list.d/*.sources; deb.debian.org when there is none.
backports_line() {
  local f line
  for f in "$APT_DIR/sources.list" "$APT_DIR"/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    line=$(awk '
      /^[[:space:]]*deb[[:space:]]/ {
        sub(/^[[:space:]]*deb[[:space:]]+/, ""); opts = ""
        if (substr($0, 1, 1) == "[") { i = index($0, "]"); opts = substr($0, 1, i) " "; $0 = substr($0, i + 1) }
        if ($2 == "bookworm") { print "deb " opts $1 " bookworm-backports main"; exit }
      }' "$f")
    [ -n "$line" ] && { echo "$line"; return; }
  done
  for f in "$APT_DIR"/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    line=$(awk '
      function flush() {
        if (types ~ /(^|[[:space:]])deb([[:space:]]|$)/ && (" " suites " ") ~ /[[:space:]]bookworm[[:space:]]/ && uris != "" && enabled != "no") {
          split(uris, u, /[[:space:]]+/); opts = (key ~ /^\//) ? "[signed-by=" key "] " : ""
          print "deb " opts u[1] " bookworm-backports main"; found = 1; exit
        }
        types = suites = uris = key = enabled = ""
      }
      /^[[:space:]]*#/ { next }
      /^[[:space:]]*$/ { flush(); next }
      /^[A-Za-z-]+:/ {
        k = tolower(substr($0, 1, index($0, ":") - 1)); v = substr($0, index($0, ":") + 1); gsub(/^[[:space:]]+|[[:space:]]+$/, "", v)
        if (k == "types") types = v; else if (k == "uris") uris = v; else if (k == "suites") suites = v
        else if (k == "signed-by") key = v; else if (k == "enabled") enabled = tolower(v)
      }
      END { if (!found) flush() }' "$f")
    [ -n "$line" ] && { echo "$line"; return; }
  done
  echo "deb http://deb.debian.org/debian bookworm-backports main"
}
for a in "$@"; do [ "$a" = "--backports-line" ] && { backports_line; exit 0; }; done
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
if ! grep -rqs 'bookworm-backports' "$APT_DIR/sources.list" "$APT_DIR/sources.list.d/"; then
  line=$(backports_line)
  echo "setup-system: adding bookworm-backports to apt sources: $line"
  echo "$line" | $SUDO tee "$APT_DIR/sources.list.d/bookworm-backports.list" >/dev/null
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
