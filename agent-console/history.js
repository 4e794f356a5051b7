// The agent's own work orders (/console/history.html): search by number, item or applicant phone,
// filter by outcome and day, open one (?wo=ID) for its readable timeline, chat and files, and turn
// a resolved one into a knowledge-base draft ("存为知识").
import { get, post, detailText } from '/static/help/api.js';
import { t, setText, setLang, initialLang, bindLangToggle, getLang } from '/static/help/i18n.js';
import { $, el, when, clock, label, toast } from './supervisor/dom.js';
import { renderTimeline, renderChat, renderFiles, localName } from './workorder-view.js';

const view = { me: null, rows: [], current: null };

function actorName(actor) {
  if (!actor || actor === 'system') return t('sup.actor.system');
  if (actor.startsWith('a:')) return t('sup.actor.applicant');
  if (actor === `s:${view.me?.id}`) return t('history.me');
  return t('sup.actor.staff', { id: actor.slice(2) });
}

function filters() {
  const p = new URLSearchParams({ mine: '1', limit: '100' });
  for (const id of ['q', 'outcome', 'day']) {
    const v = $(`history-${id}`).value.trim();
    if (v) p.set(id, v);
  }
  return p;
}

function renderRows() {
  const rows = view.rows.map((w) => el('tr', { dataset: { workOrder: w.id } }, [
    el('th', { scope: 'row' }, [el('a', { href: `?wo=${encodeURIComponent(w.id)}`, text: w.number,
      on: { click: (e) => { e.preventDefault(); open(w.id, true); } } })]),
    el('td', { text: (getLang() === 'en' && w.item_name_en) || w.item_name || '' }),
    el('td', { text: w.outcome ? label('outcome.', w.outcome) : label('status.', w.status) }),
    el('td', { text: when(w.ended_at || w.answered_at || w.created_at) }),
  ]));
  $('history-rows').replaceChildren(...rows);
  setText($('history-status'), view.rows.length ? 'history.count' : 'recent.empty', { n: view.rows.length });
}

async function search() {
  setText($('history-status'), 'app.loading');
  try {
    view.rows = await get(`/api/workorders?${filters()}`);
    renderRows();
  } catch (ex) {
    $('history-status').textContent = t('sup.load_failed', { detail: detailText(ex) || ex.code });
  }
}

function renderDetail(wo) {
  setText($('history-detail-title'), 'sup.drawer.title', { number: wo.number });
  const pairs = [
    ['context.item', localName(wo.item, wo.item_name)],
    ['context.unit', localName(wo.unit)],
    ['context.channel', label('channel.', wo.channel)],
    ['sup.drawer.queued', when(wo.queued_at || wo.created_at, true)],
    ['sup.drawer.answered', when(wo.answered_at, true)],
    ['sup.drawer.ended', when(wo.ended_at, true)],
    ['sup.col.talk', wo.talk_s != null ? clock(wo.talk_s) : ''],
    ['wrapup.outcome', wo.outcome ? label('outcome.', wo.outcome) : label('status.', wo.status)],
    ['wrapup.notes', wo.notes],
    ['sup.drawer.rating', wo.rating ? `${wo.rating} / 5${wo.rating_comment ? ` · ${wo.rating_comment}` : ''}` : ''],
  ].filter(([, v]) => v);
  $('history-summary').replaceChildren(el('dl', {}, pairs.flatMap(([k, v]) => [el('dt', { text: t(k) }), el('dd', { text: v })])));
  renderTimeline($('history-timeline'), wo.events, actorName);
  renderChat($('history-chat'), wo.chat, actorName);
  renderFiles($('history-files'), wo.files);
  $('history-draft').hidden = !(wo.status === 'resolved' && wo.notes);
  $('history-draft-status').textContent = '';
}

async function open(id, push = false) {
  try {
    view.current = await get(`/api/workorders/${encodeURIComponent(id)}`);
  } catch (ex) {
    toast(ex.status === 404 ? t('sup.drawer.not_found') : t('sup.load_failed', { detail: detailText(ex) || ex.code }));
    return;
  }
  if (push) history.pushState({ wo: id }, '', `?wo=${encodeURIComponent(id)}`);
  renderDetail(view.current);
  $('history-detail').hidden = false;
  $('history-list-view').hidden = true;
  document.body.dataset.view = 'detail';
  $('history-detail').focus();
}

function showList(push = false) {
  if (push) history.pushState({}, '', location.pathname);
  view.current = null;
  $('history-detail').hidden = true;
  $('history-list-view').hidden = false;
  document.body.dataset.view = 'list';
}

async function saveAsKnowledge() {
  const wo = view.current;
  if (!wo) return;
  $('history-draft').disabled = true;
  try {
    const article = await post('/api/kb/drafts/from-work-order', { work_order_id: wo.id });
    const link = el('a', { href: `/console/kb.html?article=${encodeURIComponent(article.id)}`, target: '_blank',
      rel: 'noopener', text: t('history.draft_open') });
    $('history-draft-status').replaceChildren(t('history.draft_done'), ' ', link);
  } catch (ex) {
    $('history-draft-status').textContent = t('recent.draft_failed') + (detailText(ex) ? `: ${detailText(ex)}` : '');
  } finally {
    $('history-draft').disabled = false;
  }
}

async function boot() {
  await setLang(initialLang());
  document.title = t('history.title');
  bindLangToggle($('lang-toggle'));
  const me = (await get('/api/auth/session').catch(() => null))?.staff;
  if (!me) {
    $('history-gate').hidden = false;
    document.body.dataset.view = 'login';
    return;
  }
  view.me = me;
  $('history-filters').addEventListener('submit', (e) => { e.preventDefault(); search(); });
  $('history-close').addEventListener('click', () => showList(true));
  $('history-draft').addEventListener('click', saveAsKnowledge);
  window.addEventListener('popstate', () => {
    const id = new URLSearchParams(location.search).get('wo');
    if (id) open(id); else showList();
  });
  document.addEventListener('hd:langchange', () => {
    document.title = t('history.title');
    renderRows();
    if (view.current) renderDetail(view.current);
  });
  showList();
  await search();
  const id = new URLSearchParams(location.search).get('wo');
  if (id) await open(id);
  document.documentElement.dataset.ready = getLang();
}

boot();
