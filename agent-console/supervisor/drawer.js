// The work-order drawer: the full record (summary, timeline, chat, files) from GET
// /api/workorders/{id}, and the follow-up actions on an open order (claim, note, resolve, reassign).
import { t, setText } from '/static/help/i18n.js';
import { get, post, detailText } from '/static/help/api.js';
import { $, el, when, clock, label, toast } from './dom.js';
import { renderTimeline, renderChat, renderFiles, localName } from '../workorder-view.js';
import { routes } from './routes.js';

const OPEN_STATES = new Set(['unresolved', 'callback_pending']);

export function createDrawer({ agents, reassign }) {
  const drawer = $('sup-drawer');
  let current = null;
  let opener = null;

  function actorName(actor) {
    if (!actor || actor === 'system') return t('sup.actor.system');
    if (actor.startsWith('a:')) return t('sup.actor.applicant');
    if (actor.startsWith('s:')) {
      const a = agents().get(actor.slice(2));
      return a ? a.name : t('sup.actor.staff', { id: actor.slice(2) });
    }
    return actor;
  }

  function dl(pairs) {
    return el('dl', {}, pairs.filter(([, v]) => v !== null && v !== undefined && v !== '')
      .flatMap(([k, v]) => [el('dt', { text: t(k) }), el('dd', { text: v })]));
  }

  function render(wo) {
    setText($('sup-drawer-title'), 'sup.drawer.title', { number: wo.number });
    $('sup-drawer-summary').replaceChildren(dl([
      ['sup.col.status', label('status.', wo.status)],
      ['context.item', localName(wo.item, wo.item_name)],
      ['context.unit', localName(wo.unit)],
      ['context.channel', label('channel.', wo.channel)],
      ['sup.drawer.queued', when(wo.queued_at || wo.created_at, true)],
      ['sup.drawer.answered', when(wo.answered_at, true)],
      ['sup.drawer.ended', when(wo.ended_at, true)],
      ['context.waited', wo.wait_s !== null && wo.wait_s !== undefined ? clock(wo.wait_s) : ''],
      ['sup.col.talk', wo.talk_s !== null && wo.talk_s !== undefined ? clock(wo.talk_s) : ''],
      ['wrapup.outcome', wo.outcome ? label('outcome.', wo.outcome) : ''],
      ['wrapup.notes', wo.notes],
      ['sup.drawer.rating', wo.rating ? `${wo.rating} / 5${wo.rating_comment ? ` · ${wo.rating_comment}` : ''}` : ''],
      ['sup.drawer.callback', [wo.callback_phone, wo.callback_at].filter(Boolean).join(' · ')],
      ['sup.col.flag', wo.flag && wo.flag !== 'none' ? label('sup.flag.', wo.flag) : ''],
      ['sup.col.due', when(wo.due_at)],
    ]));

    renderTimeline($('sup-drawer-timeline'), wo.events, actorName);
    renderChat($('sup-drawer-chat'), wo.chat, actorName);
    renderFiles($('sup-drawer-files'), wo.files);

    const open = OPEN_STATES.has(wo.status);
    $('sup-drawer-actions').hidden = !open;
    $('sup-drawer-claim').hidden = Boolean(wo.claimed_at);
    $('sup-drawer-action-error').hidden = true;
  }

  async function load(id) {
    const status = $('sup-drawer-status');
    status.hidden = false;
    setText(status, 'app.loading');
    try {
      current = await get(routes.workOrder(id));
      render(current);
      status.hidden = true;
    } catch (ex) {
      setText(status, ex.status === 404 ? 'sup.drawer.not_found' : 'sup.load_failed', { detail: detailText(ex) || ex.code });
    }
  }

  function show(id) {
    opener = document.activeElement;
    drawer.hidden = false;
    drawer.dataset.workOrder = id;
    document.body.classList.add('drawer-open');
    $('sup-drawer-close').focus();
    for (const part of ['sup-drawer-summary', 'sup-drawer-timeline', 'sup-drawer-chat', 'sup-drawer-files']) $(part).replaceChildren();
    $('sup-drawer-actions').hidden = true;
    setText($('sup-drawer-title'), 'sup.drawer.loading');
    return load(id);
  }

  function hide() {
    drawer.hidden = true;
    current = null;
    document.body.classList.remove('drawer-open');
    if (opener && document.contains(opener)) opener.focus();
  }

  async function act(route, body, doneKey) {
    if (!current) return;
    const err = $('sup-drawer-action-error');
    err.hidden = true;
    const buttons = drawer.querySelectorAll('#sup-drawer-actions button');
    buttons.forEach((b) => { b.disabled = true; });
    try {
      await post(route(current.id), body);
      toast(t(doneKey, { number: current.number }));
      $('sup-drawer-note').value = '';
      $('sup-drawer-reached').checked = false;
      await load(current.id);
    } catch (ex) {
      err.hidden = false;
      err.textContent = t('sup.action_failed', { detail: detailText(ex) || ex.code });
    } finally {
      buttons.forEach((b) => { b.disabled = false; });
    }
  }

  $('sup-drawer-close').addEventListener('click', hide);
  drawer.addEventListener('keydown', (e) => { if (e.key === 'Escape') hide(); });
  $('sup-drawer-claim').addEventListener('click', () => act(routes.claim, {}, 'sup.drawer.claimed'));
  $('sup-drawer-add-note').addEventListener('click', () => {
    const text = $('sup-drawer-note').value.trim();
    if (!text) { $('sup-drawer-action-error').hidden = false; setText($('sup-drawer-action-error'), 'sup.drawer.need_note'); return; }
    act(routes.note, { text }, 'sup.drawer.noted');
  });
  $('sup-drawer-callback').addEventListener('click', () => {
    act(routes.callBack, { reached: $('sup-drawer-reached').checked, note: $('sup-drawer-note').value.trim() },
      'sup.drawer.called_back');
  });
  $('sup-drawer-resolve').addEventListener('click', () => {
    const note = $('sup-drawer-note').value.trim();
    if (!note) { $('sup-drawer-action-error').hidden = false; setText($('sup-drawer-action-error'), 'sup.drawer.need_note'); return; }
    act(routes.resolve, { note }, 'sup.drawer.resolved');
  });
  $('sup-drawer-reassign').addEventListener('click', () => {
    if (!current) return;
    reassign({ work_order: current.id, number: current.number, item_name: current.item?.name || '',
      owner_name: current.owner_name || '' });
  });

  return {
    show,
    hide,
    reload() { if (current) load(current.id); },
    get current() { return current; },
  };
}
