// Remote inspection from the agent's side of a call: the "start" button (items open to remote
// inspection), the panel from /static/inspection/inspection.js (points, step, marks with notes,
// snapshots, end with outcome and rectify deadline), the snapshot list and the report links.
// inspection.js is loaded lazily: only calls that need it pay for it.
import { get } from '/static/help/api.js';
import { t, setText, formatTime } from '/static/help/i18n.js';

const $ = (id) => document.getElementById(id);
const MODULE = '/static/inspection/inspection.js';

let loaded = null;
function load() {
  loaded = loaded || import(MODULE).catch((err) => { loaded = null; throw err; });
  return loaded;
}

/** Is the call's item open to remote inspection? From the offer's context, or (after a reload) the server. */
async function inspectable(workOrder, context) {
  if (context?.item && 'remote_inspection' in context.item) return !!context.item.remote_inspection;
  try {
    const wo = await get(`/api/workorders/${encodeURIComponent(workOrder)}`);
    const lists = await get(`/api/inspections/checklists/${encodeURIComponent(wo.item_id)}`);
    return !!lists?.current;
  } catch { return false; }
}

export function createAgentInspection({ socket }) {
  const el = {
    start: $('inspection-start'), panel: $('inspection-panel'), root: $('inspection-root'),
    status: $('inspection-status'), snaps: $('inspection-snapshots'), reports: $('inspection-reports'),
  };
  let call = null; // {workOrder, room, ui, live}

  function show(on) { el.panel.hidden = !on; }

  function status(key, args) {
    el.status.hidden = !key;
    if (key) setText(el.status, key, args);
  }

  async function ui() {
    if (!call) throw new Error('no call');
    if (!call.ui) {
      const { inspectionUI } = await load();
      call.ui = inspectionUI({ role: 'agent', root: el.root, send: (m) => socket.send(m),
        text: (key, args) => t(`insp.${key}`, args),
        marks: () => window.__helpdesk?.guidance?.remoteMarks('camera') ?? [] }); // #19: snapshot with marks
    }
    return call.ui;
  }

  function addSnapshot(m) {
    const li = document.createElement('li');
    const a = document.createElement('a');
    a.href = m.url;
    a.target = '_blank';
    a.rel = 'noopener';
    a.textContent = t('inspection.snapshot_item', { point: m.point, at: formatTime(m.taken_at) });
    const hash = document.createElement('code');
    hash.textContent = ` ${String(m.sha256 || '').slice(0, 12)}…`;
    hash.title = m.sha256 || '';
    li.dataset.snapshot = String(m.id);
    li.append(a, hash);
    el.snaps.append(li);
  }

  function addReports(inspection) {
    const base = `/api/inspections/${encodeURIComponent(inspection)}`;
    el.reports.replaceChildren();
    for (const [fmt, key] of [['pdf', 'inspection.report_pdf'], ['html', 'inspection.report_html']]) {
      const a = document.createElement('a');
      a.href = `${base}/report.${fmt}`;
      a.target = '_blank';
      a.rel = 'noopener';
      a.className = 'btn btn-small btn-secondary';
      a.dataset.report = fmt;
      setText(a, key);
      el.reports.append(a, ' ');
    }
    el.reports.hidden = false;
  }

  async function onMessage(m) {
    if (!call || (m.room && m.room !== call.room)) return;
    show(true);
    if (m.type === 'inspection.requested') { call.live = true; el.start.disabled = true; status('inspection.waiting_consent'); }
    if (m.type === 'inspection.started') status('inspection.active');
    if (m.type === 'inspection.snapshot') addSnapshot(m);
    try { await (await ui()).onMessage(m); } catch (err) { console.warn('inspection', err); }
    if (m.type === 'inspection.ended') {
      call.live = false;
      el.start.disabled = false;
      const key = m.status === 'refused' ? 'inspection.refused' : m.outcome ? `inspection.outcome.${m.outcome}` : 'inspection.cancelled';
      status(key);
      if (m.outcome) addReports(m.inspection);
    }
  }

  socket.on('*', (m, type) => {
    if (typeof type === 'string' && type.startsWith('inspection.')) onMessage(m);
  });

  el.start.addEventListener('click', async () => {
    if (!call || call.live) return;
    el.start.disabled = true;
    show(true);
    el.reports.hidden = true;
    status('inspection.starting');
    try {
      const u = await ui();
      u.state.id = null; // a refused or finished inspection before this one
      await u.start(call.workOrder, call.room); // shows the server's refusal itself (no checklist, ...)
      if (!u.state.id) { el.start.disabled = false; status(null); } // refused by the server: its error shows
      else { call.live = true; status('inspection.waiting_consent'); }
    } catch (err) {
      el.start.disabled = false;
      status('inspection.load_failed', { detail: err.message || String(err) });
    }
  });

  return {
    /** A call started (or resumed after a reload). */
    async join({ workOrder, room, context }) {
      if (call && call.room === room) return;
      call = { workOrder, room, ui: null, live: false };
      el.root.replaceChildren();
      el.snaps.replaceChildren();
      el.reports.hidden = true;
      status(null);
      show(false);
      el.start.hidden = true;
      el.start.disabled = false;
      const mine = call;
      if (!(await inspectable(workOrder, context)) || call !== mine) return;
      el.start.hidden = false;
      try {
        if (await (await ui()).resume(workOrder)) { show(true); mine.live = true; el.start.disabled = true; status('inspection.active'); }
      } catch { /* nothing to resume */ }
    },
    /** The call ended: the server cancels a live inspection (and says so with inspection.ended). */
    leave() {
      call = null;
      el.start.hidden = true;
      show(false);
    },
    get state() { return call?.ui?.state || null; },
  };
}
