// The agent console (/console/): login, presence, offers, the call, wrap-up, recent work orders.
import { get, post, ApiError, detailText } from '/static/help/api.js';
import { t, setText, setLang, initialLang, bindLangToggle, getLang } from '/static/help/i18n.js';
import { openSocket, socketErrorText } from '/static/help/socket.js';
import { setCallState } from '/static/help/callview.js';
import { createOfferCard, unlockAudio, renderContext } from './offer.js';
import { createConsoleCall, bindShortcuts } from './call.js';
import { createWrapup } from './wrapup.js';
import { loadRecent } from './recent.js';
import { createTransfer } from './transfer.js';
import { createKbDock } from './kb.js';
import { createAgentInspection } from './inspection.js';

const $ = (id) => document.getElementById(id);
const AVAILABLE = new Set(['ready', 'offered', 'busy', 'wrap_up']);
const SUPERVISORS = ['supervisor', 'admin'];

const app = { me: null, member: null, agentState: 'offline', context: null, socket: null };

// ---- small helpers ----------------------------------------------------------------------------
let toastTimer = null;
function toast(text) {
  const el = $('toast');
  el.textContent = text;
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { el.hidden = true; }, 6000);
}

function renderIdle() {
  const busy = !$('offer-card').hidden || !$('call-view').hidden || !$('wrapup-view').hidden;
  $('idle-view').hidden = busy;
  setText($('idle-text'), app.agentState === 'ready' ? 'console.idle_ready' : 'console.idle_away');
}

function renderAgentState(s) {
  app.agentState = s.state || app.agentState;
  const badge = $('agent-state');
  badge.dataset.state = app.agentState;
  setText(badge, `agent.state.${app.agentState}`);
  const on = AVAILABLE.has(app.agentState);
  const toggle = $('ready-toggle');
  toggle.dataset.on = String(on);
  setText(toggle, on ? 'agent.go_away' : 'agent.go_ready');
  if (s.missed_offers) badge.title = t('agent.missed', { n: s.missed_offers });
  renderIdle();
}

/** Sent here by the supervisor view (?next=supervisor): go back there (a fixed path, never a URL). */
function backToSupervisor(me) {
  if (new URLSearchParams(location.search).get('next') !== 'supervisor' || !SUPERVISORS.includes(me.role)) return false;
  location.replace('/console/supervisor.html');
  return true;
}

/** Who is logged in (null when nobody): asked without a 401 in the browser's console. */
async function currentStaff() {
  return (await get('/api/auth/session'))?.staff ?? null;
}

// ---- login ------------------------------------------------------------------------------------
let lockTimer = null;
function lockLogin(seconds) {
  // The alert is announced once; the per-second countdown lives in the (non-live) button label.
  const submit = $('login-submit');
  const err = $('login-error');
  let left = Math.max(1, Math.ceil(seconds));
  clearInterval(lockTimer);
  submit.disabled = true;
  err.hidden = false;
  setText(err, 'login.too_many', { s: left });
  setText(submit, 'login.wait', { s: left });
  lockTimer = setInterval(() => {
    left -= 1;
    if (left > 0) { setText(submit, 'login.wait', { s: left }); return; }
    clearInterval(lockTimer);
    submit.disabled = false;
    setText(submit, 'login.submit');
    setText(err, 'login.retry_now');
  }, 1000);
}

function retryAfterOf(err) {
  if (err.retryAfter) return err.retryAfter;
  const m = /(\d+)\s*s/.exec(detailText(err));
  return m ? Number(m[1]) : 30;
}

