/**
 * Serving a catalogue of 10⁶ items (d = 32) on a device whose storage bindings and buffers are capped at
 * 128 MiB, the WebGPU default: the item table (122 MiB) is one binding, the scores of 1,000,000 items take
 * 4 MB per user, so `recommend` scores 33 users per block (GEMM + top-K) and a few users with the fused kernel.
 * Rankings (users and items sampled) must equal a brute-force top-k over a host E_fin in float64, on lavapipe
 * and on the CPU backend.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildGraph, userItemCsr } from '../../src/data/graph.js';
import type { Interactions } from '../../src/data/types.js';
import { serializeModel } from '../../src/io/modelfile.js';
import { modelConfig } from '../../src/models/config.js';
import { RecModel } from '../../src/models/model.js';
import { createBackend } from '../../src/node/index.js';
import { type Backend, CpuBackend, type WebGpuBackend } from '../../src/ops/tensor.js';
import { servingBlockBytes } from '../../src/ops/topk.js';
import { Recommender } from '../../src/serve/recommender.js';
import { Rng } from '../../src/util/random.js';
import { bruteTopK, dot, expectSameRanking, hostEfin, norm } from './ranking.js';

const NU = 2000;
const NI = 1_000_000;
const LIMIT = 128 * 1024 * 1024;
const K = 10;

// ~12 items per user, half of them from the 1,000 most popular items (hubs), one user without any.
function makeTrain(): Interactions {
  const r = new Rng(41);
  const users: number[] = [];
  const items: number[] = [];
  for (let u = 0; u < NU; u++) {
    if (u === 3) continue;
    const chosen = new Set<number>();
    const n = 6 + r.int(13);
    while (chosen.size < n) chosen.add(r.next() < 0.5 ? r.int(1000) : r.int(NI));
    for (const i of [...chosen].sort((a, b) => a - b)) {
      users.push(u);
      items.push(i);
    }
  }
  return { users: Uint32Array.from(users), items: Uint32Array.from(items) };
}

const TRAIN = makeTrain();
const seen = userItemCsr(NU, NI, TRAIN);
const seenOf = (u: number) => new Set(seen.colIdx.subarray(seen.rowPtr[u], seen.rowPtr[u + 1]));
const allItems = Uint32Array.from({ length: NI }, (_, i) => i);
// 35 sampled users (33 + 2: one full GEMM block and a fused remainder), the user without items among them.
const SAMPLE = Uint32Array.from({ length: 35 }, (_, r) => (r === 0 ? 3 : (r * 7919) % NU));
const QUERY_ITEMS = [999_999, 123_457];

let bytes: Uint8Array;
let ref: Awaited<ReturnType<typeof hostEfin>>;
let itemNorms: Float64Array;

beforeAll(async () => {
  const cpu = new CpuBackend({ precision: 'f32' });
  const model = RecModel.create(cpu, modelConfig('lightgcn', 'other', { embeddingDim: 32, layers: 2 }), { numUsers: NU, numItems: NI, graph: buildGraph({ numUsers: NU, numItems: NI, train: TRAIN }) }, { seed: 5 });
  ref = await hostEfin(model, TRAIN);
  bytes = await serializeModel(model, { train: TRAIN });
  model.dispose();
  cpu.destroy();
  itemNorms = Float64Array.from({ length: NI }, (_, i) => norm(ref.items, i, ref.d));
}, 60_000);

async function checkServing(be: Backend, users: Uint32Array): Promise<void> {
  const rec = await Recommender.load(bytes, { backend: be });
  try {
    const got = await rec.recommend(users, { k: K });
    expect(got).toHaveLength(users.length);
    users.forEach((u, r) => {
      const score = (i: number) => dot(ref.users, u, ref.items, i, ref.d);
      expectSameRanking(got[r], bruteTopK(score, allItems, seenOf(u), K), score, `${be.kind}: user ${u}`);
    });
    const similar = await rec.similarItems(QUERY_ITEMS, K);
    QUERY_ITEMS.forEach((q, r) => {
      const cos = (i: number) => dot(ref.items, q, ref.items, i, ref.d) / (itemNorms[q] * itemNorms[i]);
      expectSameRanking(similar[r], bruteTopK(cos, allItems, new Set([q]), K), cos, `${be.kind}: items similar to ${q}`);
    });
  } finally {
    rec.dispose();
  }
}

describe(`serving ${NU} users × ${NI} items against brute force`, () => {
  let gpuBe: WebGpuBackend;
  beforeAll(async () => {
    gpuBe = (await createBackend({ backend: 'webgpu', limitOverrides: { maxStorageBufferBindingSize: LIMIT, maxBufferSize: LIMIT } })) as WebGpuBackend;
  });
  afterAll(() => gpuBe.destroy());

  it('on WebGPU with 128 MiB bindings: score blocks of 33 users from the limit', async () => {
    expect(Math.min(gpuBe.ctx.limits.maxStorageBufferBindingSize, gpuBe.ctx.limits.maxBufferSize)).toBe(LIMIT);
    expect(Math.floor(servingBlockBytes(gpuBe, NI) / (4 * NI))).toBe(33);
    await checkServing(gpuBe, SAMPLE);
  }, 60_000);

  it('on the CPU backend (no blocks there: 6 of the users)', async () => {
    const cpu = new CpuBackend({ precision: 'f32' });
    try {
      await checkServing(cpu, SAMPLE.subarray(0, 6));
    } finally {
      cpu.destroy();
    }
  }, 60_000);
});
