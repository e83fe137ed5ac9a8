// webclient/static/realtime.js as a page runs it, in Node: the script is evaluated with `window` a
// fresh object and its free names (WebSocket, location, setTimeout, Math, the storages) given here,
// so a test chooses the WebSocket (the `ws` package's), sees every wait the client asks for, and
// fixes the jitter. Nothing in the script is changed or stubbed.
import { readFileSync } from "node:fs";
import { WebSocket } from "ws";

const SOURCE = readFileSync(new URL("../../../webclient/static/realtime.js", import.meta.url), "utf8");

// The waits the client asks for (setTimeout's ms), run `scale` times as long, so that a test of
// ten-second backoffs takes a fraction of a second.
export class Clock {
  constructor(scale = 0.01) {
    this.asked = [];
    this.scale = scale;
    this.setTimeout = (fn, ms) => {
      this.asked.push(ms);
      return setTimeout(fn, Math.round((ms || 0) * this.scale));
    };
  }
}

// The `ws` package's WebSocket as a page's is: a failure is an event the close that follows explains
// (realtime.js listens to the close), never a thrown "unhandled error".
export class BrowserWebSocket extends WebSocket {
  constructor(url) {
    super(url);
    this.on("error", () => {});
  }
}

// A fresh `window` with realtime.js loaded in it: window.Realtime, window.collabToken, window.collabApi.
// `random`: Math.random as the client sees it; `WebSocketClass`: what `new WebSocket(url)` makes.
export function loadRealtime({ clock, random, WebSocketClass = BrowserWebSocket } = {}) {
  const window = {};
  const math = Object.create(Math);
  if (random) math.random = random;
  const store = () => { const m = new Map(); return { getItem: (k) => (m.has(k) ? m.get(k) : null), setItem: (k, v) => m.set(k, String(v)) }; };
  const run = new Function("window", "WebSocket", "location", "setTimeout", "Math", "localStorage", "sessionStorage", SOURCE);
  run(window, WebSocketClass, { protocol: "http:", host: "127.0.0.1" }, clock ? clock.setTimeout : setTimeout, math,
      store(), store());
  return window;
}
