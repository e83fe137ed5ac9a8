// realtime.js, the reference client of /ws, against docs/protocol.md: a scripted server sends the
// documented frames and the tests check what the client does with them, as a page would notice it
// (what it delivers, what it asks on a reconnect, when it reconnects, what it tells the page).
// Run: node --test tests/js/realtime/ (tests/integration/test_realtime_js.py runs it from pytest).
import { test } from "node:test";
import assert from "node:assert/strict";
import { Clock, loadRealtime } from "./env.mjs";
import { FakeServer, sleep, until } from "./fake_server.mjs";

const ANN = "announce:all";
const ROOM = "activity:12";

function ev(ch, o, id, extra) { return { ch, o, e: Object.assign({ type: "announcement", id }, extra || {}) }; }

// A page holding one Realtime: the states it was told, the waits it asked for.
function open(server, { random = () => 0.5, scale, token = "T0K3N", renew } = {}) {
  const clock = new Clock(scale);
  const window = loadRealtime({ clock, random });
  const states = [];
  const rt = new window.Realtime({ url: server.url, token, renew, onState: (s, code) => states.push([s, code]) });
  const names = () => states.map((s) => s[0]);
  return { rt, states, names, clock, window };
}

// A channel as a page follows it: delivered event ids, resyncs, endings, counts.
function follow(rt, name, since) {
  const ch = { events: [], resyncs: [], ended: [], presence: [] };
  ch.reply = rt.subscribe(name, (e) => ch.events.push(e.id), (r) => ch.resyncs.push(r), since,
                          (r) => ch.ended.push(r), (p) => ch.presence.push(p));
  return ch;
}

// A page whose client is connected and signed in on the server's first connection.
async function signedIn(server, page) {
  const p = page();
  const c = await server.connection(0);
  await c.accept();
  await until(() => p.rt.ws.signedIn, "signed in");
  return { p, c };
}

// Each case gets its own server; the page's client is shut (no reconnect) and the server stopped after.
function scenario(name, fn) {
  test(name, { timeout: 15000 }, async () => {
    const server = await FakeServer.start();
    const pages = [];
    try {
      await fn(server, (opts) => { const p = open(server, opts); pages.push(p); return p; });
    } finally {
      for (const p of pages) { p.rt.closedByUser = true; p.rt.open = () => {}; p.rt.ws.close(); }   // no reconnect after the test
      await server.stop();
    }
  });
}

scenario("connects with its token in the first frame, never in the URL, and then says it is online", async (server, page) => {
  const p = page();
  const c = await server.connection(0);
  const first = await c.next();
  assert.deepEqual(first, { id: 1, cmd: "connect", args: { token: "T0K3N" } });
  assert.ok(!c.path.includes("T0K3N"), c.path);
  assert.deepEqual(p.names(), ["connecting"]);   // not online before the reply
  c.send({ id: first.id, ok: { client: "c", node: "n", user: { id: 2, role: "teacher", name: "T" }, limits: {} } });
  await until(() => p.names().includes("online"), "online");
  assert.deepEqual(p.names(), ["connecting", "online"]);
});

scenario("a reply finds its command by id, several in one frame, and an error reply rejects with its code", async (server, page) => {
  const { p: { rt }, c } = await signedIn(server, page);
  const ping = rt.command("ping");
  const post = rt.command("announce.post", { channel: ANN, body: "hello" });
  const a = await c.next(), b = await c.next();
  assert.equal(a.cmd, "ping");
  assert.deepEqual(a.args, {});
  assert.deepEqual(b.args, { channel: ANN, body: "hello" });
  assert.ok(Number.isInteger(a.id) && a.id > 0 && b.id > a.id, JSON.stringify([a, b]));
  // both replies in one frame, the second command's first
  c.send({ id: b.id, error: { code: "forbidden", message: "not allowed: announce.post" } }, { id: a.id, ok: { t: 1733450000000 } });
  assert.deepEqual(await ping, { t: 1733450000000 });
  await assert.rejects(post, { code: "forbidden" });
});

scenario("a command in flight fails with `disconnected` when the socket drops, and so does one sent while it is down", async (server, page) => {
  const p = page({ scale: 4 });   // slow waits: the socket stays down a while (a second)
  const c = await server.connection(0);
  await c.accept();
  await until(() => p.rt.ws.signedIn, "signed in");
  const inFlight = assert.rejects(p.rt.command("ping"), { code: "disconnected" });
  await c.next();
  await c.close(1011);
  await inFlight;
  await until(() => p.names().includes("reconnecting"), "reconnecting");
  await assert.rejects(p.rt.command("ping"), { code: "disconnected" });
  assert.equal(c.received.length, 2);   // connect, the ping in flight: nothing sent into the void
});

