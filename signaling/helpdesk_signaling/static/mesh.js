// The further legs of a call of three or four: one CallPeer per other member (a full mesh), each
// addressed with `to` and listening only to its member; they share this page's camera and microphone.
// docs/signaling.md ("Rooms of three or four", `room.member`). Import from /static/signaling/mesh.js.

import { CallPeer } from "./peer.js";
import { Emitter } from "./socket.js";

export const MAX_MEMBERS = 4;

/**
 * Events: "stream" ({member, name, role, stream}), "left" ({member, name}), "joined" ({member, name,
 * role}), "state" ({member, state}), "data" ({member, data}).
 */
export class Mesh extends Emitter {
  /**
   * @param {{socket, room: string, iceServers?: RTCIceServer[], localStream?: MediaStream|null,
   *          RTCPeerConnectionImpl?: typeof RTCPeerConnection, skip?: (member: string) => boolean}} opts
   *          `skip`: members handled elsewhere (the page's own CallPeer with its first peer)
   */
  constructor({ socket, room, iceServers = [], localStream = null, RTCPeerConnectionImpl, skip = () => false }) {
    super();
    Object.assign(this, { socket, room, iceServers, localStream, RTCPeerConnectionImpl, skip });
    /** @type {Map<string, {peer: CallPeer, name: string, role: string, offs: Function[]}>} */
    this.legs = new Map();
    this._offs = [
      socket.on("room.member", (m) => {
        if (m.room !== this.room) return;
        if (m.event === "joined") this.add(m);
        else this.remove(m.member, m.name);
      }),
    ];
  }

  /** Open the leg with `member` ({member, name, role, polite}); idempotent. */
  add({ member, name = "", role = "", polite = false }) {
    if (!member || this.legs.has(member) || this.skip(member)) return this.legs.get(member)?.peer ?? null;
    const peer = new CallPeer({ socket: this.socket, room: this.room, polite, iceServers: this.iceServers,
      RTCPeerConnectionImpl: this.RTCPeerConnectionImpl, peer: member, awaitOffer: true });
    const offs = [
      peer.on("remotestream", ({ stream }) => this.emit("stream", { member, name, role, stream })),
      peer.on("connectionstate", ({ state }) => this.emit("state", { member, state })),
      peer.on("data", (data) => this.emit("data", { member, data })),
    ];
    this.legs.set(member, { peer, name, role, offs });
    if (this.localStream) peer.addLocalStream(this.localStream);
    this.emit("joined", { member, name, role, peer });
    return peer;
  }

  /** Close the leg with `member` (they left). */
  remove(member, name = "") {
    const leg = this.legs.get(member);
    if (!leg) return;
    leg.offs.forEach((off) => off());
    leg.peer.close();
    this.legs.delete(member);
    this.emit("left", { member, name: name || leg.name });
  }

  /** This page's camera and microphone, for every leg (also the legs opened later). */
  setLocalStream(stream) {
    this.localStream = stream;
    for (const { peer } of this.legs.values()) if (!peer.localStream && stream) peer.addLocalStream(stream);
  }

  close() {
    this._offs.splice(0).forEach((off) => off());
    for (const member of [...this.legs.keys()]) this.remove(member);
  }
}
