// Administration, 系统对接 tab (admins only): webhook subscriptions and their delivery log with dead
// letters to replay, one-thing-once packages, and the wording of messages to applicants.
import { get, post, detailText } from '/static/help/api.js';
import { t, setText, getLang } from '/static/help/i18n.js';
import { $, state, put, del, fillUnits, showError, toast } from './admin.js';

const when = (iso) => (iso ? new Date(iso).toLocaleString(getLang()) : '—');

function button(key, onClick, cls = 'btn btn-small btn-secondary') {
  const b = document.createElement('button');
  b.type = 'button';
  b.className = cls;
  setText(b, key);
  b.addEventListener('click', onClick);
  return b;
}

function row(table, cells) {
  const tr = table.tBodies[0].insertRow();
  for (const c of cells) {
    const td = tr.insertCell();
    if (c instanceof Node) td.append(c); else td.textContent = c ?? '—';
  }
  return tr;
}

async function loadHooks() {
  const { subscriptions } = await get('/api/admin/webhooks');
  const table = $('hook-table');
  table.tBodies[0].replaceChildren(); // after the fetch: two overlapping loads never stack rows
  for (const s of subscriptions) {
    const off = s.active ? button('int.deactivate', async () => { await del(`/api/admin/webhooks/${s.id}`); await loadHooks(); },
      'btn btn-small btn-danger') : '';
    row(table, [s.name, s.url, s.events.join(' '), s.unit || t('tok.any_unit'), t(s.active ? 'int.on' : 'int.off'), off]);
  }
}

async function createHook(e) {
  e.preventDefault();
  $('hook-error').hidden = true;
  const unit = $('hook-unit').selectedOptions[0]?.dataset.code || null;
  try {
    const s = await post('/api/admin/webhooks', { name: $('hook-name').value.trim(), url: $('hook-url').value.trim(),
      events: $('hook-events').value.trim().split(/\s+/).filter(Boolean), unit });
    $('hook-created').hidden = false;
    setText($('hook-created'), 'int.secret_once', { secret: s.secret });
    await loadHooks();
  } catch (ex) { showError($('hook-error'), ex); }
}

async function loadDeliveries() {
  const status = $('dlv-status').value;
  const rows = await get(`/api/admin/webhook-deliveries${status ? `?status=${status}` : ''}`);
  const table = $('dlv-table');
  table.tBodies[0].replaceChildren();
  for (const d of rows) {
    const replay = d.status === 'dead' ? button('int.replay', async () => {
      await post(`/api/admin/webhook-deliveries/${d.id}/replay`);
      toast('int.replayed');
      await loadDeliveries();
    }) : '';
    const last = d.last_status ? `HTTP ${d.last_status}` : d.last_error;
    row(table, [when(d.created_at), d.event_type, d.work_order, String(d.attempts), last, t(`int.${d.status}`), replay])
      .classList.toggle('inactive', d.status === 'delivered');
  }
  if (!rows.length) setText(table.tBodies[0].insertRow().insertCell(), 'int.none');
}

async function loadPackages() {
  const packages = await get('/api/admin/packages');
  const table = $('pkg-table');
  table.tBodies[0].replaceChildren();
  for (const p of packages) {
    const tr = row(table, [p.code, (getLang() === 'en' && p.name_en) || p.name, p.items.map((i) => i.code).join(' ')]);
    tr.className = 'clickable' + (p.active ? '' : ' inactive');
    tr.tabIndex = 0;
    const edit = () => {
      $('pkg-code').value = p.code; $('pkg-name').value = p.name; $('pkg-name-en').value = p.name_en || '';
      $('pkg-items').value = p.items.map((i) => i.code).join(' '); $('pkg-lead').value = p.lead_item || '';
      $('pkg-active').checked = p.active;
      $('pkg-code').focus();
    };
    tr.addEventListener('click', edit);
    tr.addEventListener('keydown', (e) => { if (e.key === 'Enter') edit(); });
  }
}

async function savePackage(e) {
  e.preventDefault();
  $('pkg-error').hidden = true;
  try {
    await put(`/api/admin/packages/${encodeURIComponent($('pkg-code').value.trim())}`, {
      name: $('pkg-name').value.trim(), name_en: $('pkg-name-en').value.trim() || null,
      items: $('pkg-items').value.trim().split(/\s+/).filter(Boolean), lead_item: $('pkg-lead').value.trim() || null,
      active: $('pkg-active').checked });
    toast('int.saved');
    await loadPackages();
  } catch (ex) { showError($('pkg-error'), ex); }
}

async function loadTemplates() {
  const templates = await get('/api/admin/message-templates');
  const box = $('tpl-list');
  box.replaceChildren();
  for (const tpl of templates) {
    const id = `tpl-${tpl.key}-${tpl.language}`;
    const field = document.createElement('div');
    field.className = 'field';
    const label = document.createElement('label');
    label.htmlFor = id;
    label.textContent = `${t(`int.tpl.${tpl.key}`)} · ${tpl.language} (${tpl.fields.map((f) => `{${f}}`).join(' ')})`;
    const area = Object.assign(document.createElement('textarea'), { id, rows: 2, value: tpl.body, maxLength: 500 });
    const save = button('common.save', async () => {
      $('tpl-error').hidden = true;
      try { await put(`/api/admin/message-templates/${tpl.key}/${tpl.language}`, { body: area.value }); toast('int.saved'); }
      catch (ex) { $('tpl-error').hidden = false; $('tpl-error').textContent = `${t('common.failed')} ${detailText(ex) || ex.code}`; }
    });
    field.append(label, area, save);
    box.append(field);
  }
}

export async function loadIntegration() {
  await Promise.all([loadHooks(), loadDeliveries(), loadPackages(), loadTemplates()]);
}

export function initIntegration() {
  const tab = document.querySelector('.tab[data-panel="integration"]');
  tab.hidden = !state.scope?.is_admin; // partner systems are the bureau's, not a unit admin's
  if (tab.hidden) return;
  fillUnits($('hook-unit'), { blank: 'tok.any_unit' });
  $('hook-form').addEventListener('submit', createHook);
  $('pkg-form').addEventListener('submit', savePackage);
  $('dlv-status').addEventListener('change', () => loadDeliveries().catch(() => {}));
  $('dlv-refresh').addEventListener('click', () => loadDeliveries().catch(() => {}));
}
