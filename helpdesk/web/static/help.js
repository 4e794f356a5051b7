// The applicant page (/help?item=CODE): item and guide, media permission, queue, call, rating.
import { get, post, ApiError, detailText } from './api.js';
import { t, setText, setLang, initialLang, bindLangToggle, getLang } from './i18n.js';
import { initElder, waitText } from './elder.js';
import { renderDeviceWording, labelTableCells, confirmHangup } from './help-ui.js';
import { openSocket, socketErrorText } from './socket.js';
import { createCallView, setCallState } from './callview.js';
import { initCallbackForm, initRatingForm } from './help-forms.js';
import { renderPackage } from './help-package.js';
import { createApplicantInspection } from './inspect.js';

const $ = (id) => document.getElementById(id);
const VIEWS = ['item-view', 'queue-view', 'call-view', 'callback-view', 'rating-view'];

const page = {
  itemCode: document.body.dataset.item || new URLSearchParams(location.search).get('item') || '',
  handoffToken: document.body.dataset.handoff || new URLSearchParams(location.search).get('t') || '',
  unitCode: document.body.dataset.unit || new URLSearchParams(location.search).get('unit') || '',
  packageCode: new URLSearchParams(location.search).get('package') || '', // 一件事一次办
  needsPhoneCode: false,
  item: null,
  member: null,
  channel: 'video',
  request: null, // {work_order, number, ticket}
  lastStatus: null,
};

export function showView(id, { focus = true } = {}) {
  for (const v of VIEWS) $(v).hidden = v !== id;
  $('loading').hidden = true;
  document.body.dataset.view = id;
  if (focus) {
    const h = $(id).querySelector('h2');
    if (h) { h.tabIndex = -1; h.focus({ preventScroll: false }); }
  }
}

function showError(el, key, args) {
  el.hidden = false;
  setText(el, key, args);
}

function errorKey(err) {
  if (err instanceof ApiError && err.status === 0) return 'error.network';
  return 'error.generic';
}

// ---- session and item -------------------------------------------------------------------------
/** The hand-off token is single-use: once the session carries it, drop it from the address bar. */
function forgetToken() {
  const url = new URL(location.href);
  if (!url.searchParams.has('t')) return;
  url.searchParams.delete('t');
  if (page.itemCode && !url.searchParams.has('item')) url.searchParams.set('item', page.itemCode);
  history.replaceState(history.state, '', url);
}

async function startSession() {
  const body = {};
  if (page.itemCode) body.item = page.itemCode;
  if (page.handoffToken) body.token = page.handoffToken;
  try {
    const res = await post('/api/help/session', body);
    if (!page.itemCode && res?.item?.code) page.itemCode = res.item.code;
    forgetToken();
    return res;
  } catch (err) {
    if (err.status === 401 && page.handoffToken) {
      // A stale or replayed hand-off link must not block help: continue without its context.
      const key = `handoff.${err.code}`;
      showError($('page-error'), t(key) === key ? 'handoff.invalid' : key);
      page.handoffToken = '';
      delete body.token;
      forgetToken();
      return post('/api/help/session', body);
    }
    throw err;
  }
}

/** "审批退件：企业名称重复" from a hand-off {issuer, ctx: {kind, reason, ...}, priority}. */
export function handoffSummary(handoff) {
  if (!handoff || typeof handoff !== 'object') return '';
  const ctx = handoff.ctx && typeof handoff.ctx === 'object' ? handoff.ctx : handoff;
  const kindKey = ctx.kind ? `handoff.kind.${ctx.kind}` : '';
  const kind = kindKey && t(kindKey) !== kindKey ? t(kindKey) : '';
  const reason = ctx.reason || ctx.summary || ctx.message || '';
  return kind && reason ? t('handoff.kind_reason', { kind, reason }) : kind || String(reason);
}

function renderHandoff(handoff) {
  const note = $('handoff-note');
  page.handoff = handoff || null;
  if (!handoff) { note.hidden = true; return; }
  const reason = handoffSummary(handoff);
  note.hidden = false;
  setText(note, reason ? 'handoff.with_reason' : 'handoff.plain', { reason });
}

