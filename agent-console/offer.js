// The incoming-offer card: applicant context, countdown, accept / decline, optional ring.
import { t, setText, formatWait, formatTime, getLang } from '/static/help/i18n.js';

const $ = (id) => document.getElementById(id);

function row(dl, key, value) {
  if (value === undefined || value === null || value === '') return;
  const dt = document.createElement('dt');
  setText(dt, key);
  const dd = document.createElement('dd');
  dd.textContent = String(value);
  dl.append(dt, dd);
  return dd;
}

/** A named thing in the page's language: the English name when there is one. */
export function localName(obj) {
  if (!obj) return '';
  if (typeof obj === 'string') return obj;
  return (getLang() === 'en' && obj.name_en) || obj.name || obj.code || '';
}

function label(obj) {
  if (!obj || typeof obj === 'string') return obj || '';
  const name = localName(obj);
  return name && obj.code ? t('context.name_code', { name, code: obj.code }) : name;
}

/** The hand-off block: {issuer, ctx: {kind, reason, application_no, ...}, priority, item}. */
function renderHandoff(h) {
  const div = document.createElement('div');
  div.className = 'handoff';
  const title = document.createElement('strong');
  setText(title, 'context.handoff');
  div.append(title);
  const ctx = h.ctx && typeof h.ctx === 'object' ? h.ctx : {};
  const kindKey = ctx.kind ? `handoff.kind.${ctx.kind}` : '';
  const kind = kindKey ? (t(kindKey) === kindKey ? String(ctx.kind) : t(kindKey)) : '';
  const reason = ctx.reason || ctx.summary || ctx.message || '';
  const headline = kind && reason ? t('handoff.kind_reason', { kind, reason }) : kind || String(reason);
  if (headline) {
    const p = document.createElement('p');
    p.className = 'headline';
    p.textContent = headline;
    div.append(p);
  }
  const extra = document.createElement('dl');
  const fields = { issuer: h.issuer, ...ctx };
  for (const [k, v] of Object.entries(fields)) {
    if (['kind', 'reason', 'summary', 'message'].includes(k) || v === null || v === undefined || v === '') continue;
    const dt = document.createElement('dt');
    const key = `handoff.field.${k}`;
    dt.textContent = t(key) === key ? k : t(key);
    const dd = document.createElement('dd');
    const issuerKey = `handoff.issuer.${v}`;
    dd.textContent = typeof v === 'object' ? JSON.stringify(v) : k === 'issuer' && t(issuerKey) !== issuerKey ? t(issuerKey) : String(v);
    extra.append(dt, dd);
  }
  if (extra.children.length) div.append(extra);
  return div;
}

/** A warm transfer: who handed over, their note, and the call so far (nobody repeats their story). */
function renderTransfer(tr) {
  const div = document.createElement('div');
  div.className = 'handoff transfer';
  const head = document.createElement('strong');
  setText(head, 'context.transfer_from', { agent: tr.from_agent || '', number: tr.from_number || '' });
  const note = document.createElement('p');
  note.textContent = tr.note || '';
  div.append(head, note);
  if (Array.isArray(tr.chat) && tr.chat.length) {
    const ul = document.createElement('ul');
    ul.className = 'history';
    for (const c of tr.chat.slice(-10)) {
      const li = document.createElement('li');
      li.textContent = `${t(c.sender_kind === 'applicant' ? 'context.applicant' : 'context.agent')}: ${c.text}`;
      ul.append(li);
    }
    div.append(ul);
  }
  return div;
}

/** Render an offer's context (item, unit, applicant, hand-off, priority, wait, history) into `box`. */
export function renderContext(box, ctx = {}) {
  box.replaceChildren();
  const dl = document.createElement('dl');
  row(dl, 'context.item', label(ctx.item));
  row(dl, 'context.unit', label(ctx.unit));
  if (ctx.number) row(dl, 'context.number', ctx.number);
  if (ctx.channel) row(dl, 'context.channel', t(`channel.${ctx.channel}`));
  const who = [ctx.applicant?.name, ctx.applicant?.phone].filter(Boolean).join(' · ');
  row(dl, 'context.applicant', who || t('context.anonymous'));
  if (ctx.waited_s != null) row(dl, 'context.waited', formatWait(ctx.waited_s));
  if (ctx.priority) {
    const dd = row(dl, 'context.priority', t('context.priority_high'));
    dd?.classList.add('priority');
  }
  if (ctx.fallback_level) row(dl, 'context.fallback', t('context.fallback_level', { n: ctx.fallback_level }));
  box.append(dl);

  const h = ctx.handoff;
  if (h && typeof h === 'object') box.append(renderHandoff(h));
  if (ctx.transfer) box.append(renderTransfer(ctx.transfer));

  const hist = Array.isArray(ctx.history) ? ctx.history : [];
  const h3 = document.createElement('h3');
  setText(h3, 'context.history', { n: hist.length });
  box.append(h3);
  if (!hist.length) {
    const p = document.createElement('p');
    p.className = 'muted';
    setText(p, 'context.no_history');
    box.append(p);
    return;
  }
  const ul = document.createElement('ul');
  ul.className = 'history';
  for (const w of hist.slice(0, 10)) {
    const li = document.createElement('li');
    const oKey = `outcome.${w.outcome}`;
    const sKey = `status.${w.outcome}`;
    const outcome = !w.outcome ? t('outcome.none') : t(oKey) !== oKey ? t(oKey) : t(sKey) !== sKey ? t(sKey) : w.outcome;
    li.textContent = [w.number, label(w.item), outcome, formatTime(w.ended_at)].filter(Boolean).join(' · ');
    ul.append(li);
  }
  box.append(ul);
}

