// node --test: CallPeer.switchCamera with a fake RTCPeerConnection and fake devices (no browser).
import { test } from "node:test";
import assert from "node:assert/strict";
import { CallPeer, Emitter } from "../../../signaling/helpdesk_signaling/static/rtc.js";

class FakeTrack {
  constructor(kind, facing) { Object.assign(this, { kind, facing, enabled: true, stopped: false }); }
  stop() { this.stopped = true; }
  getSettings() { return { facingMode: this.facing }; }
}
class FakeStream {
  constructor(tracks) { this.tracks = [...tracks]; this.id = "s1"; }
  getTracks() { return this.tracks; }
  getVideoTracks() { return this.tracks.filter((t) => t.kind === "video"); }
  getAudioTracks() { return this.tracks.filter((t) => t.kind === "audio"); }
  addTrack(t) { this.tracks.push(t); }
  removeTrack(t) { this.tracks = this.tracks.filter((x) => x !== t); }
}
class FakePC {
  constructor() { this.senders = []; }
  addTrack(track) { const s = { track, replaceTrack: async (t) => { s.track = t; } }; this.senders.push(s); return s; }
  getSenders() { return this.senders; }
  close() {}
}
const socket = Object.assign(new Emitter(), { send() { return true; } });

/** Devices that hold one camera at a time when `exclusive`; every getUserMedia call is logged. */
function devices({ exclusive = false, rearFails = false } = {}) {
  const log = [];
  let open = null;
  return {
    log,
    async getUserMedia(c) {
      const facing = c.video?.facingMode ?? "user";
      log.push(facing);
      if (c.video && rearFails && facing === "environment") throw Object.assign(new Error("busy"), { name: "NotReadableError" });
      if (c.video && exclusive && open && !open.stopped) throw Object.assign(new Error("busy"), { name: "NotReadableError" });
      const v = c.video ? new FakeTrack("video", facing) : null;
      if (v) open = v;
      return new FakeStream([...(c.audio ? [new FakeTrack("audio")] : []), ...(v ? [v] : [])]);
    },
  };
}

async function peerWith(md) {
  const peer = new CallPeer({ socket, room: "r", polite: true, RTCPeerConnectionImpl: FakePC, mediaDevices: md });
  await peer.startLocalMedia();
  return peer;
}

test("switchCamera replaces the camera track and keeps it muted if it was", async () => {
  const md = devices();
  const peer = await peerWith(md);
  const front = peer.localStream.getVideoTracks()[0];
  peer.setVideoEnabled(false);
  const rear = await peer.switchCamera("environment", { width: { ideal: 1280 } });
  assert.equal(rear.facing, "environment");
  assert.equal(rear.enabled, false);
  assert.ok(front.stopped);
  assert.deepEqual(peer.localStream.getVideoTracks(), [rear]);
  assert.equal(peer.pc.getSenders().find((s) => s.track?.kind === "video").track, rear);
});

test("a phone with one camera at a time gets the old one released first", async () => {
  const md = devices({ exclusive: true });
  const peer = await peerWith(md);
  const rear = await peer.switchCamera("environment");
  assert.equal(rear.facing, "environment");
  assert.deepEqual(md.log.slice(1), ["environment", "environment"]);
});

test("if the new camera still fails, the old one comes back and the error is raised", async () => {
  const md = devices({ rearFails: true });
  const peer = await peerWith(md);
  await assert.rejects(peer.switchCamera("environment"), /busy/);
  const [video] = peer.localStream.getVideoTracks();
  assert.equal(video.facing, "user");
  assert.equal(video.stopped, false);
  assert.equal(peer.pc.getSenders().find((s) => s.track?.kind === "video").track, video);
});
