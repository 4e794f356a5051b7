// node --test: HelpdeskSocket with a fake WebSocket (no browser), builders against examples.json.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import { backoffDelay, gradeQuality, HelpdeskSocket, messages } from "../../../signaling/helpdesk_signaling/static/rtc.js";

const examples = JSON.parse(
  readFileSync(new URL("../../../signaling/helpdesk_signaling/examples.json", import.meta.url), "utf8"),
);

class FakeWS {
  static all = [];
  constructor(url) {
    this.url = url;
    this.sent = [];
    this.readyState = 0;
    FakeWS.all.push(this);
  }
  open(welcome = { type: "welcome", member: "a:1", role: "applicant", heartbeat_s: 0.05 }) {
    this.readyState = 1;
    this.onopen?.();
    this.onmessage?.({ data: JSON.stringify(welcome) });
  }
  send(text) {
    this.sent.push(JSON.parse(text));
  }
  close(code = 1000, reason = "") {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

test("builders produce the examples", () => {
  const c = examples.client;
  assert.deepEqual(messages.ping(), c.ping);
  assert.deepEqual(messages.signal("r-7f3a", { description: c.signal.description }), c.signal);
  assert.deepEqual(messages.signal("r-7f3a", { candidate: c["signal.candidate"].candidate }), c["signal.candidate"]);
  assert.deepEqual(messages.signal("r-7f3a", { candidate: null }), c["signal.end-of-candidates"]);
  assert.deepEqual(messages.chat("r-7f3a", c.chat.text), c.chat);
  assert.deepEqual(messages.hangup("r-7f3a"), c.hangup);
  assert.deepEqual(messages.agentState("ready"), c["agent.state"]);
  assert.deepEqual(messages.offerAccept("t-19c2"), c["offer.accept"]);
  assert.deepEqual(messages.offerDecline("t-19c2"), c["offer.decline"]);
  assert.deepEqual(messages.queueLeave("t-19c2"), c["queue.leave"]);
  const insp = c["inspection.signal"];
  assert.deepEqual(messages.inspectionSignal("r-7f3a", "in-4c1d", { description: insp.description }), insp);
  const inspCand = c["inspection.signal.candidate"];
  assert.deepEqual(messages.inspectionSignal("r-7f3a", "in-4c1d", { candidate: inspCand.candidate }), inspCand);
  assert.deepEqual(messages.mediaState("r-7f3a", { audio: true, video: true, screen: false }), c["media.state"]);
  const to = c["signal.to"];
  assert.deepEqual(messages.signal("r-7f3a", { description: to.description }, "s:57"), to);
  assert.deepEqual(messages.annotate("r-7f3a", c.annotate.mark), c.annotate);
  assert.deepEqual(messages.annotate("r-7f3a", c["annotate.clear"].mark), c["annotate.clear"]);
  assert.deepEqual(
    messages.mediaState("r-7f3a", { audio: true, video: true, screen: true, screenStream: "3f0c1a7e-screen" }),
    c["media.state.screen"],
  );
});

test("backoff doubles, is capped at 10 s and jittered", () => {
  assert.equal(backoffDelay(0, { random: () => 1 }), 500);
  assert.equal(backoffDelay(3, { random: () => 1 }), 4000);
  assert.equal(backoffDelay(30, { random: () => 1 }), 10000);
  assert.equal(backoffDelay(30, { random: () => 0 }), 5000);
});

test("quality grades", () => {
  assert.equal(gradeQuality({ rtt: 0.05, loss: 0 }), "good");
  assert.equal(gradeQuality({ rtt: 0.3, loss: 0.01 }), "fair");
  assert.equal(gradeQuality({ rtt: 0.05, loss: 0.2 }), "poor");
  assert.equal(gradeQuality({ rtt: null, loss: null }), "unknown");
});

test("queues while down, pings, reconnects, stops when replaced", async () => {
  FakeWS.all = [];
  const s = new HelpdeskSocket({ url: "ws://x/ws", WebSocketImpl: FakeWS, baseMs: 10, capMs: 40, random: () => 1 });
  const seen = [];
  s.on("*", (m, type) => seen.push(type));
  s.connect();
  assert.equal(s.state, "connecting");
  assert.equal(s.send(messages.chat("r", "early")), false);
  FakeWS.all[0].open();
  assert.equal(s.state, "open");
  assert.deepEqual(FakeWS.all[0].sent, [messages.chat("r", "early")]);
  await sleep(70);
  assert.ok(FakeWS.all[0].sent.some((m) => m.type === "ping"), "heartbeat pings");
  FakeWS.all[0].close(1006, "network");
  assert.equal(s.state, "reconnecting");
  s.send(messages.hangup("r"));
  s.send(messages.ping()); // pings are not queued
  await sleep(30);
  assert.equal(FakeWS.all.length, 2);
  FakeWS.all[1].open({ type: "welcome", member: "a:1", role: "applicant", heartbeat_s: 5 });
  assert.deepEqual(FakeWS.all[1].sent, [messages.hangup("r")]);
  FakeWS.all[1].onmessage({ data: JSON.stringify({ type: "peer.resumed", room: "r" }) });
  assert.ok(seen.includes("peer.resumed"));
  FakeWS.all[1].close(4001, "replaced by a newer connection");
  assert.equal(s.state, "closed");
  await sleep(30);
  assert.equal(FakeWS.all.length, 2, "no reconnect after replacement");
  s.close();
});

test("a graceful shutdown (`reconnect`, close 1012) reconnects at once, not after the backoff", async () => {
  FakeWS.all = [];
  // A backoff of 5-10 s would be due after a 1006; the shutdown skips it.
  const s = new HelpdeskSocket({ url: "ws://x/ws", WebSocketImpl: FakeWS, baseMs: 5000, capMs: 10000, random: () => 1 });
  const seen = [];
  s.on("reconnect", (m) => seen.push(m.reason));
  s.connect();
  FakeWS.all[0].open();
  FakeWS.all[0].onmessage({ data: JSON.stringify(examples.server.reconnect) });
  FakeWS.all[0].close(1012, "service restart");
  assert.deepEqual(seen, ["shutdown"]);
  assert.equal(s.state, "reconnecting");
  await sleep(400); // jitter is at most 250 ms
  assert.equal(FakeWS.all.length, 2, "reconnected within the jitter");
  FakeWS.all[1].open();
  FakeWS.all[1].close(1012, "service restart"); // a bare 1012 (e.g. plain uvicorn) means the same
  await sleep(400);
  assert.equal(FakeWS.all.length, 3);
  s.close();
});