scenario("a channel asked for while connecting is subscribed once, after the connect reply", async (server, page) => {
  const { rt } = page();
  const ch = follow(rt, ANN);   // before the socket is even open
  const c = await server.connection(0);
  await c.accept();
  const sub = await c.subscribed(ANN, { epoch: "7170ee87", offset: 41 });
  assert.deepEqual(sub.args, { channel: ANN });   // no `since`: it stood nowhere yet
  await sleep(100);
  assert.equal(c.received.length, 2, JSON.stringify(c.received));   // connect, subscribe: not twice
  assert.equal(ch.reply, undefined);   // the page is not handed a promise it would see refused
});

scenario("the subscribe reply's position is taken before the pushes in the same frame", async (server, page) => {
  const { p: { rt }, c } = await signedIn(server, page);
  const ch = follow(rt, ANN);
  // the reply and the pushes it promises in one frame: 41 is where the client stands, so a 41 is had
  await c.subscribed(ANN, { epoch: "7170ee87", offset: 41 }, ev(ANN, 41, "announcement:41"), ev(ANN, 42, "announcement:42"));
  assert.deepEqual(await ch.reply, { channel: ANN, epoch: "7170ee87", offset: 41 });
  assert.deepEqual(ch.events, ["announcement:42"]);
  assert.deepEqual(ch.resyncs, []);
});

scenario("a push already had is dropped: an offset not above the position, or an event id seen with o: null during a bus outage", async (server, page) => {
  const { p: { rt }, c } = await signedIn(server, page);
  const ch = follow(rt, ANN);
  await c.subscribed(ANN, { epoch: "e1", offset: 10 });
  await ch.reply;
  c.send(ev(ANN, null, "announcement:1"));          // the bus was away: delivered locally, no offset
  c.send(ev(ANN, 11, "announcement:1"),             // the same event again, with its offset, once the bus is back
         ev(ANN, 11, "announcement:2"),             // not above where it stands now
         ev(ANN, 9, "announcement:3"),
         ev(ANN, 12, "announcement:4"));
  await until(() => ch.events.length >= 2, "two events");
  await sleep(50);
  assert.deepEqual(ch.events, ["announcement:1", "announcement:4"]);
});

scenario("after a drop it reconnects, subscribes from where it stood, and the missed events follow the reply in order", async (server, page) => {
  const { p, c } = await signedIn(server, page);
  const ch = follow(p.rt, ANN);
  await c.subscribed(ANN, { epoch: "e1", offset: 5 }, ev(ANN, 6, "announcement:6"));
  await until(() => ch.events.length === 1, "the first event");
  c.close(1011);
  const c2 = await server.connection(1);
  assert.deepEqual((await c2.accept()).args, { token: "T0K3N" });
  const sub = await c2.subscribed(ANN, { epoch: "e1", offset: 6, recovered: true },
                                  ev(ANN, 7, "announcement:7"), ev(ANN, 8, "announcement:8"));
  assert.deepEqual(sub.args, { channel: ANN, since: { epoch: "e1", offset: 6 } });
  c2.send(ev(ANN, 9, "announcement:9"));
  await until(() => ch.events.length === 4, "the missed and the live events");
  assert.deepEqual(ch.events, ["announcement:6", "announcement:7", "announcement:8", "announcement:9"]);
  assert.deepEqual(ch.resyncs, []);   // recovered: nothing to reload
  assert.deepEqual(p.states.map((s) => s.join(" ")), ["connecting ", "online ", "reconnecting 1011", "connecting ", "online "]);
});

scenario("recovered: false: the page is told to reload, with the channel's position, and the channel goes on from there", async (server, page) => {
  const { p: { rt }, c } = await signedIn(server, page);
  const ch = follow(rt, ANN);
  await c.subscribed(ANN, { epoch: "e1", offset: 5 });
  c.close(1011);
  const c2 = await server.connection(1);
  await c2.accept();
  const reply = { channel: ANN, epoch: "e2", offset: 50, recovered: false };
  await c2.subscribed(ANN, { epoch: "e2", offset: 50, recovered: false }, ev(ANN, 50, "announcement:50"), ev(ANN, 51, "announcement:51"));
  await until(() => ch.resyncs.length === 1 && ch.events.length === 1, "the resync and the next event");
  assert.deepEqual(ch.resyncs, [reply]);
  assert.deepEqual(ch.events, ["announcement:51"]);
  c2.close(1011);   // and the next reconnect asks from the new epoch
  const c3 = await server.connection(2);
  await c3.accept();
  assert.deepEqual((await c3.next()).args, { channel: ANN, since: { epoch: "e2", offset: 51 } });
});

