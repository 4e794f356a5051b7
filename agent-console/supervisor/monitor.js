// Monitoring a live call from the wall (#19): watch and listen receive-only (the agent's page sends
// its camera, microphone and the applicant's tracks over a monitor room; this page sends nothing),
// stop, or join the call as a participant (then camera and microphone, one connection per member).
// Uses the wall's own socket: a member has one socket, a second page would replace it.

import { CallPeer } from '/static/signaling/rtc.js';
import { Mesh } from '/static/signaling/mesh.js';
import { api, post, detailText } from '/static/help/api.js';
import { t } from '/static/help/i18n.js';

const STYLE = `
#sup-monitor { position: fixed; right: 12px; bottom: 12px; z-index: 50; width: min(560px, calc(100vw - 24px));
  background: #fff; border: 2px solid #0b5cad; border-radius: 12px; padding: 10px 12px; box-shadow: 0 6px 24px #0004; }
#sup-monitor h2 { margin: 0 0 4px; font-size: 18px; }
#sup-monitor .mon-tiles { display: flex; flex-wrap: wrap; gap: 8px; margin: 8px 0; }
#sup-monitor video { width: 250px; max-width: 100%; aspect-ratio: 4 / 3; background: #0b1220; border-radius: 6px; }
#sup-monitor .mon-actions { display: flex; gap: 8px; flex-wrap: wrap; }
#sup-monitor button { min-height: 44px; padding: 0 16px; border-radius: 8px; font-size: 16px; }
#sup-monitor button:focus-visible { outline: 3px solid #f0b400; outline-offset: 2px; }
`;

function h(tag, props = {}, ...children) {
  const el = Object.assign(document.createElement(tag), props);
  el.append(...children);
  return el;
}

export function createMonitor({ socket }) {
  let state = null; // {workOrder, room, peer, mesh, local, joined}
  const style = h('style', { textContent: STYLE });
  document.head.append(style);
  const title = h('h2', { id: 'sup-monitor-title' });
  const note = h('p', { id: 'sup-monitor-note', className: 'muted' });
  const status = h('p', { id: 'sup-monitor-status', role: 'status' });
  const tiles = h('div', { className: 'mon-tiles' });
  const join = h('button', { id: 'sup-monitor-join', type: 'button', className: 'btn btn-primary' });
  const stop = h('button', { id: 'sup-monitor-stop', type: 'button', className: 'btn' });
  const panel = h('section', { id: 'sup-monitor', hidden: true }, title, note, tiles, status,
    h('div', { className: 'mon-actions' }, join, stop));
  panel.setAttribute('aria-labelledby', 'sup-monitor-title');
  document.body.append(panel);

  function label() {
    title.textContent = `${t('guide.monitor_title')} ${state?.number ?? ''}`;
    note.textContent = state?.joined ? '' : t('guide.monitor_receive_only');
    join.textContent = t('guide.monitor_join');
    stop.textContent = t(state?.joined ? 'call.hangup' : 'guide.monitor_stop');
    join.hidden = !!state?.joined;
  }

  function tile(stream, name = '') {
    if (tiles.querySelector(`video[data-stream="${CSS.escape(stream.id)}"]`)) return;
    const v = h('video', { autoplay: true, playsInline: true, srcObject: stream });
    v.dataset.stream = stream.id;
    v.setAttribute('aria-label', name);
    tiles.append(h('figure', { style: 'margin:0' }, v, h('figcaption', { textContent: name })));
    v.play?.().catch(() => {});
  }

  /** While watching: the agent's page sends its own camera first, then the applicant's. */
  function watchTile(stream) {
    const first = !tiles.querySelector('video');
    tile(stream, first ? t('guide.monitor_agent', { name: state?.agentName ?? '' }) : t('guide.monitor_applicant'));
  }

  function close() {
    state?.peer?.close();
    state?.mesh?.close();
    for (const tr of state?.local?.getTracks() ?? []) tr.stop();
    tiles.replaceChildren();
    state = null;
    panel.hidden = true;
  }

  async function open(workOrder, number = '') {
    if (state) close();
    // The agent's page may offer before this answer arrives: keep its signals for the peer.
    const early = [];
    const offEarly = socket.on('signal', (m) => early.push(m));
    try {
      const res = await post(`/api/calls/${encodeURIComponent(workOrder)}/monitor`);
      state = { workOrder, number: res.number || number, room: res.room, joined: false };
      // Receive only: no getUserMedia, no track added; the agent's page offers.
      const peer = new CallPeer({ socket, room: res.room, polite: true, iceServers: res.ice_servers || [],
        peer: res.peer?.member ?? null, awaitOffer: true });
      offEarly();
      for (const m of early) peer.receive(m);
      peer.on('remotestream', ({ stream }) => watchTile(stream));
      state.peer = peer;
      state.agentName = res.peer?.name ?? '';
      status.textContent = '';
      label();
      panel.hidden = false;
      join.focus();
    } catch (err) {
      status.textContent = detailText(err) || String(err.message || err);
      panel.hidden = false;
    } finally {
      offEarly();
    }
  }

  /** room.joined after "join": camera and microphone, a connection with every member of the call. */
  async function joinedCall(m) {
    if (!state || m.room !== state.workOrder) return;
    state.peer?.close();
    tiles.replaceChildren();
    state.joined = true;
    label();
    const first = new CallPeer({ socket, room: m.room, polite: !!m.polite, iceServers: m.ice_servers || [],
      peer: m.peer?.member ?? null, awaitOffer: true });
    first.on('remotestream', ({ stream }) => tile(stream, m.peer?.name));
    const mesh = new Mesh({ socket, room: m.room, iceServers: m.ice_servers || [], skip: (x) => x === m.peer?.member });
    mesh.on('stream', ({ stream, name }) => tile(stream, name));
    for (const p of m.peers || []) mesh.add(p);
    Object.assign(state, { peer: first, mesh });
    try {
      state.local = await first.startLocalMedia();
      mesh.setLocalStream(state.local);
    } catch (err) {
      status.textContent = detailText(err) || String(err.message || err);
    }
  }

  join.addEventListener('click', async () => {
    if (!state) return;
    try { await post(`/api/calls/${encodeURIComponent(state.workOrder)}/monitor/join`); } catch (err) {
      status.textContent = detailText(err) || String(err.message || err);
    }
  });
  stop.addEventListener('click', async () => {
    if (!state) return;
    const { workOrder, joined } = state;
    if (joined) socket.send({ type: 'hangup', room: workOrder });
    else await api('DELETE', `/api/calls/${encodeURIComponent(workOrder)}/monitor`).catch(() => {});
    close();
  });
  panel.addEventListener('keydown', (ev) => { if (ev.key === 'Escape') stop.click(); });
  socket.on('room.joined', joinedCall);
  socket.on('call.ended', (m) => {
    if (!state) return;
    if (m.room === state.workOrder || (m.room === state.room && m.reason !== 'joined')) close();
  });

  return { open, close, get state() { return state; } };
}
