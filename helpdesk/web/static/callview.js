// The call view shared by the applicant page and the agent console: videos, controls, chat,
// files, network quality, reconnecting banner and the #call-state token.
// It drives a CallPeer from /static/signaling/rtc.js; everything specific to that module's API is
// in the small adapter section below.

import { CallPeer } from '/static/signaling/rtc.js';
import { get, upload } from './api.js';
import { t, setText, formatTime } from './i18n.js';
import { fileItem, fileErrorText } from './callfiles.js';
import { createWeakNet } from './weaknet.js';
import { attachGuidance } from './guidance.js'; // #19: pointer and annotation (hook-ups marked #19)

export const CALL_STATES = ['idle', 'offered', 'connecting', 'connected', 'reconnecting', 'ended'];

/** Set #call-state (a stable token for tests) and its visible, translated label. */
export function setCallState(state, root = document) {
  const el = root.querySelector('#call-state');
  if (el) { el.textContent = state; el.dataset.state = state; }
  document.body.dataset.callState = state;
  setText(root.querySelector('#call-state-label'), `state.${state}`);
}

// ---- adapter over rtc.js (CallPeer: startLocalMedia, setAudioEnabled, setVideoEnabled,
// startScreenShare/stopScreenShare, switchCamera, stats, close; events remotestream, remotescreen,
// peermedia, connectionstate, fallback, localscreen). CallPeer sends media.state itself and restarts
// ICE itself on peer.resumed / a resumed welcome (when impolite).
function isConnected(peer) {
  const s = peer?.pc?.connectionState;
  return s === 'connected';
}
// ------------------------------------------------------------------------------------------------

const $ = (root, sel) => root.querySelector(sel);

/**
 * confirmHangup: async () => boolean, asked before hanging up (the applicant page: a mis-tap must
 * not end the call). canGoAudioOnly: this side may switch itself to audio only (weak network).
 */
