// The accountability report (问题追责): missed deadlines per agent or unit with their reasons, and
// the list of breaches behind the counts (each opens the work order).
import { t, setText } from '/static/help/i18n.js';
import { get, detailText, newestOnly } from '/static/help/api.js';
import { $, el, isoDate, when, label } from './dom.js';
import { routes } from './routes.js';

const REASONS = ['unclaimed', 'overdue'];

/** {summary: [{name, unclaimed, overdue, total}], breaches: [...]} from the server's answer. */
export function normalizeReport(data, by) {
  const rawSummary = data?.summary || data?.rows || data?.[`by_${by}`] || [];
  const summary = rawSummary.map((r) => {
    const reasons = r.reasons || r.by_reason || {};
    const row = { name: r.name ?? r.label ?? r.staff_name ?? r.unit_name ?? t('sup.report.nobody') };
    for (const reason of REASONS) row[reason] = Number(r[reason] ?? reasons[reason] ?? 0);
    row.total = Number(r.total ?? r.breaches ?? REASONS.reduce((n, k) => n + row[k], 0));
    return row;
  });
  const breaches = (data?.breaches || data?.details || []).map((b) => ({
    at: b.at, number: b.number ?? b.work_order_number ?? '', work_order: b.work_order ?? b.work_order_id,
    item: b.item_name ?? '', reason: b.reason, level: Number(b.level ?? 0),
    staff: b.staff_name ?? b.agent_name ?? '', unit: b.unit_name ?? '', deadline: b.deadline,
    notified: b.notified_unit_name ?? '',
  }));
  return { summary, breaches };
}

export function createReport({ onOpen }) {
  const form = $('sup-report-form');
  let last = null;

  function render({ summary, breaches }, by) {
    const table = $('sup-report');
    const head = el('tr', {}, [el('th', { scope: 'col', text: t(`sup.group.${by}`) }),
      ...REASONS.map((r) => el('th', { scope: 'col', class: 'num', text: label('sup.reason.', r) })),
      el('th', { scope: 'col', class: 'num', text: t('sup.report.total') })]);
    const rows = summary.sort((a, b) => b.total - a.total).map((r) => el('tr', {}, [
      el('th', { scope: 'row', text: r.name }),
      ...REASONS.map((k) => el('td', { class: 'num', dataset: { reason: k }, text: String(r[k]) })),
      el('td', { class: 'num', text: String(r.total) }),
    ]));
    if (!rows.length) rows.push(el('tr', { class: 'empty' }, [el('td', { colspan: 4, text: t('sup.report.empty') })]));
    table.replaceChildren(el('thead', {}, [head]), el('tbody', {}, rows));

    const list = $('sup-breaches');
    const items = breaches.map((b) => {
      const open = el('button', { type: 'button', class: 'linkish', text: b.number || b.work_order,
        on: { click: () => onOpen(b.work_order) } });
      const what = [label('sup.reason.', b.reason), b.level > 0 ? t('sup.report.level', { n: b.level }) : null]
        .filter(Boolean).join(' · ');
      return el('li', { dataset: { reason: b.reason || '' } }, [
        el('time', { datetime: b.at || '', text: when(b.at) }), ' ', open, ' ',
        el('span', { class: 'flag', dataset: { flag: b.level > 0 ? 'escalated' : 'red' }, text: what }),
        el('span', { class: 'muted', text: ` ${[b.item, b.staff || t('sup.unresolved.unowned'), b.unit].filter(Boolean).join(' · ')}` }),
        b.deadline ? el('span', { class: 'muted', text: ` ${t('sup.report.deadline', { time: when(b.deadline) })}` }) : null,
      ]);
    });
    if (!items.length) items.push(el('li', { class: 'muted', text: t('sup.report.no_breaches') }));
    list.replaceChildren(...items);
  }

  const fetchReport = newestOnly(get); // the last filter's answer wins

  async function load() {
    const by = $('sup-report-by').value;
    const p = { from: $('sup-report-from').value, to: $('sup-report-to').value, by };
    const status = $('sup-report-status');
    if (p.from && p.to && p.from > p.to) { status.hidden = false; setText(status, 'sup.range_invalid'); return; }
    status.hidden = false;
    setText(status, 'app.loading');
    try {
      const found = await fetchReport(routes.report(p));
      if (!found) return;
      const data = normalizeReport(found, by);
      last = { data, by };
      render(data, by);
      status.hidden = true;
    } catch (ex) {
      status.textContent = t('sup.load_failed', { detail: detailText(ex) || ex.code });
    }
  }

  const today = new Date();
  const from = new Date(today);
  from.setDate(from.getDate() - 29);
  $('sup-report-from').value = isoDate(from);
  $('sup-report-to').value = isoDate(today);
  const updateExport = () => {
    $('sup-report-export').href = routes.reportCsv({ from: $('sup-report-from').value, to: $('sup-report-to').value });
  };
  updateExport();
  form.addEventListener('change', updateExport);
  form.addEventListener('submit', (e) => { e.preventDefault(); updateExport(); load(); });

  return {
    load,
    loaded: () => last !== null,
    rerender() { if (last) render(last.data, last.by); },
  };
}
