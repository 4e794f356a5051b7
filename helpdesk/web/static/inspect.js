// Remote inspection on the applicant's page (docs/inspection.md): the consent dialog with the recording
// notice, the rear camera, the current point's guidance, and a second, send-only RTCPeerConnection
// that carries the call's camera track to the server (which records it). The call itself keeps
// running: the agent sees the same rear camera through the call (CallPeer.switchCamera).
import { get, post, detailText } from './api.js';
import { t, setText } from './i18n.js';

const $ = (id) => document.getElementById(id);
const REAR = { width: { ideal: 1280 }, height: { ideal: 720 } };
const MAX_REOFFERS = 5;

export function createApplicantInspection({ socket, view }) {
  const el = {
    panel: $('inspection-panel'), step: $('inspection-step'), guidance: $('inspection-guidance'),
    compliance: $('inspection-compliance'), state: $('inspection-state'), report: $('inspection-report'),
    dialog: $('inspection-consent'), item: $('inspection-consent-item'), notice: $('inspection-consent-notice'),
    accept: $('inspection-accept'), refuse: $('inspection-refuse'), error: $('inspection-consent-error'),
  };
  let s = null; // {id, room, points, index, marks, pc, reoffers, camera}

  const mine = (m) => !s || !m.room || m.room === s.room;
  const base = () => `/api/inspections/${encodeURIComponent(s.id)}`;

  function status(key, args) {
    el.state.hidden = !key;
    if (key) setText(el.state, key, args);
  }

  function fresh(m) {
    if (!s || s.id !== m.inspection) {
      closePeer();
      s = { id: m.inspection, room: m.room || view.call?.room, points: [], index: 0, marks: {}, pc: null, reoffers: 0 };
    }
    return s;
  }

  // ---- consent ----------------------------------------------------------------------------------
  function askConsent(m) {
    el.item.textContent = t('inspection.consent_item', { item: m.item || '', n: m.points ?? '' });
    el.notice.textContent = m.notice || t('inspection.notice_default');
    el.error.textContent = '';
    el.accept.disabled = el.refuse.disabled = false;
    el.panel.hidden = false;
    el.report.hidden = true;
    status('inspection.consent_pending');
    if (el.dialog.open) return;
    if (el.dialog.showModal) el.dialog.showModal(); else el.dialog.setAttribute('open', '');
  }

  function closeDialog() {
    if (!el.dialog.open) return;
    if (el.dialog.close) el.dialog.close(); else el.dialog.removeAttribute('open');
  }

  async function answer(accept) {
    if (!s) return;
    el.accept.disabled = el.refuse.disabled = true;
    try {
      await post(`${base()}/consent`, { accept });
      closeDialog();
      if (accept) sendLocation(s.id);
    } catch (err) {
      el.accept.disabled = el.refuse.disabled = false;
      el.error.textContent = t('inspection.consent_failed', { detail: detailText(err) || err.code || '' });
    }
  }

  /** Where the camera is, if the applicant allows it; never holds up the inspection. */
  function sendLocation(id) {
    if (!navigator.geolocation) return;
    navigator.geolocation.getCurrentPosition((p) => {
      const location = { lat: p.coords.latitude, lon: p.coords.longitude, accuracy_m: p.coords.accuracy };
      post(`/api/inspections/${encodeURIComponent(id)}/location`, location).catch(() => {});
    }, () => {}, { timeout: 15000, maximumAge: 60000 });
  }

  // ---- guidance ---------------------------------------------------------------------------------
  function guide() {
    const p = s?.points[s.index];
    el.panel.hidden = false;
    if (!p) return;
    setText(el.step, 'inspection.step', { n: s.index + 1, total: s.points.length, title: p.title });
    el.guidance.textContent = p.guidance || '';
    el.compliance.textContent = p.compliance ? t('inspection.compliance', { text: p.compliance }) : '';
    const mark = s.marks[p.key];
    if (mark) status(`inspection.mark.${mark.result}`);
    else status('inspection.recording');
  }

  // ---- the camera to the server -----------------------------------------------------------------
  function cameraTrack() {
    return view.peer?.localStream?.getVideoTracks()[0] || null;
  }

  async function rearCamera() {
    for (let i = 0; i < 40 && !cameraTrack() && !view.call?.audioOnly; i += 1) {
      await new Promise((r) => setTimeout(r, 250)); // the call's media is still starting (a reload)
    }
    try {
      return await view.switchCamera('environment', REAR);
    } catch (err) {
      console.warn('inspection: no camera in the call, opening one for the inspection', err);
      const stream = await navigator.mediaDevices.getUserMedia({ video: { ...REAR, facingMode: 'environment' }, audio: false });
      s.camera = stream;
      return stream.getVideoTracks()[0];
    }
  }

  async function offer(track) {
    const mineNow = s;
    closePeer(false);
    let iceServers = [];
    try { iceServers = view.peer?.pc?.getConfiguration().iceServers || []; } catch { /* defaults */ }
    const pc = new RTCPeerConnection({ iceServers });
    mineNow.pc = pc;
    pc.addTransceiver(track, { direction: 'sendonly' });
    const send = (p) => socket.send({ type: 'inspection.signal', room: mineNow.room, inspection: mineNow.id, ...p });
    pc.onicecandidate = (e) => send({ candidate: e.candidate ? e.candidate.toJSON() : null });
    pc.onconnectionstatechange = () => {
      if (pc !== mineNow.pc) return;
      document.body.dataset.inspectionPeer = pc.connectionState;
      if (pc.connectionState === 'failed' && mineNow.reoffers < MAX_REOFFERS) {
        mineNow.reoffers += 1; // a new offer is a new recording segment on the server
        setTimeout(() => { if (s === mineNow && pc === mineNow.pc) offer(track).catch(console.warn); }, 1500);
      }
    };
    await pc.setLocalDescription(await pc.createOffer());
    send({ description: { type: pc.localDescription.type, sdp: pc.localDescription.sdp } });
  }

  async function startCamera() {
    const mineNow = s;
    try {
      const track = await rearCamera();
      if (s !== mineNow) return;
      await offer(track);
    } catch (err) {
      console.warn('inspection camera', err);
      status('inspection.camera_failed');
    }
  }

  function closePeer(all = true) {
    if (!s) return;
    try { s.pc?.close(); } catch { /* closed */ }
    s.pc = null;
    if (all && s.camera) { s.camera.getTracks().forEach((tr) => tr.stop()); s.camera = null; }
    delete document.body.dataset.inspectionPeer;
  }

  // ---- messages ---------------------------------------------------------------------------------
  async function onMessage(m) {
    if (!mine(m)) return;
    switch (m.type) {
      case 'inspection.requested':
        fresh(m);
        askConsent(m);
        break;
      case 'inspection.started':
        fresh(m);
        closeDialog();
        Object.assign(s, { points: m.points || [], index: m.index || 0, marks: {} });
        guide();
        await startCamera();
        break;
      case 'inspection.point':
        if (!s) return;
        Object.assign(s, { index: m.index, marks: m.marks || {} });
        if (m.point && !s.points.some((p) => p.key === m.point.key)) s.points[m.index] = m.point;
        guide();
        break;
      case 'inspection.snapshot':
        setText(el.state, 'inspection.snapshot_taken');
        el.state.hidden = false;
        break;
      case 'inspection.signal':
        if (!s?.pc) return;
        if (m.description) await s.pc.setRemoteDescription(m.description).catch((e) => console.warn('inspection answer', e));
        else if (m.candidate) await s.pc.addIceCandidate(m.candidate).catch(() => {});
        break;
      case 'inspection.ended':
        await finish(m);
        break;
      default:
    }
  }

  async function finish(m) {
    const was = s;
    closeDialog();
    closePeer();
    s = null;
    el.panel.hidden = false;
    el.step.textContent = el.guidance.textContent = el.compliance.textContent = '';
    status(m.status === 'refused' ? 'inspection.refused' : m.outcome ? `inspection.outcome.${m.outcome}` : 'inspection.cancelled');
    if (m.outcome) {
      const a = el.report.querySelector('a');
      a.href = `/api/inspections/${encodeURIComponent(m.inspection)}/report.pdf`;
      el.report.hidden = false;
    }
    if (was && !was.camera && view.call && view.call.state !== 'ended') {
      try { await view.switchCamera('user'); } catch (err) { console.warn('front camera', err); }
    }
  }

  el.accept.addEventListener('click', () => answer(true));
  el.refuse.addEventListener('click', () => answer(false));
  el.dialog.addEventListener('cancel', (e) => e.preventDefault()); // Esc is not an answer
  socket.on('*', (m, type) => { if (typeof type === 'string' && type.startsWith('inspection.')) onMessage(m); });
  socket.on('call.ended', () => { closeDialog(); closePeer(); s = null; });

  return {
    /** After a reload during a call: pick up a live inspection (the camera offers again: a new segment). */
    async resume(workOrder) {
      const { inspections = [] } = await get(`/api/inspections?work_order=${encodeURIComponent(workOrder)}`);
      const live = inspections.find((i) => i.status === 'active' || i.status === 'awaiting_consent');
      if (!live) return false;
      if (s?.id === live.id && (s.pc ? s.pc.connectionState !== 'failed' : el.dialog.open)) return true; // only the socket came back
      const insp = await get(`/api/inspections/${encodeURIComponent(live.id)}`);
      const m = { inspection: insp.id, room: insp.room };
      fresh(m);
      if (insp.status === 'awaiting_consent') {
        askConsent({ ...m, item: insp.checklist?.title, points: insp.point_keys?.length });
        return true;
      }
      Object.assign(s, { points: insp.points || [], index: insp.index || 0, marks: insp.marks || {} });
      guide();
      await startCamera();
      return true;
    },
    get state() { return s; },
  };
}
