// One call's RTCPeerConnection with perfect negotiation, trickle ICE, screen share and quality stats.
// Part of rtc.js (import from there); docs/signaling.md describes the protocol.

import { Emitter, messages } from "./socket.js";

/**
 * Grade a network summary: good (rtt ≤ 150 ms, loss ≤ 2 %), fair (≤ 400 ms, ≤ 8 %), else poor.
 * @param {{rtt: number|null, loss: number|null}} s rtt in seconds, loss as a ratio 0..1
 * @returns {"good"|"fair"|"poor"|"unknown"}
 */
export function gradeQuality({ rtt, loss }) {
  if (rtt == null && loss == null) return "unknown";
  const r = rtt ?? 0;
  const l = loss ?? 0;
  if (r <= 0.15 && l <= 0.02) return "good";
  if (r <= 0.4 && l <= 0.08) return "fair";
  return "poor";
}

/**
 * A call with the other member of a room (with one of them, `peer`, in a room of three or four: see
 * mesh.js). Events: "localstream" (MediaStream), "localscreen" (MediaStream|null), "remotestream"
 * ({stream}), "remotescreen" ({stream|null}), "peermedia" (the peer's media.state), "connectionstate"
 * ({state}), "fallback" ({error}: audio only), "data" (an object from the peer's data channel),
 * "channel" ({open}), "error".
 */
export class CallPeer extends Emitter {
  /**
   * @param {{socket: import("./socket.js").HelpdeskSocket, room: string, polite: boolean,
   *          iceServers?: RTCIceServer[], RTCPeerConnectionImpl?: typeof RTCPeerConnection,
   *          mediaDevices?: MediaDevices, peer?: string|null}} opts `room`, `polite` and `iceServers`
   *          come from room.joined; `peer` (the other member's id) addresses signals with `to` and
   *          ignores those of anyone else: pass it whenever the room may grow beyond two
   */
  constructor({ socket, room, polite, iceServers = [], RTCPeerConnectionImpl, mediaDevices, peer = null,
    awaitOffer = false }) {
    super();
    // A polite leg opened while the other side is opening it too (mesh.js, monitoring): let the other
    // side make the first offer, so the two never start with a collision.
    this.awaitOffer = awaitOffer && polite;
    this.socket = socket;
    this.room = room;
    this.polite = polite;
    this.peer = peer;
    this.channel = null;
    this.sharedLocal = false; // local tracks lent by another CallPeer (mesh.js): not stopped on close
    this.mediaDevices = mediaDevices ?? globalThis.navigator?.mediaDevices;
    this.PC = RTCPeerConnectionImpl ?? globalThis.RTCPeerConnection;
    this.iceServers = iceServers;
    this.makingOffer = false;
    this.ignoreOffer = false;
    this.localStream = null;
    this.screenStream = null;
    this.screenSender = null;
    this.remoteStream = null;
    this.remoteScreen = null;
    /** @type {{audio: boolean, video: boolean, screen: boolean, screen_stream?: string}} */
    this.peerMedia = { audio: true, video: true, screen: false };
    this._chain = Promise.resolve();
    this._prevStats = null;
    this._offs = [];
    this._wirePc(new this.PC({ iceServers }));
    this._wireSocket();
  }

  _wirePc(pc) {
    this.pc = pc;
    pc.onnegotiationneeded = async () => {
      if (this.awaitOffer && !pc.remoteDescription) return; // the other side's offer comes first
      try {
        this.makingOffer = true;
        await pc.setLocalDescription();
        this._signal({ description: pc.localDescription });
      } catch (err) {
        this.emit("error", err);
      } finally {
        this.makingOffer = false;
      }
    };
    pc.onicecandidate = ({ candidate }) => this._signal({ candidate: candidate ? candidate.toJSON() : null });
    pc.onconnectionstatechange = () => this.emit("connectionstate", { state: pc.connectionState });
    pc.oniceconnectionstatechange = () => {
      if (pc.iceConnectionState === "failed" && !this.polite) pc.restartIce();
    };
    pc.ontrack = (ev) => this._onTrack(ev);
  }

