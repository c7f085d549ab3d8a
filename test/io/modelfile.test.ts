import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { syntheticDataset } from '../../src/data/synthetic.js';
import { IrllrecError } from '../../src/errors.js';
import { decodeInteractions, encodeInteractions, parseModelFile, serializeModel } from '../../src/io/modelfile.js';
import { parseNpy } from '../../src/io/npy.js';
import { float32Tensor, readSafetensors, writeSafetensors } from '../../src/io/safetensors.js';
import { Recommender } from '../../src/serve/recommender.js';
import { parseCheckpoint } from '../../src/train/checkpoint.js';
import { createModel } from '../../src/train/trainer.js';
import { MODEL_KINDS, modelConfig } from '../../src/models/config.js';
import { cpu } from '../helpers.js';

const ds = syntheticDataset({ seed: 4, numUsers: 40, numItems: 50, numIntents: 4, textDim: 8, interactionsPerUser: 6 });

function expectFormatError(f: () => unknown, message: RegExp): void {
  let e: unknown = null;
  try {
    f();
  } catch (x) {
    e = x;
  }
  expect(e, 'expected an error').toBeInstanceOf(IrllrecError);
  expect((e as IrllrecError).code).toBe('format');
  expect((e as Error).message).toMatch(message);
}

// The authors' IRLLRec module: `user_embeds`, `item_embeds`, `user_intent`, `item_intent` parameters and the
// nn.Sequential(Linear, LeakyReLU, Linear) MLPs `mlp`, `int_mlp` and the EMA teacher `int_mlp_m` (the spec,
// section 2); RLMRec-Con has the embeddings and `mlp`, LightGCN the embeddings only.
const mlp = (p: string) => [`${p}.0.weight`, `${p}.0.bias`, `${p}.2.weight`, `${p}.2.bias`];
const STATE_DICT_KEYS = {
  lightgcn: ['user_embeds', 'item_embeds'],
  rlmrec: ['user_embeds', 'item_embeds', ...mlp('mlp')],
  irllrec: ['user_embeds', 'item_embeds', 'user_intent', 'item_intent', ...mlp('mlp'), ...mlp('int_mlp'), ...mlp('int_mlp_m')],
  // The backbones (backbones spec §2): the same tables; their _int modules define no int_mlp_m.
  sgl: ['user_embeds', 'item_embeds'],
  sgl_plus: ['user_embeds', 'item_embeds', ...mlp('mlp')],
  sgl_int: ['user_embeds', 'item_embeds', 'user_intent', 'item_intent', ...mlp('mlp'), ...mlp('int_mlp')],
  simgcl: ['user_embeds', 'item_embeds'],
  simgcl_plus: ['user_embeds', 'item_embeds', ...mlp('mlp')],
  simgcl_int: ['user_embeds', 'item_embeds', 'user_intent', 'item_intent', ...mlp('mlp'), ...mlp('int_mlp')],
} as const;

