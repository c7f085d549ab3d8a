/**
 * Kernel parameter structs: the WGSL declaration written by `paramsLayout` must be the one typegpu's resolver
 * produces for the same schema, and the byte size the uniform binding needs.
 */
import tgpu from 'typegpu';
import * as d from 'typegpu/data';
import { describe, expect, it } from 'vitest';
import { type ParamFields, paramsLayout, writeParams } from '../../src/gpu/layouts.js';

const SCALARS = { u32: d.u32, i32: d.i32, f32: d.f32 } as const;
const norm = (w: string) => w.replace(/alias _Anchor = Params;/, '').replace(/\s+/g, ' ').trim();

describe('paramsLayout', () => {
  const cases: ParamFields[] = [{}, { rows: 'u32' }, { m: 'u32', n: 'u32', k: 'u32', slope: 'f32', off: 'i32' }, Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`f${i}`, (['u32', 'i32', 'f32'] as const)[i % 3]]))];
  for (const fields of cases) {
    it(`declares struct Params as tgpu.resolve does (${Object.keys(fields).length} fields)`, () => {
      const layout = paramsLayout(fields);
      const props: Record<string, (typeof SCALARS)[keyof typeof SCALARS]> = {};
      for (const [n, t] of Object.entries(fields)) props[n] = SCALARS[t];
      if (Object.keys(fields).length === 0) props._pad = d.u32;
      const Params = d.struct(props);
      expect(norm(layout.wgsl)).toBe(norm(tgpu.resolve({ template: 'alias _Anchor = Params;', externals: { Params } })));
      expect(layout.byteSize).toBe(Math.max(16, Math.ceil((4 * Math.max(1, Object.keys(fields).length)) / 16) * 16));
    });
  }

  it('writes values in field order with their types', () => {
    const layout = paramsLayout({ a: 'u32', b: 'i32', c: 'f32' });
    const view = new DataView(new ArrayBuffer(layout.byteSize));
    writeParams(layout, { a: 0xfffffffe, b: -3, c: 0.5 }, view, 0);
    expect([view.getUint32(0, true), view.getInt32(4, true), view.getFloat32(8, true)]).toEqual([0xfffffffe, -3, 0.5]);
    expect(() => writeParams(layout, { a: 1, b: 2, c: Number.NaN }, view, 0)).toThrow(/'c' is missing or NaN/);
  });
});
