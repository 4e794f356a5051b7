// helpdesk browser client: one module for the applicant page and the agent console.
// Served at /static/signaling/rtc.js next to socket.js and peer.js; plain ES modules, no build step.
//
//   import { HelpdeskSocket, CallPeer } from "/static/signaling/rtc.js";
//   const socket = new HelpdeskSocket().connect();
//   socket.on("room.joined", async (r) => {
//     const call = new CallPeer({ socket, room: r.room, polite: r.polite, iceServers: r.ice_servers });
//     call.on("remotestream", ({ stream }) => { video.srcObject = stream; });
//     await call.startLocalMedia();
//   });

export { Emitter, HelpdeskSocket, backoffDelay, defaultUrl, messages } from "./socket.js";
export { CallPeer, gradeQuality } from "./peer.js";
