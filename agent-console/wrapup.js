// Wrap-up after a call: outcome and notes, stored on the work order; then back to ready.
import { get, post, detailText } from '/static/help/api.js';
import { t, setText } from '/static/help/i18n.js';

const $ = (id) => document.getElementById(id);
export const OUTCOMES = ['resolved', 'unresolved', 'follow_up', 'transferred', 'callback'];

export function createWrapup({ onDone }) {
  const view = $('wrapup-view');
  const form = $('wrapup-form');
  const err = $('wrapup-error');
  let workOrder = null;
  let number = '';

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    err.hidden = true;
    const outcome = $('wrapup-outcome').value;
    if (!OUTCOMES.includes(outcome)) {
      err.hidden = false;
      setText(err, 'wrapup.pick_outcome');
      $('wrapup-outcome').focus();
      return;
    }
    const notes = $('wrapup-notes').value.trim();
    $('wrapup-submit').disabled = true;
    try {
      const saved = await post(`/api/workorders/${encodeURIComponent(workOrder)}/wrapup`, { outcome, notes });
      view.hidden = true;
      const away = $('wrapup-stay-away').checked;
      workOrder = null;
      onDone({ away, number: saved?.number || number, outcome });
    } catch (ex) {
      err.hidden = false;
      err.textContent = ex.status === 0 ? t('error.network') : t('wrapup.failed', { detail: detailText(ex) || ex.code });
    } finally {
      $('wrapup-submit').disabled = false;
    }
  });

  return {
    get open() { return !view.hidden; },
    start(info) {
      workOrder = info.work_order;
      form.reset();
      // A warm transfer that the other unit accepted: the outcome is already known.
      if (info.reason === 'transferred') $('wrapup-outcome').value = 'transferred';
      err.hidden = true;
      const key = `ended.reason.${info.reason}`;
      const why = info.reason ? (t(key) === key ? info.reason : t(key)) : '';
      // Agents know a call by its work-order number (VH…), never by the internal id; until it is
      // known the line says only why the call ended (never "工单 （…）").
      const show = (id) => {
        number = id || '';
        if (id) setText($('wrapup-info'), why ? 'wrapup.info' : 'wrapup.info_number', { id, reason: why });
        else setText($('wrapup-info'), why ? 'wrapup.info_reason' : 'wrapup.info_none', { reason: why });
      };
      show(info.number || '');
      if (!info.number && info.work_order) {
        const wanted = info.work_order;
        get(`/api/workorders/${encodeURIComponent(wanted)}`)
          .then((wo) => { if (workOrder === wanted && wo?.number) show(wo.number); })
          .catch(() => {});
      }
      view.hidden = false;
      $('wrapup-outcome').focus();
    },
  };
}
