// The helpdesk WebSocket: JSON messages, heartbeat, reconnect with backoff. No build step.
// Part of rtc.js (import from there); docs/signaling.md describes the protocol.

/** Minimal event emitter: `on(type, fn)` returns an unsubscribe function; "*" sees every event. */
export class Emitter {
  constructor() {
    /** @type {Map<string, Set<Function>>} */
    this._handlers = new Map();
  }

  /** @param {string} type @param {(data: any) => void} fn @returns {() => void} */
  on(type, fn) {
    if (!this._handlers.has(type)) this._handlers.set(type, new Set());
    this._handlers.get(type).add(fn);
    return () => this.off(type, fn);
  }

  /** @param {string} type @param {Function} fn */
  off(type, fn) {
    this._handlers.get(type)?.delete(fn);
  }

  /** @param {string} type @param {any} [data] */
  emit(type, data) {
    for (const key of [type, "*"]) {
      for (const fn of [...(this._handlers.get(key) ?? [])]) {
        try {
          fn(data, type);
        } catch (err) {
          console.error(`helpdesk: handler for ${type} failed`, err);
        }
      }
    }
  }
}

/**
 * Delay before reconnect attempt `attempt` (0-based): exponential, capped, with jitter in [50 %, 100 %].
 * @param {number} attempt
 * @param {{baseMs?: number, capMs?: number, random?: () => number}} [opts]
 * @returns {number} milliseconds
 */
export function backoffDelay(attempt, { baseMs = 500, capMs = 10000, random = Math.random } = {}) {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(attempt, 20));
  return Math.round(ceiling * (0.5 + 0.5 * random()));
}

/** Builders for every client → server message (checked against examples.json by the tests). */
export const messages = {
  ping: () => ({ type: "ping" }),
  /** @param {string} room @param {{description?: RTCSessionDescriptionInit, candidate?: RTCIceCandidateInit|null}} p */
  signal: (room, p, to = null) => {
    const msg = { type: "signal", room };
    if (to) msg.to = to; // a room of three or four: one connection per pair
    if (p.description) msg.description = { type: p.description.type, sdp: p.description.sdp ?? "" };
    else msg.candidate = p.candidate ?? null;
    return msg;
  },
  chat: (room, text) => ({ type: "chat", room, text }),
  hangup: (room) => ({ type: "hangup", room }),
  agentState: (state) => ({ type: "agent.state", state }),
  offerAccept: (ticket) => ({ type: "offer.accept", ticket }),
  offerDecline: (ticket) => ({ type: "offer.decline", ticket }),
  queueLeave: (ticket) => ({ type: "queue.leave", ticket }),
  /** The applicant's camera for a remote inspection (to the server's peer, never relayed). */
  inspectionSignal: (room, inspection, p) => {
    const msg = { type: "inspection.signal", room, inspection };
    if (p.description) msg.description = { type: p.description.type, sdp: p.description.sdp ?? "" };
    else msg.candidate = p.candidate ?? null;
    return msg;
  },
  /** @param {string} room @param {{audio: boolean, video: boolean, screen: boolean, screenStream?: string|null}} s */
  mediaState: (room, s, to = null) => {
    const msg = { type: "media.state", room, audio: !!s.audio, video: !!s.video, screen: !!s.screen };
    if (s.screen && s.screenStream) msg.screen_stream = s.screenStream;
    if (to) msg.to = to;
    return msg;
  },
  /** A mark on the shared view (annotate.js); without `to` it goes to every other member. */
  annotate: (room, mark, to = null) => {
    const msg = { type: "annotate", room, mark };
    if (to) msg.to = to;
    return msg;
  },
};

/** The same-origin /ws URL (wss on https pages). */
export function defaultUrl(path = "/ws") {
  const loc = globalThis.location;
  return `${loc.protocol === "https:" ? "wss" : "ws"}://${loc.host}${path}`;
}

const CLOSE_REPLACED = 4001;
const CLOSE_RESTART = 1012; // the process is shutting down gracefully (after a `reconnect` message)

/**
 * The one socket a page keeps open. Events: every server message by its `type` (e.g. "welcome",
 * "room.joined", "signal", "error"), "message" (any), "state" ({state}), "replaced", "close".
 * States: idle → connecting → open → reconnecting → … → closed.
 */
