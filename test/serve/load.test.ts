import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildGraph } from '../../src/data/graph.js';
import type { Interactions } from '../../src/data/types.js';
import { IrllrecError } from '../../src/errors.js';
import { encodeInteractions, serializeModel } from '../../src/io/modelfile.js';
import { readSafetensors, writeSafetensors } from '../../src/io/safetensors.js';
import { modelConfig } from '../../src/models/config.js';
import { RecModel } from '../../src/models/model.js';
import type { Backend } from '../../src/ops/tensor.js';
import { Recommender as NodeRecommender } from '../../src/node/serve.js';
import { Recommender } from '../../src/serve/recommender.js';
import { Rng } from '../../src/util/random.js';
import { cpu, gpu } from '../helpers.js';

const NU = 19;
const NI = 23;
function makeTrain(): Interactions {
  const r = new Rng(3);
  const users: number[] = [];
  const items: number[] = [];
  for (let u = 0; u < NU; u++) {
    const s = new Set<number>();
    while (s.size < 3) s.add(r.int(NI));
    for (const i of [...s].sort((a, b) => a - b)) {
      users.push(u);
      items.push(i);
    }
  }
  return { users: Uint32Array.from(users), items: Uint32Array.from(items) };
}
const TRAIN = makeTrain();

async function modelBytes(be: Backend, withTrain = true): Promise<Uint8Array> {
  const m = RecModel.create(be, modelConfig('lightgcn', 'default', { embeddingDim: 8, layers: 2 }), { numUsers: NU, numItems: NI, graph: buildGraph({ numUsers: NU, numItems: NI, train: TRAIN }) }, { seed: 1 });
  const bytes = await serializeModel(m, withTrain ? { train: TRAIN, itemIds: Array.from({ length: NI }, (_, i) => `item-${i}`) } : {});
  m.dispose();
  return bytes;
}

/** The byte range of a tensor in a safetensors file (from its header). */
function tensorRange(bytes: Uint8Array, name: string): [number, number] {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  const [b, e] = header[name].data_offsets as [number, number];
  return [8 + n + b, 8 + n + e];
}

async function expectError(p: Promise<unknown>, code: string, message: RegExp): Promise<void> {
  const e = await p.then(
    () => null,
    (x: unknown) => x,
  );
  expect(e, 'expected an error').toBeInstanceOf(IrllrecError);
  expect((e as IrllrecError).code).toBe(code);
  expect((e as Error).message).toMatch(message);
}

afterAll(async () => (await gpu()).destroy());

