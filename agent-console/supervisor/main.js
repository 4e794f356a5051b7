// The supervisor view (/console/supervisor.html): who may see it, the tabs, the socket feed.
// Login is the console's (same cookie); agents get a "supervisors only" page.
import { get, post, ApiError } from '/static/help/api.js';
import { t, setText, setLang, initialLang, bindLangToggle, getLang } from '/static/help/i18n.js';
import { openSocket, socketErrorText } from '/static/help/socket.js';
import { $, toast } from './dom.js';
import { routes } from './routes.js';
import { createWall } from './wall.js';
import { createMonitor } from './monitor.js'; // #19: watch a call, join it
import { createUnresolved, normalizeUnresolved } from './unresolved.js';
import { createDrawer } from './drawer.js';
import { createFigures } from './figures.js';
import { createReport } from './report.js';
import { createNotifications } from './notifications.js';

export const STAFF_ROLES = ['supervisor', 'admin'];
const TABS = ['wall', 'stats', 'report'];
const STALE_MS = 8000; // snapshots come every ~2 s; four missed ones mark the wall stale
const FEED_WAIT_MS = 6000;

const view = { me: null, units: [], unitNames: new Map(), socket: null, lastSnap: 0 };

/** The units a supervisor may hand work to: their subtree (admins: the whole tree), depth-first. */
export function flattenUnits(tree, rootId) {
  const find = (nodes) => {
    for (const n of nodes || []) {
      if (n.id === rootId) return n;
      const hit = find(n.children);
      if (hit) return hit;
    }
    return null;
  };
  const roots = rootId === null ? tree || [] : [find(tree)].filter(Boolean);
  const out = [];
  const walk = (nodes, depth) => {
    for (const n of nodes) {
      out.push({ id: n.id, name: n.name, depth });
      walk(n.children || [], depth + 1);
    }
  };
  walk(roots, 0);
  return out;
}

function gate(kind) {
  document.body.dataset.view = kind;
  $('sup-app').hidden = true;
  $('sup-gate').hidden = false;
  setText($('sup-gate-title'), `sup.gate.${kind}_title`);
  setText($('sup-gate-text'), `sup.gate.${kind}`);
  const link = $('sup-gate-link');
  link.href = kind === 'login' ? '/console/?next=supervisor' : '/console/';
  setText(link, kind === 'login' ? 'sup.gate.login_link' : 'supervisor.back');
}