  /** The data channel for marks and pointers (negotiated, id 0: both sides open it with their first
   *  tracks, so it rides the same negotiation as the media instead of starting one of its own). */
  _ensureChannel() {
    if (this.channel || !this.pc.createDataChannel) return;
    const channel = this.pc.createDataChannel("guidance", { negotiated: true, id: 0 });
    this.channel = channel;
    channel.onopen = () => this.emit("channel", { open: true });
    channel.onclose = () => this.emit("channel", { open: false });
    channel.onmessage = ({ data }) => {
      try {
        this.emit("data", JSON.parse(data));
      } catch {
        /* not ours: ignore */
      }
    };
  }

  /** Send an object over the data channel; false when it is not open (use the socket instead). */
  sendData(obj) {
    if (this.channel?.readyState !== "open") return false;
    this.channel.send(JSON.stringify(obj));
    return true;
  }

  /** Adopt the tracks of a stream another CallPeer opened (the mesh's further legs, the monitor leg). */
  addLocalStream(stream, { shared = true } = {}) {
    this.localStream = stream;
    this.sharedLocal = shared;
    this._ensureChannel();
    for (const track of stream.getTracks()) this.pc.addTrack(track, stream);
    this.sendMediaState();
  }

  /** Is this message from our peer (always, when no `peer` was given)? */
  _fromPeer(m) {
    return !this.peer || (m.from ?? m.member ?? this.peer) === this.peer;
  }

  _wireSocket() {
    const on = (type, fn) => this._offs.push(
      this.socket.on(type, (m) => m.room === this.room && this._fromPeer(m) && fn(m)));
    on("signal", (m) => this._queue(m));
    on("media.state", (m) => this._onPeerMedia(m));
    on("peer.resumed", () => this.resume());
    // Our own socket came back inside the grace: the welcome carries the room with resumed=true.
    this._offs.push(this.socket.on("welcome", (w) => w.room?.room === this.room && w.room.resumed && this.resume()));
  }

  /** A signal that reached the page before this peer existed (e.g. while an HTTP answer was on its
   *  way): handled as if it came now. */
  receive(m) {
    if (m.room === this.room && this._fromPeer(m)) this._queue(m);
  }

  _queue(m) {
    this._chain = this._chain.then(() => this._onSignal(m)).catch((err) => this.emit("error", err));
  }

  _signal(payload) {
    this.socket.send(messages.signal(this.room, payload, this.peer));
  }

  async _onSignal({ description, candidate }) {
    if (description) {
      const pc = this.pc;
      const collision = description.type === "offer" && (this.makingOffer || pc.signalingState !== "stable");
      this.ignoreOffer = !this.polite && collision;
      if (this.ignoreOffer) return;
      try {
        await pc.setRemoteDescription(description); // a polite peer's collision rolls back implicitly
      } catch (err) {
        // The peer reloaded its page: a fresh connection (new DTLS fingerprint) cannot be spliced
        // onto ours. Start over with our tracks; the impolite side's new offer wins.
        this.emit("error", err);
        this.rebuild();
        if (description.type !== "offer" || !this.polite) return;
        await this.pc.setRemoteDescription(description);
      }
      if (description.type === "offer") {
        await this.pc.setLocalDescription();
        this._signal({ description: this.pc.localDescription });
      }
    } else if (candidate !== undefined) {
      try {
        await this.pc.addIceCandidate(candidate ?? undefined);
      } catch (err) {
        if (!this.ignoreOffer) throw err;
      }
    }
  }

  _onTrack({ track, streams }) {
    const stream = streams[0] ?? new MediaStream([track]);
    const isScreen = this.peerMedia.screen_stream === stream.id;
    if (isScreen) {
      this.remoteScreen = stream;
      this.emit("remotescreen", { stream });
      const gone = () => {
        if (this.remoteScreen === stream) {
          this.remoteScreen = null;
          this.emit("remotescreen", { stream: null });
        }
      };
      stream.onremovetrack = gone;
      track.onended = gone;
    } else if (this.remoteStream !== stream) {
      this.remoteStream = stream;
      this.emit("remotestream", { stream });
    }
  }

