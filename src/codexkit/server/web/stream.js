// /api/stream: every frame of the server, in order; reconnects with ?since=SEQ so that
// nothing is missed or doubled (the server replays what came after the last frame seen).

const PING_MS = 25000;
const MAX_BACKOFF_MS = 10000;

export class Stream {
  constructor({ onFrame, onState, onGap }) {
    this.onFrame = onFrame;
    this.onState = onState;
    this.onGap = onGap;
    this.seq = null;
    this.socket = null;
    this.backoff = 500;
    this.closed = false;
    this.pinger = null;
  }

  open() {
    if (this.closed) return;
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    // The page reads the typed frames only: the raw fallback of each app-server
    // message would double what the socket carries.
    const query = new URLSearchParams({ omit: "notification,server_request" });
    if (this.seq !== null) query.set("since", String(this.seq));
    const socket = new WebSocket(`${scheme}://${location.host}/api/stream?${query}`);
    this.socket = socket;
    this.onState("connecting");
    socket.onmessage = (event) => this.receive(JSON.parse(event.data));
    socket.onclose = () => {
      clearInterval(this.pinger);
      if (this.socket !== socket || this.closed) return;
      this.onState("offline");
      setTimeout(() => this.open(), this.backoff);
      this.backoff = Math.min(this.backoff * 2, MAX_BACKOFF_MS);
    };
    socket.onopen = () => {
      this.backoff = 500;
      this.pinger = setInterval(() => socket.send(JSON.stringify({ type: "ping" })), PING_MS);
    };
  }

  receive(frame) {
    if (frame.type === "ready") {
      // A server started afresh counts from 0 again: its frames would all look old.
      const restarted = this.seq !== null && frame.seq < this.seq;
      if (this.seq === null || restarted) this.seq = frame.seq;
      this.onState("live");
      if (restarted) this.onGap();
      return;
    }
    if (frame.type === "replay") {
      // The server no longer holds everything since our last frame: re-read.
      if (!frame.payload.complete) this.onGap();
      return;
    }
    if (frame.type === "pong" || frame.type === "error") return;
    if (typeof frame.seq === "number") {
      if (this.seq !== null && frame.seq <= this.seq) return;
      this.seq = frame.seq;
    }
    this.onFrame(frame);
  }

  close() {
    this.closed = true;
    if (this.socket) this.socket.close();
  }
}
