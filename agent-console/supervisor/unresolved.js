// Unresolved work orders by age (red flags and breaches highlighted) and the reassign dialog.
import { t, setText } from '/static/help/i18n.js';
import { get, post, detailText } from '/static/help/api.js';
import { $, el, setIfChanged, syncRows, emptyRow, age, when, label, toast } from './dom.js';
import { routes } from './routes.js';

const FLAG_LEVEL = { red: 'alarm', escalated: 'alarm', reminded: 'warn' };
const REASSIGNABLE = new Set(['unresolved', 'callback_pending']); // wrap-up is still the agent's

/**
 * Rows from the snapshot or from GET /api/stats/unresolved, in one shape. The REST rows carry ids
 * only: `names` ({items, units, staff}: Maps id → name) fills in what it can.
 */
export function normalizeUnresolved(rows, names = {}) {
  const name = (map, id) => (id === null || id === undefined ? '' : map?.get(String(id)) || `#${id}`);
  return (Array.isArray(rows) ? rows : rows?.items || []).map((r) => ({
    work_order: r.work_order || r.work_order_id || r.id,
    number: r.number,
    item_name: r.item_name ?? name(names.items, r.item_id),
    unit_name: r.unit_name ?? name(names.units, r.owner_unit_id ?? r.unit_id),
    status: r.status,
    flag: r.flag || 'none',
    age_s: Number(r.age_s) || 0,
    owner_name: r.owner_name ?? (r.owner_id ? name(names.staff, r.owner_id) : ''),
    due_at: r.due_at || null,
  }));
}

export function createUnresolved({ onOpen, agents, units, names }) {
  const tbody = $('sup-unresolved').querySelector('tbody');
  let last = [];

  function render(rows) {
    last = rows;
    const sorted = [...rows].sort((a, b) => b.age_s - a.age_s);
    setText($('sup-unresolved-count'), 'sup.count', { n: sorted.length });
    if (!sorted.length) { emptyRow(tbody, 8, 'sup.unresolved.empty'); return; }
    const now = Date.now();
    syncRows(tbody, sorted, (r) => r.work_order, () => {
      const tr = el('tr');
      for (let i = 0; i < 8; i += 1) tr.append(el('td'));
      tr.children[0].append(el('button', { type: 'button', class: 'linkish',
        on: { click: () => onOpen(tr.dataset.key) } }));
      tr.children[3].append(el('span', { class: 'flag' }));
      tr.children[7].append(el('button', { type: 'button', class: 'btn btn-small btn-secondary reassign',
        on: { click: () => openDialog(last.find((x) => String(x.work_order) === tr.dataset.key)) } }));
      return tr;
    }, (tr, r) => {
      const [num, item, status, flag, ageCell, owner, due, actions] = [...tr.children];
      setIfChanged(num.firstChild, r.number);
      setIfChanged(item, r.unit_name ? `${r.item_name} · ${r.unit_name}` : r.item_name);
      setIfChanged(status, label('status.', r.status));
      const badge = flag.firstChild;
      badge.dataset.flag = r.flag;
      setIfChanged(badge, label('sup.flag.', r.flag));
      ageCell.className = 'num';
      setIfChanged(ageCell, age(r.age_s));
      setIfChanged(owner, r.owner_name || t('sup.unresolved.unowned'));
      const overdue = r.due_at && new Date(r.due_at).getTime() < now;
      setIfChanged(due, r.due_at ? when(r.due_at) : '–');
      due.dataset.overdue = String(Boolean(overdue));
      setIfChanged(actions.firstChild, t('sup.reassign'));
      actions.firstChild.hidden = !REASSIGNABLE.has(r.status);
      tr.dataset.flag = r.flag;
      tr.dataset.workOrder = r.work_order;
      const level = FLAG_LEVEL[r.flag] || (overdue ? 'alarm' : '');
      if (level) tr.dataset.level = level; else delete tr.dataset.level;
    });
  }

  // ---- reassign ---------------------------------------------------------------------------------
  const dialog = $('sup-reassign-dialog');
  const form = $('sup-reassign-form');
  let target = null;

  function fillTargets() {
    const agentSel = $('sup-reassign-agent');
    agentSel.replaceChildren(el('option', { value: '', text: t('sup.reassign.pick_agent') }));
    for (const a of [...agents()].sort((x, y) => String(x.name).localeCompare(String(y.name), 'zh-CN'))) {
      const state = label('agent.state.', a.state);
      agentSel.append(el('option', { value: a.id, text: `${a.name} · ${a.unit_name || ''} (${state})` }));
    }
    const unitSel = $('sup-reassign-unit');
    unitSel.replaceChildren(el('option', { value: '', text: t('sup.reassign.pick_unit') }));
    for (const u of units()) {
      unitSel.append(el('option', { value: u.id, text: `${'\u3000'.repeat(u.depth)}${u.name}` }));
    }
  }

  function openDialog(row) {
    if (!row) return;
    target = row;
    form.reset();
    $('sup-reassign-error').hidden = true;
    setText($('sup-reassign-what'), 'sup.reassign.what', { number: row.number, item: row.item_name,
      owner: row.owner_name || t('sup.unresolved.unowned') });
    fillTargets();
    if (typeof dialog.showModal === 'function') dialog.showModal(); else dialog.setAttribute('open', '');
    $('sup-reassign-agent').focus();
  }

  function closeDialog() {
    if (typeof dialog.close === 'function') dialog.close(); else dialog.removeAttribute('open');
    target = null;
  }

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const err = $('sup-reassign-error');
    err.hidden = true;
    const staffId = $('sup-reassign-agent').value;
    const unitId = $('sup-reassign-unit').value;
    const reason = $('sup-reassign-reason').value.trim();
    let problem = null;
    if (!staffId && !unitId) problem = 'sup.reassign.need_target';
    else if (staffId && unitId) problem = 'sup.reassign.one_target';
    else if (!reason) problem = 'sup.reassign.need_reason';
    if (problem) { err.hidden = false; setText(err, problem); return; }
    const body = { reason };
    if (staffId) body.staff_id = Number(staffId); else body.unit_id = Number(unitId);
    const submit = $('sup-reassign-submit');
    submit.disabled = true;
    try {
      await post(routes.reassign(target.work_order), body);
      toast(t('sup.reassign.done', { number: target.number }));
      closeDialog();
    } catch (ex) {
      err.hidden = false;
      err.textContent = t('sup.action_failed', { detail: detailText(ex) || ex.code });
    } finally {
      submit.disabled = false;
    }
  });
  $('sup-reassign-cancel').addEventListener('click', closeDialog);

  return {
    render,
    open: openDialog,
    rerender() { tbody.replaceChildren(); render(last); },
    /** Before the live feed answers (or without it): the REST list. */
    async load() {
      try {
        render(normalizeUnresolved(await get(routes.unresolved()), await names()));
        return true;
      } catch {
        return false;
      }
    },
    find(id) { return last.find((r) => String(r.work_order) === String(id)) || null; },
  };
}
