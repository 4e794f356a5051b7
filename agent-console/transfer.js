// Warm transfer from the call view: pick a unit (township → county → city, or any other), write
// the note the target reads before accepting; the applicant stays in this call meanwhile.
import { get, post, detailText } from '/static/help/api.js';
import { t, setText } from '/static/help/i18n.js';

const $ = (id) => document.getElementById(id);

function flatten(nodes, depth = 0, out = []) {
  for (const n of nodes) {
    out.push({ id: n.id, label: `${'\u3000'.repeat(depth)}${n.name}`, desk: n.level !== 'province' });
    flatten(n.children || [], depth + 1, out);
  }
  return out;
}

export function createTransfer({ currentRoom, myUnit = () => null }) {
  const dialog = $('transfer-dialog');
  let pending = false;

  async function open() {
    $('transfer-error').hidden = true;
    const select = $('transfer-unit');
    if (!select.options.length) {
      for (const u of flatten(await get('/api/org/units'))) {
        const opt = document.createElement('option');
        opt.value = String(u.id);
        opt.textContent = u.label;
        opt.disabled = !u.desk; // the province has no video-help desk of its own
        select.append(opt);
      }
      const first = [...select.options].find((o) => !o.disabled && Number(o.value) !== myUnit());
      if (first) select.value = first.value;
      select.addEventListener('change', colleagues);
    }
    await colleagues();
    $('transfer-submit').disabled = pending;
    $('transfer-cancel').hidden = !pending;
    dialog.showModal();
  }

  // The staff directory (GET /api/admin/directory): anyone free at the unit, or one named colleague.
  async function colleagues() {
    const pick = $('transfer-agent');
    pick.replaceChildren(new Option(t('transfer.anyone'), ''));
    const unit = $('transfer-unit').value;
    if (!unit) return;
    for (const c of await get(`/api/admin/directory?unit_id=${encodeURIComponent(unit)}`).catch(() => [])) {
      pick.append(new Option(c.display_name, String(c.id)));
    }
  }

  async function submit(e) {
    e.preventDefault();
    const room = currentRoom();
    if (!room) return;
    try {
      const res = await post(`/api/calls/${encodeURIComponent(room)}/transfer`, {
        target_unit_id: Number($('transfer-unit').value), note: $('transfer-note').value.trim(),
        target_agent_id: $('transfer-agent').value ? Number($('transfer-agent').value) : null,
        conference: !!$('transfer-conference')?.checked, // #19: I stay on in the new call
      });
      pending = true;
      $('transfer-submit').disabled = true;
      $('transfer-status').hidden = false;
      setText($('transfer-status'), 'transfer.waiting', { unit: res.target_unit.name });
      $('transfer-cancel').hidden = false;
    } catch (err) {
      $('transfer-error').hidden = false;
      $('transfer-error').textContent = `${t('transfer.failed')} ${detailText(err) || ''}`;
    }
  }

  async function cancel() {
    const room = currentRoom();
    if (room) await post(`/api/calls/${encodeURIComponent(room)}/transfer/cancel`).catch(() => {});
    pending = false;
    $('transfer-submit').disabled = false;
    $('transfer-status').hidden = true;
    $('transfer-cancel').hidden = true;
  }

  $('transfer').addEventListener('click', open);
  $('transfer-form').addEventListener('submit', submit);
  $('transfer-cancel').addEventListener('click', cancel);
  $('transfer-close').addEventListener('click', () => dialog.close());
  return {
    reset() {
      pending = false;
      $('transfer-submit').disabled = false;
      $('transfer-status').hidden = true;
      if (dialog.open) dialog.close();
    },
  };
}
