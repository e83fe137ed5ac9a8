// realtime.js as one page's client against a real server, driven by tests/integration/test_realtime_js.py:
//   node peer.mjs <ws url> <token>
// It reads JSON lines on stdin ({"do": "subscribe", "channel", "since"?} | {"do": "command", "tag",
// "cmd", "args"} | {"do": "exit"}) and writes a JSON line for everything the page would hear:
// {"state", "code"}, {"event", "ch", "o"}, {"resync", "ch"}, {"ended", "ch"}, {"presence", "ch"},
// {"subscribed" | "refused", "ch"}, {"reply": tag, "ok" | "error"}, and {"sent": frame} for every
// frame the client sends.
import { createInterface } from "node:readline";
import { BrowserWebSocket, loadRealtime } from "./env.mjs";

const [url, token] = process.argv.slice(2);
const out = (o) => process.stdout.write(JSON.stringify(o) + "\n");

class Recording extends BrowserWebSocket {
  send(data) { out({ sent: data }); super.send(data); }
}

const window = loadRealtime({ WebSocketClass: Recording });
const rt = new window.Realtime({ url, token, onState: (state, code) => out({ state, code: code === undefined ? null : code }) });

createInterface({ input: process.stdin }).on("line", (line) => {
  const m = JSON.parse(line);
  if (m.do === "subscribe") {
    const ch = m.channel;
    const reply = rt.subscribe(ch, (e, push) => out({ event: e, ch, o: push.o }), (r) => out({ resync: r, ch }), m.since,
                               (r) => out({ ended: r, ch }), (p) => out({ presence: p, ch }));
    if (reply) reply.then((ok) => out({ subscribed: ok, ch }), (error) => out({ refused: error, ch }));
  } else if (m.do === "command") {
    rt.command(m.cmd, m.args).then((ok) => out({ reply: m.tag, ok }), (error) => out({ reply: m.tag, error }));
  } else if (m.do === "exit") {
    rt.closedByUser = true;
    rt.ws.close();
    setTimeout(() => process.exit(0), 50);
  }
});