describe('Recommender.load: sources', () => {
  it('loads bytes and ArrayBuffers; ids from the file; recommendations match fromModel', async () => {
    const be = await gpu();
    const bytes = await modelBytes(be);
    const a = await Recommender.load(bytes, { backend: be });
    const b = await Recommender.load(bytes.slice().buffer, { backend: be });
    expect(a.itemIds?.[5]).toBe('item-5');
    expect(a.kind).toBe('lightgcn');
    const ra = await a.recommend([0, 18], { k: 5 });
    const rb = await b.recommend([0, 18], { k: 5 });
    expect(Array.from(ra[1].ids)).toEqual(Array.from(rb[1].ids));
    a.dispose();
    b.dispose();
  });

  it('a file without training interactions needs options.interactions', async () => {
    const be = cpu('f32');
    const bare = await modelBytes(be, false);
    await expectError(Recommender.load(bare, { backend: be }), 'data', /carries no training interactions.*options\.interactions/);
    const rec = await Recommender.load(bare, { backend: be, interactions: TRAIN });
    const withFile = await Recommender.load(await modelBytes(be), { backend: be });
    expect(Array.from((await rec.recommend(3, { k: 6 })).ids)).toEqual(Array.from((await withFile.recommend(3, { k: 6 })).ids));
    rec.dispose();
    withFile.dispose();
  });

  it('URLs are fetched (streamed), and a download over maxBytes is cut off', async () => {
    const be = cpu('f32');
    const bytes = await modelBytes(be);
    const chunked = () =>
      new ReadableStream<Uint8Array>({
        start(c) {
          for (let o = 0; o < bytes.length; o += 1000) c.enqueue(bytes.slice(o, o + 1000));
          c.close();
        },
      });
    const fetchOk = (async () => new Response(chunked(), { status: 200 })) as typeof fetch;
    const rec = await Recommender.load('https://example.test/model.safetensors', { backend: be, fetch: fetchOk });
    expect(rec.numItems).toBe(NI);
    rec.dispose();
    await expectError(Recommender.load(new URL('https://example.test/m'), { backend: be, fetch: fetchOk, maxBytes: 2000 }), 'limit', /more than maxBytes = 2000/);
    const declared = (async () => new Response(chunked(), { status: 200, headers: { 'content-length': String(bytes.length) } })) as typeof fetch;
    await expectError(Recommender.load('https://example.test/m', { backend: be, fetch: declared, maxBytes: 100 }), 'limit', new RegExp(`${bytes.length} bytes, more than maxBytes = 100`));
    const missing = (async () => new Response('nope', { status: 404, statusText: 'Not Found' })) as typeof fetch;
    await expectError(Recommender.load('https://example.test/x', { backend: be, fetch: missing }), 'data', /HTTP 404/);
  });

  it('the node entry loads paths (size checked first) and makes and destroys its own backend', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'irllrec-serve-'));
    try {
      const bytes = await modelBytes(cpu('f32'));
      const path = join(dir, 'model.safetensors');
      writeFileSync(path, bytes);
      const rec = await NodeRecommender.load(path);
      expect(rec.backend.kind).toBe('webgpu');
      expect(rec).toBeInstanceOf(NodeRecommender);
      expect((await rec.recommend(2, { k: 4 })).ids.length).toBe(4);
      rec.dispose();
      await expectError(NodeRecommender.load(path, { backend: cpu('f32'), maxBytes: 10 }), 'limit', /model\.safetensors: the model file has \d+ bytes, more than maxBytes = 10/);
      await expectError(NodeRecommender.load(join(dir, 'absent.safetensors'), { backend: cpu('f32') }), 'io', /absent\.safetensors: cannot read the model file \(no such file\)/);
      writeFileSync(path, bytes.subarray(0, bytes.length - 7));
      await expectError(NodeRecommender.load(path, { backend: cpu('f32') }), 'format', /model\.safetensors: /);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('Recommender.load: damaged and oversized files get clear errors', () => {
  it('truncated files', async () => {
    const be = cpu('f32');
    const bytes = await modelBytes(be);
    await expectError(Recommender.load(bytes.subarray(0, 5), { backend: be }), 'format', /shorter than the 8-byte header length/);
    await expectError(Recommender.load(bytes.subarray(0, 200), { backend: be }), 'format', /header length \d+ runs past the end of the file/);
    await expectError(Recommender.load(bytes.subarray(0, bytes.length - 4), { backend: be }), 'format', /model bytes: .*data_offsets|data section/);
  });

  it('corrupted headers and values', async () => {
    const be = cpu('f32');
    const bytes = await modelBytes(be);
    const garbled = bytes.slice();
    for (let i = 8; i < 40; i++) garbled[i] = 0x7b ^ i;
    await expectError(Recommender.load(garbled, { backend: be }), 'format', /header/);
    const huge = bytes.slice();
    new DataView(huge.buffer).setBigUint64(0, 1n << 40n, true);
    await expectError(Recommender.load(huge, { backend: be }), 'format', /header length \d+ exceeds/);
    const nan = bytes.slice();
    const [b] = tensorRange(nan, 'item_embeds');
    new DataView(nan.buffer).setFloat32(b + 4 * 13, Number.NaN, true);
    await expectError(Recommender.load(nan, { backend: be }), 'nonfinite', /'item_embeds' has a non-finite value at index 13/);
    const { tensors, metadata } = readSafetensors(bytes);
    const badTrain = writeSafetensors(Object.fromEntries(tensors), { ...metadata, num_train: '1', train: encodeInteractions({ users: Uint32Array.of(3), items: Uint32Array.of(NI + 5) }) });
    await expectError(Recommender.load(badTrain, { backend: be }), 'format', /metadata 'train': interaction 0 \(3, 28\) is out of range/);
  });

  it('files over maxBytes are refused before parsing; tables over the device limit before allocating', async () => {
    const be = await gpu();
    const bytes = await modelBytes(be);
    await expectError(Recommender.load(bytes, { backend: be, maxBytes: bytes.length - 1 }), 'limit', new RegExp(`model bytes: the model file has ${bytes.length} bytes, more than maxBytes = ${bytes.length - 1}`));
    // A device whose storage bindings hold less than the 42×8 embedding table (lavapipe cannot be asked for a
    // smaller limit than the default, so the limits are presented through a proxy).
    const small = new Proxy(be, {
      get(target, prop, receiver) {
        if (prop === 'ctx') return { ...target.ctx, limits: { ...target.ctx.limits, maxStorageBufferBindingSize: 1024 } };
        return Reflect.get(target, prop, receiver);
      },
    });
    await expectError(Recommender.load(bytes, { backend: small }), 'limit', /the 42×8 embedding table needs 1344 bytes, more than this device's storage buffer limit \(1024 bytes\)/);
  });
});