scenario("a resync push: the page is told to reload and the channel goes on from the position it gives", async (server, page) => {
  const { p: { rt }, c } = await signedIn(server, page);
  const ch = follow(rt, ANN);
  await c.subscribed(ANN, { epoch: "e1", offset: 5 });
  c.send({ ch: ANN, resync: { epoch: "9f2c01aa", offset: 40 } }, ev(ANN, 40, "announcement:40"), ev(ANN, 41, "announcement:41"));
  await until(() => ch.events.length === 1, "the event after the resync");
  assert.deepEqual(ch.resyncs, [{ epoch: "9f2c01aa", offset: 40 }]);
  assert.deepEqual(ch.events, ["announcement:41"]);
  c.close(1011);
  const c2 = await server.connection(1);
  await c2.accept();
  assert.deepEqual((await c2.next()).args, { channel: ANN, since: { epoch: "9f2c01aa", offset: 41 } });
});

scenario("an unsubscribed push ends the channel for the page, and it is not subscribed again after a reconnect", async (server, page) => {
  const { p: { rt }, c } = await signedIn(server, page);
  const ann = follow(rt, ANN), room = follow(rt, ROOM);
  await c.subscribed(ANN, { epoch: "e1", offset: 1 });
  await c.subscribed(ROOM, { epoch: "e2", offset: 1 });
  c.send({ ch: ROOM, unsubscribed: { reason: "removed by a moderator" } }, ev(ROOM, 2, "chat:2"));
  await until(() => room.ended.length === 1, "the ending");
  assert.deepEqual(room.ended, [{ reason: "removed by a moderator" }]);
  c.close(1011);
  const c2 = await server.connection(1);
  await c2.accept();
  await c2.subscribed(ANN, { epoch: "e1", offset: 1, recovered: true });
  await sleep(100);
  assert.deepEqual(c2.received.map((m) => m.cmd), ["connect", "subscribe"]);
  assert.deepEqual(room.events, []);
  assert.deepEqual(ann.ended, []);
});

scenario("a presence push is the room's count for the page, not an event", async (server, page) => {
  const { p: { rt }, c } = await signedIn(server, page);
  const room = follow(rt, ROOM);
  await c.subscribed(ROOM, { epoch: "e1", offset: 3 });
  c.send({ ch: ROOM, presence: { clients: 1203, users: 1187 } }, ev(ROOM, 4, "chat:4"));
  await until(() => room.events.length === 1, "the event");
  assert.deepEqual(room.presence, [{ clients: 1203, users: 1187 }]);
  assert.deepEqual(room.events, ["chat:4"]);
});

scenario("a resubscription refused for good (forbidden, not_found, unauthenticated) ends that channel", async (server, page) => {
  const { p: { rt }, c } = await signedIn(server, page);
  const chans = ["activity:1", "activity:2", "activity:3", ANN].map((n) => follow(rt, n));
  for (const n of ["activity:1", "activity:2", "activity:3", ANN]) await c.subscribed(n, { epoch: "e", offset: 1 });
  c.close(1011);
  const c2 = await server.connection(1);
  await c2.accept();
  for (const code of ["forbidden", "not_found", "unauthenticated"]) {
    const sub = await c2.next();
    c2.send({ id: sub.id, error: { code, message: "no longer" } });
  }
  await c2.subscribed(ANN, { epoch: "e", offset: 1, recovered: true });
  await until(() => chans.slice(0, 3).every((ch) => ch.ended.length === 1), "the three endings");
  assert.deepEqual(chans.map((ch) => ch.ended), [[{ reason: "forbidden" }], [{ reason: "not_found" }], [{ reason: "unauthenticated" }], []]);
  // ended: not asked again on the next reconnect
  c2.close(1011);
  const c3 = await server.connection(2);
  await c3.accept();
  await c3.subscribed(ANN, { epoch: "e", offset: 1, recovered: true });
  await sleep(100);
  assert.equal(c3.received.length, 2, JSON.stringify(c3.received));
});

