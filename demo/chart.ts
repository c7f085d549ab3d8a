/**
 * A small SVG line chart for live training curves: linear or log10 y axis, a clickable HTML legend that
 * hides and shows series, redraws batched to one per animation frame. No dependencies.
 */

export interface Series {
  id: string;
  label: string;
  color: string;
  /** SVG stroke-dasharray, e.g. '6 4'. */
  dash?: string;
  /** Draw a marker at every point (sparse series such as per-epoch metrics). */
  markers?: boolean;
  points: [number, number][];
}

export interface ChartOptions {
  xLabel: string;
  /** log10 y axis; non-positive values are left out (callers plot |value|). */
  logY?: boolean;
  /** Format of the values shown in the legend. */
  format?: (v: number) => string;
  /** Text shown while there is nothing to draw. */
  empty?: string;
}

const SVG_NS = 'http://www.w3.org/2000/svg';
const W = 640;
const H = 260;
const PAD = { left: 56, right: 14, top: 12, bottom: 34 };

function el<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>, text?: string): SVGElementTagNameMap[K] {
  const e = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

/** About `count` round tick values covering [lo, hi] (1, 2, 5 × 10^n steps). */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return out;
}

function tickLabel(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e4 || a < 1e-3) return v.toExponential(0);
  return String(Number(v.toPrecision(3)));
}

export class LineChart {
  private series: Series[] = [];
  private readonly hidden = new Set<string>();
  private pending = false;

  constructor(
    private readonly svg: SVGSVGElement,
    private readonly legend: HTMLElement,
    private readonly opts: ChartOptions,
  ) {
    this.render();
  }

  /** Replace every series (the chart keeps which ids the visitor hid). */
  set(series: Series[]): void {
    this.series = series;
    this.schedule();
  }

  /** Redraw at the next animation frame (many updates per frame cost one redraw). */
  schedule(): void {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      this.render();
    });
  }

  private y(v: number): number | null {
    if (!Number.isFinite(v)) return null;
    if (this.opts.logY) return v > 0 ? Math.log10(v) : null;
    return v;
  }

  render(): void {
    const svg = this.svg;
    svg.replaceChildren();
    const visible = this.series.filter((s) => !this.hidden.has(s.id));
    let x0 = Infinity;
    let x1 = -Infinity;
    let y0 = Infinity;
    let y1 = -Infinity;
    for (const s of visible) {
      for (const [x, v] of s.points) {
        const y = this.y(v);
        if (y === null) continue;
        x0 = Math.min(x0, x);
        x1 = Math.max(x1, x);
        y0 = Math.min(y0, y);
        y1 = Math.max(y1, y);
      }
    }
    const frame = el('rect', { x: PAD.left, y: PAD.top, width: W - PAD.left - PAD.right, height: H - PAD.top - PAD.bottom, class: 'frame' });
    svg.append(frame);
    this.renderLegend();
    if (!Number.isFinite(x0)) {
      svg.append(el('text', { x: W / 2, y: H / 2, 'text-anchor': 'middle', class: 'empty' }, this.opts.empty ?? 'no data yet'));
      return;
    }
    if (x1 === x0) {
      x0 -= 1;
      x1 += 1;
    }
    if (this.opts.logY) {
      y0 = Math.floor(y0);
      y1 = Math.ceil(y1);
      if (y1 === y0) y1 += 1;
    } else {
      const span = y1 - y0 || Math.abs(y1) || 1;
      y0 = Math.min(0, y0 - 0.05 * span);
      y1 = y1 + 0.08 * span;
    }
    const px = (x: number) => PAD.left + ((x - x0) / (x1 - x0)) * (W - PAD.left - PAD.right);
    const py = (y: number) => H - PAD.bottom - ((y - y0) / (y1 - y0)) * (H - PAD.top - PAD.bottom);

    // Grid and axes.
    const grid = el('g', { class: 'grid' });
    const yTicks = this.opts.logY ? Array.from({ length: y1 - y0 + 1 }, (_, k) => y0 + k).filter((_, k, a) => a.length <= 8 || k % Math.ceil(a.length / 8) === 0) : niceTicks(y0, y1);
    for (const t of yTicks) {
      grid.append(el('line', { x1: PAD.left, x2: W - PAD.right, y1: py(t), y2: py(t) }));
      const label = this.opts.logY ? (t === 0 ? '1' : `1e${t}`) : tickLabel(t);
      grid.append(el('text', { x: PAD.left - 6, y: py(t) + 4, 'text-anchor': 'end' }, label));
    }
    const xTicks = niceTicks(x0, x1, 6).filter((t) => Number.isInteger(t));
    for (const t of xTicks) {
      grid.append(el('line', { x1: px(t), x2: px(t), y1: H - PAD.bottom, y2: H - PAD.bottom + 4 }));
      grid.append(el('text', { x: px(t), y: H - PAD.bottom + 16, 'text-anchor': 'middle' }, tickLabel(t)));
    }
    grid.append(el('text', { x: (PAD.left + W - PAD.right) / 2, y: H - 4, 'text-anchor': 'middle', class: 'axis-label' }, this.opts.xLabel));
    svg.append(grid);

    // Lines: a gap wherever a value is missing (e.g. ≤ 0 on a log axis).
    for (const s of visible) {
      const g = el('g', { 'data-series': s.id });
      let d = '';
      let pen = false;
      for (const [x, v] of s.points) {
        const y = this.y(v);
        if (y === null) {
          pen = false;
          continue;
        }
        d += `${pen ? 'L' : 'M'}${px(x).toFixed(1)},${py(y).toFixed(1)}`;
        pen = true;
        if (s.markers) g.append(el('circle', { cx: px(x).toFixed(1), cy: py(y).toFixed(1), r: 3, fill: s.color }));
      }
      const path = el('path', { d, stroke: s.color, fill: 'none', 'stroke-width': 1.8, 'stroke-linejoin': 'round' });
      if (s.dash) path.setAttribute('stroke-dasharray', s.dash);
      g.prepend(path);
      svg.append(g);
    }
  }

  private renderLegend(): void {
    const fmt = this.opts.format ?? ((v: number) => tickLabel(v));
    this.legend.replaceChildren(
      ...this.series.map((s) => {
        const b = document.createElement('button');
        b.type = 'button';
        b.className = `key${this.hidden.has(s.id) ? ' off' : ''}`;
        b.dataset.series = s.id;
        b.title = this.hidden.has(s.id) ? 'show' : 'hide';
        const sw = document.createElement('span');
        sw.className = 'swatch';
        sw.style.background = s.color;
        if (s.dash) sw.classList.add('dashed');
        const last = s.points.length ? s.points[s.points.length - 1][1] : NaN;
        b.append(sw, `${s.label}${Number.isFinite(last) ? ` ${fmt(last)}` : ''}`);
        b.onclick = () => {
          if (this.hidden.has(s.id)) this.hidden.delete(s.id);
          else this.hidden.add(s.id);
          this.render();
        };
        return b;
      }),
    );
  }
}
