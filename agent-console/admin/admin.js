// Administration pages: the shell (login, one-time password change, tabs, language), the org tree,
// holidays and integration tokens. Items and staff: ./people.js; bulk import: ./bulk.js.
import { get, post, api, detailText, newestOnly } from '/static/help/api.js';
import { t, setText, applyI18n, setLang, getLang, initialLang } from '/static/help/i18n.js';
import { initItems, initStaff } from './people.js';
import { initBulk } from './bulk.js';
import { initIntegration, loadIntegration } from './integration.js';

export const $ = (id) => document.getElementById(id);
export const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
export const state = { me: null, scope: null, units: [], departments: [] };

export function toast(key, args) {
  const el = $('toast');
  setText(el, key, args);
  el.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { el.hidden = true; }, 4000);
}

export function showError(el, ex) {
  el.hidden = false;
  el.textContent = `${t('common.failed')} ${detailText(ex) || ex.code || ''}`;
}

export const put = (path, body) => api('PUT', path, body);
export const patch = (path, body) => api('PATCH', path, body);
export const del = (path) => api('DELETE', path);

export function unitName(u) { return getLang() === 'en' && u.name_en ? u.name_en : u.name; }

/** Fill a <select> with the units in scope, indented by depth. */
export function fillUnits(select, { blank } = {}) {
  const keep = select.value;
  select.replaceChildren();
  if (blank) select.append(new Option(t(blank), ''));
  const depth = (u) => u.path.split('/').filter(Boolean).length - (state.units[0]?.path.split('/').filter(Boolean).length || 1);
  for (const u of state.units) {
    const opt = new Option(`${'\u3000'.repeat(Math.max(0, depth(u)))}${unitName(u)} (${u.code})`, String(u.id));
    opt.dataset.code = u.code;
    select.append(opt);
  }
  if (keep) select.value = keep;
}

export async function loadUnits() {
  state.units = await get('/api/admin/units');
  renderTree();
  for (const id of ['org-parent', 'staff-unit']) fillUnits($(id));
  fillUnits($('closure-unit'), { blank: state.scope?.is_admin ? 'hol.everywhere' : null });
  fillUnits($('tok-unit'), { blank: state.scope?.is_admin ? 'tok.any_unit' : null });
}

// ---- org tree ----------------------------------------------------------------------------------
let selected = null; // the unit being edited, or {parent} for a new one

function renderTree() {
  const ul = $('org-tree');
  ul.replaceChildren();
  const base = state.units[0]?.path.split('/').filter(Boolean).length || 1;
  for (const u of state.units) {
    const li = document.createElement('li');
    li.role = 'treeitem';
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'tree-node' + (u.disabled ? ' disabled' : '') + (selected?.id === u.id ? ' current' : '');
    b.style.paddingInlineStart = `${(u.path.split('/').filter(Boolean).length - base) * 1.2 + 0.5}em`;
    b.textContent = `${unitName(u)} · ${u.code}${u.disabled ? ` (${t('org.disabled')})` : ''}`;
    b.dataset.code = u.code;
    b.addEventListener('click', () => editUnit(u));
    li.append(b);
    ul.append(li);
  }
}

function hoursInputs(hours) {
  const box = $('org-hours');
  box.replaceChildren();
  for (const d of DAYS) {
    const div = document.createElement('div');
    div.className = 'field';
    const id = `hours-${d}`;
    div.innerHTML = `<label for="${id}"></label><input id="${id}" inputmode="numeric" placeholder="09:00-12:00 13:30-17:30">`;
    div.querySelector('label').textContent = t(`day.${d}`);
    div.querySelector('input').value = (hours?.[d] || []).map(([a, b]) => `${a}-${b}`).join(' ');
    box.append(div);
  }
}

function readHours() {
  const out = {};
  for (const d of DAYS) {
    out[d] = $(`hours-${d}`).value.trim().split(/[\s,，]+/).filter(Boolean).map((p) => p.split('-'));
  }
  return out;
}

function editUnit(u) {
  selected = u;
  $('org-error').hidden = true;
  setText($('org-form-title'), 'org.edit');
  $('org-code').value = u.code;
  $('org-code').readOnly = true;
  $('org-level').value = u.level;
  $('org-name').value = u.name;
  $('org-name-en').value = u.name_en || '';
  $('org-parent').value = u.parent_id ? String(u.parent_id) : '';
  $('org-fallback').value = u.fallback_after_s ?? '';
  hoursInputs(u.business_hours);
  $('org-move').hidden = false;
  $('org-disable').hidden = false;
  setText($('org-disable'), u.disabled ? 'org.enable' : 'org.disable');
  renderTree();
}