function renderItem(item) {
  page.item = item;
  $('item-name').textContent = (getLang() === 'en' && item.name_en) || item.name || item.code;
  const dept = (getLang() === 'en' && item.department_en) || item.department;
  $('item-dept').textContent = dept ? t('item.department', { name: dept }) : '';
  const guide = $('item-guide');
  if (item.guide_html) {
    guide.innerHTML = item.guide_html; // sanitized by the server (knowledge base)
    labelTableCells(guide);
  } else {
    const p = document.createElement('p');
    p.className = 'muted';
    setText(p, 'item.no_guide');
    guide.replaceChildren(p);
  }
  renderAvailability();
}

function renderAvailability() {
  const item = page.item;
  if (!item) return;
  const av = $('item-availability');
  const closed = item.open_now === false;
  const none = !closed && item.agents_ready === 0;
  const nobody = none && item.agents_online === 0;
  av.dataset.level = closed ? 'closed' : none ? 'busy' : 'open';
  if (item.video_help === false) setText(av, 'item.no_video_help');
  else if (closed) setText(av, 'item.closed');
  else if (nobody) setText(av, 'item.nobody_online');
  else if (none) setText(av, 'item.no_agents');
  else setText(av, 'item.agents_ready', { n: item.agents_ready ?? '' });
  $('help-button').disabled = item.video_help === false;
  $('audio-only').disabled = item.video_help === false;
}

function itemUrl() {
  const q = page.unitCode ? `?unit=${encodeURIComponent(page.unitCode)}` : '';
  return `/api/help/items/${encodeURIComponent(page.itemCode)}${q}`;
}

async function refreshItem() {
  if (!page.itemCode) return;
  try { renderItem(await get(itemUrl())); } catch { /* keep what we have */ }
}

// ---- media permission and the request ---------------------------------------------------------
async function probeMedia(video) {
  if (!navigator.mediaDevices?.getUserMedia) return 'unsupported';
  try {
    const s = await navigator.mediaDevices.getUserMedia({ audio: true, video });
    s.getTracks().forEach((tr) => tr.stop()); // released while waiting; the call asks again (already allowed)
    return 'ok';
  } catch (e) {
    if (e.name === 'NotAllowedError' || e.name === 'SecurityError') return 'denied';
    if (e.name === 'NotFoundError' || e.name === 'OverconstrainedError' || e.name === 'NotReadableError') return 'nodevice';
    return 'failed';
  }
}

async function askForHelp(channel) {
  $('help-error').hidden = true;
  const buttons = [$('help-button'), $('audio-only')];
  buttons.forEach((b) => { b.disabled = true; });
  try {
    let r = await probeMedia(channel === 'video');
    if (r === 'nodevice' && channel === 'video') { channel = 'audio'; r = await probeMedia(false); }
    if (r === 'denied' || r === 'nodevice' || r === 'unsupported' || r === 'failed') {
      $('permission-denied').hidden = false;
      if (channel === 'audio') { openCallback('callback.reason_no_media'); return; }
      $('audio-only').focus();
      return;
    }
    page.channel = channel;
    await sendRequest(channel);
  } finally {
    buttons.forEach((b) => { b.disabled = page.item?.video_help === false; });
  }
}

async function sendRequest(channel, retried = false) {
  // Nobody online or closed right now: straight to the call-back form (no request that must fail).
  await refreshItem();
  const item = page.item;
  if (item && (item.open_now === false || item.agents_online === 0)) {
    openCallback(item.open_now === false ? 'callback.reason_closed' : 'callback.reason_no_agents');
    return;
  }
  try {
    const body = { item: page.itemCode, channel };
    if (page.unitCode) body.unit = page.unitCode;
    if (page.packageCode) body.package = page.packageCode;
    const res = await post('/api/help/requests', body);
    page.request = res;
    // The socket may already have said "offered": a live status is newer than this answer.
    const seen = page.lastStatus;
    if (!(seen && seen.work_order === res.work_order && seen.live !== false)) {
      renderQueue({ ...res, state: res.state || 'waiting', live: false });
    }
    showView('queue-view');
  } catch (err) {
    if (err.status === 409 && ['no_agents', 'closed', 'not_offered'].includes(err.code)) {
      openCallback({ closed: 'callback.reason_closed', not_offered: 'callback.reason_not_offered' }[err.code] || 'callback.reason_no_agents');
    } else if (err.status === 409) {
      showView('queue-view'); // already waiting: the socket's queue.status fills in the figures
    } else if (err.status === 401 && !retried) {
      await startSession();
      await sendRequest(channel, true);
    } else {
      showError($('help-error'), errorKey(err));
      if (detailText(err)) $('help-error').textContent += ` (${detailText(err)})`;
    }
  }
}

