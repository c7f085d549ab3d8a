/**
 * The one module that imports typegpu: kernel parameter structs are declared here as typegpu data schemas
 * (`typegpu/data`), which give their memory layout; the WGSL declaration injected into the hand-written shaders
 * is written out here from the same fields. Keeping every typegpu import in this file contains its 0.x API
 * churn. Only `typegpu/data` is imported: the full `typegpu` entry (its shader resolver) would add ~230 KiB
 * to the minified core bundle for what is, with scalar fields, a one-line declaration
 * (`test/gpu/layouts.test.ts` checks it against `tgpu.resolve`).
 *
 * Parameter structs hold 4-byte scalars only (u32 / i32 / f32), so their uniform layout is sequential and
 * serialising them needs no alignment rules.
 */
import * as d from 'typegpu/data';

export type ScalarType = 'u32' | 'i32' | 'f32';
export type ParamFields = Record<string, ScalarType>;

export interface ParamsLayout<F extends ParamFields = ParamFields> {
  readonly fields: F;
  readonly names: readonly (keyof F & string)[];
  /** WGSL declaration of `struct Params { ... }`. */
  readonly wgsl: string;
  /** Bytes of the uniform binding (a multiple of 16). */
  readonly byteSize: number;
}

const SCALARS = { u32: d.u32, i32: d.i32, f32: d.f32 } as const;

/** Declare a kernel's parameter struct, e.g. `paramsLayout({ rows: 'u32', d: 'u32', tau: 'f32' })`. */
export function paramsLayout<F extends ParamFields>(fields: F): ParamsLayout<F> {
  const names = Object.keys(fields) as (keyof F & string)[];
  const props: Record<string, (typeof SCALARS)[ScalarType]> = {};
  for (const n of names) props[n] = SCALARS[fields[n]];
  // An empty struct is not valid WGSL; kernels without parameters still get one padding field.
  if (names.length === 0) props._pad = d.u32;
  const Params = d.struct(props);
  const wgsl = `struct Params {\n${Object.entries(props)
    .map(([n, t]) => `  ${n}: ${t.type},`)
    .join('\n')}\n}\n`;
  const byteSize = Math.max(16, Math.ceil(d.sizeOf(Params) / 16) * 16);
  return { fields, names, wgsl, byteSize };
}

/** Write `values` into `view` at `offset` in the struct's field order. */
export function writeParams<F extends ParamFields>(
  layout: ParamsLayout<F>,
  values: { [K in keyof F]: number },
  view: DataView,
  offset: number,
): void {
  let o = offset;
  for (const n of layout.names) {
    const v = values[n];
    if (v === undefined || Number.isNaN(v as number)) throw new Error(`kernel parameter '${n}' is missing or NaN`);
    switch (layout.fields[n]) {
      case 'u32':
        view.setUint32(o, v >>> 0, true);
        break;
      case 'i32':
        view.setInt32(o, v | 0, true);
        break;
      case 'f32':
        view.setFloat32(o, v, true);
        break;
    }
    o += 4;
  }
}
