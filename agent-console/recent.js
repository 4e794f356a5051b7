// "My recent work orders" (GET /api/workorders?mine=1).
import { get, post } from '/static/help/api.js';
import { t, setText, formatTime, getLang } from '/static/help/i18n.js';

function rowsOf(data) {
  if (Array.isArray(data)) return data;
  return data?.items || data?.rows || data?.workorders || [];
}

export async function loadRecent(list) {
  let rows;
  try {
    rows = rowsOf(await get('/api/workorders?mine=1&limit=20'));
  } catch {
    const li = document.createElement('li');
    li.className = 'muted';
    setText(li, 'recent.failed');
    list.replaceChildren(li);
    return;
  }
  list.replaceChildren();
  if (!rows.length) {
    const li = document.createElement('li');
    li.className = 'muted';
    setText(li, 'recent.empty');
    list.append(li);
    return;
  }
  for (const w of rows) {
    const li = document.createElement('li');
    li.dataset.workOrder = w.id ?? '';
    // The number opens the work order (timeline, chat, files) on the history page, in a new tab:
    // the console keeps its socket and the agent's state.
    const num = document.createElement('a');
    num.className = 'num';
    num.href = `/console/history.html?wo=${encodeURIComponent(w.id)}`;
    num.target = '_blank';
    num.rel = 'noopener';
    num.textContent = w.number || `#${w.id}`;
    const badge = document.createElement('span');
    badge.className = 'outcome';
    const status = w.outcome || w.status || '';
    badge.dataset.outcome = status;
    const key = w.outcome ? `outcome.${w.outcome}` : `status.${w.status}`;
    badge.textContent = status ? (t(key) === key ? status : t(key)) : '';
    const item = document.createElement('div');
    item.textContent = (getLang() === 'en' && w.item_name_en) || w.item_name || '';
    const when = document.createElement('div');
    when.className = 'muted';
    when.textContent = formatTime(w.ended_at || w.answered_at || w.queued_at || w.created_at);
    li.append(badge, num, item, when);
    if (w.status === 'resolved' && w.notes) li.append(draftButton(w));
    list.append(li);
  }
}

/** One click turns a resolved call's notes into a draft article for the knowledge base. */
function draftButton(w) {
  const btn = document.createElement('button');
  btn.type = 'button';
  btn.className = 'btn btn-small btn-ghost kb-draft';
  setText(btn, 'recent.draft_kb');
  btn.addEventListener('click', async () => {
    btn.disabled = true;
    try {
      const article = await post('/api/kb/drafts/from-work-order', { work_order_id: w.id });
      window.open(`/console/kb.html?article=${encodeURIComponent(article.id)}`, '_blank', 'noopener');
    } catch {
      setText(btn, 'recent.draft_failed');
    } finally {
      btn.disabled = false;
    }
  });
  return btn;
}
