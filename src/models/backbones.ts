/**
 * The augmented views of the SGL and SimGCL backbones (backbones spec §3), recorded inside RecModel's
 * training step next to the clean view that BPR, kd, and ranking use.
 *
 * - SGL (§3.2): views 1 and 2 propagate E_0 over Ã_v, Â with a fresh Bernoulli(ρ) mask of its directed
 *   non-zeros per view and step (kept entries keep their Â value: no rescaling); one mask serves all layers.
 * - SimGCL (§3.3): views 1 and 2 propagate over Â and add ε·n(R)⊙sign(H) after every layer 1…L, with fresh
 *   uniforms per view and layer; the noisy layer feeds the next one.
 * Both sum the layers with layer 0 included. Every draw is keyed by the step's noise seed and (view, layer,
 * edge or row/column) through the counter-based hashes of src/ops/random.ts, so the backends draw the same
 * numbers and a step can be replayed from its seed.
 */
import type { Backend, Tensor } from '../ops/tensor.js';
import { axpy } from '../ops/elementwise.js';
import { addSignNoise, dropoutValues } from '../ops/random.js';
import { type Csr, spmm } from '../ops/spmm.js';
import { hashU32 } from '../util/random.js';
import type { Backbone } from './config.js';

/** One propagated view: its layers E_0…E_L (E_0 is the parameter itself), their sum X, and Ã's values (SGL). */
export interface View {
  layers: Tensor[];
  sum: Tensor;
  /** The dropped values of Ã_v (SGL), null when the view propagates over Â. */
  values: Tensor | null;
}

/** Seed of SGL's edge mask of view v (1, 2) in the step seeded `stepSeed`. */
export function maskSeed(stepSeed: number, view: number): number {
  return hashU32((stepSeed ^ Math.imul(0x5a6c0000 + view, 0x27d4eb2f)) >>> 0);
}
/** Seed of SimGCL's noise of view v (1, 2) at layer l (1…L) in the step seeded `stepSeed`. */
export function noiseSeed(stepSeed: number, view: number, layer: number): number {
  return hashU32((stepSeed ^ Math.imul(0x51c00000 + (view << 8) + layer, 0x165667b1)) >>> 0);
}

/**
 * E_{l+1} = M·E_l for l < L (M = Â with `values`, or Ã when `values` is a dropped copy), with SimGCL's noise
 * added to each new layer when `noise` is given; X = Σ_l E_l. Buffers come from `tmp` (the step's temporaries).
 */
export function propagate(
  be: Backend,
  adj: Csr,
  e0: Tensor,
  layers: number,
  tmp: (shape: number[], label: string) => Tensor,
  tag: string,
  opts: { values: Tensor | null; noise?: { seed: (layer: number) => number; eps: number } },
): View {
  const [n, d] = e0.shape;
  const E = [e0];
  for (let l = 0; l < layers; l++) {
    const next = tmp([n, d], `${tag}E${l + 1}`);
    spmm(be, adj, E[l], next, { values: opts.values });
    if (opts.noise) addSignNoise(be, next, opts.noise.seed(l + 1), opts.noise.eps);
    E.push(next);
  }
  const sum = tmp([n, d], `${tag}X`);
  be.copy(e0, sum);
  for (let l = 1; l <= layers; l++) axpy(be, 1, E[l], sum);
  return { layers: E, sum, values: opts.values };
}

/** Views 1 and 2 of `backbone` for one step (spec §3.2, §3.3). */
export function augmentedViews(
  be: Backend,
  backbone: Exclude<Backbone, 'lightgcn'>,
  adj: Csr,
  e0: Tensor,
  cfg: { layers: number; keepRate: number; noiseEps: number },
  stepSeed: number,
  tmp: (shape: number[], label: string) => Tensor,
): [View, View] {
  const view = (v: number): View => {
    const tag = `view${v}.`;
    if (backbone === 'sgl') {
      let values = adj.values;
      if (cfg.keepRate < 1) {
        values = tmp([adj.nnz], `${tag}adj`);
        dropoutValues(be, adj.values!, values, maskSeed(stepSeed, v), cfg.keepRate);
      }
      return propagate(be, adj, e0, cfg.layers, tmp, tag, { values });
    }
    return propagate(be, adj, e0, cfg.layers, tmp, tag, { values: adj.values, noise: { seed: (l) => noiseSeed(stepSeed, v, l), eps: cfg.noiseEps } });
  };
  return [view(1), view(2)];
}