describe('model files', () => {
  for (const kind of MODEL_KINDS) {
    it(`${kind}: the tensors are exactly the reference's state_dict keys (load_state_dict strict=True), training data in the metadata`, async () => {
      const m = createModel(cpu('f32'), ds, { model: kind, seed: 1 });
      const bytes = await serializeModel(m, { train: ds.train, userIds: ds.userIds, itemIds: ds.itemIds, datasetName: ds.name });
      const { tensors, metadata } = readSafetensors(bytes);
      expect([...tensors.keys()].sort()).toEqual([...STATE_DICT_KEYS[kind]].sort());
      for (const t of tensors.values()) expect(t.dtype).toBe('F32');
      const file = parseModelFile(bytes);
      expect(file.config).toEqual(m.config);
      expect(Array.from(file.train!.users)).toEqual(Array.from(ds.train.users));
      expect(Array.from(file.train!.items)).toEqual(Array.from(ds.train.items));
      expect(metadata.train.length).toBeLessThan(ds.train.users.length * 4); // compact: a few bytes each
      m.dispose();
    });
  }

  it("the authors' state_dict of a backbone model loads as the kind named (its tensor names are LightGCN's), and a kind whose towers differ is refused", async () => {
    for (const kind of ['sgl', 'simgcl_plus', 'sgl_int'] as const) {
      const m = createModel(cpu('f32'), ds, { model: kind, seed: 1 });
      const tensors: Record<string, ReturnType<typeof float32Tensor>> = {};
      for (const [name, t] of await m.exportParameters()) tensors[name] = float32Tensor(t.data, t.shape);
      const bare = writeSafetensors(tensors, {});
      expect(parseModelFile(bare).config.kind).toBe(kind === 'sgl' ? 'lightgcn' : kind === 'simgcl_plus' ? 'rlmrec' : 'irllrec');
      const named = parseModelFile(bare, 'sgl.safetensors', { kind });
      expect(named.config).toEqual(modelConfig(kind, 'other', { embeddingDim: m.config.embeddingDim, numIntents: m.config.numIntents }, 'reference'));
      m.dispose();
    }
    const plain = createModel(cpu('f32'), ds, { model: 'sgl', seed: 1 });
    const tensors: Record<string, ReturnType<typeof float32Tensor>> = {};
    for (const [name, t] of await plain.exportParameters()) tensors[name] = float32Tensor(t.data, t.shape);
    expectFormatError(() => parseModelFile(writeSafetensors(tensors, {}), 'f', { kind: 'simgcl_int' }), /f: a simgcl_int model has profile tower and has intent branch, but the file has no 'mlp.0.weight'/);
    expect(() => parseModelFile(writeSafetensors(tensors, {}), 'f', { kind: 'sgl2' })).toThrow(/unknown model kind 'sgl2'/);
    plain.dispose();
  });

  it('the interaction codec round-trips large, unsorted and repeated ids and rejects damage', () => {
    const users = Uint32Array.from([0, 5, 5, 2 ** 31, 3, 0, 4_000_000_000, 7]);
    const items = Uint32Array.from([9, 0, 0, 1, 2 ** 32 - 1, 200, 5, 5]);
    const text = encodeInteractions({ users, items });
    const back = decodeInteractions(text, users.length, 2 ** 32, 2 ** 32, 'f');
    expect(Array.from(back.users)).toEqual(Array.from(users));
    expect(Array.from(back.items)).toEqual(Array.from(items));
    expectFormatError(() => decodeInteractions(text, users.length, 2 ** 32, 300, 'f'), /f: metadata 'train': interaction 4 \(3, 4294967295\) is out of range \(4294967296 users, 300 items\)/);
    expectFormatError(() => decodeInteractions(text, users.length + 1, 2 ** 32, 2 ** 32, 'f'), /ends inside|does not fit/);
    expectFormatError(() => decodeInteractions(text, users.length - 1, 2 ** 32, 2 ** 32, 'f'), /bytes left after 7 interactions/);
    expectFormatError(() => decodeInteractions('%%%', 1, 10, 10, 'f'), /not base64/);
    expectFormatError(() => decodeInteractions(btoa('\xff\xff\xff\xff\xff\xff\x01\x00'), 1, 10, 10, 'f'), /longer than 5 bytes/);
  });

  it('files of format version 1 (interactions as irllrec.train_* I32 tensors) still load', async () => {
    const m = createModel(cpu('f32'), ds, { model: 'lightgcn', seed: 1 });
    const params = await m.exportParameters();
    const tensors: Record<string, ReturnType<typeof float32Tensor>> = {};
    for (const [name, t] of params) tensors[name] = float32Tensor(t.data, t.shape);
    const n = ds.train.users.length;
    tensors['irllrec.train_users'] = { dtype: 'I32', shape: [n], data: new Uint8Array(Int32Array.from(ds.train.users).buffer) };
    tensors['irllrec.train_items'] = { dtype: 'I32', shape: [n], data: new Uint8Array(Int32Array.from(ds.train.items).buffer) };
    const v1 = writeSafetensors(tensors, { format: 'irllrec-model', format_version: '1', config: JSON.stringify(m.config), num_users: String(ds.numUsers), num_items: String(ds.numItems) });
    const file = parseModelFile(v1);
    expect(Array.from(file.train!.items)).toEqual(Array.from(ds.train.items));
    expect([...file.tensors.keys()].sort()).toEqual(['item_embeds', 'user_embeds']);
    const rec = await Recommender.load(v1, { backend: cpu('f32') });
    const seen = new Set<number>();
    for (let k = 0; k < n; k++) if (ds.train.users[k] === 0) seen.add(ds.train.items[k]);
    const { ids } = await rec.recommend(0, { k: ds.numItems - seen.size });
    expect(ids.length).toBe(ds.numItems - seen.size); // every unseen item, none of the seen ones
    for (const i of ids) expect(seen.has(i)).toBe(false);
    rec.dispose();
    m.dispose();
  });

  it('the model card: library version, preset, config, data sizes, validation metrics, date', async () => {
    const m = createModel(cpu('f32'), ds, { model: 'rlmrec', preset: 'default', seed: 1 });
    const date = new Date('2026-01-02T03:04:05.000Z');
    const file = parseModelFile(await serializeModel(m, { train: ds.train, metrics: { 'recall@20': 0.25, 'ndcg@20': 0.125 }, date }));
    const { version } = JSON.parse(readFileSync('package.json', 'utf8'));
    expect(file.card).toEqual({ libraryVersion: version, preset: 'default', created: '2026-01-02T03:04:05.000Z', metrics: { 'recall@20': 0.25, 'ndcg@20': 0.125 }, numUsers: 40, numItems: 50, numTrain: ds.train.users.length });
    expect(file.config).toEqual(m.config);
    const bare = parseModelFile(await serializeModel(m));
    expect(bare.card.metrics).toBeUndefined();
    expect(bare.card.numTrain).toBeUndefined();
    expect(Date.parse(bare.card.created!)).toBeGreaterThan(Date.now() - 60_000);
    await expect(serializeModel(m, { metrics: { 'recall@20': Number.NaN } })).rejects.toThrow(/metric 'recall@20' is NaN/);
    m.dispose();
  });
});