// A soft two-tone ring with WebAudio (no audio files); needs a user gesture first (login / toggle).
let audio = null;
export function unlockAudio() {
  try {
    audio = audio || new (window.AudioContext || window.webkitAudioContext)();
    if (audio.state === 'suspended') audio.resume();
  } catch { audio = null; }
}
function ring() {
  if (!audio || audio.state !== 'running') return;
  const now = audio.currentTime;
  [[660, 0], [880, 0.18]].forEach(([f, at]) => {
    const o = audio.createOscillator();
    const g = audio.createGain();
    o.frequency.value = f;
    g.gain.setValueAtTime(0.0001, now + at);
    g.gain.exponentialRampToValueAtTime(0.15, now + at + 0.02);
    g.gain.exponentialRampToValueAtTime(0.0001, now + at + 0.16);
    o.connect(g).connect(audio.destination);
    o.start(now + at);
    o.stop(now + at + 0.17);
  });
}

export function createOfferCard({ socket, onShow = () => {}, onAccept = () => {}, onGone = () => {} }) {
  const card = $('offer-card');
  const accept = $('offer-accept');
  const decline = $('offer-decline');
  const countdown = $('offer-countdown');
  let current = null;
  let timer = null;
  let lastRing = null;
  const baseTitle = () => t('console.title');

  function stop() {
    clearInterval(timer);
    timer = null;
    document.title = baseTitle();
  }

  function hide(reason) {
    stop();
    const was = current;
    current = null;
    card.hidden = true;
    if (was) onGone(was, reason);
  }

  function tick() {
    if (!current) return;
    const left = Math.max(0, Math.ceil((current.deadline - Date.now()) / 1000));
    countdown.textContent = String(left);
    if (!current.accepted && left % 2 === 0 && left !== lastRing) { lastRing = left; ring(); }
    if (left <= 0 && !current.accepted) hide('timeout');
  }

  function show(offer) {
    stop();
    const now = Date.now();
    const byTimeout = offer.timeout_s ? now + offer.timeout_s * 1000 : null;
    const byClock = offer.expires_at ? offer.expires_at * 1000 : null;
    // Trust the server's absolute deadline only if our clock agrees with it.
    const deadline = byClock && (!byTimeout || Math.abs(byClock - byTimeout) < 3000) ? byClock : byTimeout || now + 20000;
    current = { ...offer, deadline, accepted: false };
    renderContext($('offer-context'), offer.context || {});
    accept.disabled = false;
    decline.disabled = false;
    setText(accept, 'offer.accept');
    card.hidden = false;
    onShow(current);
    document.title = `🔔 ${t('offer.title')} · ${baseTitle()}`; // visible from another window's taskbar
    lastRing = null;
    tick();
    timer = setInterval(tick, 500);
    accept.focus();
  }

  accept.addEventListener('click', () => {
    if (!current || current.accepted) return;
    current.accepted = true;
    accept.disabled = true;
    decline.disabled = true;
    setText(accept, 'offer.connecting');
    socket.send({ type: 'offer.accept', ticket: current.ticket });
    onAccept(current);
  });
  decline.addEventListener('click', () => {
    if (!current) return;
    socket.send({ type: 'offer.decline', ticket: current.ticket });
    hide('declined');
  });

  return {
    show,
    hide,
    get current() { return current; },
    /** offer.revoked: drop the card if it is this ticket. */
    revoke(m) { if (current && String(current.ticket) === String(m.ticket)) hide(m.reason || 'revoked'); },
    /** The room arrived: the card has done its job (no onGone). */
    joined() { stop(); current = null; card.hidden = true; },
  };
}
