/**
 * A log-log line chart as a standalone SVG string (no dependency): one or more panels side by side sharing
 * the axes' ranges, each with series of (x, y) points; solid or dashed lines, a legend under the panels.
 */

export interface Series {
  label: string;
  color: string;
  dashed?: boolean;
  points: [number, number][];
}

export interface Panel {
  title: string;
  series: Series[];
}

const W = 420;
const H = 300;
const M = { left: 64, right: 16, top: 40, bottom: 48 };

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Powers of ten spanning [lo, hi] (lo, hi > 0). */
function decades(lo: number, hi: number): number[] {
  const out: number[] = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) out.push(10 ** e);
  return out;
}

const tick = (v: number) => (v >= 1e6 ? `${v / 1e6}M` : v >= 1e3 ? `${v / 1e3}k` : String(v));

export function logLogSvg(opts: { title: string; xLabel: string; yLabel: string; panels: Panel[] }): string {
  const pts = opts.panels.flatMap((p) => p.series.flatMap((s) => s.points)).filter(([x, y]) => x > 0 && y > 0);
  const xs = decades(Math.min(...pts.map((p) => p[0])), Math.max(...pts.map((p) => p[0])));
  const ys = decades(Math.min(...pts.map((p) => p[1])), Math.max(...pts.map((p) => p[1])));
  const [x0, x1] = [Math.log10(xs[0]), Math.log10(xs[xs.length - 1])];
  const [y0, y1] = [Math.log10(ys[0]), Math.log10(ys[ys.length - 1])];
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const sx = (x: number) => M.left + ((Math.log10(x) - x0) / Math.max(1e-9, x1 - x0)) * pw;
  const sy = (y: number) => M.top + ph - ((Math.log10(y) - y0) / Math.max(1e-9, y1 - y0)) * ph;
  const legend = opts.panels[0]?.series ?? [];
  const legendRows = Math.ceil(legend.length / 2);
  const width = W * opts.panels.length;
  const height = H + 20 + legendRows * 18;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2}" y="16" text-anchor="middle" font-size="13" font-weight="bold">${esc(opts.title)}</text>`,
  ];
  opts.panels.forEach((panel, p) => {
    out.push(`<g transform="translate(${p * W},0)">`);
    out.push(`<text x="${M.left + pw / 2}" y="${M.top - 8}" text-anchor="middle" font-size="12">${esc(panel.title)}</text>`);
    for (const x of xs) out.push(`<line x1="${sx(x)}" y1="${M.top}" x2="${sx(x)}" y2="${M.top + ph}" stroke="#ddd"/><text x="${sx(x)}" y="${M.top + ph + 14}" text-anchor="middle">${tick(x)}</text>`);
    for (const y of ys) out.push(`<line x1="${M.left}" y1="${sy(y)}" x2="${M.left + pw}" y2="${sy(y)}" stroke="#ddd"/><text x="${M.left - 4}" y="${sy(y) + 4}" text-anchor="end">${tick(y)}</text>`);
    out.push(`<rect x="${M.left}" y="${M.top}" width="${pw}" height="${ph}" fill="none" stroke="#888"/>`);
    out.push(`<text x="${M.left + pw / 2}" y="${M.top + ph + 32}" text-anchor="middle">${esc(opts.xLabel)}</text>`);
    out.push(`<text transform="translate(14,${M.top + ph / 2}) rotate(-90)" text-anchor="middle">${esc(opts.yLabel)}</text>`);
    for (const s of panel.series) {
      const good = s.points.filter(([x, y]) => x > 0 && y > 0);
      if (good.length === 0) continue;
      const path = good.map(([x, y], i) => `${i ? 'L' : 'M'}${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(' ');
      out.push(`<path d="${path}" fill="none" stroke="${s.color}" stroke-width="1.8"${s.dashed ? ' stroke-dasharray="5,3"' : ''}/>`);
      for (const [x, y] of good) out.push(`<circle cx="${sx(x).toFixed(1)}" cy="${sy(y).toFixed(1)}" r="2.5" fill="${s.color}"/>`);
    }
    out.push('</g>');
  });
  legend.forEach((s, i) => {
    const lx = 20 + (i % 2) * (width / 2);
    const ly = H + 14 + Math.floor(i / 2) * 18;
    out.push(`<line x1="${lx}" y1="${ly}" x2="${lx + 28}" y2="${ly}" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="5,3"' : ''}/><text x="${lx + 34}" y="${ly + 4}">${esc(s.label)}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
