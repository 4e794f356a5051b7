// Service items (search, filters, paging over thousands) and staff (create, edit, disable, one-time
// passwords) of the administration pages.
import { get, post, newestOnly } from '/static/help/api.js';
import { t, setText } from '/static/help/i18n.js';
import { $, state, toast, showError, put, patch, fillUnits, unitName } from './admin.js';

const PAGE = 50;
const itemsPage = newestOnly(get); // search-as-you-type: the last query's page wins
const staffPage = newestOnly(get);
const debounce = (fn, ms = 250) => { let h; return (...a) => { clearTimeout(h); h = setTimeout(() => fn(...a), ms); }; };
const codes = (text) => text.trim().split(/[\s,，、]+/).filter(Boolean);

function pager(prefix, page, onPage) {
  const { offset, total } = page;
  setText($(`${prefix}-range`), 'common.range', { from: total ? offset + 1 : 0, to: Math.min(offset + PAGE, total), total });
  $(`${prefix}-prev`).disabled = offset === 0;
  $(`${prefix}-next`).disabled = offset + PAGE >= total;
  $(`${prefix}-prev`).onclick = () => onPage(Math.max(0, offset - PAGE));
  $(`${prefix}-next`).onclick = () => onPage(offset + PAGE);
}

// ---- items -------------------------------------------------------------------------------------
let itemOffset = 0;
let editingItem = null;

async function loadItems(offset = itemOffset) {
  itemOffset = offset;
  const q = new URLSearchParams({ q: $('items-q').value.trim(), offset: String(offset), limit: String(PAGE) });
  if ($('items-dept').value) q.set('department', $('items-dept').value);
  if ($('items-video').value) q.set('video_help', $('items-video').value);
  const page = await itemsPage(`/api/admin/items?${q}`);
  if (!page) return;
  const body = $('items-table').tBodies[0];
  body.replaceChildren();
  for (const it of page.items) {
    const tr = body.insertRow();
    tr.tabIndex = 0;
    tr.className = 'clickable';
    const flags = [it.video_help ? t('items.video_help') : '', it.remote_inspection ? t('items.remote_inspection') : '',
      it.outdated ? t('items.outdated') : ''].filter(Boolean).join(' · ');
    for (const text of [it.code, it.name, it.department, it.units.join(' '), flags]) tr.insertCell().textContent = text;
    tr.addEventListener('click', () => editItem(it));
    tr.addEventListener('keydown', (e) => { if (e.key === 'Enter') editItem(it); });
  }
  pager('items', page, loadItems);
}

function fillDepartments() {
  for (const [id, blank] of [['items-dept', 'items.all_departments'], ['item-dept', null]]) {
    const sel = $(id);
    const keep = sel.value;
    sel.replaceChildren();
    if (blank) sel.append(new Option(t(blank), ''));
    for (const d of state.departments) sel.append(new Option(`${d.name} (${d.code})`, d.code));
    if (keep) sel.value = keep;
  }
}

function editItem(it) {
  editingItem = it;
  $('item-form').hidden = false;
  $('item-error').hidden = true;
  $('item-code').value = it?.code || '';
  $('item-code').readOnly = Boolean(it);
  $('item-name').value = it?.name || '';
  $('item-name-en').value = it?.name_en || '';
  $('item-dept').value = it?.department || state.departments[0]?.code || '';
  $('item-units').value = (it?.units || []).join(' ');
  $('item-limit').value = it?.time_limit_days ?? '';
  $('item-checklist').value = it?.checklist_ref || '';
  $('item-guide').value = it?.guide_ref || '';
  $('item-video').checked = it ? it.video_help : true;
  $('item-inspection').checked = Boolean(it?.remote_inspection);
  $('item-outdated').checked = Boolean(it?.outdated);
  $('item-form').scrollIntoView({ block: 'nearest' });
  (it ? $('item-name') : $('item-code')).focus();
}

async function saveItem(e) {
  e.preventDefault();
  $('item-error').hidden = true;
  const limit = $('item-limit').value;
  try {
    const it = await put('/api/admin/items', { code: $('item-code').value.trim(), name: $('item-name').value.trim(),
      name_en: $('item-name-en').value.trim() || null, department: $('item-dept').value, units: codes($('item-units').value),
      time_limit_days: limit === '' ? null : Number(limit), checklist_ref: $('item-checklist').value.trim() || null,
      guide_ref: $('item-guide').value.trim() || null, video_help: $('item-video').checked,
      remote_inspection: $('item-inspection').checked, outdated: $('item-outdated').checked });
    toast('common.saved');
    editItem(it);
    await loadItems();
  } catch (ex) { showError($('item-error'), ex); }
}

