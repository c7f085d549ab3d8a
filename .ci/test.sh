#!/usr/bin/env bash
# The README's test command: set up what is missing, type-check, then run every test (GPU tests on the
# machine's WebGPU adapter: lavapipe on CI and on GPU-less machines).
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/setup.sh "$@"
npx tsc --noEmit -p .
npx vitest run --config test/vitest.config.ts
