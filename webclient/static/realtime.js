// The /ws client: one socket, channels multiplexed, reconnect with backoff, recovery from the last
// offset, and a clear callback when the server says a channel must be reloaded (resync).
// Protocol: docs/protocol.md.
(function (global) {
  "use strict";
  function Realtime(opts) {
    this.url = opts.url || ((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws");
    // `token`: a string, or a function giving the newest one (a page renews it; other tabs may too).
    // `renew()`: a promise of a new token for the same sign-in (POST /api/token/refresh), sent as
    // `refresh` when the server's `refresh_in` comes, so the socket outlives its first token.
    this.token = opts.token;
    this.renew = opts.renew || null;
    this.refreshTimer = null;
    this.onState = opts.onState || function () {};
    this.channels = {};   // name -> {onEvent, onResync, epoch, offset, seen: Set of event ids}
    this.pending = {};    // command id -> {resolve, reject}
    this.nextId = 1;
    this.backoff = 250;
    this.closedByUser = false;
    this.open();
  }
  Realtime.prototype.open = function () {
    var self = this;
    var ws = this.ws = new WebSocket(this.url);
    this.onState("connecting");
    ws.onopen = function () {
      ws.token = self._token();
      self.command("connect", { token: ws.token }).then(function (r) {
        ws.signedIn = true;
        self._refreshIn(ws, r && r.refresh_in);
        self.backoff = 250;
        self.onState("online");
        Object.keys(self.channels).forEach(function (name) { self._resubscribe(name, ws); });
      }, function (err) {
        // a drop before the reply is no refusal: the close that caused it says what comes next
        if (err && err.code === "disconnected") return;
        self.onState("unauthorized", err);
      });
    };
    ws.onmessage = function (msg) { msg.data.split("\n").forEach(function (line) { if (line) self._line(JSON.parse(line)); }); };
    ws.onclose = function (ev) {
      Object.keys(self.pending).forEach(function (id) { self.pending[id].reject({ code: "disconnected" }); });
      self.pending = {};
      clearTimeout(self.refreshTimer);
      if (ev.code === 4005 && !self.closedByUser && self._token() && self._token() !== ws.token) {
        // expired, but a newer token is here (renewed by another tab): connect again with it at once
        self.onState("reconnecting", ev.code);
        setTimeout(function () { self.open(); }, 50);
        return;
      }
      if (ev.code === 4005 || ev.code === 4006) {   // the sign-in expired or was ended: the page signs in again
        if (!self.closedByUser) self.onState("unauthorized", { code: ev.code === 4005 ? "token_expired" : "token_revoked" });
        self.onState("offline", ev.code);
        return;
      }
      if (self.closedByUser || ev.code === 4001 || ev.code === 4009 || ev.code === 4002) { self.onState("offline", ev.code); return; }
      self.onState("reconnecting", ev.code);
      var delay = ev.code === 4012 ? 50 : self.backoff * (0.5 + Math.random());
      self.backoff = Math.min(self.backoff * 2, 10000);
      setTimeout(function () { self.open(); }, delay);
    };
  };
  Realtime.prototype._token = function () { return typeof this.token === "function" ? this.token() : this.token; };
  // When the server says (`refresh_in` seconds), renew the token and send `refresh` with it; the
  // reply says when next. A renewal that fails for a moment (offline) is tried again shortly; one the
  // server refuses (the sign-in ended) is left: the server's close (4005 or 4006) says what follows.
  Realtime.prototype._refreshIn = function (ws, seconds) {
    var self = this;
    clearTimeout(this.refreshTimer);
    if (!this.renew || typeof seconds !== "number") return;
    this.refreshTimer = setTimeout(function () {
      if (self.ws !== ws || ws.readyState !== 1) return;
      self.renew().then(function (token) {
        return self.command("refresh", { token: token }).then(function (r) { ws.token = token; self._refreshIn(ws, r.refresh_in); });
      }).catch(function (err) {
        if (self.ws === ws && !(err && /^token_/.test(err.code || ""))) self._refreshIn(ws, 5);
      });
    }, Math.max(seconds, 0) * 1000);
  };
  // `onOk(result)`, if given, runs as the reply line is read, before the lines after it in the frame
  // (a promise's callbacks run only after the whole frame).
  Realtime.prototype.command = function (cmd, args, onOk) {
    var self = this, id = this.nextId++;
    return new Promise(function (resolve, reject) {
      // a command sent while the socket is down would vanish: say so at once, the caller may retry
      if (self.ws.readyState !== 1) { reject({ code: "disconnected", message: "not connected" }); return; }
      self.pending[id] = { resolve: resolve, reject: reject, onOk: onOk };
      self.ws.send(JSON.stringify({ id: id, cmd: cmd, args: args || {} }));
    });
  };
  // `since` {epoch, offset}: where a snapshot of the channel's state was taken; events after it are
  // replayed before live ones (docs/protocol.md, "Joining late or reconnecting").
  // `onEnded(reason)`: the server ended the subscription (an `unsubscribed` push, e.g. removed by a
  // moderator); it is not renewed on reconnect.
  // `onPresence({clients, users})`: the channel's count, pushed when it changes (activity rooms).
  Realtime.prototype.subscribe = function (name, onEvent, onResync, since, onEnded, onPresence) {
    this.channels[name] = { onEvent: onEvent, onResync: onResync || function () {}, seen: new Set(),
                            onEnded: onEnded || function () {}, onPresence: onPresence || function () {},
                            epoch: since ? since.epoch : null, offset: since ? since.offset : null };
    // A socket still waiting for its connect reply subscribes every channel when that reply comes:
    // asking now as well would subscribe twice (refused: already_subscribed).
    if (this.ws.signedIn) return this._subscribe(name);
  };
  // Leave a channel: its pushes stop being handled at once and it is not renewed on reconnect; the
  // server is told (best effort: a socket that is away has no subscriptions to end).
  Realtime.prototype.unsubscribe = function (name) {
    delete this.channels[name];
    if (this.ws.signedIn) this.command("unsubscribe", { channel: name }).catch(function () {});
  };
  Realtime.prototype._subscribe = function (name) {
    var ch = this.channels[name], args = { channel: name };
    if (ch.epoch !== null) args.since = { epoch: ch.epoch, offset: ch.offset };
    // The reply says where we stand (recovered: our own offset; otherwise the channel's position,
    // after a reload of its state); the replay and live pushes follow it, above that offset.
    return this.command("subscribe", args, function (r) { ch.epoch = r.epoch; ch.offset = r.offset; })
      .then(function (r) {
        if (args.since !== undefined && !r.recovered) ch.onResync(r);
        return r;
      });
  };
  // After a reconnect. Refused for good (access lost meanwhile: removed, no longer registered): the
  // channel ends as an `unsubscribed` push would end it. Refused for now (the bus away, busy): try
  // again shortly on the same socket; a drop is retried by the next reconnect anyway.
  Realtime.prototype._resubscribe = function (name, ws) {
    var self = this;
    this._subscribe(name).catch(function (err) {
      var ch = self.channels[name];
      if (!ch || self.ws !== ws || (err && err.code === "disconnected")) return;
      if (err && (err.code === "forbidden" || err.code === "not_found" || err.code === "unauthenticated")) {
        delete self.channels[name];
        ch.onEnded({ reason: err.code });
        return;
      }
      setTimeout(function () { if (self.ws === ws && self.channels[name]) self._resubscribe(name, ws); }, 2000);
    });
  };
  Realtime.prototype._line = function (m) {
    if (m.id !== undefined && m.id !== null && this.pending[m.id]) {
      var p = this.pending[m.id]; delete this.pending[m.id];
      if (m.error) p.reject(m.error); else { if (p.onOk) p.onOk(m.ok); p.resolve(m.ok); }
      return;
    }
    var ch = m.ch && this.channels[m.ch];
    if (!ch) return;
    if (m.unsubscribed) { delete this.channels[m.ch]; ch.onEnded(m.unsubscribed); return; }
    if (m.presence) { ch.onPresence(m.presence); return; }
    if (m.resync) { ch.epoch = m.resync.epoch; ch.offset = m.resync.offset; ch.onResync(m.resync); return; }
    if (m.o !== null && m.o !== undefined) {
      if (ch.offset !== null && m.o <= ch.offset) return;   // already seen
      ch.offset = m.o;
    }
    var id = m.e && m.e.id;
    if (id) { if (ch.seen.has(id)) return; ch.seen.add(id); if (ch.seen.size > 5000) ch.seen.clear(); }
    ch.onEvent(m.e, m);
  };
  global.Realtime = Realtime;

  // The signed-in user's token: localStorage (every tab), or sessionStorage, where pages before this
  // version kept it (a tab signed in then stays signed in).
  global.collabToken = function () {
    return localStorage.getItem("collab_token") || sessionStorage.getItem("collab_token");
  };

  // The JSON API with that token, answering with the body, or throwing the API's `error` object
  // ({code, message}).
  global.collabApi = function (path, opts) {
    opts = opts || {};
    opts.headers = Object.assign({ "Content-Type": "application/json" }, opts.headers || {});
    var token = global.collabToken();
    if (token) opts.headers.Authorization = "Bearer " + token;
    return fetch(path, opts).then(function (r) {
      return r.json().then(function (b) { if (!r.ok) throw b.error; return b; },
        function () { if (!r.ok) throw { code: "http_" + r.status, message: r.statusText }; return null; });
    }, function () { throw { code: "disconnected", message: "network error" }; });
  };
})(window);
