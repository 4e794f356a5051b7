// The knowledge base beside the call (#kb-panel): browsing while idle; during a call, suggestions for
// the call's item and hand-off context and "send into call" (the server posts the file into the room
// and keeps it on the work order, so both sides see it as a `file` message). The panel itself is
// /static/kb/kb-panel.js, loaded lazily.
import { csrfToken } from '/static/help/api.js';
import { t, setText } from '/static/help/i18n.js';

const $ = (id) => document.getElementById(id);
const MODULE = '/static/kb/kb-panel.js';

/** Search words from the hand-off: its kind, reason and free text (never ids or numbers). */
export function handoffText(context) {
  const h = context?.handoff;
  const ctx = h && typeof h === 'object' && h.ctx && typeof h.ctx === 'object' ? h.ctx : h || {};
  const parts = [];
  if (ctx.kind) {
    const key = `handoff.kind.${ctx.kind}`;
    parts.push(t(key) === key ? '' : t(key));
  }
  for (const k of ['reason', 'summary', 'message', 'question']) {
    if (typeof ctx[k] === 'string') parts.push(ctx[k]);
  }
  if (context?.transfer?.note) parts.push(context.transfer.note);
  return parts.filter(Boolean).join(' ').slice(0, 500);
}

export function createKbDock({ onReply = () => {}, onSent = () => {} } = {}) {
  const box = $('kb-root');
  const panel = $('kb-panel');
  let mounted = null; // {key, api}
  let loading = null;

  panel.addEventListener('kb:reply', (e) => onReply(e.detail?.text || ''));
  panel.addEventListener('kb:sent', (e) => onSent(e.detail || {}));

  async function mount(opts) {
    const key = JSON.stringify(opts);
    if (mounted?.key === key) return mounted.api;
    loading = loading || import(MODULE);
    let mod;
    try {
      mod = await loading;
    } catch (err) {
      loading = null;
      const p = document.createElement('p');
      p.className = 'notice error';
      setText(p, 'kb.load_failed');
      box.replaceChildren(p);
      console.warn('kb panel', err);
      return null;
    }
    const api = mod.mountKbPanel(box, { ...opts, csrf: csrfToken() });
    panel.dataset.mode = opts.workOrderId ? 'call' : 'browse';
    panel.dataset.workOrder = opts.workOrderId || '';
    mounted = { key, api };
    return api;
  }

  return {
    /** Browsing between calls: search, articles, canned replies; nothing to send into. */
    idle: () => mount({ workOrderId: null, itemId: null, context: '' }),
    /** During a call: the call's work order, item and hand-off context. */
    call: ({ workOrderId, context }) => mount({
      workOrderId,
      itemId: context?.item?.id ?? null,
      context: [context?.item?.name, handoffText(context)].filter(Boolean).join(' '),
    }),
  };
}
