// Palette PNGs for the committed README screenshot: a Chromium screenshot (8-bit RGB/RGBA, not interlaced)
// decoded, reduced to at most 256 colours by median cut, and written as an indexed PNG. UI screenshots
// (flat colours, anti-aliased text) lose next to nothing and shrink several times over. No dependencies.
import { deflateSync, inflateSync } from 'node:zlib';

const SIGNATURE = Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]);

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(bytes) {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type, data) {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'ascii');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}

/** Decode an 8-bit RGB or RGBA, non-interlaced PNG into { width, height, rgb } (alpha dropped). */
export function decodePng(png) {
  if (!png.subarray(0, 8).equals(SIGNATURE)) throw new Error('png: not a PNG file');
  let off = 8;
  let width = 0;
  let height = 0;
  let channels = 0;
  const idat = [];
  while (off < png.length) {
    const len = png.readUInt32BE(off);
    const type = png.toString('ascii', off + 4, off + 8);
    const data = png.subarray(off + 8, off + 8 + len);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      const [depth, colorType, , , interlace] = data.subarray(8, 13);
      if (depth !== 8 || (colorType !== 2 && colorType !== 6) || interlace !== 0) throw new Error(`png: only 8-bit RGB/RGBA without interlace (got depth ${depth}, colour type ${colorType}, interlace ${interlace})`);
      channels = colorType === 6 ? 4 : 3;
    } else if (type === 'IDAT') idat.push(data);
    else if (type === 'IEND') break;
    off += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const pixels = Buffer.alloc(stride * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const src = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const row = pixels.subarray(y * stride, (y + 1) * stride);
    const prev = y > 0 ? pixels.subarray((y - 1) * stride, y * stride) : null;
    for (let i = 0; i < stride; i++) {
      const a = i >= channels ? row[i - channels] : 0;
      const b = prev ? prev[i] : 0;
      const c = prev && i >= channels ? prev[i - channels] : 0;
      let v = src[i];
      if (filter === 1) v += a;
      else if (filter === 2) v += b;
      else if (filter === 3) v += (a + b) >> 1;
      else if (filter === 4) {
        const p = a + b - c;
        const pa = Math.abs(p - a);
        const pb = Math.abs(p - b);
        const pc = Math.abs(p - c);
        v += pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      } else if (filter !== 0) throw new Error(`png: bad filter ${filter} in row ${y}`);
      row[i] = v & 0xff;
    }
  }
  const rgb = Buffer.alloc(width * height * 3);
  for (let p = 0; p < width * height; p++) for (let k = 0; k < 3; k++) rgb[3 * p + k] = pixels[channels * p + k];
  return { width, height, rgb };
}

/**
 * Median cut over the distinct colours, each weighted by √count so that thin chart lines (few pixels, their
 * own colour) keep a palette entry next to the large flat areas.
 */
function medianCut(colors, weights, maxColors) {
  const channel = (c, k) => (c >>> (16 - 8 * k)) & 0xff;
  let boxes = [Array.from(colors.keys())];
  const spread = (box) => {
    let best = -1;
    let axis = 0;
    for (let k = 0; k < 3; k++) {
      let lo = 255;
      let hi = 0;
      for (const i of box) {
        const v = channel(colors[i], k);
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
      if (hi - lo > best) {
        best = hi - lo;
        axis = k;
      }
    }
    let w = 0;
    for (const i of box) w += weights[i];
    return { score: best * w, axis };
  };
  while (boxes.length < maxColors) {
    let pick = -1;
    let info = null;
    for (let b = 0; b < boxes.length; b++) {
      if (boxes[b].length < 2) continue;
      const s = spread(boxes[b]);
      if (s.score > 0 && (!info || s.score > info.score)) {
        info = s;
        pick = b;
      }
    }
    if (pick < 0) break;
    const box = boxes[pick].sort((x, y) => channel(colors[x], info.axis) - channel(colors[y], info.axis));
    let total = 0;
    for (const i of box) total += weights[i];
    let acc = 0;
    let cut = 1;
    for (; cut < box.length - 1; cut++) {
      acc += weights[box[cut - 1]];
      if (acc >= total / 2) break;
    }
    boxes = [...boxes.slice(0, pick), box.slice(0, cut), box.slice(cut), ...boxes.slice(pick + 1)];
  }
  return boxes.map((box) => {
    const sum = [0, 0, 0];
    let w = 0;
    for (const i of box) {
      for (let k = 0; k < 3; k++) sum[k] += channel(colors[i], k) * weights[i];
      w += weights[i];
    }
    return sum.map((s) => Math.round(s / w));
  });
}

/** Re-encode a PNG with a palette of at most `maxColors` colours. */
export function quantizePng(png, maxColors = 256) {
  const { width, height, rgb } = decodePng(png);
  const counts = new Map();
  for (let p = 0; p < width * height; p++) {
    const c = (rgb[3 * p] << 16) | (rgb[3 * p + 1] << 8) | rgb[3 * p + 2];
    counts.set(c, (counts.get(c) ?? 0) + 1);
  }
  const colors = Uint32Array.from(counts.keys());
  const weights = Float64Array.from(counts.values(), Math.sqrt);
  const palette = medianCut(colors, weights, maxColors);
  const indexOf = new Map();
  for (const c of colors) {
    const r = c >>> 16;
    const g = (c >>> 8) & 0xff;
    const b = c & 0xff;
    let best = 0;
    let bestD = Infinity;
    for (let q = 0; q < palette.length; q++) {
      const d = (palette[q][0] - r) ** 2 + (palette[q][1] - g) ** 2 + (palette[q][2] - b) ** 2;
      if (d < bestD) {
        bestD = d;
        best = q;
      }
    }
    indexOf.set(c, best);
  }
  const raw = Buffer.alloc((width + 1) * height); // filter byte 0 (none) per row: best for palette images
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const p = y * width + x;
      raw[y * (width + 1) + 1 + x] = indexOf.get((rgb[3 * p] << 16) | (rgb[3 * p + 1] << 8) | rgb[3 * p + 2]);
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 3; // indexed colour
  return Buffer.concat([
    SIGNATURE,
    chunk('IHDR', ihdr),
    chunk('PLTE', Buffer.from(palette.flat())),
    chunk('IDAT', deflateSync(raw, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}