function selectTab(name, focus = false) {
  const tab = TABS.includes(name) ? name : 'wall';
  for (const id of TABS) {
    const button = $(`sup-tab-${id}`);
    const on = id === tab;
    button.setAttribute('aria-selected', String(on));
    button.tabIndex = on ? 0 : -1;
    $(`sup-panel-${id}`).hidden = !on;
    if (on && focus) button.focus();
  }
  document.body.dataset.tab = tab;
  if (tab === 'stats' && !parts.figures.loaded()) parts.figures.load();
  if (tab === 'report' && !parts.report.loaded()) parts.report.load();
  if (location.hash.slice(1) !== tab) {
    history.replaceState(null, '', `${location.pathname}${location.search}${tab === 'wall' ? '' : `#${tab}`}`);
  }
}

function wireTabs() {
  TABS.forEach((id, i) => {
    const button = $(`sup-tab-${id}`);
    button.addEventListener('click', () => selectTab(id));
    button.addEventListener('keydown', (e) => {
      if (e.key !== 'ArrowRight' && e.key !== 'ArrowLeft') return;
      e.preventDefault();
      selectTab(TABS[(i + (e.key === 'ArrowRight' ? 1 : TABS.length - 1)) % TABS.length], true);
    });
  });
}

const parts = {};

function onSnapshot(m) {
  view.lastSnap = Date.now();
  $('sup-feed-waiting').hidden = true;
  parts.wall.render(m);
  parts.unresolved.render(normalizeUnresolved(m.unresolved));
}

function onNotification(m) {
  const n = parts.notes.push(m);
  toast(n.title || t('sup.notifications.new'), n.kind);
  if (parts.drawer.current && String(parts.drawer.current.id) === String(n.work_order)) parts.drawer.reload();
}

function startSocket() {
  const banner = $('socket-banner');
  const socket = openSocket({
    onDown: () => { banner.hidden = false; setText(banner, 'console.socket_down'); parts.wall.markStale(true); },
    onUp: () => { banner.hidden = true; },
    onReplaced: () => {
      banner.hidden = false;
      setText(banner, 'sup.socket_replaced');
      $('sup-reconnect').hidden = false;
      parts.wall.markStale(true);
    },
    onError: (m) => { if (m.ref !== 'ping') toast(socketErrorText(m), 'error'); },
  });
  socket.on('supervisor.snapshot', onSnapshot);
  parts.monitor = createMonitor({ socket }); // #19
  window.__helpdesk = Object.assign(window.__helpdesk || {}, { monitor: parts.monitor, socket });
  socket.on('notification', onNotification);
  socket.on('welcome', () => {
    // The feed answers within ~2 s; until then (or without it) show the stored unresolved list.
    setTimeout(() => {
      if (Date.now() - view.lastSnap > FEED_WAIT_MS) {
        $('sup-feed-waiting').hidden = false;
        parts.unresolved.load();
      }
    }, FEED_WAIT_MS);
  });
  $('sup-reconnect').addEventListener('click', () => {
    $('sup-reconnect').hidden = true;
    banner.hidden = true;
    socket.connect();
  });
  setInterval(() => {
    if (view.lastSnap) parts.wall.markStale(Date.now() - view.lastSnap > STALE_MS);
  }, 2000);
  return socket;
}

async function loadUnits(me) {
  try {
    const tree = await get(routes.units);
    view.units = flattenUnits(tree, me.role === 'admin' ? null : me.unit?.id ?? -1);
    flattenUnits(tree, null).forEach((u) => view.unitNames.set(String(u.id), u.name));
  } catch {
    view.units = [];
  }
}

/** Names for the REST unresolved list (ids only): items, units, and the agents on the wall. */
async function names() {
  const items = new Map();
  try {
    for (const i of await get(routes.items)) items.set(String(i.id), i.name);
  } catch { /* ids stay */ }
  const staff = new Map([...parts.wall.agentsById()].map(([id, a]) => [id, a.name]));
  return { items, units: view.unitNames, staff };
}

function enter(me) {
  view.me = me;
  document.body.dataset.view = 'app';
  $('sup-gate').hidden = true;
  $('sup-app').hidden = false;
  $('sup-name').textContent = me.display_name || me.username || '';
  $('sup-unit').textContent = me.unit?.name || '';
  const open = (id) => { if (id) parts.drawer.show(id); };
  parts.wall = createWall({ onOpen: open, onMonitor: (id, number) => parts.monitor?.open(id, number) }); // #19
  parts.unresolved = createUnresolved({ onOpen: open, agents: () => parts.wall.last?.agents || [],
    units: () => view.units, names });
  parts.drawer = createDrawer({
    agents: () => parts.wall.agentsById(),
    reassign: (row) => parts.unresolved.open(parts.unresolved.find(row.work_order) || row),
  });
  parts.figures = createFigures();
  parts.report = createReport({ onOpen: open });
  parts.notes = createNotifications({ onOpen: open });
  wireTabs();
  selectTab(location.hash.slice(1));
  $('sup-unread-link').addEventListener('click', () => selectTab('wall'));
  loadUnits(me);
  parts.notes.load();
  view.socket = startSocket();
  $('logout').addEventListener('click', async () => {
    view.socket?.close();
    await post(routes.logout).catch(() => {});
    location.replace('/console/');
  });
}

async function boot() {
  await setLang(initialLang());
  document.title = t('sup.title');
  bindLangToggle($('lang-toggle'));
  document.addEventListener('hd:langchange', () => {
    document.title = t('sup.title');
    if (!view.me) return;
    for (const p of ['wall', 'unresolved', 'figures', 'report', 'notes']) parts[p]?.rerender();
    if (parts.drawer?.current) parts.drawer.reload();
  });
  let me = null;
  try {
    me = (await get(routes.session))?.staff ?? null;
    if (!me) gate('login');
  } catch (ex) {
    gate(ex instanceof ApiError && (ex.status === 401 || ex.status === 403) ? 'login' : 'error');
  }
  if (me && STAFF_ROLES.includes(me.role)) enter(me);
  else if (me) gate('forbidden');
  document.documentElement.dataset.ready = getLang();
}

boot();
