// Guidance tools on the call view: a toolbar (pointer, arrow, circle, freehand, pin, clear) and an
// annotation overlay on every video of the call — the other side's camera and screen, this side's
// own camera and screen preview, and the further participants' tiles (mesh). Marks go over each
// peer connection's data channel when it is open, through the signaling socket (`annotate`)
// otherwise. Used by callview.js (one hook-up line) for the applicant page and the agent console.

import { createAnnotator, cleanMark } from './annotate.js';
import { messages } from '/static/signaling/rtc.js';
import { t } from './i18n.js';

const TOOLS = [['pointer', '➤'], ['arrow', '↗'], ['circle', '◯'], ['free', '✎']];

const STYLE = `
.guide-tools { display: flex; flex-wrap: wrap; gap: 6px; margin: 6px 0; }
.guide-tools button { min-width: 44px; min-height: 44px; padding: 4px 10px; border-radius: 8px;
  border: 1px solid #9aa5b1; background: #fff; font-size: 15px; }
.guide-tools button[aria-pressed="true"] { background: #0b5cad; color: #fff; border-color: #0b5cad; }
.guide-tools button:focus-visible { outline: 3px solid #f0b400; outline-offset: 2px; }
.call-stage video.local-screen { position: absolute; left: 10px; bottom: 10px; width: 34%; max-width: 260px;
  border: 2px solid #0067c0; border-radius: 6px; background: #000; object-fit: contain; z-index: 2; }
@media (max-width: 600px) { .guide-tools button { flex: 1 1 22%; } }
`;

function ensureStyle() {
  if (document.getElementById('guide-style')) return;
  const s = document.createElement('style');
  s.id = 'guide-style';
  s.textContent = STYLE;
  document.head.append(s);
}

/**
 * @param {{socket, root?: ParentNode, room: string, me: string, peer: string, role: 'agent'|'applicant',
 *          primary: import('/static/signaling/peer.js').CallPeer}} opts `peer`: the other member's id
 * @returns {{addView, removeOwner, addLeg, removeLeg, marks, setTool, destroy}}
 */
export function attachGuidance({ socket, root = document, room, me, peer, role, primary }) {
  ensureStyle();
  const legs = new Map(); // member -> CallPeer (the primary and the mesh's further legs)
  const annotators = new Map(); // `${owner}|${target}` -> annotator
  const offs = [];
  let tool = null, pinned = false, localScreen = null;
  const by = role === 'applicant' ? 'applicant' : 'agent';

  function send(mark) {
    const msg = { type: 'annotate', mark };
    const all = [...legs.values()];
    if (all.length && all.every((l) => l.channel?.readyState === 'open')) all.forEach((l) => l.sendData(msg));
    else socket.send(messages.annotate(room, mark));
  }

  function addView(video, owner, target) {
    if (!video || !owner || annotators.has(`${owner}|${target}`)) return;
    const a = createAnnotator({ video, owner, target, me: by, send,
      label: t(target === 'screen' ? 'guide.overlay_screen' : 'guide.overlay_camera') });
    a.setTool(tool);
    a.setPinned(pinned);
    annotators.set(`${owner}|${target}`, a);
  }

  function removeOwner(owner) {
    for (const [key, a] of annotators) if (key.startsWith(`${owner}|`)) { a.destroy(); annotators.delete(key); }
  }

  function receive(raw, from) {
    const m = cleanMark(raw);
    if (!m) return;
    // An old sender without `owner` marks the view it sees of us (the usual case in a call of two).
    const owner = m.owner || (from === me ? peer : me);
    annotators.get(`${owner}|${m.target}`)?.receive({ ...m, owner });
  }

  function addLeg(member, callPeer) {
    legs.set(member, callPeer);
    offs.push(callPeer.on('data', (d) => d?.type === 'annotate' && receive(d.mark, member)));
  }

  function removeLeg(member) { legs.delete(member); removeOwner(member); }

  // ---- toolbar -------------------------------------------------------------------------------
  const bar = document.createElement('div');
  bar.className = 'guide-tools';
  bar.setAttribute('role', 'toolbar');
  bar.setAttribute('aria-label', t('guide.toolbar'));
  const buttons = new Map();
  function button(key, icon, onClick) {
    const b = document.createElement('button');
    b.type = 'button';
    b.dataset.guide = key;
    b.textContent = `${icon} ${t(`guide.${key}`)}`;
    b.setAttribute('aria-pressed', 'false');
    b.addEventListener('click', onClick);
    bar.append(b);
    buttons.set(key, b);
    return b;
  }
  function setTool(next) {
    tool = next === tool ? null : next;
    for (const [k] of TOOLS) buttons.get(k).setAttribute('aria-pressed', String(k === tool));
    for (const a of annotators.values()) a.setTool(tool);
  }
  for (const [k, icon] of TOOLS) button(k, icon, () => setTool(k));
  button('pin', '◉', () => {
    pinned = !pinned;
    buttons.get('pin').setAttribute('aria-pressed', String(pinned));
    for (const a of annotators.values()) a.setPinned(pinned);
  });
  const clear = button('clear', '⌫', () => { for (const a of annotators.values()) a.clear(); });
  clear.removeAttribute('aria-pressed');
  const onKey = (ev) => { if (ev.key === 'Escape' && tool) setTool(tool); };
  document.addEventListener('keydown', onKey);
  const stage = root.querySelector('.call-stage');
  stage?.insertAdjacentElement('afterend', bar);

  // ---- the views of a call of two, and this side's screen preview ------------------------------
  addView(root.querySelector('#remote-video'), peer, 'camera');
  addView(root.querySelector('#remote-screen'), peer, 'screen');
  addView(root.querySelector('#local-video'), me, 'camera');
  addLeg(peer, primary);
  offs.push(socket.on('annotate', (m) => m.room === room && receive(m.mark, m.from)));
  offs.push(primary.on('localscreen', (stream) => {
    removeOwnerTarget(me, 'screen');
    localScreen?.remove();
    localScreen = null;
    if (!stream || !stage) return;
    localScreen = document.createElement('video');
    Object.assign(localScreen, { muted: true, autoplay: true, playsInline: true, srcObject: stream });
    localScreen.className = 'local-screen';
    localScreen.setAttribute('aria-label', t('guide.own_screen'));
    stage.append(localScreen);
    localScreen.play?.().catch(() => {});
    addView(localScreen, me, 'screen');
  }));

  function removeOwnerTarget(owner, target) {
    annotators.get(`${owner}|${target}`)?.destroy();
    annotators.delete(`${owner}|${target}`);
  }

  return {
    addView, removeOwner, addLeg, removeLeg, setTool, bar,
    /** The marks now shown over `owner`'s `target` (e.g. the applicant's camera for a snapshot). */
    marks: (owner, target) => annotators.get(`${owner}|${target}`)?.marks() ?? [],
    /** The marks over the other side's camera or screen (a remote-inspection snapshot keeps them). */
    remoteMarks: (target) => annotators.get(`${peer}|${target}`)?.marks() ?? [],
    destroy() {
      offs.splice(0).forEach((off) => off());
      document.removeEventListener('keydown', onKey);
      for (const a of annotators.values()) a.destroy();
      annotators.clear();
      localScreen?.remove();
      bar.remove();
    },
  };
}
