/**
 * Device loss in the middle of training: the device is destroyed from `onStep` (as a driver reset or
 * `device.destroy()` by another owner would do). `fit` must reject with a DeviceLostError (code
 * 'device-lost'), not another error and not hang; later calls on the backend fail the same way.
 */
import { afterAll, expect, it } from 'vitest';
import { syntheticDataset } from '../../src/data/synthetic.js';
import { DeviceLostError, IrllrecError } from '../../src/errors.js';
import { createBackend } from '../../src/node/index.js';
import type { WebGpuBackend } from '../../src/ops/tensor.js';
import { createModel, fit } from '../../src/train/trainer.js';

const backends: WebGpuBackend[] = [];
afterAll(() => {
  for (const be of backends) be.destroy();
});

/** Resolves with the settled outcome of `p`, or with 'hang' after `ms`. */
async function settle<T>(p: Promise<T>, ms: number): Promise<{ ok: true; value: T } | { ok: false; error: unknown } | 'hang'> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<'hang'>((resolve) => {
    timer = setTimeout(() => resolve('hang'), ms);
  });
  try {
    return await Promise.race([p.then((value) => ({ ok: true as const, value }), (error: unknown) => ({ ok: false as const, error })), hang]);
  } finally {
    clearTimeout(timer);
  }
}

const data = syntheticDataset({ seed: 8, numUsers: 60, numItems: 80, numIntents: 3, textDim: 8, interactionsPerUser: 6 });

for (const kind of ['lightgcn', 'irllrec'] as const) {
  for (const atStep of [1, 4]) {
    it(`${kind}: destroying the device at step ${atStep} makes fit reject with DeviceLostError`, async () => {
      const be = (await createBackend({ backend: 'webgpu' })) as WebGpuBackend;
      backends.push(be);
      let steps = 0;
      const outcome = await settle(
        fit(be, data, {
          model: kind,
          config: kind === 'lightgcn' ? { embeddingDim: 8, layers: 2 } : { embeddingDim: 8, layers: 2, numIntents: 3 },
          epochs: 3,
          batchSize: 64,
          evalEvery: 1,
          seed: 5,
          onStep: () => {
            steps++;
            if (steps === atStep) be.device.destroy();
          },
        }),
        30_000,
      );
      expect(outcome).not.toBe('hang');
      if (outcome === 'hang') return;
      expect(outcome.ok).toBe(false);
      if (outcome.ok) return;
      const e = outcome.error;
      expect(e instanceof DeviceLostError ? 'DeviceLostError' : `${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`).toBe('DeviceLostError');
      expect((e as IrllrecError).code).toBe('device-lost');
      expect((e as Error).message.length).toBeGreaterThan(0);
      // The backend stays lost: the next use fails with the same typed error (no hang, no other error).
      const again = await settle(
        (async () => {
          const model = createModel(be, data, { model: 'lightgcn', config: { embeddingDim: 8, layers: 1 } });
          await be.read(model.params.get('E0')!);
        })(),
        30_000,
      );
      expect(again).not.toBe('hang');
      if (again === 'hang' || again.ok) throw new Error(`the backend kept working after device loss: ${JSON.stringify(again)}`);
      expect(again.error).toBeInstanceOf(IrllrecError);
      expect((again.error as IrllrecError).code).toBe('device-lost');
    });
  }
}