export class HelpdeskSocket extends Emitter {
  /**
   * @param {{url?: string, heartbeatS?: number, baseMs?: number, capMs?: number, maxQueue?: number,
   *          WebSocketImpl?: typeof WebSocket, random?: () => number}} [opts]
   */
  constructor(opts = {}) {
    super();
    this.url = opts.url ?? defaultUrl();
    this.heartbeatS = opts.heartbeatS ?? 15;
    this.baseMs = opts.baseMs ?? 500;
    this.capMs = opts.capMs ?? 10000;
    this.maxQueue = opts.maxQueue ?? 200;
    this.random = opts.random ?? Math.random;
    this.WebSocketImpl = opts.WebSocketImpl ?? globalThis.WebSocket;
    /** @type {"idle"|"connecting"|"open"|"reconnecting"|"closed"} */
    this.state = "idle";
    /** @type {any} the last welcome message (member, role, ticket?, room?) */
    this.welcome = null;
    this.attempt = 0;
    /** @type {object[]} messages waiting for the socket to be open */
    this.queue = [];
    this.ws = null;
    this._timers = { ping: null, retry: null, watchdog: null, connect: null };
    this._lastSeen = 0;
    this._restartNow = false;
  }

  /** Open the socket (idempotent); reconnects on its own until close(). */
  connect() {
    if (this.state === "connecting" || this.state === "open") return this;
    clearTimeout(this._timers.retry); // a manual connect() during the backoff wait replaces the retry
    this._setState(this.attempt ? "reconnecting" : "connecting");
    const ws = new this.WebSocketImpl(this.url);
    this.ws = ws;
    ws.onopen = () => {
      this._lastSeen = Date.now();
    };
    // No welcome within 10 s (a proxy that hangs): give up on this attempt and back off.
    this._timers.connect = setTimeout(() => this._abandon(ws, 4000, "connect timeout"), 10000);
    ws.onmessage = (ev) => this._onMessage(ev.data);
    ws.onclose = (ev) => this._onClose(ws, ev.code, ev.reason);
    ws.onerror = () => {}; // a close follows; reconnect is handled there
    return this;
  }

  /**
   * Send a message now, or queue it (not pings) while reconnecting.
   * @param {object} msg @returns {boolean} true when written to an open socket
   */
  send(msg) {
    if (this.state === "open" && this.ws?.readyState === 1) {
      this.ws.send(JSON.stringify(msg));
      return true;
    }
    if (msg.type !== "ping" && this.state !== "closed") {
      this.queue.push(msg);
      if (this.queue.length > this.maxQueue) this.queue.shift();
    }
    return false;
  }

  /** Close for good (no reconnect). */
  close(code = 1000, reason = "bye") {
    this._setState("closed");
    this._clearTimers();
    this.queue = [];
    const ws = this.ws;
    this.ws = null;
    ws?.close(code, reason);
  }

  _onMessage(data) {
    this._lastSeen = Date.now();
    let msg;
    try {
      msg = JSON.parse(data);
    } catch {
      return;
    }
    if (msg.type === "reconnect") this._restartNow = true; // the close (1012) follows: come back at once
    if (msg.type === "welcome") {
      this.welcome = msg;
      this.attempt = 0;
      this.heartbeatS = msg.heartbeat_s ?? this.heartbeatS;
      this._setState("open");
      this._startHeartbeat();
      const pending = this.queue.splice(0);
      for (const m of pending) this.send(m);
    }
    this.emit("message", msg);
    this.emit(msg.type, msg);
  }

  _abandon(ws, code, reason) {
    try {
      ws.close(code, reason);
    } catch {
      // already closing
    }
    this._onClose(ws, code, reason); // do not wait for a close handshake over a dead path
  }

  _onClose(ws, code, reason) {
    if (ws !== this.ws) return;
    this.ws = null;
    this._clearTimers();
    this.emit("close", { code, reason });
    if (this.state === "closed") return;
    if (code === CLOSE_REPLACED) {
      this._setState("closed"); // another tab or device took over: do not fight it
      this.emit("replaced", { reason });
      return;
    }
    // A graceful shutdown (`reconnect` / 1012): another process is up, reconnect now (a little jitter).
    const now = code === CLOSE_RESTART || this._restartNow;
    this._restartNow = false;
    const delay = now
      ? Math.round(250 * this.random())
      : backoffDelay(this.attempt++, { baseMs: this.baseMs, capMs: this.capMs, random: this.random });
    this._setState("reconnecting");
    this._timers.retry = setTimeout(() => {
      this.state = "idle";
      this.connect();
    }, delay);
  }

  _startHeartbeat() {
    this._clearTimers();
    const ms = this.heartbeatS * 1000;
    this._timers.ping = setInterval(() => this.send(messages.ping()), ms);
    // Nothing heard for 2.5 heartbeats (pongs included): the path is dead even if TCP has not noticed.
    this._timers.watchdog = setInterval(() => {
      if (this.ws && Date.now() - this._lastSeen > 2.5 * ms) this._abandon(this.ws, 4000, "no pong");
    }, ms / 2);
  }

  _clearTimers() {
    clearInterval(this._timers.ping);
    clearInterval(this._timers.watchdog);
    clearTimeout(this._timers.retry);
    clearTimeout(this._timers.connect);
  }

  _setState(state) {
    if (this.state === state) return;
    this.state = state;
    this.emit("state", { state });
  }
}
