/**
 * Resource leaks over repeated train → serve cycles on ONE WebGPU backend: create → fit (LightGCN, a few
 * steps) → Recommender.fromModel → recommend → dispose, 100 times. After the last cycle the backend must
 * hold exactly what it held after the first (live tensors, live buffers and bytes) and its buffer pool
 * must not have grown (pooled buffers/bytes, buffers ever created): every cycle reuses the first cycle's
 * buffers.
 */
import { afterAll, expect, it } from 'vitest';
import { syntheticDataset } from '../../src/data/synthetic.js';
import { Recommender } from '../../src/serve/recommender.js';
import { fit } from '../../src/train/trainer.js';
import { gpu, trackUndestroyedBuffers } from '../helpers.js';

afterAll(async () => (await gpu()).destroy());

const CYCLES = 100;

it(`${CYCLES} create → fit → fromModel → recommend → dispose cycles leak no tensors or buffers`, async () => {
  const be = await gpu();
  const data = syntheticDataset({ seed: 4, numUsers: 60, numItems: 80, numIntents: 3, textDim: 8, interactionsPerUser: 6 });
  const device = be.device;
  const undestroyed = trackUndestroyedBuffers(device);
  const snapshot = () => ({ liveTensors: be.liveTensorCount, undestroyedGpuBuffers: undestroyed.size, ...be.poolStats });
  const before = snapshot();
  let afterFirst: ReturnType<typeof snapshot> | null = null;
  const t0 = performance.now();
  for (let cycle = 0; cycle < CYCLES; cycle++) {
    const res = await fit(be, data, {
      model: 'lightgcn',
      config: { embeddingDim: 8, layers: 2 },
      epochs: 1,
      maxSteps: 3,
      batchSize: 64,
      evalEvery: 1,
      patience: 0,
      ks: [10],
      seed: cycle,
    });
    const rec = await Recommender.fromModel(res.model, { interactions: data.train });
    res.model.dispose();
    const top = await rec.recommend(cycle % data.numUsers, { k: 10 });
    expect(top.ids.length).toBe(10);
    rec.dispose();
    if (cycle === 0) afterFirst = snapshot();
  }
  const seconds = (performance.now() - t0) / 1000;
  const last = snapshot();
  // Everything a cycle allocates is released: nothing stays live beyond what was live before.
  expect({ liveTensors: last.liveTensors, liveBuffers: last.liveBuffers, liveBytes: last.liveBytes }).toEqual({
    liveTensors: afterFirst!.liveTensors,
    liveBuffers: afterFirst!.liveBuffers,
    liveBytes: afterFirst!.liveBytes,
  });
  expect(last.undestroyedGpuBuffers).toBe(afterFirst!.undestroyedGpuBuffers);
  expect(last.liveTensors).toBe(before.liveTensors);
  expect(last.liveBuffers).toBe(before.liveBuffers);
  // The pool serves later cycles from the first cycle's buffers: no growth.
  expect(last.pooledBytes).toBeLessThanOrEqual(afterFirst!.pooledBytes);
  expect(last.pooledBuffers).toBeLessThanOrEqual(afterFirst!.pooledBuffers);
  expect(last.peakBytes).toBe(afterFirst!.peakBytes);
  expect(last.created).toBe(afterFirst!.created);
  console.log(`leaks: ${CYCLES} cycles in ${seconds.toFixed(1)} s; after first`, afterFirst, 'after last', last);
});
