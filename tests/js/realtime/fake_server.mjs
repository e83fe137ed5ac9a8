// A scripted /ws server for protocol cases: it speaks only the frames a test sends, exactly as
// docs/protocol.md writes them, and records every command it receives, per connection.
import { WebSocketServer } from "ws";

export class Connection {
  constructor(ws, req) {
    this.ws = ws;
    this.path = req.url;
    this.received = [];     // commands, in order
    this.read = 0;          // how many next() has handed out
    this.wake = null;
    this.closeCode = null;
    this.closed = new Promise((resolve) => ws.on("close", (code) => { this.closeCode = code; resolve(code); }));
    ws.on("message", (data) => {
      for (const line of data.toString().split("\n")) if (line) this.received.push(JSON.parse(line));
      if (this.wake) this.wake();
    });
  }

  // The next command the client sent (waiting for it).
  async next(ms = 3000) {
    const deadline = Date.now() + ms;
    while (this.read >= this.received.length) {
      if (Date.now() > deadline) throw new Error("no command came; received: " + JSON.stringify(this.received));
      await new Promise((resolve) => { this.wake = resolve; setTimeout(resolve, 20); });
    }
    return this.received[this.read++];
  }

  // One frame of these lines (JSON objects, joined by \n).
  send(...lines) { this.ws.send(lines.map((l) => JSON.stringify(l)).join("\n")); }
  close(code, reason) { this.ws.close(code, reason); return this.closed; }

  // Answer the `connect` that must come first.
  async accept(user = { id: 2, role: "teacher", name: "Teacher" }) {
    const c = await this.next();
    if (c.cmd !== "connect") throw new Error("the first command was not connect: " + JSON.stringify(c));
    this.send({ id: c.id, ok: { client: "4e41bed7", node: "node-a", user,
                                limits: { max_frame_bytes: 65536, max_channels: 64, command_rate: 20.0, command_burst: 60 } } });
    return c;
  }

  // Answer the next command, which must be `subscribe` to `channel`, with `ok` (and more lines in
  // the same frame); returns the command.
  async subscribed(channel, ok, ...after) {
    const c = await this.next();
    if (c.cmd !== "subscribe" || c.args.channel !== channel) throw new Error("expected subscribe " + channel + ": " + JSON.stringify(c));
    this.send({ id: c.id, ok: Object.assign({ channel }, ok) }, ...after);
    return c;
  }
}

export class FakeServer {
  static async start() {
    const s = new FakeServer();
    await new Promise((resolve) => s.wss.on("listening", resolve));
    return s;
  }

  constructor() {
    this.wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
    this.connections = [];
    this.onConnection = null;   // (connection) => void, e.g. close it at once
    this.wss.on("connection", (ws, req) => {
      const c = new Connection(ws, req);
      this.connections.push(c);
      if (this.onConnection) this.onConnection(c);
    });
  }

  get url() { return `ws://127.0.0.1:${this.wss.address().port}/ws`; }

  // The n-th connection (from 0), waiting for it.
  async connection(n, ms = 3000) {
    const deadline = Date.now() + ms;
    while (this.connections.length <= n) {
      if (Date.now() > deadline) throw new Error(`no connection #${n} (${this.connections.length} came)`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    return this.connections[n];
  }

  async stop() {
    for (const c of this.wss.clients) c.terminate();
    await new Promise((resolve) => this.wss.close(resolve));
  }
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Wait until `check()` is true (polling), or fail saying `what`.
export async function until(check, what, ms = 3000) {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("timed out waiting for " + what);
    await sleep(5);
  }
}