scenario("a resubscription refused for now (bus_unavailable) is asked again on the same socket 2 s later", async (server, page) => {
  const { p, c } = await signedIn(server, page);
  const ch = follow(p.rt, ANN);
  await c.subscribed(ANN, { epoch: "e", offset: 1 });
  c.close(1011);
  const c2 = await server.connection(1);
  await c2.accept();
  const refused = await c2.next();
  c2.send({ id: refused.id, error: { code: "bus_unavailable", message: "the bus is unreachable" } });
  const again = await c2.subscribed(ANN, { epoch: "e", offset: 1, recovered: true }, ev(ANN, 2, "announcement:2"));
  assert.deepEqual(again.args, { channel: ANN, since: { epoch: "e", offset: 1 } });
  assert.equal(p.clock.asked[p.clock.asked.length - 1], 2000);
  await until(() => ch.events.length === 1, "the event");
  assert.deepEqual(ch.ended, []);
  assert.equal(server.connections.length, 2);   // on the same socket, no reconnect
});

scenario("reconnect waits double from 250 ms to at most 10 s, and start at 250 ms again after a connection that worked", async (server, page) => {
  let drops = 8;
  server.onConnection = (c) => { if (drops-- > 0) c.close(1011); };
  const p = page();
  const c = await server.connection(8, 5000);
  await c.accept();
  await until(() => p.names().includes("online"), "online");
  assert.deepEqual(p.clock.asked, [250, 500, 1000, 2000, 4000, 8000, 10000, 10000]);
  c.close(1011);
  await server.connection(9);
  assert.equal(p.clock.asked[8], 250);
});

scenario("the wait is jittered between half and one and a half times the backoff", async (server, page) => {
  server.onConnection = (c) => c.close(1011);
  const low = page({ random: () => 0 });
  await until(() => low.clock.asked.length >= 2, "two waits");
  const high = page({ random: () => 0.999 });
  await until(() => high.clock.asked.length >= 1, "a wait");
  assert.deepEqual(low.clock.asked.slice(0, 2), [125, 250]);
  assert.ok(Math.abs(high.clock.asked[0] - 374.75) < 1e-9, String(high.clock.asked));
});

scenario("4012 (the node shuts down): it reconnects at once and recovers", async (server, page) => {
  const { p, c } = await signedIn(server, page);
  follow(p.rt, ANN);
  await c.subscribed(ANN, { epoch: "e", offset: 3 });
  c.close(4012);
  const c2 = await server.connection(1);
  await c2.accept();
  assert.deepEqual((await c2.next()).args, { channel: ANN, since: { epoch: "e", offset: 3 } });
  assert.deepEqual(p.clock.asked, [50]);
  assert.deepEqual(p.states[2], ["reconnecting", 4012]);
});

scenario("4008 (slow consumer), 4029 (flood) and 1000 (a proxy in between): it reconnects after a backoff", async (server, page) => {
  for (const [n, code] of [[0, 4008], [2, 4029], [4, 1000]]) {
    const p = page();
    const c = await server.connection(n);
    await c.accept();
    await until(() => p.rt.ws.signedIn, "signed in");
    c.close(code);
    await server.connection(n + 1);
    assert.deepEqual(p.clock.asked, [250]);
    assert.deepEqual(p.states[2], ["reconnecting", code]);
  }
});

scenario("4001, 4002 and 4009: it stays offline and does not reconnect", async (server, page) => {
  for (const [n, code] of [[0, 4001], [1, 4002], [2, 4009]]) {
    const p = page();
    const c = await server.connection(n);
    await c.accept();
    await until(() => p.rt.ws.signedIn, "signed in");
    c.close(code);
    await until(() => p.names().includes("offline"), "offline");
    await sleep(150);   // ten times any backoff at this clock's scale
    assert.deepEqual(p.states[p.states.length - 1], ["offline", code]);
    assert.equal(server.connections.length, n + 1, `reconnected after ${code}`);
    assert.deepEqual(p.clock.asked, []);
  }
});

scenario("a refused connect (its token error, then 4001): the page hears why, then offline, and no retry", async (server, page) => {
  const p = page();
  const c = await server.connection(0);
  const connect = await c.next();
  c.send({ id: connect.id, error: { code: "token_expired", message: "the token has expired" } });
  c.close(4001);
  await until(() => p.names().includes("offline"), "offline");
  await sleep(150);
  assert.deepEqual(p.states, [["connecting", undefined], ["unauthorized", { code: "token_expired", message: "the token has expired" }],
                              ["offline", 4001]]);
  assert.equal(server.connections.length, 1);
});