async function login(e) {
  e.preventDefault();
  unlockAudio(); // the click is our user gesture for the ring
  const err = $('login-error');
  err.hidden = true;
  const username = $('login-username').value.trim();
  const password = $('login-password').value;
  if (!username || !password) {
    err.hidden = false;
    setText(err, 'login.missing');
    return;
  }
  $('login-submit').disabled = true;
  try {
    try {
      await post('/api/auth/login', { username, password });
    } catch (ex) {
      if (ex.status !== 403 || ex.code !== 'csrf_failed') throw ex;
      await get('/healthz').catch(() => {}); // obtain a fresh hd_csrf cookie, then retry once
      await post('/api/auth/login', { username, password });
    }
    $('login-password').value = '';
    $('login-submit').disabled = false;
    const me = await currentStaff();
    if (backToSupervisor(me)) return;
    await enterWorkbench(me);
  } catch (ex) {
    $('login-submit').disabled = false;
    if (ex.status === 429) { lockLogin(retryAfterOf(ex)); return; }
    err.hidden = false;
    if (ex.status === 401) setText(err, 'login.invalid');
    else if (ex.status === 0) setText(err, 'error.network');
    else err.textContent = t('login.failed', { detail: detailText(ex) || ex.code });
  }
}

// ---- the workbench ----------------------------------------------------------------------------
let offers;
let call;
let wrapup;
let transfer;
let kb;
let inspection;

/** After a reload the offer's context is gone: rebuild what the KB and the inspection need from the work order. */
async function callContext(workOrder) {
  if (app.context) return app.context;
  try {
    const wo = await get(`/api/workorders/${encodeURIComponent(workOrder)}`);
    return { item: { id: wo.item_id, code: wo.item?.code, name: wo.item?.name }, handoff: wo.handoff, number: wo.number };
  } catch { return null; }
}

function onRoomJoined(m) {
  app.room = m.room;
  transfer?.reset();
  offers.joined();
  $('wrapup-view').hidden = true;
  call.join(m, app.context);
  renderIdle();
  const workOrder = m.work_order || m.room;
  callContext(workOrder).then((context) => {
    if (app.room !== m.room) return;
    kb.call({ workOrderId: workOrder, context });
    inspection.join({ workOrder, room: m.room, context });
  });
}

/** After a reload during wrap-up: reopen the form for the call that still needs one. */
async function resumeWrapup() {
  try {
    const rows = await get('/api/workorders?mine=1&status=wrap_up&limit=1');
    const wo = Array.isArray(rows) ? rows[0] : null;
    if (wo && wo.agent_id === app.me?.id && !wrapup.open && !call.active) {
      wrapup.start({ work_order: wo.id, number: wo.number, reason: wo.ended_reason });
      renderIdle();
    }
  } catch { /* nothing to resume */ }
}

function startSocket() {
  const socket = openSocket({
    onDown: () => {
      setText($('socket-banner'), 'console.socket_down');
      $('socket-banner').hidden = false;
      call?.setSocketDown(true);
    },
    onUp: () => { $('socket-banner').hidden = true; call?.setSocketDown(false); },
    onReplaced: () => {
      $('socket-banner').hidden = false;
      setText($('socket-banner'), 'socket.replaced');
    },
    onError: (m) => {
      if (m.ref === 'offer.accept' || m.ref === 'offer.decline') {
        offers.hide('error');
        if (!call?.active) setCallState('idle');
      }
      if (m.ref !== 'ping') toast(socketErrorText(m));
    },
  });
  app.socket = socket;
  return socket;
}