describe('PyTorch pickles are recognised and refused, never unpickled', () => {
  // torch.save's zip layout: a local file header whose first entry is '<archive>/data.pkl'.
  const zipWith = (name: string): Uint8Array => {
    const n = new TextEncoder().encode(name);
    const b = new Uint8Array(30 + n.length + 16);
    b.set([0x50, 0x4b, 0x03, 0x04]);
    b[26] = n.length;
    b.set(n, 30);
    return b;
  };
  const torchZip = zipWith('model/data.pkl');
  const legacy = Uint8Array.from([0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e]);
  const loaders: [string, (b: Uint8Array) => unknown][] = [
    ['parseModelFile', (b) => parseModelFile(b, 'model.pth')],
    ['parseCheckpoint', (b) => parseCheckpoint(b, 'model.pth')],
    ['parseNpy', (b) => parseNpy(b, 'model.pth')],
    ['readSafetensors', (b) => readSafetensors(b, 'model.pth')],
  ];
  for (const [name, load] of loaders) {
    it(`${name}: a torch.save zip and a legacy pickle`, () => {
      expectFormatError(() => load(torchZip), /model\.pth: a PyTorch checkpoint \(torch\.save zip archive with a pickle\).*save_file\(torch\.load\(path/);
      for (const protocol of [2, 3, 4, 5]) {
        legacy[1] = protocol;
        expectFormatError(() => load(legacy), new RegExp(`model\\.pth: a Python pickle \\(protocol ${protocol}, .*never unpickles.*safetensors`));
      }
    });
  }

  it('a safetensors file whose header is 640, 896, 1152 or 1408 bytes (first bytes 0x80 0x02…0x05, as a pickle) is read', () => {
    for (const length of [0x0280, 0x0380, 0x0480, 0x0580]) {
      // Pad a metadata string until the header (JSON padded to 8 bytes) is exactly `length` bytes.
      let pad = 0;
      let bytes = writeSafetensors({ x: float32Tensor(Float32Array.of(1, 2), [2]) }, { pad: '' });
      while (new DataView(bytes.buffer, bytes.byteOffset).getUint32(0, true) < length) bytes = writeSafetensors({ x: float32Tensor(Float32Array.of(1, 2), [2]) }, { pad: 'p'.repeat(++pad) });
      expect(Array.from(bytes.subarray(0, 2))).toEqual([0x80, length >> 8]);
      expect(Array.from(readSafetensors(bytes, 'f').tensors.get('x')!.shape)).toEqual([2]);
    }
  });

  it('Recommender.load, and other zip files (an .npz) get their own message', async () => {
    await expect(Recommender.load(torchZip, { backend: cpu('f32') })).rejects.toThrow(/a PyTorch checkpoint/);
    expectFormatError(() => parseNpy(zipWith('item_profile.npy'), 'x.npz'), /x\.npz: a zip archive \(first entry 'item_profile\.npy'\).*an \.npz/);
  });
});