  _onPeerMedia(m) {
    this.peerMedia = { audio: m.audio, video: m.video, screen: m.screen, screen_stream: m.screen_stream };
    if (!m.screen && this.remoteScreen) {
      this.remoteScreen = null;
      this.emit("remotescreen", { stream: null });
    }
    this.emit("peermedia", this.peerMedia);
  }

  /** Tell the peer what we send (and which stream is the screen) before any renegotiation. */
  sendMediaState() {
    const a = this.localStream?.getAudioTracks()[0];
    const v = this.localStream?.getVideoTracks()[0];
    this.socket.send(messages.mediaState(this.room, {
      audio: !!a?.enabled, video: !!v?.enabled, screen: !!this.screenStream, screenStream: this.screenStream?.id,
    }, this.peer));
  }

  /**
   * Camera and microphone; falls back to audio only when the camera is refused or missing.
   * @param {MediaStreamConstraints} [constraints]
   * @returns {Promise<MediaStream>}
   */
  async startLocalMedia(constraints = { audio: true, video: { facingMode: "user" } }) {
    let stream;
    try {
      stream = await this.mediaDevices.getUserMedia(constraints);
    } catch (error) {
      if (!constraints.video) throw error;
      stream = await this.mediaDevices.getUserMedia({ audio: constraints.audio ?? true, video: false });
      this.emit("fallback", { error });
    }
    this.localStream = stream;
    this._ensureChannel();
    for (const track of stream.getTracks()) this.pc.addTrack(track, stream);
    this.sendMediaState();
    this.emit("localstream", stream);
    return stream;
  }

  /**
   * Switch the camera (e.g. "environment" for remote inspection) without renegotiating; `video` adds
   * constraints (e.g. `{width: {ideal: 1280}}`). Returns the new video track (its `enabled` follows the
   * old one). A phone that cannot open two cameras at once gets the old one released first, and back
   * if the new one still fails.
   */
  async switchCamera(facingMode = "environment", video = {}) {
    const sender = this.pc.getSenders().find((s) => s.track?.kind === "video" && s !== this.screenSender);
    if (!sender || !this.localStream) throw new Error("no camera to switch");
    const old = sender.track;
    const open = async (mode) => (await this.mediaDevices.getUserMedia({ video: { ...video, facingMode: mode } }))
      .getVideoTracks()[0];
    let track;
    try {
      track = await open(facingMode);
    } catch (error) {
      if (!["NotReadableError", "AbortError", "TrackStartError"].includes(error?.name)) throw error;
      old.stop(); // one camera at a time on this device
      try {
        track = await open(facingMode);
      } catch (again) {
        const back = await open(old.getSettings?.().facingMode || "user");
        await sender.replaceTrack(back);
        this.localStream.removeTrack(old);
        this.localStream.addTrack(back);
        this.emit("localstream", this.localStream);
        throw again;
      }
    }
    track.enabled = old.enabled;
    await sender.replaceTrack(track);
    this.localStream.removeTrack(old);
    old.stop();
    this.localStream.addTrack(track);
    this.emit("localstream", this.localStream);
    return track;
  }

  /** Share the screen as a second video stream; negotiationneeded renegotiates. */
  async startScreenShare() {
    if (this.screenStream) return this.screenStream;
    const stream = await this.mediaDevices.getDisplayMedia({ video: true, audio: false });
    const [track] = stream.getVideoTracks();
    this.screenStream = stream;
    this.sendMediaState(); // first, so the peer knows this stream id is the screen when the track lands
    this.screenSender = this.pc.addTrack(track, stream);
    track.onended = () => this.stopScreenShare(); // the browser's own "stop sharing" button
    this.emit("localscreen", stream);
    return stream;
  }

