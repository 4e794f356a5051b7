// The live wall: totals, queues per unit and item, agents and their states, calls in progress.
// Fed by `supervisor.snapshot` messages (every ~2 s); rows are keyed and updated in place.
import { t, setText } from '/static/help/i18n.js';
import { $, el, setIfChanged, syncRows, emptyRow, clock, label } from './dom.js';

// Queue waits at or above these are highlighted (amber, red). The red line matches the province's
// service-level habit of "nobody waits more than three minutes"; both are display-only.
export const WAIT_WARN_S = 60;
export const WAIT_ALARM_S = 180;
const TOTALS = ['waiting', 'agents_ready', 'agents_busy', 'calls', 'red', 'escalated'];
const STATE_ORDER = ['busy', 'offered', 'wrap_up', 'ready', 'away', 'offline'];

function waitLevel(s) {
  const n = Number(s) || 0;
  if (n >= WAIT_ALARM_S) return 'alarm';
  if (n >= WAIT_WARN_S) return 'warn';
  return '';
}

function setLevel(node, level) {
  if (level) node.dataset.level = level;
  else delete node.dataset.level;
}

function cells(tr, n) {
  while (tr.children.length < n) tr.append(el('td'));
  return [...tr.children];
}

// ---- totals -------------------------------------------------------------------------------------
function renderTotals(totals = {}) {
  const box = $('sup-totals');
  for (const key of TOTALS) {
    const tile = box.querySelector(`[data-total="${key}"]`);
    if (!tile) continue;
    const v = Number(totals[key] ?? 0);
    setIfChanged(tile.querySelector('.value'), String(v));
    tile.dataset.value = String(v);
    let level = '';
    if ((key === 'red' || key === 'escalated') && v > 0) level = 'alarm';
    if (key === 'waiting' && v > 0 && Number(totals.agents_ready ?? 0) === 0) level = 'warn';
    setLevel(tile, level);
  }
}

// ---- queues -------------------------------------------------------------------------------------
function renderQueues(queues = []) {
  const tbody = $('sup-queues').querySelector('tbody');
  const rows = [...queues].sort((a, b) => String(a.unit_name).localeCompare(String(b.unit_name), 'zh-CN')
    || (Number(b.longest_wait_s) || 0) - (Number(a.longest_wait_s) || 0)
    || String(a.item_name).localeCompare(String(b.item_name), 'zh-CN'));
  if (!rows.length) { emptyRow(tbody, 4, 'sup.queues.empty'); return; }
  syncRows(tbody, rows, (q) => `${q.unit_id}:${q.item_id}`, () => el('tr'), (tr, q) => {
    const [unit, item, waiting, longest] = cells(tr, 4);
    setIfChanged(unit, q.unit_name);
    setIfChanged(item, q.item_name);
    waiting.className = 'num';
    longest.className = 'num';
    setIfChanged(waiting, String(q.waiting ?? 0));
    setIfChanged(longest, Number(q.waiting) > 0 ? clock(q.longest_wait_s) : '–');
    tr.dataset.unitId = String(q.unit_id);
    tr.dataset.itemId = String(q.item_id);
    tr.dataset.waiting = String(q.waiting ?? 0);
    setLevel(tr, Number(q.waiting) > 0 ? waitLevel(q.longest_wait_s) : '');
  });
}

// ---- agents -------------------------------------------------------------------------------------
function stateRank(s) {
  const i = STATE_ORDER.indexOf(s);
  return i < 0 ? STATE_ORDER.length : i;
}

