#!/usr/bin/env bash
# Everything a fresh clone needs before it can run: the software Vulkan driver (if this machine has no
# WebGPU-capable one), npm dependencies (if missing or stale) and the build (if stale).
# Used by `npm run main`, `npm test` and .ci/run. Idempotent and quiet when there is nothing to do.
set -euo pipefail
cd "$(dirname "$0")/.."
browser=""
for a in "$@"; do [ "$a" = "--browser" ] && browser="--browser"; done
if [ -z "${IRLLREC_SKIP_SYSTEM:-}" ]; then
  bash .ci/setup-system.sh $browser
fi
if [ ! -d node_modules/webgpu ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
# Rebuild dist/ when any source or shader is newer than the last build.
if [ ! -f dist/.stamp ] || [ -n "$(find src shaders package.json -newer dist/.stamp -print -quit)" ]; then
  node .ci/build.mjs
fi