function newUnit() {
  const parent = selected?.id ? selected : state.units[0];
  selected = { parent_id: parent?.id ?? null };
  setText($('org-form-title'), 'org.new');
  for (const id of ['org-code', 'org-name', 'org-name-en', 'org-fallback']) $(id).value = '';
  $('org-code').readOnly = false;
  const levels = ['province', 'city', 'county', 'township', 'village'];
  $('org-level').value = levels[Math.min(levels.indexOf(parent?.level ?? 'province') + 1, 4)];
  $('org-parent').value = parent ? String(parent.id) : '';
  hoursInputs({ mon: [['09:00', '12:00'], ['13:30', '17:30']], tue: [['09:00', '12:00'], ['13:30', '17:30']],
    wed: [['09:00', '12:00'], ['13:30', '17:30']], thu: [['09:00', '12:00'], ['13:30', '17:30']],
    fri: [['09:00', '12:00'], ['13:30', '17:30']] });
  $('org-move').hidden = true;
  $('org-disable').hidden = true;
  $('org-code').focus();
}

async function saveUnit(e) {
  e.preventDefault();
  $('org-error').hidden = true;
  const fallback = $('org-fallback').value === '' ? null : Number($('org-fallback').value);
  const body = { name: $('org-name').value.trim(), name_en: $('org-name-en').value.trim() || null,
    business_hours: readHours(), fallback_after_s: fallback };
  try {
    if (selected?.id) {
      selected = await patch(`/api/admin/units/${selected.id}`, body);
    } else {
      const parentId = $('org-parent').value ? Number($('org-parent').value) : null;
      selected = await post('/api/admin/units', { ...body, code: $('org-code').value.trim(), level: $('org-level').value,
        parent_id: parentId });
    }
    toast('common.saved');
    await loadUnits();
    editUnit(state.units.find((u) => u.id === selected.id) || selected);
  } catch (ex) { showError($('org-error'), ex); }
}

async function orgAction(path, body) {
  $('org-error').hidden = true;
  try {
    selected = await post(`/api/admin/units/${selected.id}/${path}`, body);
    toast('common.saved');
    await loadUnits();
    editUnit(state.units.find((u) => u.id === selected.id) || selected);
  } catch (ex) { showError($('org-error'), ex); }
}

// ---- holidays and closures ---------------------------------------------------------------------
const holidaysOf = newestOnly(get); // the year picker and saves reload: the last answer wins
const tokenList = newestOnly(get);

async function loadHolidays() {
  const year = Number($('hol-year').value);
  const rows = await holidaysOf(`/api/admin/holidays/${year}`);
  if (!rows) return;
  const body = $('hol-table').tBodies[0];
  body.replaceChildren();
  for (const h of rows) {
    const tr = body.insertRow();
    const unit = h.unit_id ? state.units.find((u) => u.id === h.unit_id) : null;
    for (const text of [h.day, h.name, t(h.is_workday ? 'hol.kind_work' : 'hol.kind_off'),
      unit ? unitName(unit) : t('hol.everywhere')]) tr.insertCell().textContent = text;
    const cell = tr.insertCell();
    if (unit || state.scope?.is_admin) {
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'btn btn-small btn-ghost';
      setText(b, 'common.delete');
      b.addEventListener('click', async () => { await del(`/api/admin/closures/${h.id}`); await loadHolidays(); });
      cell.append(b);
    }
  }
}

async function loadYear() {
  const year = Number($('hol-year').value);
  try {
    const r = await post(`/api/admin/holidays/${year}/load`);
    $('hol-note').hidden = false;
    setText($('hol-note'), r.provisional ? 'hol.loaded_provisional' : 'hol.loaded', r);
    await loadHolidays();
  } catch (ex) { showError($('hol-note'), ex); }
}

async function saveClosure(e) {
  e.preventDefault();
  $('closure-error').hidden = true;
  try {
    await put('/api/admin/closures', { unit_id: $('closure-unit').value ? Number($('closure-unit').value) : null,
      day: $('closure-day').value, name: $('closure-name').value.trim(), is_workday: $('closure-workday').checked });
    toast('common.saved');
    $('hol-year').value = $('closure-day').value.slice(0, 4);
    await loadHolidays();
  } catch (ex) { showError($('closure-error'), ex); }
}

// ---- tokens ------------------------------------------------------------------------------------
async function loadTokens() {
  const tokens = await tokenList('/api/admin/api-tokens');
  if (!tokens) return;
  const body = $('tok-table').tBodies[0];
  body.replaceChildren();
  for (const tok of tokens) {
    const tr = body.insertRow();
    for (const text of [tok.name, tok.prefix, tok.scopes.join(' '), t(`tok.state_${tok.state}`),
      tok.last_used_at ? new Date(tok.last_used_at).toLocaleString(getLang()) : '—']) tr.insertCell().textContent = text;
    const cell = tr.insertCell();
    if (tok.state === 'active') {
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'btn btn-small btn-danger';
      setText(b, 'tok.revoke');
      b.addEventListener('click', async () => { await del(`/api/admin/api-tokens/${tok.id}`); await loadTokens(); });
      cell.append(b);
    }
  }
}