// ---- queue ------------------------------------------------------------------------------------
function renderQueue(s) {
  if (!s) return;
  page.lastStatus = s;
  if (s.work_order && page.request) page.request.work_order = s.work_order;
  if (s.ticket && page.request) page.request.ticket = s.ticket;
  if (s.position != null) $('queue-position').textContent = String(s.position);
  const wait = $('queue-wait');
  wait.dataset.seconds = String(s.expected_wait_s ?? '');
  const words = waitText(s);
  wait.textContent = words == null ? t('queue.wait_unknown')
    : s.position === 1 && (s.expected_wait_high_s ?? s.expected_wait_s) < 60 ? t('queue.soon') : words;
  const num = page.request?.number;
  if (num) setText($('queue-number'), 'queue.number', { number: num }); else $('queue-number').textContent = '';
  const stateKey = s.state === 'offered' || s.state === 'connected' ? 'queue.connecting' : 'queue.reassure';
  setText($('queue-state'), stateKey);
  // Only the server's live count (queue.status), never the count the page loaded with: an agent
  // being offered this call is not "no free agent".
  $('queue-no-agents').hidden = !(s.live !== false && s.state === 'waiting' && s.agents_ready === 0);
  if (s.state === 'offered') setCallState('offered');
  else if (s.state === 'waiting') setCallState('idle');
}

function onQueueStatus(s) {
  if (s.state === 'left' || s.state === 'abandoned') {
    page.request = null;
    setCallState('idle');
    if (!$('queue-view').hidden) showView('item-view');
    return;
  }
  if (!page.request) page.request = { ticket: s.ticket, work_order: s.work_order };
  if (!$('call-view').hidden) { page.lastStatus = s; return; } // a transfer waits behind the live call
  if ($('call-view').hidden && $('rating-view').hidden && $('callback-view').hidden) {
    if ($('queue-view').hidden) showView('queue-view', { focus: false });
  }
  renderQueue(s);
}

async function leaveQueue() {
  const req = page.request;
  $('leave-queue').disabled = true;
  try {
    if (req?.ticket) socket.send({ type: 'queue.leave', ticket: req.ticket });
    if (req?.work_order) await post(`/api/help/requests/${encodeURIComponent(req.work_order)}/leave`).catch(() => {});
  } finally {
    $('leave-queue').disabled = false;
    page.request = null;
    setCallState('idle');
    showView('item-view');
    refreshItem();
  }
}

function openCallback(reasonKey) {
  const reason = $('callback-reason');
  reason.hidden = !reasonKey;
  if (reasonKey) setText(reason, reasonKey);
  callbackForm.reset();
  showView('callback-view');
}

// ---- wiring -----------------------------------------------------------------------------------
let socket;
let call;
let callbackForm;
let ratingForm;
let inspection;

function onRoomJoined(m) {
  showView('call-view', { focus: false });
  call.join(m, { audioOnly: page.channel === 'audio' && !m.resumed });
  // A reload during an inspection: consent again, or the camera offers again (a new recording segment).
  if (m.resumed) inspection.resume(m.work_order || m.room).catch(() => {});
}

