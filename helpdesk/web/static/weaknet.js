// Audio only on a weak network. This side can stop video both ways (the applicant's button, or by
// itself when the measured inbound video bitrate stays too low); the other side sees it from the
// negotiated transceiver direction ("inactive"), so both are told without a new message type.
// The agent's screen share is kept: it is what guides the applicant.

export const LOW_VIDEO_KBPS = 60; // inbound camera video below this ...
export const LOW_SAMPLES = 4; // ... for this many samples in a row (one per ~2 s) → audio only
const WARMUP_SAMPLES = 3; // the first seconds of a call ramp up: not a weak network

export function createWeakNet({ peer, auto = false, onChange = () => {} }) {
  const state = { self: false, auto: false, peer: false };
  let low = 0;
  let seen = 0;
  let prev = null; // {bytes, at}
  let stopped = false;

  const pc = () => peer.pc;
  const isScreen = (tr) => (!!peer.screenSender && tr.sender === peer.screenSender)
    || (!!peer.remoteScreen && peer.remoteScreen.getVideoTracks().includes(tr.receiver.track));
  const cameras = () => pc().getTransceivers().filter((tr) => tr.receiver.track?.kind === 'video' && !tr.stopped && !isScreen(tr));

  function changed() { if (!stopped) onChange({ ...state }); }

  /** Video off (or back on) both ways for this call; renegotiation tells the peer. */
  function set(on, byAuto = false) {
    if (state.self === on) return;
    state.self = on;
    state.auto = on && byAuto;
    for (const tr of cameras()) {
      tr.direction = on ? 'inactive' : tr.sender.track ? 'sendrecv' : 'recvonly';
    }
    low = 0;
    seen = 0;
    prev = null;
    changed();
  }

  /** The peer made video inactive: they switched to audio only. */
  function check() {
    if (stopped) return;
    const inactive = !state.self && cameras().some((tr) => tr.currentDirection === 'inactive');
    if (inactive !== state.peer) { state.peer = inactive; changed(); }
  }

  async function videoKbps() {
    const report = await pc().getStats();
    let bytes = 0;
    report.forEach((s) => { if (s.type === 'inbound-rtp' && s.kind === 'video') bytes += s.bytesReceived ?? 0; });
    const now = Date.now();
    const kbps = prev && now > prev.at ? ((bytes - prev.bytes) * 8) / (now - prev.at) : null;
    prev = { bytes, at: now };
    return kbps;
  }

  /** One quality tick (every ~2 s): watch the inbound video while the peer says it sends some. */
  async function sample() {
    check();
    if (!auto || state.self || state.peer || stopped) return;
    if (pc().connectionState !== 'connected' || peer.peerMedia?.video === false) { low = 0; return; }
    const kbps = await videoKbps();
    if (kbps === null || (seen += 1) <= WARMUP_SAMPLES) return;
    low = kbps < LOW_VIDEO_KBPS ? low + 1 : 0;
    if (low >= LOW_SAMPLES) set(true, true);
  }

  return {
    get state() { return { ...state }; },
    toggle() { set(!state.self); },
    set,
    check,
    sample: () => sample().catch(() => {}),
    stop() { stopped = true; },
  };
}
