#!/usr/bin/env bash
# The README's test command: set up what is missing (software Vulkan, Chromium, npm packages, the build),
# type-check (library, demo, tests and benchmarks), then run every test: unit/GPU tests on the machine's WebGPU
# adapter (lavapipe on CI and on GPU-less machines), then the demo's browser tests in headless Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/setup.sh --browser "$@"
npx tsc --noEmit -p .
npx tsc -p demo/tsconfig.json
npx tsc -p test/tsconfig.json
npx vitest run --config test/vitest.config.ts
npx vitest run --config test/browser/vitest.config.ts