scenario("no connect in time (the unauthenticated line, then 4001): offline, no retry", async (server, page) => {
  const p = page();
  const c = await server.connection(0);
  await c.next();
  c.send({ id: null, error: { code: "unauthenticated", message: "no connect within the time allowed" } });
  c.close(4001);
  await until(() => p.names().includes("offline"), "offline");
  await sleep(150);
  assert.deepEqual(p.states[p.states.length - 1], ["offline", 4001]);
  assert.equal(server.connections.length, 1);
});

scenario("a drop before the connect reply is a reconnect, not a refused sign-in", async (server, page) => {
  server.onConnection = (c) => { if (server.connections.length === 1) c.next().then(() => c.close(1011)); };
  const p = page();
  const c = await server.connection(1);
  await sleep(30);   // the backoff
  assert.ok(!p.names().includes("unauthorized"), JSON.stringify(p.states));
  await c.accept();
  await until(() => p.names().includes("online"), "online");
  assert.deepEqual(p.names(), ["connecting", "reconnecting", "connecting", "online"]);
});

scenario("refresh_in: it renews the token and sends refresh on the same socket when told, then again as the reply says", async (server, page) => {
  const tokens = ["N3W-1", "N3W-2"];
  const p = page({ renew: () => Promise.resolve(tokens.shift()) });
  const c = await server.connection(0);
  const connect = await c.next();
  c.send({ id: connect.id, ok: { client: "c", node: "n", user: { id: 2, role: "teacher", name: "T" }, limits: {},
                                 expires_in: 4, refresh_in: 3 } });
  follow(p.rt, ANN);
  await c.subscribed(ANN, { epoch: "e", offset: 1 });
  const refresh = await c.next();
  assert.deepEqual([refresh.cmd, refresh.args], ["refresh", { token: "N3W-1" }]);
  c.send({ id: refresh.id, ok: { expires_in: 40, refresh_in: 30 } });
  const again = await c.next();
  assert.deepEqual([again.cmd, again.args], ["refresh", { token: "N3W-2" }]);
  assert.deepEqual(p.clock.asked, [3000, 30000]);   // when the server said, in ms
  assert.equal(server.connections.length, 1);   // no reconnect, no subscribe again
  assert.deepEqual(p.names(), ["connecting", "online"]);
});

scenario("a refused renewal (the sign-in ended) sends no refresh: the server's close says what follows", async (server, page) => {
  const p = page({ renew: () => Promise.reject({ code: "token_revoked" }) });
  const c = await server.connection(0);
  const connect = await c.next();
  c.send({ id: connect.id, ok: { client: "c", node: "n", user: { id: 2, role: "teacher", name: "T" }, limits: {},
                                 expires_in: 2, refresh_in: 1 } });
  await sleep(100);
  assert.deepEqual(p.clock.asked, [1000]);   // one try, not again
  c.send({ id: null, error: { code: "token_revoked", message: "signed out" } });
  c.close(4006);
  await until(() => p.names().includes("offline"), "offline");
  await sleep(150);
  assert.deepEqual(p.states.slice(2), [["unauthorized", { code: "token_revoked" }], ["offline", 4006]]);
  assert.equal(server.connections.length, 1);
});

scenario("4005 (token expired): the page is told to sign in again, unless a newer token is at hand: then it reconnects with it", async (server, page) => {
  const p = page();
  let c = await server.connection(0);
  await c.accept();
  await until(() => p.rt.ws.signedIn, "signed in");
  c.close(4005);
  await until(() => p.names().includes("offline"), "offline");
  await sleep(150);
  assert.deepEqual(p.states.slice(2), [["unauthorized", { code: "token_expired" }], ["offline", 4005]]);
  assert.equal(server.connections.length, 1);
  // another tab renewed the token: this page's token function gives the new one
  let current = "OLD";
  const q = page({ token: () => current });
  c = await server.connection(1);
  assert.deepEqual((await c.accept()).args, { token: "OLD" });
  await until(() => q.rt.ws.signedIn, "signed in");
  current = "NEWER";
  c.close(4005);
  const c2 = await server.connection(2);
  assert.deepEqual((await c2.accept()).args, { token: "NEWER" });
  assert.deepEqual(q.states[2], ["reconnecting", 4005]);
});