export function createCallView({ socket, root = document, me = () => null, onEnded = () => {}, onStateChange = () => {},
  confirmHangup = null, canGoAudioOnly = false }) {
  const el = {
    remote: $(root, '#remote-video'), screen_: $(root, '#remote-screen'), stage: $(root, '.call-stage'), local: $(root, '#local-video'),
    mute: $(root, '#mute'), camera: $(root, '#camera'), screen: $(root, '#screen-share'), hangup: $(root, '#hangup'),
    chatForm: $(root, '#chat-form'), chatInput: $(root, '#chat-input'), chatLog: $(root, '#chat-log'),
    fileInput: $(root, '#file-input'), fileList: $(root, '#file-list'), fileError: $(root, '#file-error'),
    fileProgress: $(root, '#file-progress'), quality: $(root, '#quality'), banner: $(root, '#reconnecting-banner'),
    remoteStatus: $(root, '#remote-status'), peerName: $(root, '#peer-name'), enableSound: $(root, '#enable-sound'),
    newMessage: $(root, '#new-message'), callError: $(root, '#call-error'), audioToggle: $(root, '#audio-only-toggle'),
    weakNotice: $(root, '#weak-network'),
  };
  let call = null; // {room, workOrder, polite, peer, state, audioOnly, muted, cameraOff, sharing, timers}
  let socketDown = false;
  const seenFiles = new Set();

  function state(s) {
    if (call) call.state = s;
    setCallState(s, root);
    onStateChange(s);
  }

  function refreshReconnecting() {
    if (!call || call.state === 'ended') { el.banner.hidden = true; return; }
    const reason = socketDown ? 'call.reconnecting_self' : call.peerDropped ? 'call.reconnecting_peer'
      : call.mediaDown ? 'call.reconnecting_media' : null;
    el.banner.hidden = !reason;
    if (reason) { setText(el.banner, reason, { s: Math.round(call.graceS || 30) }); state('reconnecting'); }
    else if (call.state === 'reconnecting') state(isConnected(call.peer) ? 'connected' : 'connecting');
  }

  function showRemote(stream) {
    if (el.remote.srcObject !== stream) el.remote.srcObject = stream;
    play();
  }

  function showRemoteScreen(stream) {
    el.screen_.srcObject = stream || null;
    el.stage.classList.toggle('has-screen', !!stream);
    if (stream) el.screen_.play?.().catch(() => {});
  }

  function play() {
    const p = el.remote.play?.();
    if (p && p.catch) {
      p.then(() => { if (el.enableSound) el.enableSound.hidden = true; })
        .catch(() => { if (el.enableSound) el.enableSound.hidden = false; });
    }
  }

  function setPressed(btn, on, keyOn, keyOff) {
    btn.setAttribute('aria-pressed', String(on));
    setText(btn.querySelector('.label') || btn, on ? keyOn : keyOff);
  }

  async function join(joined, { audioOnly = false } = {}) {
    if (call && call.room === joined.room && call.state !== 'ended') {
      // Our socket came back and the server re-sent the room: keep the peer (it restarts ICE itself).
      call.peerDropped = false;
      refreshReconnecting();
      return;
    }
    cleanup();
    call = { room: joined.room, workOrder: joined.work_order ?? joined.room, polite: !!joined.polite, audioOnly,
      muted: false, cameraOff: audioOnly, sharing: false, peerDropped: false, mediaDown: false, state: 'connecting', timers: [] };
    seenFiles.clear();
    el.chatLog.replaceChildren();
    el.fileList.replaceChildren();
    el.fileError.textContent = '';
    el.remoteStatus.textContent = '';
    el.callError.hidden = true;
    call.peerInfo = joined.peer || {};
    renderPeerName();
    root.querySelector('#call-view')?.classList.toggle('audio-only', audioOnly);
    setPressed(el.mute, false, 'call.unmute', 'call.mute');
    setPressed(el.camera, audioOnly, 'call.camera_on', 'call.camera_off');
    el.camera.disabled = audioOnly;
    setPressed(el.screen, false, 'call.stop_share', 'call.share_screen');
    el.screen.hidden = !navigator.mediaDevices?.getDisplayMedia;
    state('connecting');

    const peer = new CallPeer({ socket, room: joined.room, polite: !!joined.polite, iceServers: joined.ice_servers || [],
      peer: joined.peer?.member ?? null });
    call.peer = peer;
    call.weak = createWeakNet({ peer, auto: canGoAudioOnly, onChange: renderWeak });
    // #19: marks over the videos, and the further participants of a call of three or four.
    call.guidance = attachGuidance({ socket, root, room: joined.room, me: me(), peer: joined.peer?.member,
      role: joined.role, primary: peer, joined });
    const current = () => call?.peer === peer;
    peer.on('remotestream', ({ stream }) => current() && showRemote(stream));
    peer.on('remotescreen', ({ stream }) => current() && showRemoteScreen(stream));
    peer.on('peermedia', (m) => { if (current()) { showPeerMedia(m); call.weak.check(); } });
    peer.on('localscreen', (stream) => {
      if (!current()) return;
      call.sharing = !!stream;
      setPressed(el.screen, call.sharing, 'call.stop_share', 'call.share_screen');
    });
    peer.on('fallback', () => current() && goAudioOnly());
    peer.on('connectionstate', ({ state: s }) => {
      if (!current() || call.state === 'ended') return;
      call.mediaDown = s === 'disconnected' || s === 'failed';
      if (s === 'connected' && call.state === 'connecting') state('connected');
      if (s === 'connected') call.weak.check();
      refreshReconnecting();
    });
    peer.on('error', (err) => console.warn('helpdesk call:', err));
    try {
      const local = await peer.startLocalMedia(audioOnly ? { audio: true, video: false } : undefined);
      if (!current()) return;
      el.local.srcObject = local;
      el.local.play?.().catch(() => {});
      if (!local.getVideoTracks().length) goAudioOnly();
    } catch (err) {
      el.callError.hidden = false;
      setText(el.callError, 'call.media_failed');
      console.warn('media start failed', err);
    }
    call.timers.push(setInterval(updateQuality, 2000));
    if (joined.resumed) restoreHistory(call);
    renderWeak(call.weak.state);
  }

  /** The peer's name over their video; an applicant without one is "the applicant" in our language. */
  function renderPeerName() {
    if (!el.peerName || !call) return;
    const p = call.peerInfo;
    el.peerName.textContent = p.name || (p.role === 'applicant' ? t('call.peer_applicant') : p.role === 'agent' ? t('call.peer_agent') : '');
  }

  /** Audio only on a weak network: the notice on both sides and this side's switch. */
  function renderWeak(w) {
    if (!call) return;
    const audio = w.self || w.peer;
    root.querySelector('#call-view')?.classList.toggle('weak-audio', audio);
    if (el.weakNotice) {
      el.weakNotice.hidden = !audio;
      if (audio) setText(el.weakNotice, w.self ? (w.auto ? 'weak.auto_self' : 'weak.self') : 'weak.peer');
    }
    if (el.audioToggle) {
      el.audioToggle.hidden = !canGoAudioOnly || call.audioOnly;
      setPressed(el.audioToggle, w.self, 'weak.video_back', 'weak.audio_only');
    }
  }

  /** After a reload the page starts empty: fetch the files, articles and chat the call already has. */
  async function restoreHistory(c) {
    try {
      const h = await get(`/api/calls/${encodeURIComponent(c.workOrder)}/history`);
      if (call !== c) return;
      for (const m of h.chat || []) addChat(m);
      for (const f of h.files || []) addFile(f, f.from);
    } catch (err) {
      console.warn('call history', err);
    }
  }

  function goAudioOnly() {
    call.audioOnly = true;
    call.cameraOff = true;
    el.camera.disabled = true;
    setPressed(el.camera, true, 'call.camera_on', 'call.camera_off');
    root.querySelector('#call-view')?.classList.add('audio-only');
  }

  function showPeerMedia(m) {
    const notes = [];
    if (m.audio === false) notes.push(t('call.peer_muted'));
    if (m.video === false && !m.screen) notes.push(t('call.peer_camera_off'));
    if (m.screen) notes.push(t('call.peer_sharing'));
    el.remoteStatus.textContent = notes.join(' · ');
  }

  const current = (c) => c && call === c && c.state !== 'ended';

  async function updateQuality() {
    if (!call?.peer?.stats) return;
    try {
      const s = await call.peer.stats();
      if (!s || !s.grade || !current(call)) return;
      el.quality.dataset.grade = s.grade;
      const details = [];
      if (Number.isFinite(s.rtt)) details.push(`RTT ${Math.round(s.rtt * 1000)} ms`);
      if (Number.isFinite(s.loss)) details.push(`${t('call.loss')} ${(s.loss * 100).toFixed(1)}%`);
      if (Number.isFinite(s.bitrateKbps)) details.push(`${s.bitrateKbps} kbps`);
      call.weak.sample(s);
      setText(el.quality.querySelector('.label'), `quality.${s.grade}`);
      el.quality.title = details.join(' · ');
      if (call.state === 'connecting' && isConnected(call.peer)) state('connected');
    } catch { /* stats are best effort */ }
  }

  function addFile(f, from) {
    if (!f || (f.id && seenFiles.has(f.id))) return;
    if (f.id) seenFiles.add(f.id);
    const li = fileItem(f, !!from && from === me());
    el.fileList.append(li);
    if (li.className !== 'mine') notifyIfHidden(el.fileList);
  }

  function cleanup() {
    if (!call) return;
    call.timers.forEach(clearInterval);
    call.weak?.stop();
    call.guidance?.destroy(); // #19
    try { call.peer?.close(); } catch { /* already closed */ }
    for (const v of [el.local, el.remote, el.screen_]) v.srcObject = null;
    el.stage.classList.remove('has-screen');
    el.banner.hidden = true;
    el.quality.dataset.grade = '';
    if (el.newMessage) el.newMessage.hidden = true;
  }

  function end(msg) {
    if (!call || call.state === 'ended') return;
    const ended = call;
    cleanup();
    state('ended');
    onEnded({ room: ended.room, work_order: msg?.work_order ?? ended.workOrder, reason: msg?.reason || 'hangup', by: msg?.by });
  }

  /** On a small screen the chat is below the video: point at news the applicant cannot see. */
  function notifyIfHidden(target) {
    if (!el.newMessage) return;
    const r = target.getBoundingClientRect();
    if (r.top >= window.innerHeight || r.bottom <= 0) el.newMessage.hidden = false;
  }

  function addChat(m, pending = false) {
    const mine = m.from && m.from === me();
    if (mine && !pending) {
      const p = [...el.chatLog.querySelectorAll('li.pending')].find((li) => li.dataset.text === m.text);
      if (p) { p.classList.remove('pending'); p.dataset.id = m.id || ''; return; }
    }
    if (m.id && el.chatLog.querySelector(`li[data-id="${CSS.escape(String(m.id))}"]`)) return;
    const li = document.createElement('li');
    li.className = mine || pending ? 'mine' : 'theirs';
    if (pending) { li.classList.add('pending'); li.dataset.text = m.text; }
    if (m.id) li.dataset.id = m.id;
    const who = document.createElement('span');
    who.className = 'who';
    who.textContent = mine || pending ? t('chat.me') : (m.sender_name || t('chat.peer'));
    const when = document.createElement('time');
    when.textContent = formatTime(m.at || new Date().toISOString());
    const text = document.createElement('p');
    text.textContent = m.text;
    li.append(who, when, text);
    el.chatLog.append(li);
    el.chatLog.scrollTop = el.chatLog.scrollHeight;
    if (!mine && !pending) notifyIfHidden(el.chatLog);
  }


  // ---- wiring (once per page) ----
  el.mute.addEventListener('click', () => {
    if (!call) return;
    call.muted = !call.muted;
    call.peer?.setAudioEnabled(!call.muted);
    setPressed(el.mute, call.muted, 'call.unmute', 'call.mute');
  });
  el.camera.addEventListener('click', () => {
    if (!call || call.audioOnly) return;
    call.cameraOff = !call.cameraOff;
    call.peer?.setVideoEnabled(!call.cameraOff);
    setPressed(el.camera, call.cameraOff, 'call.camera_on', 'call.camera_off');
  });
  el.screen.addEventListener('click', async () => {
    if (!call?.peer) return;
    try {
      if (call.peer.screenStream) call.peer.stopScreenShare();
      else await call.peer.startScreenShare(); // "localscreen" updates the button
    } catch (err) {
      console.warn('screen share', err); // the user cancelled the picker
    }
  });
  el.hangup.addEventListener('click', async () => {
    if (!call || call.state === 'ended') return;
    if (confirmHangup && !(await confirmHangup())) return;
    if (!call || call.state === 'ended') return;
    socket.send({ type: 'hangup', room: call.room });
    const room = call.room;
    setTimeout(() => { if (call?.room === room) end({ reason: 'hangup' }); }, 4000);
  });
  el.enableSound?.addEventListener('click', play);
  el.audioToggle?.addEventListener('click', () => call?.weak?.toggle());
  document.addEventListener('hd:langchange', () => { renderPeerName(); if (call?.weak) renderWeak(call.weak.state); });
  el.newMessage?.addEventListener('click', () => {
    el.newMessage.hidden = true;
    el.chatLog.closest('.call-side')?.scrollIntoView({ behavior: 'smooth', block: 'start' });
  });
  window.addEventListener('scroll', () => {
    if (el.newMessage && !el.newMessage.hidden && el.chatLog.getBoundingClientRect().top < window.innerHeight) el.newMessage.hidden = true;
  }, { passive: true });
  el.chatForm.addEventListener('submit', (e) => {
    e.preventDefault();
    const text = el.chatInput.value.trim();
    if (!call || !text) return;
    socket.send({ type: 'chat', room: call.room, text: text.slice(0, 2000) });
    addChat({ text, from: me() }, true);
    el.chatInput.value = '';
    el.chatInput.focus();
  });
  el.fileInput.addEventListener('change', async () => {
    const file = el.fileInput.files?.[0];
    el.fileInput.value = '';
    if (!file || !call) return;
    el.fileError.textContent = '';
    el.fileProgress.hidden = false;
    el.fileProgress.value = 0;
    try {
      const f = await upload(`/api/calls/${encodeURIComponent(call.workOrder)}/files`, file, (p) => { el.fileProgress.value = p; });
      addFile(f, me());
    } catch (err) {
      el.fileError.textContent = fileErrorText(err);
    } finally {
      el.fileProgress.hidden = true;
    }
  });

  const mine = (m) => call && m.room === call.room && (!m.member || m.member === call.peer?.peer); // #19: `member`
  socket.on('chat', (m) => { if (mine(m)) addChat(m); });
  // Chat refused in an outage (error ref=chat, in the order sent): the oldest pending line shows
  // "not sent yet" and is resent every 5 s until its echo arrives.
  let resendTimer = null;
  const resendUnsent = () => {
    resendTimer = null;
    for (const li of el.chatLog.querySelectorAll('li.pending.unsent')) { li.classList.remove('unsent'); if (call) socket.send({ type: 'chat', room: call.room, text: li.dataset.text }); }
  };
  socket.on('error', (m) => {
    const li = m?.ref === 'chat' && call && el.chatLog.querySelector('li.pending:not(.unsent)');
    if (!li) return;
    li.classList.add('unsent');
    li.title = t('chat.not_sent');
    if (m.code === 'unavailable') resendTimer ??= setTimeout(resendUnsent, 5000);
  });
  socket.on('file', (m) => { if (mine(m)) addFile(m.file, m.from); });
  socket.on('peer.dropped', (m) => { if (mine(m)) { call.peerDropped = true; call.graceS = m.grace_s; refreshReconnecting(); } });
  socket.on('peer.resumed', (m) => {
    if (!mine(m)) return;
    call.peerDropped = false;
    refreshReconnecting();
  });
  socket.on('call.ended', (m) => { if (mine(m)) end(m); });

  return {
    join,
    end,
    get call() { return call; },
    get peer() { return call?.peer || null; },
    /** Socket connectivity from the page: true while the socket is reconnecting. */
    setSocketDown(down) { socketDown = down; refreshReconnecting(); },
    /** #19: the guidance tools of the current call (marks for a snapshot, the mesh's tiles), or null. */
    guidance() { return call?.guidance ?? null; },
    /** Remote inspection: switch the local camera ('user' | 'environment'); resolves to the new track. */
    async switchCamera(facingMode = 'environment', video = {}) {
      if (!call?.peer) throw new Error('no call');
      const track = await call.peer.switchCamera(facingMode, video);
      el.local.classList.toggle('mirror', facingMode === 'user');
      return track;
    },
  };
}
