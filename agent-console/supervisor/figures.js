// Figures per day, agent, unit or item over a date range: table, trend charts and CSV export.
import { t, setText } from '/static/help/i18n.js';
import { get, detailText, newestOnly } from '/static/help/api.js';
import { $, el, isoDate, fmtInt, fmtPct, fmtSec, fmtDec } from './dom.js';
import { routes } from './routes.js';
import { lineChart, barChart } from './charts.js';

// One column per figure; `keys` are the field names the server may use (first present wins).
export const COLUMNS = [
  { id: 'offered', keys: ['offered'], fmt: fmtInt },
  { id: 'answered', keys: ['answered'], fmt: fmtInt },
  { id: 'abandoned', keys: ['abandoned'], fmt: fmtInt },
  { id: 'service_level', keys: ['service_level', 'service_level_rate'], fmt: fmtPct },
  { id: 'asa', keys: ['asa_s', 'asa', 'avg_speed_of_answer_s'], fmt: fmtSec },
  { id: 'aht', keys: ['aht_s', 'aht', 'avg_handle_time_s'], fmt: fmtSec },
  { id: 'first_contact_resolution', keys: ['first_contact_resolution'], fmt: fmtPct },
  { id: 'resolution_rate', keys: ['resolution_rate', 'resolved_rate'], fmt: fmtPct },
  { id: 'rating', keys: ['rating', 'avg_rating', 'rating_avg'], fmt: fmtDec },
  { id: 'inspection_pass', keys: ['inspection_first_pass_rate', 'inspection_pass_rate', 'first_pass_rate'], fmt: fmtPct },
];
const GROUPS = ['day', 'agent', 'unit', 'item'];

export function valueOf(row, col) {
  for (const k of col.keys) if (row && row[k] !== undefined) return row[k];
  return null;
}

export function rowLabel(row) {
  const v = row.label ?? row.name ?? row.day ?? row.date ?? row.key ?? '';
  return typeof v === 'object' && v !== null ? (v.name ?? '') : String(v);
}

/** {rows, totals} from the server's answer ({group, from, to, rows} or a bare list). */
export function normalizeFigures(data) {
  if (Array.isArray(data)) return { rows: data, totals: null };
  return { rows: data?.rows || data?.items || [], totals: data?.totals || null, from: data?.from, to: data?.to,
    threshold: data?.service_level_threshold_s };
}

/** Every day from..to (YYYY-MM-DD), so a quiet day shows as zero instead of vanishing from the trend. */
export function fillDays(rows, from, to) {
  if (!from || !to) return rows;
  const byDay = new Map(rows.map((r) => [String(r.key ?? r.label), r]));
  const out = [];
  const day = new Date(`${from}T00:00:00Z`);
  const end = new Date(`${to}T00:00:00Z`);
  for (let i = 0; day <= end && i < 400; i += 1) {
    const key = day.toISOString().slice(0, 10);
    out.push(byDay.get(key) || { key, label: key, offered: 0, answered: 0, abandoned: 0 });
    day.setUTCDate(day.getUTCDate() + 1);
  }
  return out;
}

// Totals over the rows from the counts behind each rate (weighted, never an average of averages).
const sum = (rows, k) => rows.reduce((n, r) => n + (Number(r[k]) || 0), 0);
const ratio = (a, b) => (b ? a / b : null);
const weighted = (rows, k, w) => ratio(rows.reduce((n, r) => n + (Number(r[k]) || 0) * (Number(r[w]) || 0), 0), sum(rows, w));

export function totalsOf(rows) {
  if (!rows.length || rows[0].answered_within === undefined) return null;
  const answered = sum(rows, 'answered');
  return {
    offered: sum(rows, 'offered'), answered, abandoned: sum(rows, 'abandoned'),
    service_level: ratio(sum(rows, 'answered_within'), sum(rows, 'offered')),
    asa_s: weighted(rows, 'asa_s', 'answered'), aht_s: weighted(rows, 'aht_s', 'answered'),
    first_contact_resolution: ratio(sum(rows, 'resolved_in_call'), answered),
    resolution_rate: ratio(sum(rows, 'resolved'), answered),
    rating: weighted(rows, 'rating', 'rated'),
    inspection_first_pass_rate: weighted(rows, 'inspection_first_pass_rate', 'inspections'),
  };
}

function shortDay(s) {
  const m = /^\d{4}-(\d{2})-(\d{2})/.exec(s);
  return m ? `${m[1]}-${m[2]}` : s;
}