async function enterWorkbench(me) {
  if (me.must_change_password) { location.href = '/console/admin/#password'; return; } // one-time password
  app.me = me;
  $('login-view').hidden = true;
  $('workbench').hidden = false;
  $('agent-name').textContent = me.display_name || me.username || '';
  $('agent-unit').textContent = me.unit?.name || '';
  $('supervisor-link').hidden = !SUPERVISORS.includes(me.role);
  if ($('admin-link')) $('admin-link').hidden = !(me.role === 'admin' || me.unit_admin);
  renderAgentState({ state: 'offline' });
  setCallState('idle');

  window.__helpdesk = window.__helpdesk || {};
  const socket = startSocket();
  transfer = createTransfer({ currentRoom: () => (call?.active ? app.room : null), myUnit: () => app.me?.unit?.id });
  offers = createOfferCard({
    socket,
    onShow: (o) => { app.context = o.context || null; setCallState('offered'); renderIdle(); },
    onAccept: () => setCallState('connecting'),
    onGone: (o, reason) => {
      if (!call.active) setCallState('idle');
      if (reason && reason !== 'declined') {
        const key = `offer.revoked.${reason}`;
        toast(t(key) === key ? t('offer.revoked.other') : t(key));
      }
      renderIdle();
    },
  });
  call = createConsoleCall({
    socket,
    me: () => app.member,
    onEnded: (info) => {
      $('call-view').hidden = true;
      inspection.leave();
      kb.idle();
      wrapup.start(info);
      renderIdle();
    },
  });
  kb = createKbDock({
    onReply: (text) => { const input = $('chat-input'); input.value = text; if (!input.closest('[hidden]')) input.focus(); },
    onSent: (res) => toast(t('kb.sent', { name: res.sent?.attachment?.name || res.sent?.article?.title || '' })),
  });
  kb.idle();
  inspection = createAgentInspection({ socket });
  wrapup = createWrapup({
    onDone: ({ away, number, outcome }) => {
      toast(t('wrapup.saved', { number, outcome: t(`outcome.${outcome}`) }));
      call.hide();
      app.context = null;
      setCallState('idle');
      socket.send({ type: 'agent.state', state: away ? 'away' : 'ready' });
      renderIdle();
      loadRecent($('recent-list'));
    },
  });
  Object.defineProperty(window.__helpdesk, 'peer', { get: () => call.peer, configurable: true });
  Object.defineProperty(window.__helpdesk, 'guidance', { get: () => call.view.guidance(), configurable: true }); // #19
  socket.on('welcome', (m) => {
    app.member = m.member;
    // A connected agent is at least "away" on the server until it says otherwise.
    if (m.agent) renderAgentState(m.agent);
    else if (app.agentState === 'offline') renderAgentState({ state: 'away' });
    if (m.room) onRoomJoined({ ...m.room, resumed: true });
    else if (!wrapup.open && !call.active) resumeWrapup();
  });
  socket.on('agent.state', renderAgentState);
  socket.on('offer', (m) => offers.show(m));
  socket.on('offer.revoked', (m) => offers.revoke(m));
  socket.on('room.joined', onRoomJoined);
  loadRecent($('recent-list'));
}

function wireStatic() {
  $('login-form').addEventListener('submit', login);
  $('ready-toggle').addEventListener('click', () => {
    unlockAudio();
    const goReady = !AVAILABLE.has(app.agentState);
    app.socket?.send({ type: 'agent.state', state: goReady ? 'ready' : 'away' });
  });
  $('logout').addEventListener('click', async () => {
    if (call?.active && !window.confirm(t('console.logout_confirm'))) return;
    try { app.socket?.send({ type: 'agent.state', state: 'away' }); } catch { /* closing anyway */ }
    await post('/api/auth/logout').catch(() => {});
    location.replace(location.pathname);
  });
  $('recent-refresh').addEventListener('click', () => loadRecent($('recent-list')));
  bindLangToggle($('lang-toggle'));
  bindLangToggle($('login-lang'));
  document.addEventListener('hd:langchange', () => {
    document.title = t('console.title');
    if (!app.me) return;
    renderAgentState({ state: app.agentState });
    if (offers?.current) renderContext($('offer-context'), offers.current.context || {});
    if (!$('call-context').hidden && app.context) renderContext($('call-context-body'), app.context);
    loadRecent($('recent-list'));
  });
  window.addEventListener('beforeunload', (e) => {
    if (call?.active) { e.preventDefault(); e.returnValue = ''; }
  });
  bindShortcuts();
}

async function boot() {
  await setLang(initialLang());
  document.title = t('console.title');
  wireStatic();
  try {
    const me = await currentStaff();
    if (!me) throw new ApiError(401, 'login_required');
    if (backToSupervisor(me)) return;
    await enterWorkbench(me);
  } catch (ex) {
    $('login-view').hidden = false;
    if (!(ex instanceof ApiError) || (ex.status !== 401 && ex.status !== 403)) {
      if (ex.status === 0) { $('login-error').hidden = false; setText($('login-error'), 'error.network'); }
    }
    $('login-username').focus();
  }
  document.documentElement.dataset.ready = getLang();
}

boot();
