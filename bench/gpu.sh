#!/usr/bin/env bash
# The kernel, training, serving and peer benchmarks in their quick forms on whatever WebGPU adapter this machine
# has (a few minutes on a hardware GPU; 20 on lavapipe with 2 shared cores at load 16): prints the adapter and writes every
# table to bench/results/<adapter-slug>/ (kernels, train, serve, serve-scale + .svg, peer; .md and .json), with
# each part's progress log next to them (<part>.log). See bench/README.md.
#
#   bash bench/gpu.sh                     # all four parts
#   GPU_BENCH_PARTS=serve,peer bash bench/gpu.sh
#
# Needs `npm ci` (node_modules) and the datasets movielens and amazon in $IRLLREC_SHARED_DATA (default
# ../shared/data). A part that fails is reported and the others still run; the exit status is 1 then.
set -uo pipefail
cd "$(dirname "$0")/.."
export IRLLREC_SHARED_DATA="${IRLLREC_SHARED_DATA:-../shared/data}"
parts="${GPU_BENCH_PARTS:-kernels,train,serve,peer}"

if [ ! -d node_modules/webgpu ]; then
  echo "bench/gpu.sh: node_modules/webgpu is missing: run 'npm ci' first" >&2
  exit 2
fi
for d in movielens amazon; do
  if [ ! -d "$IRLLREC_SHARED_DATA/$d" ]; then
    echo "bench/gpu.sh: dataset '$d' not found in IRLLREC_SHARED_DATA=$IRLLREC_SHARED_DATA" >&2
    exit 2
  fi
done

line="$(node bench/run.mjs bench/adapter.ts)" || { echo "bench/gpu.sh: no WebGPU adapter" >&2; exit 2; }
slug="${line%%$'\t'*}"
out="bench/results/$slug"
mkdir -p "$out"
echo "adapter: ${line#*$'\t'}"
echo "results: $out/"

failed=()
for part in ${parts//,/ }; do
  case "$part" in
    kernels | train | serve | peer) ;;
    *) echo "bench/gpu.sh: unknown part '$part' (kernels, train, serve, peer)" >&2; exit 2 ;;
  esac
  echo "== $part ($(date -u +%H:%M:%S) UTC)"
  start=$SECONDS
  if node bench/run.mjs "bench/$part.ts" --quick --out "$out" > "$out/$part.stdout" 2> "$out/$part.log"; then
    echo "   done in $((SECONDS - start)) s: $out/$part.md"
  else
    echo "   FAILED after $((SECONDS - start)) s (exit $?): see $out/$part.log" >&2
    tail -n 5 "$out/$part.log" >&2
    failed+=("$part")
  fi
  rm -f "$out/$part.stdout"
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "bench/gpu.sh: failed: ${failed[*]}" >&2
  exit 1
fi
echo "all parts done: $(ls "$out" | tr '\n' ' ')"
