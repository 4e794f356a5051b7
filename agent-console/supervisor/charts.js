// Simple SVG charts drawn here (no library): a line chart for trends per day and a horizontal bar
// chart for agents, units and items. Labels are SVG text nodes (textContent), never markup.
import { el } from './dom.js';

const NS = 'http://www.w3.org/2000/svg';

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = String(text);
  return node;
}

/** A "nice" upper bound and step for an axis from 0 to max (whole steps for counts). */
export function niceScale(max, ticks = 4, integer = false) {
  const m = Math.max(Number(max) || 0, integer ? 1 : 1e-9);
  const raw = m / ticks;
  const mag = 10 ** Math.floor(Math.log10(raw));
  let step = [1, 2, 2.5, 5, 10].map((f) => f * mag).find((s) => s >= raw) || 10 * mag;
  if (integer) step = Math.max(1, Math.ceil(step));
  return { top: step * Math.ceil(m / step), step };
}

function legend(series) {
  return el('ul', { class: 'chart-legend' }, series.map((s, i) => el('li', {}, [
    el('span', { class: `swatch s${i}`, 'aria-hidden': 'true' }), el('span', { text: s.name }),
  ])));
}

function frame(title, width, height) {
  const root = svg('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img', class: 'chart-svg',
    preserveAspectRatio: 'xMidYMid meet' });
  root.setAttribute('aria-label', title);
  root.append(svg('title', {}, title));
  return root;
}

/**
 * Line chart. labels: x labels (e.g. days); series: [{name, values: [number|null]}];
 * format(v) → axis and tooltip text; fixedMax: e.g. 1 for ratios; minTop: the axis reaches at least
 * this (so an all-zero series still has a readable axis); integer: whole-number ticks (counts).
 */
export function lineChart({ title, labels, series, format = String, fixedMax, minTop = 0, integer = false }) {
  const W = 640;
  const H = 240;
  const pad = { l: 56, r: 14, t: 14, b: 34 };
  const values = series.flatMap((s) => s.values).filter((v) => v !== null && v !== undefined && !Number.isNaN(v));
  const { top, step } = niceScale(fixedMax ?? Math.max(minTop, ...values), 4, integer);
  const x = (i) => pad.l + (labels.length <= 1 ? (W - pad.l - pad.r) / 2 : (i * (W - pad.l - pad.r)) / (labels.length - 1));
  const y = (v) => H - pad.b - (Number(v) / top) * (H - pad.t - pad.b);
  const root = frame(title, W, H);
  const grid = svg('g', { class: 'grid' });
  for (let v = 0; v <= top + step / 2; v += step) {
    grid.append(svg('line', { x1: pad.l, x2: W - pad.r, y1: y(v), y2: y(v) }));
    grid.append(svg('text', { x: pad.l - 6, y: y(v) + 4, 'text-anchor': 'end' }, format(v)));
  }
  root.append(grid);
  const every = Math.max(1, Math.ceil(labels.length / 8));
  const xs = svg('g', { class: 'x-labels' });
  labels.forEach((lab, i) => {
    if (i % every === 0 || i === labels.length - 1) {
      xs.append(svg('text', { x: x(i), y: H - pad.b + 18, 'text-anchor': 'middle' }, lab));
    }
  });
  root.append(xs);
  series.forEach((s, si) => {
    const g = svg('g', { class: `series s${si}` });
    let d = '';
    s.values.forEach((v, i) => {
      if (v === null || v === undefined || Number.isNaN(v)) return;
      d += `${d ? 'L' : 'M'}${x(i).toFixed(1)},${y(v).toFixed(1)}`;
    });
    if (d) g.append(svg('path', { d, fill: 'none' }));
    s.values.forEach((v, i) => {
      if (v === null || v === undefined || Number.isNaN(v)) return;
      const dot = svg('circle', { cx: x(i).toFixed(1), cy: y(v).toFixed(1), r: 3.5 });
      dot.append(svg('title', {}, `${s.name} · ${labels[i]}: ${format(v)}`));
      g.append(dot);
    });
    root.append(g);
  });
  return el('figure', { class: 'chart' }, [el('figcaption', { text: title }), root, legend(series)]);
}

/** Horizontal grouped bars: one group per label, one bar per series. */
export function barChart({ title, labels, series, format = String, integer = false, fixedMax }) {
  const W = 640;
  const rowH = 10 * series.length + 12;
  const pad = { l: 150, r: 60, t: 8, b: 8 };
  const H = pad.t + pad.b + rowH * Math.max(labels.length, 1);
  const values = series.flatMap((s) => s.values).map(Number).filter((v) => !Number.isNaN(v));
  const { top } = niceScale(fixedMax ?? Math.max(0, ...values), 4, integer);
  const root = frame(title, W, H);
  labels.forEach((lab, i) => {
    const y0 = pad.t + i * rowH;
    const name = String(lab);
    root.append(svg('text', { x: pad.l - 8, y: y0 + rowH / 2 + 4, 'text-anchor': 'end', class: 'bar-label' },
      name.length > 14 ? `${name.slice(0, 13)}…` : name));
    series.forEach((s, si) => {
      const v = Number(s.values[i]) || 0;
      const w = (v / top) * (W - pad.l - pad.r);
      const bar = svg('rect', { x: pad.l, y: y0 + 4 + si * 10, width: Math.max(w, v ? 1 : 0).toFixed(1),
        height: 8, class: `bar s${si}` });
      bar.append(svg('title', {}, `${name} · ${s.name}: ${format(v)}`));
      root.append(bar);
      root.append(svg('text', { x: pad.l + w + 4, y: y0 + 11 + si * 10, class: 'bar-value' }, format(v)));
    });
  });
  return el('figure', { class: 'chart' }, [el('figcaption', { text: title }), root, legend(series)]);
}
