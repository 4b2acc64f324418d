// One operator socket per tab: connect, reconnect with exponential backoff and jitter,
// heartbeat, and tell listeners when the link is up (so they resume) or down.
"use strict";

const BASE_DELAY_MS = 500;
const MAX_DELAY_MS = 15000;

export class LiveSocket {
  constructor(url) {
    this.url = url;
    this.ws = null;
    this.attempt = 0;
    this.handlers = new Map();
    this.timer = null;
    this.pingTimer = null;
    this.heartbeatMs = 25000;
    this.suspended = false;
    this.everOpened = false;
    this.onlineState = false;
    // The browser knows the network is gone before TCP does: drop the socket at once and
    // wait for "online" instead of burning reconnect attempts.
    window.addEventListener("online", () => { this.attempt = 0; this.connectSoon(0); });
    window.addEventListener("offline", () => this.drop());
  }

  /** Listen for a frame type, or "open" / "down" / "closed" (with the close code). */
  on(type, fn) {
    if (!this.handlers.has(type)) this.handlers.set(type, []);
    this.handlers.get(type).push(fn);
  }

  emit(type, value) {
    for (const fn of this.handlers.get(type) || []) {
      try { fn(value); } catch (err) { console.error("[Inviaro] handler for", type, "failed:", err); }
    }
  }

  get online() {
    return this.onlineState;
  }

  connect() {
    if (this.suspended) return;
    clearTimeout(this.timer);
    this.timer = null;
    if (navigator.onLine === false) {
      this.emit("retry", 0);
      return; // the "online" event reconnects
    }
    let ws;
    try {
      ws = new WebSocket(this.url, ["inviaro.json"]);
    } catch (err) {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    ws.addEventListener("message", (event) => {
      if (ws !== this.ws || typeof event.data !== "string") return;
      let frame;
      try { frame = JSON.parse(event.data); } catch (err) { return; }
      if (!frame || typeof frame.type !== "string") return;
      if (frame.type === "hello") {
        this.attempt = 0;
        this.onlineState = true;
        if (frame.heartbeat_s) this.heartbeatMs = Math.max(5000, frame.heartbeat_s * 1000);
        this.startPing();
        const again = this.everOpened;
        this.everOpened = true;
        this.emit("open", { reconnected: again });
        return;
      }
      this.emit(frame.type, frame);
    });
    ws.addEventListener("close", (event) => {
      if (ws !== this.ws) return;
      this.ws = null;
      this.onlineState = false;
      this.stopPing();
      this.emit("down", event.code);
      this.emit("closed", event.code);
      this.scheduleReconnect();
    });
  }

  scheduleReconnect() {
    if (this.suspended || this.timer) return;
    // Full jitter on an exponential ceiling: thousands of tabs never come back in lockstep.
    const ceiling = Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** this.attempt);
    const delay = Math.round(ceiling / 2 + Math.random() * ceiling / 2);
    this.attempt += 1;
    this.emit("retry", delay);
    this.timer = setTimeout(() => { this.timer = null; this.connect(); }, delay);
  }

  connectSoon(delay) {
    if (this.ws || this.suspended) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => { this.timer = null; this.connect(); }, delay);
  }

  startPing() {
    this.stopPing();
    this.pingTimer = setInterval(() => this.send({ type: "ping" }), this.heartbeatMs);
  }

  stopPing() {
    clearInterval(this.pingTimer);
    this.pingTimer = null;
  }

  /** Queue a frame; false when the socket is not open (the caller decides what then). */
  send(frame) {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN || !this.onlineState) return false;
    ws.send(JSON.stringify(frame));
    return true;
  }

  /** Test and debugging hook: drop the link and stay away until resume(). */
  suspend() {
    this.suspended = true;
    clearTimeout(this.timer);
    this.timer = null;
    if (this.ws) this.ws.close(4000, "suspended");
  }

  resume() {
    this.suspended = false;
    this.connectSoon(0);
  }

  /** Close the current socket as a network drop would; reconnection follows. */
  drop() {
    if (this.ws) this.ws.close(4001, "dropped");
  }
}

export function operatorSocketUrl() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/ws/operator`;
}
