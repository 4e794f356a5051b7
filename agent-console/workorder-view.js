// One work order as people read it: the timeline in sentences (never raw event names or JSON),
// the chat and the files. Shared by the supervisor's drawer and the agent's own history page.
import { t, formatSize } from '/static/help/i18n.js';
import { el, when, clock, label, safeFileUrl } from './supervisor/dom.js';

/** The first translation among prefixes, else the code itself. */
function anyLabel(prefixes, v) {
  for (const p of prefixes) {
    const key = p + v;
    if (t(key) !== key) return t(key);
  }
  return String(v);
}

// Event data shown in the timeline, in this order, each as "label: value"; everything else (ids,
// lists, internal flags) is left out rather than shown as JSON.
const DATA_FIELDS = {
  title: String,
  outcome: (v) => label('outcome.', v),
  reason: (v) => anyLabel(['ended.reason.', 'offer.revoked.', 'sup.reason.', 'timeline.reason.'], v),
  channel: (v) => label('channel.', v),
  notes: String, note: String, text: String, rating: String, phone: String, filename: String, name: String,
  reached: (v) => t(v ? 'sup.yes' : 'sup.no'),
  late: (v) => (v ? t('sup.yes') : null),
  fallback_level: (v) => (Number(v) ? String(v) : null), level: (v) => (Number(v) ? String(v) : null),
  wait_s: clock, waited_s: clock, talk_s: clock,
  due: (v) => when(v), due_at: (v) => when(v), remind_at: (v) => when(v), red_at: (v) => when(v),
  escalate_at: (v) => when(v), preferred_time: String,
};

/** A short line from an event's data: the known fields, labelled; nothing else. */
export function eventDetail(data) {
  if (!data || typeof data !== 'object') return '';
  const parts = [];
  for (const [k, fmt] of Object.entries(DATA_FIELDS)) {
    const v = data[k];
    if (v === undefined || v === null || v === '' || typeof v === 'object') continue;
    const text = fmt(v);
    if (text !== null && text !== '') parts.push(`${label('sup.field.', k)}: ${text}`);
  }
  return parts.join(' · ');
}

/** "发送知识库文章" for kb_article_sent; an unknown kind reads as "其他记录" rather than a code. */
export function eventTitle(kind) {
  const key = `sup.event.${kind}`;
  return t(key) === key ? t('timeline.other') : t(key);
}

export function renderTimeline(list, events, actorName) {
  const items = (events || []).map((e) => el('li', { dataset: { kind: e.kind } }, [
    el('time', { datetime: e.at || '', text: when(e.at, true) }),
    el('strong', { text: ` ${eventTitle(e.kind)}` }),
    el('span', { class: 'muted', text: ` · ${actorName(e.actor)}` }),
    eventDetail(e.data) ? el('p', { class: 'detail', text: eventDetail(e.data) }) : null,
  ]));
  list.replaceChildren(...(items.length ? items : [el('li', { class: 'muted', text: t('sup.drawer.no_events') })]));
}

export function renderChat(list, chat, actorName) {
  const items = (chat || []).map((c) => el('li', { class: c.sender_kind === 'applicant' ? '' : 'mine' }, [
    el('span', { class: 'who', text: c.sender_kind === 'applicant' ? t('sup.actor.applicant') : actorName(`s:${c.sender_id}`) }),
    el('time', { datetime: c.at || '', text: when(c.at, true) }),
    el('p', { text: c.text }),
  ]));
  list.replaceChildren(...(items.length ? items : [el('li', { class: 'muted', text: t('sup.drawer.no_chat') })]));
}

export function renderFiles(list, files) {
  const items = (files || []).map((f) => {
    const href = safeFileUrl(f.url);
    const name = href ? el('a', { href, target: '_blank', rel: 'noopener', text: f.name }) : el('span', { text: f.name });
    return el('li', { dataset: { fileId: String(f.id) } }, [name,
      el('span', { class: 'meta', text: `${formatSize(f.size)} · ${when(f.created_at, true)}${f.sha256 ? ` · SHA-256 ${String(f.sha256).slice(0, 12)}…` : ''}` })]);
  });
  list.replaceChildren(...(items.length ? items : [el('li', { class: 'muted', text: t('sup.drawer.no_files') })]));
}

/** A name in the page's language (English when the record has one). */
export function localName(obj, fallback = '') {
  if (!obj) return fallback;
  return (document.documentElement.lang === 'en' && obj.name_en) || obj.name || fallback;
}
