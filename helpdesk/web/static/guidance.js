// Guidance tools on the call view: a toolbar (pointer, arrow, circle, freehand, pin, clear) and an
// annotation overlay on every video of the call — the other side's camera and screen, this side's
// own camera and screen preview, and the further participants' tiles (mesh). Marks go over each
// peer connection's data channel when it is open, through the signaling socket (`annotate`)
// otherwise. Used by callview.js (one hook-up line) for the applicant page and the agent console.

import { createAnnotator, cleanMark } from './annotate.js';
import { CallPeer, messages } from '/static/signaling/rtc.js';
import { Mesh } from '/static/signaling/mesh.js';
import { t } from './i18n.js';
import { post, detailText } from './api.js';

const TOOLS = [['pointer', '➤'], ['arrow', '↗'], ['circle', '◯'], ['free', '✎']];

const STYLE = `
.guide-tools { display: inline-flex; flex-wrap: wrap; gap: 6px; margin: 6px 6px 6px 0; vertical-align: top; }
.guide-tools button { min-width: 44px; min-height: 44px; padding: 4px 10px; border-radius: 8px;
  border: 1px solid #9aa5b1; background: #fff; font-size: 15px; }
.guide-tools button[aria-pressed="true"] { background: #0b5cad; color: #fff; border-color: #0b5cad; }
.guide-tools button:focus-visible { outline: 3px solid #f0b400; outline-offset: 2px; }
.guide-staff { margin: 0; }
.guide-staff summary { min-height: 44px; display: flex; align-items: center; padding: 0 10px; cursor: pointer;
  border: 1px solid #9aa5b1; border-radius: 8px; background: #fff; font-size: 15px; }
.guide-staff[open] summary { margin-bottom: 6px; }
/* The console (tablet): icons only, names kept for screen readers and as tooltips. */
.console .guide-tools .guide-label { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0);
  white-space: nowrap; }
.guide-tiles:empty { display: none; }
.guide-status { margin: 4px 0; padding: 6px 10px; border-radius: 8px; background: #fff4d6; color: #5c4400; }
.guide-status:empty { display: none; }
.guide-tiles { display: flex; flex-wrap: wrap; gap: 8px; margin: 6px 0; }
.guide-tiles figure { position: relative; margin: 0; width: 160px; }
.guide-tiles video { width: 160px; aspect-ratio: 4 / 3; background: #0b1220; border-radius: 6px; object-fit: contain;
  display: block; }
.guide-tiles figcaption { font-size: 14px; }
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
 *          primary: import('/static/signaling/peer.js').CallPeer, joined?: object}} opts `peer`: the other
 *          member's id; `joined`: the room.joined message (its `peers` and `ice_servers` open the mesh)
 * @returns {{addView, removeOwner, addLeg, removeLeg, marks, remoteMarks, setTool, destroy, mesh}}
 */
export function attachGuidance({ socket, root = document, room, me, peer, role, primary, joined = {} }) {
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
      label: `${t(target === 'screen' ? 'guide.overlay_screen' : 'guide.overlay_camera')} ${t('guide.keyboard_hint')}` });
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
    const label = Object.assign(document.createElement('span'), { className: 'guide-label', textContent: t(`guide.${key}`) });
    b.append(Object.assign(document.createElement('span'), { textContent: icon, ariaHidden: 'true' }), ' ', label);
    b.title = t(`guide.${key}`);
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

  // ---- staff: consult a colleague or the on-duty expert, leave the applicant with them ------------
  if (role !== 'applicant') {
    // Folded away by default: consulting is occasional, and a tablet keeps the call controls in view.
    const fold = document.createElement('details');
    fold.className = 'guide-staff';
    const summary = Object.assign(document.createElement('summary'), { textContent: t('guide.consult') });
    summary.id = 'consult-open';
    const staffBar = document.createElement('div');
    staffBar.className = 'guide-tools';
    staffBar.setAttribute('role', 'group');
    staffBar.setAttribute('aria-label', t('guide.consult'));
    fold.append(summary, staffBar);
    const idInput = Object.assign(document.createElement('input'), { type: 'number', min: '1', id: 'consult-staff' });
    idInput.setAttribute('aria-label', t('guide.consult_staff'));
    idInput.placeholder = t('guide.consult_staff');
    idInput.style.maxWidth = '9em';
    const act = (key, fn) => {
      const b = Object.assign(document.createElement('button'), { type: 'button', textContent: t(key) });
      b.dataset.guide = key.split('.')[1];
      b.addEventListener('click', async () => {
        try { await fn(); } catch (err) { status.textContent = detailText(err) || String(err.message || err); }
      });
      return b;
    };
    const base = `/api/calls/${encodeURIComponent(room)}`;
    staffBar.append(idInput,
      act('guide.consult', () => post(`${base}/participants`, { staff_id: Number(idInput.value) })),
      act('guide.consult_expert', () => post(`${base}/participants`, { expert: true })),
      act('guide.leave', () => post(`${base}/leave`)));
    bar.append(fold); // on the toolbar's own row: the call controls stay on a tablet's first screen
  }

  // ---- status line (monitoring, people joining and leaving) -------------------------------------
  const status = document.createElement('p');
  status.className = 'guide-status';
  status.setAttribute('role', 'status');
  status.setAttribute('aria-live', 'polite');
  bar.insertAdjacentElement('afterend', status);
  const say = (key, args) => { status.textContent = t(key, args); };

  // ---- a call of three or four: one more peer connection per further member (mesh.js) ----------
  const tiles = document.createElement('div');
  tiles.className = 'guide-tiles';
  tiles.setAttribute('role', 'group'); // a labelled group of videos (aria-label needs a role)
  tiles.setAttribute('aria-label', t('guide.participants'));
  status.insertAdjacentElement('afterend', tiles);
  const iceServers = joined.ice_servers || [];
  const mesh = new Mesh({ socket, room, iceServers, localStream: primary.localStream, skip: (m) => m === peer });
  offs.push(primary.on('localstream', (stream) => { mesh.setLocalStream(stream); monitorAdd(stream); }));
  offs.push(mesh.on('joined', ({ member, name, peer: leg }) => {
    addLeg(member, leg);
    const fig = document.createElement('figure');
    fig.dataset.member = member;
    const video = Object.assign(document.createElement('video'), { autoplay: true, playsInline: true });
    video.setAttribute('aria-label', name);
    const cap = document.createElement('figcaption');
    cap.textContent = name;
    fig.append(video, cap);
    tiles.append(fig);
    fig.style.position = 'relative';
    addView(video, member, 'camera');
  }));
  offs.push(mesh.on('stream', ({ member, stream }) => {
    const video = tiles.querySelector(`figure[data-member="${CSS.escape(member)}"] video`);
    if (video && video.srcObject !== stream) { video.srcObject = stream; video.play?.().catch(() => {}); }
  }));
  offs.push(mesh.on('left', ({ member }) => {
    removeLeg(member);
    tiles.querySelector(`figure[data-member="${CSS.escape(member)}"]`)?.remove();
  }));
  for (const other of joined.peers || []) mesh.add(other);
  offs.push(socket.on('room.member', (m) => {
    if (m.room !== room) return;
    say(m.event === 'joined' ? 'guide.participant_joined' : 'guide.participant_left', { name: m.name || '' });
    if (m.event === 'left' && m.member === peer) promote();
  }));

  /** Our first peer left (a consult: the agent left us with a colleague): show the next one big. */
  function promote() {
    const [next] = mesh.legs.keys();
    if (!next) return;
    const leg = mesh.legs.get(next);
    legs.delete(peer);
    removeOwner(peer);
    // The connection with the member who left is over; its camera and microphone are the mesh's too.
    primary.sharedLocal = true;
    primary.pc.close();
    promoted = true;
    tiles.querySelector(`figure[data-member="${CSS.escape(next)}"]`)?.remove();
    removeOwner(next);
    peer = next;
    const big = root.querySelector('#remote-video');
    if (big) {
      big.srcObject = leg.peer.remoteStream;
      big.play?.().catch(() => {});
      addView(big, next, 'camera');
    }
    const name = root.querySelector('#peer-name');
    if (name) name.textContent = leg.name;
    mesh.on('stream', ({ member, stream }) => { if (member === next && big) big.srcObject = stream; });
  }

  // ---- a supervisor watching (the agent sends them its own and the applicant's tracks) -----------
  let monitor = null; // {peer: CallPeer, sent: Set<track id>}
  let promoted = false; // the first peer left and a mesh leg took its place
  function monitorAdd(localStream) {
    if (!monitor) return;
    const streams = [localStream ?? primary.localStream, primary.remoteStream, primary.remoteScreen].filter(Boolean);
    for (const stream of streams) {
      for (const track of stream.getTracks()) {
        if (monitor.sent.has(track.id)) continue;
        monitor.sent.add(track.id);
        monitor.peer.pc.addTrack(track, stream);
      }
    }
  }
  offs.push(primary.on('remotestream', () => monitorAdd()));
  offs.push(primary.on('remotescreen', () => monitorAdd()));
  offs.push(socket.on('monitor', (m) => {
    if (m.room !== room) return;
    const name = m.supervisor?.name || '';
    if (m.event === 'started') {
      say('guide.monitored', { name });
      if (!m.monitor_room || monitor) return;
      const mp = new CallPeer({ socket, room: m.monitor_room, polite: !!m.polite, iceServers: m.ice_servers || [],
        peer: `s:${m.supervisor.id}` });
      mp.sharedLocal = true; // our tracks are lent: closing the monitor leg must not stop them
      monitor = { peer: mp, sent: new Set() };
      monitorAdd();
    } else {
      say(m.event === 'joined' ? 'guide.monitor_joined' : 'guide.monitor_stopped', { name });
      monitor?.peer.close();
      monitor = null;
    }
  }));
  offs.push(socket.on('call.ended', (m) => {
    if (monitor && m.room === monitor.peer.room) { monitor.peer.close(); monitor = null; say('guide.monitor_stopped', { name: '' }); }
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
    mesh,
    /** For tests and the monitor's counters: the monitor leg while a supervisor watches. */
    get monitorPeer() { return monitor?.peer ?? null; },
    destroy() {
      offs.splice(0).forEach((off) => off());
      mesh.close();
      monitor?.peer.close();
      if (promoted) for (const tr of primary.localStream?.getTracks() ?? []) tr.stop();
      status.remove();
      root.querySelector('.guide-staff')?.remove();
      tiles.remove();
      document.removeEventListener('keydown', onKey);
      for (const a of annotators.values()) a.destroy();
      annotators.clear();
      localScreen?.remove();
      bar.remove();
    },
  };
}