export function initItems() {
  fillDepartments();
  $('items-q').addEventListener('input', debounce(() => loadItems(0)));
  $('items-dept').addEventListener('change', () => loadItems(0));
  $('items-video').addEventListener('change', () => loadItems(0));
  $('items-new').addEventListener('click', () => editItem(null));
  $('item-close').addEventListener('click', () => { $('item-form').hidden = true; });
  $('item-form').addEventListener('submit', saveItem);
  loadItems(0).catch(() => {});
}

// ---- staff -------------------------------------------------------------------------------------
let staffOffset = 0;
let editingStaff = null;

async function loadStaff(offset = staffOffset) {
  staffOffset = offset;
  const q = new URLSearchParams({ q: $('staff-q').value.trim(), offset: String(offset), limit: String(PAGE) });
  const page = await staffPage(`/api/admin/staff?${q}`);
  if (!page) return;
  const body = $('staff-table').tBodies[0];
  body.replaceChildren();
  for (const s of page.staff) {
    const tr = body.insertRow();
    tr.tabIndex = 0;
    tr.className = 'clickable' + (s.is_active ? '' : ' inactive');
    const unit = state.units.find((u) => u.id === s.unit_id);
    for (const text of [s.username, s.display_name, t(`role.${s.role}`), unit ? unitName(unit) : s.unit, s.skills.join(' '),
      t(s.is_active ? 'staff.active_short' : 'staff.disabled')]) tr.insertCell().textContent = text;
    tr.addEventListener('click', () => editStaff(s));
    tr.addEventListener('keydown', (e) => { if (e.key === 'Enter') editStaff(s); });
  }
  pager('staff', page, loadStaff);
}

function editStaff(s) {
  editingStaff = s;
  $('staff-form').hidden = false;
  $('staff-error').hidden = true;
  $('staff-password').hidden = true;
  $('staff-username').value = s?.username || '';
  $('staff-username').readOnly = Boolean(s);
  $('staff-display').value = s?.display_name || '';
  $('staff-role').value = s?.role || 'agent';
  fillUnits($('staff-unit'));
  $('staff-unit').value = String(s?.unit_id || state.units[0]?.id || '');
  $('staff-skills').value = (s?.skills || []).join(' ');
  $('staff-capacity').value = String(s?.capacity || 1);
  $('staff-kb').checked = Boolean(s?.kb_editor);
  $('staff-unit-admin').checked = Boolean(s?.unit_admin);
  $('staff-active').checked = s ? s.is_active : true;
  $('staff-reset').hidden = !s;
  $('staff-form').scrollIntoView({ block: 'nearest' });
  (s ? $('staff-display') : $('staff-username')).focus();
}

function showPassword(username, password) {
  $('staff-password').hidden = false;
  setText($('staff-password'), 'staff.one_time', { username, password });
}

async function saveStaff(e) {
  e.preventDefault();
  $('staff-error').hidden = true;
  const unitCode = $('staff-unit').selectedOptions[0]?.dataset.code;
  const body = { display_name: $('staff-display').value.trim() || null, role: $('staff-role').value, unit: unitCode,
    skills: codes($('staff-skills').value), capacity: Number($('staff-capacity').value || 1),
    kb_editor: $('staff-kb').checked, unit_admin: $('staff-unit-admin').checked };
  try {
    if (editingStaff) {
      const s = await patch(`/api/admin/staff/${editingStaff.id}`, { ...body, is_active: $('staff-active').checked });
      toast('common.saved');
      editStaff(s);
    } else {
      const s = await post('/api/admin/staff', { ...body, username: $('staff-username').value.trim() });
      editStaff(s);
      showPassword(s.username, s.one_time_password);
    }
    await loadStaff();
  } catch (ex) { showError($('staff-error'), ex); }
}

async function resetPassword() {
  try {
    const r = await post(`/api/admin/staff/${editingStaff.id}/reset-password`);
    showPassword(editingStaff.username, r.one_time_password);
  } catch (ex) { showError($('staff-error'), ex); }
}

export function initStaff() {
  $('staff-q').addEventListener('input', debounce(() => loadStaff(0)));
  $('staff-new').addEventListener('click', () => editStaff(null));
  $('staff-close').addEventListener('click', () => { $('staff-form').hidden = true; });
  $('staff-reset').addEventListener('click', resetPassword);
  $('staff-form').addEventListener('submit', saveStaff);
  loadStaff(0).catch(() => {});
}