async function createToken(e) {
  e.preventDefault();
  $('tok-error').hidden = true;
  try {
    const tok = await post('/api/admin/api-tokens', { name: $('tok-name').value.trim(),
      scopes: $('tok-scopes').value.trim().split(/\s+/).filter(Boolean),
      unit_id: $('tok-unit').value ? Number($('tok-unit').value) : null });
    $('tok-created').hidden = false;
    setText($('tok-created'), 'tok.created', { token: tok.token });
    await loadTokens();
  } catch (ex) { showError($('tok-error'), ex); }
}

// ---- shell -------------------------------------------------------------------------------------
function showPanel(name) {
  for (const tab of document.querySelectorAll('.tab')) {
    const on = tab.dataset.panel === name;
    tab.setAttribute('aria-selected', String(on));
    $(`panel-${tab.dataset.panel}`).hidden = !on;
  }
  if (name === 'holidays') loadHolidays().catch(() => {});
  if (name === 'tokens') loadTokens().catch(() => {});
  if (name === 'integration') loadIntegration().catch(() => {});
  history.replaceState(null, '', `#${name}`);
}

async function enter() {
  const me = await get('/api/auth/me');
  state.me = me;
  if (me.must_change_password) { gate('password'); return; }
  try {
    state.scope = await get('/api/admin/me');
  } catch (ex) {
    if (ex.status === 403) { location.href = '/console/'; return; } // not an administrator
    throw ex;
  }
  $('gate').hidden = true;
  $('app').hidden = false;
  $('me-name').textContent = me.display_name || me.username;
  setText($('me-scope'), state.scope.is_admin ? 'admin.scope_all' : 'admin.scope_unit', { unit: me.unit?.name || '' });
  $('hol-load').hidden = !state.scope.is_admin; // the bureau-wide calendar is the admins'
  state.departments = await get('/api/admin/departments');
  await loadUnits();
  if (state.units.length) editUnit(state.units[0]); else newUnit();
  initItems();
  initStaff();
  initBulk({ reload: loadUnits });
  initIntegration();
  const want = location.hash.slice(1);
  showPanel(document.querySelector(`.tab[data-panel="${want}"]`) ? want : 'org');
}

function gate(which) {
  $('app').hidden = true;
  $('gate').hidden = false;
  $('login-form').hidden = which !== 'login';
  $('password-form').hidden = which !== 'password';
  (which === 'login' ? $('login-username') : $('password-current')).focus();
}

async function login(e) {
  e.preventDefault();
  $('login-error').hidden = true;
  try {
    await post('/api/auth/login', { username: $('login-username').value.trim(), password: $('login-password').value });
    $('login-password').value = '';
    await enter();
  } catch (ex) {
    $('login-error').hidden = false;
    if (ex.status === 401) setText($('login-error'), 'login.invalid'); else showError($('login-error'), ex);
  }
}

async function changePassword(e) {
  e.preventDefault();
  $('password-error').hidden = true;
  try {
    await post('/api/auth/password', { current_password: $('password-current').value, new_password: $('password-new').value });
    $('password-current').value = '';
    $('password-new').value = '';
    await enter();
  } catch (ex) { showError($('password-error'), ex); }
}

async function toggleLang() {
  await setLang(getLang() === 'en' ? 'zh-CN' : 'en');
  applyI18n();
  for (const b of document.querySelectorAll('.lang-toggle')) b.textContent = getLang() === 'en' ? '中文' : 'English';
  if (state.scope) { await loadUnits(); if (selected?.id) editUnit(selected); }
}

async function main() {
  await setLang(initialLang());
  applyI18n();
  for (const b of document.querySelectorAll('.lang-toggle')) {
    b.textContent = getLang() === 'en' ? '中文' : 'English';
    b.addEventListener('click', toggleLang);
  }
  $('login-form').addEventListener('submit', login);
  $('password-form').addEventListener('submit', changePassword);
  $('logout').addEventListener('click', async () => { await post('/api/auth/logout').catch(() => {}); location.reload(); });
  for (const tab of document.querySelectorAll('.tab')) tab.addEventListener('click', () => showPanel(tab.dataset.panel));
  $('org-form').addEventListener('submit', saveUnit);
  $('org-new').addEventListener('click', newUnit);
  $('org-move').addEventListener('click', () => orgAction('move', { parent_id: Number($('org-parent').value) }));
  $('org-disable').addEventListener('click', () => orgAction(selected.disabled ? 'enable' : 'disable'));
  $('hol-year').value = String(new Date().getFullYear());
  $('hol-year').addEventListener('change', () => loadHolidays().catch(() => {}));
  $('hol-load').addEventListener('click', loadYear);
  $('closure-form').addEventListener('submit', saveClosure);
  $('tok-form').addEventListener('submit', createToken);
  try { await enter(); } catch (ex) {
    if (ex.status === 401) gate('login');
    else if (ex.code === 'password_change_required') gate('password');
    else throw ex;
  }
  window.__admin = { ready: true };
}

main();
