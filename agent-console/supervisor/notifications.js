// Staff notifications (reminders, red flags, escalations, reassignments): the stored list from
// GET /api/notifications and live `notification` pushes on the socket; opening one marks it read.
import { t, setText, getLang } from '/static/help/i18n.js';
import { get, post } from '/static/help/api.js';
import { $, el, when, label } from './dom.js';
import { routes } from './routes.js';

const MAX = 100;
const ALARM_KINDS = new Set(['red', 'escalation', 'escalated', 'overdue']);

/** One shape for stored rows ({work_order_id, created_at, read_at}) and pushes ({work_order, at}). */
export function normalizeNotification(n) {
  const body = n.body;
  let text = '';
  if (typeof body === 'string') text = body;
  else if (body && typeof body === 'object') {
    text = [body.number, body.reason, body.item_name].filter((v) => typeof v === 'string' && v).join(' · ');
  }
  return {
    id: n.id, kind: n.kind || 'info', title: n.title || '', text,
    work_order: n.work_order ?? n.work_order_id ?? null,
    at: n.at ?? n.created_at ?? null, read: Boolean(n.read_at || n.read),
  };
}

/** Server titles are bilingual ("中文 · English"): show the half in the page's language. */
export function titleIn(title, lang) {
  const parts = String(title || '').split(' · ');
  const han = /[\u4e00-\u9fff]/;
  if (parts.length !== 2 || !han.test(parts[0]) || han.test(parts[1])) return title || '';
  if (lang !== 'en') return parts[0].trim();
  const en = parts[1].trim().replace(/^./, (c) => c.toUpperCase());
  const number = parts[0].match(/[A-Z]{2}\d{8}-\w+/);
  return number ? `${en} (${number[0]})` : en;
}

export function createNotifications({ onOpen }) {
  const list = $('sup-notifications');
  let items = [];

  function renderBadge() {
    const unread = items.filter((n) => !n.read).length;
    const badge = $('sup-unread');
    badge.hidden = unread === 0;
    badge.textContent = String(unread);
    badge.dataset.count = String(unread);
    setText($('sup-unread-label'), 'sup.notifications.unread', { n: unread });
  }

  function render() {
    const lis = items.slice(0, MAX).map((n) => {
      const li = el('li', { dataset: { id: String(n.id), kind: n.kind, read: String(n.read) } });
      if (ALARM_KINDS.has(n.kind)) li.dataset.level = 'alarm';
      const head = el('div', { class: 'note-head' }, [
        el('span', { class: 'kind', text: label('sup.kind.', n.kind) }),
        el('time', { datetime: n.at || '', text: when(n.at, true) }),
      ]);
      const shown = titleIn(n.title, getLang());
      const title = n.work_order
        ? el('button', { type: 'button', class: 'linkish note-title', text: shown,
          on: { click: () => { markRead(n); onOpen(n.work_order); } } })
        : el('span', { class: 'note-title', text: shown });
      li.append(head, title);
      // The number is usually in the title already: do not print it twice.
      const extra = n.text.split(' · ').filter((part) => part && !shown.includes(part)).join(' · ');
      if (extra) li.append(el('p', { class: 'muted', text: extra }));
      if (!n.read) {
        li.append(el('button', { type: 'button', class: 'btn btn-small btn-ghost mark-read', text: t('sup.notifications.mark_read'),
          on: { click: () => markRead(n) } }));
      }
      return li;
    });
    if (!lis.length) lis.push(el('li', { class: 'empty muted', text: t('sup.notifications.empty') }));
    list.replaceChildren(...lis);
    renderBadge();
  }

  async function markRead(n) {
    if (n.read) return;
    n.read = true;
    render();
    try { await post(routes.notificationRead(n.id)); } catch { /* shown read here; the server retries next load */ }
  }

  async function markAll() {
    const unread = items.filter((n) => !n.read);
    if (!unread.length) return;
    unread.forEach((n) => { n.read = true; });
    render();
    try {
      await post(routes.notificationsReadAll);
    } catch {
      await Promise.all(unread.map((n) => post(routes.notificationRead(n.id)).catch(() => {})));
    }
  }

  $('sup-notifications-read-all').addEventListener('click', markAll);

  return {
    async load() {
      try {
        const data = await get(routes.notifications({ limit: MAX }));
        const rows = Array.isArray(data) ? data : data?.items || data?.rows || [];
        const pushed = items.filter((n) => !rows.some((r) => String(r.id) === String(n.id)));
        items = [...pushed, ...rows.map(normalizeNotification)];
        $('sup-notifications-status').hidden = true;
      } catch {
        $('sup-notifications-status').hidden = false;
        setText($('sup-notifications-status'), 'sup.notifications.failed');
      }
      render();
    },
    /** A live push: newest first; the same id twice is shown once. */
    push(msg) {
      const n = normalizeNotification(msg);
      items = [n, ...items.filter((x) => String(x.id) !== String(n.id))];
      render();
      return n;
    },
    rerender: render,
  };
}