function renderAgents(agents = []) {
  const tbody = $('sup-agents').querySelector('tbody');
  const rows = [...agents].sort((a, b) => stateRank(a.state) - stateRank(b.state)
    || String(a.name).localeCompare(String(b.name), 'zh-CN'));
  if (!rows.length) { emptyRow(tbody, 5, 'sup.agents.empty'); return; }
  syncRows(tbody, rows, (a) => a.id, () => {
    const tr = el('tr');
    cells(tr, 5);
    tr.children[2].append(el('span', { class: 'agent-state' }));
    return tr;
  }, (tr, a) => {
    const [name, unit, state, calls, missed] = cells(tr, 5);
    setIfChanged(name, a.name);
    setIfChanged(unit, a.unit_name);
    const badge = state.firstChild;
    badge.dataset.state = a.state || 'offline';
    setIfChanged(badge, label('agent.state.', a.state || 'offline'));
    calls.className = 'num';
    missed.className = 'num';
    setIfChanged(calls, `${a.active_calls ?? 0} / ${a.capacity ?? 1}`);
    setIfChanged(missed, String(a.missed_offers ?? 0));
    tr.dataset.agentId = String(a.id);
    tr.dataset.state = a.state || 'offline';
    setLevel(tr, Number(a.missed_offers) > 0 ? 'warn' : '');
    missed.title = Number(a.missed_offers) > 0 ? t('agent.missed', { n: a.missed_offers }) : '';
  });
}

// ---- calls in progress --------------------------------------------------------------------------
function renderCalls(calls = [], onOpen, onMonitor) {
  const tbody = $('sup-calls').querySelector('tbody');
  const rows = [...calls].sort((a, b) => (Number(b.talk_s) || 0) - (Number(a.talk_s) || 0));
  if (!rows.length) { emptyRow(tbody, 6, 'sup.calls.empty'); return; }
  syncRows(tbody, rows, (c) => c.work_order, (c) => {
    const tr = el('tr');
    cells(tr, 6);
    const open = el('button', { type: 'button', class: 'linkish' });
    open.addEventListener('click', () => onOpen(tr.dataset.key));
    tr.children[0].append(open);
    if (onMonitor) { // #19: watch and listen to this call
      const watch = el('button', { type: 'button', class: 'btn btn-small monitor' });
      watch.textContent = t('guide.monitor_link');
      watch.dataset.monitor = c.work_order;
      watch.addEventListener('click', () => onMonitor(tr.dataset.key, open.textContent));
      tr.children[0].append(' ', watch);
    }
    return tr;
  }, (tr, c) => {
    const [num, agent, applicant, item, talk, level] = cells(tr, 6);
    setIfChanged(num.firstChild, c.number);
    setIfChanged(agent, c.agent_name);
    setIfChanged(applicant, c.applicant_name || t('context.anonymous'));
    setIfChanged(item, c.unit_name ? `${c.item_name} · ${c.unit_name}` : c.item_name);
    talk.className = 'num';
    setIfChanged(talk, clock(c.talk_s));
    const fb = Number(c.fallback_level) || 0;
    setIfChanged(level, fb ? t('context.fallback_level', { n: fb }) : '');
    tr.dataset.workOrder = c.work_order;
  });
}

/** The wall. `onOpen(workOrderId)` opens the detail drawer. */
export function createWall({ onOpen, onMonitor = null }) {
  let last = null;
  function render(snap) {
    last = snap;
    renderTotals(snap.totals);
    renderQueues(snap.queues);
    renderAgents(snap.agents);
    renderCalls(snap.calls, onOpen, onMonitor);
    const stamp = $('sup-updated');
    stamp.dataset.at = snap.at || '';
    stamp.dataset.stale = 'false';
    const d = snap.at ? new Date(snap.at) : new Date();
    setText(stamp, 'sup.updated', { time: d.toLocaleTimeString('zh-CN', { hour12: false }) });
  }
  return {
    render,
    /** After a language switch: the same data, new labels. */
    rerender() {
      if (!last) return;
      for (const id of ['sup-queues', 'sup-agents', 'sup-calls']) $(id).querySelector('tbody').replaceChildren();
      render(last);
    },
    markStale(stale) {
      const stamp = $('sup-updated');
      if (!last) return;
      stamp.dataset.stale = String(stale);
    },
    get last() { return last; },
    agentsById() {
      return new Map((last?.agents || []).map((a) => [String(a.id), a]));
    },
  };
}
