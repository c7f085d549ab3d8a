/**
 * Exact IEEE 754 binary16 ("half", f16) conversions on the host, and the packed row layout the GPU
 * reads with WGSL's `unpack2x16float`.
 *
 * binary16: 1 sign bit, 5 exponent bits (bias 15), 10 fraction bits. Normal values are
 * (1 + m/1024)·2^(e−15) for e = 1..30 (largest 65504, smallest 2^−14); subnormals are m·2^−24 (e = 0);
 * e = 31 is ±∞ (m = 0) or NaN (m ≠ 0).
 *
 * Rounding (`f16Bits`) is round-to-nearest, ties to even, applied once to the exact value of the input
 * number (a float64, so a float32 input is exact too): no double rounding through float32. Values of
 * magnitude ≥ 65520 (the midpoint between 65504 and 2^16, which ties to the even 2^16) overflow to ±∞;
 * magnitudes ≤ 2^−25 (half the smallest subnormal; the tie goes to the even 0) underflow to ±0.
 *
 * Packed layout (`packF16Rows`): a rows×cols matrix is stored row-major in 32-bit words, two halves per
 * word, `ceil(cols/2)` words per row (each row starts on a word, so an odd `cols` pads the high half of
 * the last word of every row with +0). Element (r, c) is half `c % 2` of word `r·ceil(cols/2) + ⌊c/2⌋`;
 * half 0 is the low 16 bits, which is the `.x` component of `unpack2x16float(word)`.
 */

const f64 = new Float64Array(1);
const f64Words = new Uint32Array(f64.buffer);
/** Index of the high word of a float64 in `f64Words` (little-endian hosts: 1). */
const HI = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 1 : 0;

/** 2^k for the small integer k used here (|k| ≤ 25): exact. */
function pow2(k: number): number {
  return Math.pow(2, k);
}