export function createFigures() {
  const form = $('sup-figures-form');
  const table = $('sup-figures');
  const charts = $('sup-charts');
  let last = null;

  function params() {
    return { group: $('sup-group').value, from: $('sup-from').value, to: $('sup-to').value };
  }

  function updateExport() {
    $('sup-export').href = routes.figuresCsv(params());
  }

  function renderTable(group, { rows, totals }) {
    const head = el('tr', {}, [el('th', { scope: 'col', text: t(`sup.group.${group}`) }),
      ...COLUMNS.map((c) => el('th', { scope: 'col', class: 'num', text: t(`sup.fig.${c.id}`) }))]);
    const body = rows.map((r) => el('tr', { dataset: { key: rowLabel(r) } }, [
      el('th', { scope: 'row', text: rowLabel(r) }),
      ...COLUMNS.map((c) => el('td', { class: 'num', dataset: { col: c.id }, text: c.fmt(valueOf(r, c)) })),
    ]));
    if (!rows.length) body.push(el('tr', { class: 'empty' }, [el('td', { colspan: COLUMNS.length + 1, text: t('sup.figures.empty') })]));
    const foot = totals ? [el('tr', { class: 'totals-row' }, [el('th', { scope: 'row', text: t('sup.figures.total') }),
      ...COLUMNS.map((c) => el('td', { class: 'num', dataset: { col: c.id }, text: c.fmt(valueOf(totals, c)) }))])] : [];
    table.replaceChildren(
      el('caption', { class: 'visually-hidden', text: t('sup.figures.title') }),
      el('thead', {}, [head]), el('tbody', {}, body), el('tfoot', {}, foot));
    table.dataset.group = group;
    table.dataset.rows = String(rows.length);
  }

  function series(rows, ids) {
    return ids.map((id) => {
      const col = COLUMNS.find((c) => c.id === id);
      return { name: t(`sup.fig.${id}`), values: rows.map((r) => { const v = valueOf(r, col); return v === null ? null : Number(v); }) };
    });
  }

  function renderCharts(group, { rows }) {
    charts.replaceChildren();
    if (!rows.length) return;
    const labels = rows.map((r) => (group === 'day' ? shortDay(rowLabel(r)) : rowLabel(r)));
    if (group === 'day') {
      charts.append(
        lineChart({ title: t('sup.chart.volume'), labels, series: series(rows, ['offered', 'answered', 'abandoned']), format: fmtInt,
          minTop: 4, integer: true }),
        lineChart({ title: t('sup.chart.rates'), labels, series: series(rows, ['service_level', 'first_contact_resolution', 'resolution_rate', 'inspection_pass']),
          format: (v) => `${Math.round(v * 100)}%`, fixedMax: 1 }),
        lineChart({ title: t('sup.chart.times'), labels, series: series(rows, ['asa', 'aht']), format: fmtSec, minTop: 60 }),
      );
    } else {
      const top = rows.slice(0, 30);
      charts.append(
        barChart({ title: t('sup.chart.volume'), labels: top.map(rowLabel), series: series(top, ['offered', 'answered', 'abandoned']), format: fmtInt, integer: true }),
        barChart({ title: t('sup.chart.rates'), labels: top.map(rowLabel), series: series(top, ['service_level', 'resolution_rate']),
          format: (v) => `${Math.round(v * 100)}%`, fixedMax: 1 }),
      );
    }
  }

  const fetchFigures = newestOnly(get); // the last filter's answer wins

  async function load() {
    const p = params();
    const status = $('sup-figures-status');
    if (p.from && p.to && p.from > p.to) { status.hidden = false; setText(status, 'sup.range_invalid'); return; }
    updateExport();
    status.hidden = false;
    setText(status, 'app.loading');
    table.setAttribute('aria-busy', 'true');
    let stale = false;
    try {
      const found = await fetchFigures(routes.figures(p));
      if (!found) { stale = true; return; } // a newer load is under way and owns the busy state
      const data = normalizeFigures(found);
      data.totals = data.totals || totalsOf(data.rows);
      if (p.group === 'day') data.rows = fillDays(data.rows, data.from || p.from, data.to || p.to);
      if (data.threshold !== undefined) setText($('sup-figures-threshold'), 'sup.figures.threshold', { s: data.threshold });
      last = { group: p.group, data };
      renderTable(p.group, data);
      renderCharts(p.group, data);
      status.hidden = true;
    } catch (ex) {
      status.textContent = t('sup.load_failed', { detail: detailText(ex) || ex.code });
    } finally {
      if (!stale) table.removeAttribute('aria-busy');
    }
  }

  // Defaults: the last 14 days, per day.
  const today = new Date();
  const from = new Date(today);
  from.setDate(from.getDate() - 13);
  $('sup-from').value = isoDate(from);
  $('sup-to').value = isoDate(today);
  $('sup-group').value = GROUPS[0];
  updateExport();
  form.addEventListener('submit', (e) => { e.preventDefault(); load(); });
  form.addEventListener('change', updateExport);

  return {
    load,
    loaded: () => last !== null,
    rerender() {
      if (!last) return;
      renderTable(last.group, last.data);
      renderCharts(last.group, last.data);
    },
  };
}