  /** Stop sharing; removeTrack renegotiates and the peer's screen stream goes away. */
  stopScreenShare() {
    if (!this.screenSender) return;
    this.pc.removeTrack(this.screenSender);
    for (const t of this.screenStream?.getTracks() ?? []) t.stop();
    this.screenSender = null;
    this.screenStream = null;
    this.sendMediaState();
    this.emit("localscreen", null);
  }

  /** @param {boolean} on */
  setAudioEnabled(on) {
    for (const t of this.localStream?.getAudioTracks() ?? []) t.enabled = on;
    this.sendMediaState();
  }

  /** @param {boolean} on */
  setVideoEnabled(on) {
    for (const t of this.localStream?.getVideoTracks() ?? []) t.enabled = on;
    this.sendMediaState();
  }

  /** After a drop inside the grace: the impolite side (the agent) restarts ICE. An offer still
   *  pending was probably lost while the peer was away: roll it back so negotiation can start over. */
  async resume() {
    try {
      if (this.pc.signalingState === "have-local-offer" && !this.makingOffer) {
        await this.pc.setLocalDescription({ type: "rollback" });
      }
      if (!this.polite) this.restartIce();
    } catch (err) {
      this.emit("error", err);
    }
  }

  /** Replace the RTCPeerConnection with a fresh one carrying the same local tracks. */
  rebuild() {
    const old = this.pc;
    for (const h of ["onnegotiationneeded", "onicecandidate", "onconnectionstatechange", "oniceconnectionstatechange", "ontrack"]) {
      old[h] = null;
    }
    old.close();
    this.makingOffer = false;
    this.ignoreOffer = false;
    this.remoteStream = null;
    this.remoteScreen = null;
    this._prevStats = null;
    this.channel = null;
    this._wirePc(new this.PC({ iceServers: this.iceServers }));
    if (this.localStream) this._ensureChannel();
    for (const t of this.localStream?.getTracks() ?? []) this.pc.addTrack(t, this.localStream);
    const screen = this.screenStream?.getVideoTracks()[0];
    this.screenSender = screen ? this.pc.addTrack(screen, this.screenStream) : null;
    this.emit("rebuilt", { pc: this.pc });
  }

  restartIce() {
    this.pc.restartIce(); // fires negotiationneeded with an ICE-restart offer
  }

  /**
   * A network-quality summary since the previous call.
   * @returns {Promise<{rtt: number|null, loss: number|null, framesDecoded: number, bitrateKbps: number|null,
   *                    grade: "good"|"fair"|"poor"|"unknown"}>}
   */
  async stats() {
    const report = await this.pc.getStats();
    let rtt = null;
    let lost = 0;
    let received = 0;
    let framesDecoded = 0;
    let bytes = 0;
    report.forEach((s) => {
      if (s.type === "candidate-pair" && s.state === "succeeded" && s.nominated && s.currentRoundTripTime != null) {
        rtt = s.currentRoundTripTime;
      } else if (s.type === "inbound-rtp") {
        lost += s.packetsLost ?? 0;
        received += s.packetsReceived ?? 0;
        bytes += s.bytesReceived ?? 0;
        if (s.kind === "video") framesDecoded += s.framesDecoded ?? 0;
      }
    });
    const now = Date.now();
    const prev = this._prevStats ?? { lost: 0, received: 0, bytes: 0, at: null };
    const dLost = lost - prev.lost;
    const dAll = dLost + (received - prev.received);
    const loss = dAll > 0 ? Math.max(0, dLost) / dAll : null;
    const bitrateKbps = prev.at ? Math.round(((bytes - prev.bytes) * 8) / (now - prev.at)) : null;
    this._prevStats = { lost, received, bytes, at: now };
    return { rtt, loss, framesDecoded, bitrateKbps, grade: gradeQuality({ rtt, loss }) };
  }

  /** Stop local tracks, close the connection and stop listening to the socket. */
  close() {
    for (const off of this._offs.splice(0)) off();
    for (const s of [this.sharedLocal ? null : this.localStream, this.screenStream]) {
      for (const t of s?.getTracks() ?? []) t.stop();
    }
    this.pc.close();
    this.emit("connectionstate", { state: "closed" });
  }
}