/** Round q ≥ 0 (q < 2^52) to the nearest integer, ties to even. */
function roundHalfEven(q: number): number {
  const f = Math.floor(q);
  const r = q - f; // exact: q and f share the exponent range, q < 2^52
  if (r > 0.5) return f + 1;
  if (r < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/** The binary16 bit pattern (0..0xffff) nearest to x (round-to-nearest-even; NaN → 0x7e00 with x's sign). */
export function f16Bits(x: number): number {
  f64[0] = x;
  const hi = f64Words[HI];
  const sign = (hi >>> 16) & 0x8000;
  const biased = (hi >>> 20) & 0x7ff; // float64 exponent field
  if (biased === 0x7ff) return x !== x ? sign | 0x7e00 : sign | 0x7c00; // NaN (quiet) / ±∞
  if (biased === 0) return sign; // float64 zero or subnormal (< 2^−1022): rounds to ±0
  const a = Math.abs(x);
  const e = biased - 1023; // a ∈ [2^e, 2^(e+1))
  if (e >= 16) return sign | 0x7c00;
  if (e < -14) {
    // Subnormal target: a = q·2^−24 with q < 1024; q = 1024 after rounding is the smallest normal, whose
    // bit pattern (exponent 1, fraction 0) is exactly 1024, so the same expression encodes it.
    if (e < -26) return sign; // a < 2^−26 < 2^−25: rounds to 0
    return sign | roundHalfEven(a * pow2(24));
  }
  // Normal target: a = q·2^(e−10) with q ∈ [1024, 2048).
  let m = roundHalfEven(a * pow2(10 - e));
  let ex = e;
  if (m === 2048) {
    m = 1024;
    ex++;
  }
  if (ex > 15) return sign | 0x7c00; // rounded up past 65504
  return sign | ((ex + 15) << 10) | (m - 1024);
}

/**
 * `f16Bits` of a float32 given by its bit pattern, in integer arithmetic (the fast path of `packF16Rows`
 * for Float32Array input; identical results: round-to-nearest-even of the exact float32 value).
 */
export function f16BitsOfF32Bits(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const biased = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (biased === 0xff) return mant !== 0 ? sign | 0x7e00 : sign | 0x7c00; // NaN (quiet) / ±∞
  const e = biased - 127;
  if (e > 15) return sign | 0x7c00;
  if (e >= -14) {
    // Normal target: keep the top 10 of 23 fraction bits, round on the other 13. A carry out of the
    // fraction lands in the exponent field, which is the correct next binade (or ∞ = 0x7c00 past 65504).
    let bits = ((e + 15) << 10) + (mant >>> 13);
    const rem = mant & 0x1fff;
    if (rem > 0x1000 || (rem === 0x1000 && (bits & 1) === 1)) bits++;
    return sign | bits;
  }
  if (e < -25) return sign; // below 2^−25: rounds to ±0 (float32 subnormals included)
  // Subnormal target: value = (2^23 + mant)·2^(e−23) = q·2^−24 with q = (2^23 + mant) / 2^(−e−1).
  const full = mant | 0x800000;
  const shift = -e - 1; // 14..24
  let q = full >>> shift;
  const rem = full & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  if (rem > half || (rem === half && (q & 1) === 1)) q++;
  return sign | q; // q = 1024 is the smallest normal's bit pattern
}

/** The value of a binary16 bit pattern (exact: every half is a float32 and a float64). */
export function f16Value(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const e = (bits >>> 10) & 0x1f;
  const m = bits & 0x3ff;
  if (e === 0) return sign * m * pow2(-24);
  if (e === 31) return m === 0 ? sign * Infinity : NaN;
  return sign * (1024 + m) * pow2(e - 25);
}

/** x rounded to the nearest binary16 value (round-to-nearest-even), as a number. */
export function roundF16(x: number): number {
  return f16Value(f16Bits(x));
}

/** Words per packed row: ceil(cols / 2). */
export function packedF16RowWords(cols: number): number {
  return Math.ceil(cols / 2);
}

/**
 * Pack a row-major rows×cols matrix into binary16 halves, two per 32-bit word, `ceil(cols/2)` words per
 * row (see the module comment). Every value is rounded with `f16Bits`.
 */
export function packF16Rows(data: ArrayLike<number>, rows: number, cols: number): Uint32Array {
  const stride = packedF16RowWords(cols);
  const out = new Uint32Array(rows * stride);
  if (data instanceof Float32Array) {
    // Integer fast path on the float32 bits (same rounding as f16Bits; ~10× faster on N × 1536 tables).
    const bitsOf = new Uint32Array(data.buffer, data.byteOffset, data.length);
    for (let r = 0; r < rows; r++) {
      const src = r * cols;
      const dst = r * stride;
      for (let c = 0; c < cols; c += 2) {
        const lo = f16BitsOfF32Bits(bitsOf[src + c]);
        const hi = c + 1 < cols ? f16BitsOfF32Bits(bitsOf[src + c + 1]) : 0;
        out[dst + (c >>> 1)] = (lo | (hi << 16)) >>> 0;
      }
    }
    return out;
  }
  for (let r = 0; r < rows; r++) {
    const src = r * cols;
    const dst = r * stride;
    for (let c = 0; c < cols; c += 2) {
      const lo = f16Bits(data[src + c]);
      const hi = c + 1 < cols ? f16Bits(data[src + c + 1]) : 0;
      out[dst + (c >>> 1)] = (lo | (hi << 16)) >>> 0;
    }
  }
  return out;
}

/** Inverse of `packF16Rows`: the rows×cols matrix of the halves' exact values (padding dropped). */
export function unpackF16Rows(words: ArrayLike<number>, rows: number, cols: number, out: Float32Array | Float64Array = new Float32Array(rows * cols)): Float32Array | Float64Array {
  const stride = packedF16RowWords(cols);
  // The 2^16 possible halves, decoded once.
  const table = f16Table();
  for (let r = 0; r < rows; r++) {
    const src = r * stride;
    const dst = r * cols;
    for (let c = 0; c < cols; c++) {
      const w = words[src + (c >>> 1)];
      out[dst + c] = table[(c & 1 ? w >>> 16 : w) & 0xffff];
    }
  }
  return out;
}

let decodeTable: Float32Array | null = null;
/** f16Value for all 65536 bit patterns. */
function f16Table(): Float32Array {
  if (!decodeTable) {
    decodeTable = new Float32Array(65536);
    for (let b = 0; b < 65536; b++) decodeTable[b] = f16Value(b);
  }
  return decodeTable;
}