async function boot() {
  await setLang(initialLang(document.body.dataset.lang));
  bindLangToggle($('lang-toggle'));
  initElder($('elder-toggle'));
  document.addEventListener('hd:elderchange', () => { renderQueue(page.lastStatus); renderDeviceWording(); });
  renderDeviceWording();
  setCallState('idle');
  callbackForm = initCallbackForm({ item: () => page.itemCode, unit: () => page.unitCode, onBack: () => showView('item-view'),
    needsCode: () => page.needsPhoneCode });
  ratingForm = initRatingForm({ onDone: () => { showView('item-view'); refreshItem(); } });

  $('help-button').addEventListener('click', () => askForHelp('video'));
  $('audio-only').addEventListener('click', () => askForHelp('audio'));
  $('callback-open').addEventListener('click', () => openCallback(null));
  $('queue-callback').addEventListener('click', async () => { await leaveQueue(); openCallback('callback.reason_no_agents'); });
  $('leave-queue').addEventListener('click', leaveQueue);
  document.title = t('app.title');
  document.addEventListener('hd:langchange', () => {
    document.title = t('app.title');
    renderQueue(page.lastStatus);
    if (page.item) renderItem(page.item);
    renderHandoff(page.handoff);
  });

  if (!page.itemCode && !page.handoffToken) {
    showView('item-view', { focus: false });
    showError($('page-error'), 'item.missing');
    $('help-button').disabled = true;
    $('audio-only').disabled = true;
    return;
  }
  let session;
  try {
    session = await startSession();
  } catch (err) {
    $('loading').hidden = true;
    showError($('page-error'), errorKey(err));
    return;
  }
  page.itemCode = page.itemCode || session?.item?.code || session?.handoff?.item || '';
  page.needsPhoneCode = !!session?.needs_phone_code;
  page.packageCode = page.packageCode || session?.handoff?.ctx?.package || '';
  renderHandoff(session?.handoff);
  renderPackage(page);
  try {
    renderItem(await get(itemUrl()));
  } catch (err) {
    $('loading').hidden = true;
    showError($('page-error'), err.status === 404 ? 'item.not_found' : errorKey(err));
    return;
  }
  showView('item-view', { focus: false });

  socket = openSocket({
    onDown: () => { $('queue-offline').hidden = false; call.setSocketDown(true); },
    onUp: () => { $('queue-offline').hidden = true; call.setSocketDown(false); },
    onReplaced: () => showError($('page-error'), 'socket.replaced'),
    onError: (m) => {
      if (!$('call-view').hidden || m.ref === 'ping') return;
      showError($('help-error'), 'ws.generic', { detail: socketErrorText(m) });
    },
  });
  call = createCallView({
    socket,
    me: () => page.member,
    confirmHangup,
    canGoAudioOnly: true,
    onEnded: (info) => {
      if (info.reason === 'transferred') {
        // A warm transfer: the next agent's call follows; wait at the front of their queue.
        page.request = { ticket: page.member?.slice(2) };
        setText($('queue-state'), 'queue.transferring');
        showView('queue-view');
        return;
      }
      page.request = null;
      ratingForm.open(info);
      showView('rating-view');
    },
  });
  inspection = createApplicantInspection({ socket, view: call });
  window.__helpdesk.switchCamera = (mode, video) => call.switchCamera(mode, video);
  Object.defineProperty(window.__helpdesk, 'inspection', { get: () => inspection.state, configurable: true });
  Object.defineProperty(window.__helpdesk, 'peer', { get: () => call.peer, configurable: true });
  Object.defineProperty(window.__helpdesk, 'guidance', { get: () => call.guidance(), configurable: true }); // #19

  socket.on('welcome', (m) => {
    page.member = m.member;
    if (m.room) onRoomJoined({ ...m.room, resumed: true });
    else if (m.ticket && $('call-view').hidden) {
      // Still waiting (e.g. after a reload or a reconnect): the ticket is a queue.status payload.
      const st = typeof m.ticket === 'object' ? m.ticket : { ticket: m.ticket, state: 'waiting' };
      page.request = page.request || { ticket: st.ticket, work_order: st.work_order };
      onQueueStatus(st);
    }
  });
  socket.on('queue.status', onQueueStatus);
  socket.on('room.joined', onRoomJoined);
}

/** Remote inspection hook: switch to the rear ('environment') or front ('user') camera. */
export function switchCamera(facingMode) { return call?.switchCamera(facingMode); }

boot();
