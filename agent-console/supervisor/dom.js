// Small DOM and formatting helpers of the supervisor view. Data goes in through textContent only.
import { t, getLang } from '/static/help/i18n.js';

export const $ = (id) => document.getElementById(id);

/**
 * el('td', {class: 'num', dataset: {k: 'v'}, text: 'x', title: 'y'}, [children])
 * `text` sets textContent; attributes are set with setAttribute (never HTML).
 */
export function el(tag, opts = {}, children = []) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(opts)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'text') node.textContent = String(v);
    else if (k === 'class') node.className = v;
    else if (k === 'dataset') Object.assign(node.dataset, v);
    else if (k === 'on') Object.entries(v).forEach(([type, fn]) => node.addEventListener(type, fn));
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c);
  return node;
}

/** Sets textContent only when it changed (keeps selection and avoids needless layout). */
export function setIfChanged(node, text) {
  const s = text === null || text === undefined ? '' : String(text);
  if (node.textContent !== s) node.textContent = s;
}

/**
 * Keyed rows: reuses the <tr> of each key, fills it in place, keeps the order of `rows`, removes the
 * rest. Rows are moved only when out of place, so a focused button inside one keeps its focus.
 * make(row) builds a new <tr>; fill(tr, row) updates it. Returns the number of rows.
 */
export function syncRows(tbody, rows, keyOf, make, fill) {
  const existing = new Map();
  for (const tr of [...tbody.children]) {
    if (tr.dataset.key) existing.set(tr.dataset.key, tr);
    else tr.remove();
  }
  rows.forEach((row, i) => {
    const key = String(keyOf(row));
    let tr = existing.get(key);
    if (tr) existing.delete(key);
    else {
      tr = make(row);
      tr.dataset.key = key;
    }
    fill(tr, row);
    if (tbody.children[i] !== tr) tbody.insertBefore(tr, tbody.children[i] || null);
  });
  existing.forEach((tr) => tr.remove());
  return rows.length;
}

/** A table's "nothing here" row (colspan over every column). */
export function emptyRow(tbody, cols, key) {
  tbody.replaceChildren(el('tr', { class: 'empty' }, [el('td', { colspan: cols, text: t(key) })]));
}

/** Seconds → "m:ss" or "h:mm:ss" (tabular, language-neutral). */
export function clock(seconds) {
  const s = Math.max(0, Math.floor(Number(seconds) || 0));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/** Seconds → "2 天 3 小时" / "45 分钟" / "不到 1 分钟" for ages of unresolved work orders. */
export function age(seconds) {
  const s = Math.max(0, Math.floor(Number(seconds) || 0));
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d) return t('sup.age.days', { d, h });
  if (h) return t('sup.age.hours', { h, m });
  if (m) return t('sup.age.minutes', { m });
  return t('sup.age.under_minute');
}

/** ISO → local "11-28 14:05" (with the year when not this year). */
export function when(iso, withSeconds = false) {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  const opts = { month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hour12: false };
  if (withSeconds) opts.second = '2-digit';
  if (d.getFullYear() !== new Date().getFullYear()) opts.year = 'numeric';
  return d.toLocaleString(getLang(), opts);
}

/** Translated label of a code (`prefix + code`), or the code itself when the catalog lacks it. */
export function label(prefix, code) {
  if (code === null || code === undefined || code === '') return '';
  const key = prefix + code;
  const s = t(key);
  return s === key ? String(code) : s;
}

/** Number formatting for the figures. */
export function fmtInt(v) {
  return v === null || v === undefined || v === '' ? '–' : String(Math.round(Number(v)));
}

export function fmtPct(v) {
  if (v === null || v === undefined || v === '' || Number.isNaN(Number(v))) return '–';
  return `${(Number(v) * 100).toFixed(1)}%`;
}

export function fmtSec(v) {
  if (v === null || v === undefined || v === '' || Number.isNaN(Number(v))) return '–';
  return clock(Math.round(Number(v)));
}

export function fmtDec(v) {
  if (v === null || v === undefined || v === '' || Number.isNaN(Number(v))) return '–';
  return Number(v).toFixed(2);
}

/** YYYY-MM-DD of a Date in local time (for <input type=date>). */
export function isoDate(d) {
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
}

let toastTimer = null;
export function toast(text, kind = 'info') {
  const box = $('toast');
  if (!box) return;
  box.textContent = text;
  box.dataset.kind = kind;
  box.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { box.hidden = true; }, 6000);
}

/** Only same-origin API file links are used as hrefs (never javascript: or other hosts). */
export function safeFileUrl(url) {
  return typeof url === 'string' && /^\/api\/files\/[\w-]+$/.test(url) ? url : null;
}
