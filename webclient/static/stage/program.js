// The program in the room (docs/stage.md, "The program"): whoever does not stand on the stage watches
// one composed picture over Low-Latency HLS instead of a WebRTC tile per speaker. `program.watch` says
// which tier this viewer is on and hands out the program's address before the program is on; the
// stage asks it when the room opens, after a reconnect and when the player is refused (an expired
// key). A `program` push only says on or off: with an address in hand, nobody asks again. The
// picture plays with hls.js (loaded only for this tier), or natively where the browser plays HLS
// itself (Safari). Controls: sound (it starts muted, as browsers allow autoplay only so), quality,
// fullscreen; a line in the stage's head says the tier and, for the program, how far behind live it
// is, or that it starts shortly. Text is set as text only.
const { T, el, button } = window.Collab;

const HLS_TYPE = "application/vnd.apple.mpegurl";
const MAX_WAIT_MS = 15000;     // the longest pause between two attempts to play again
const TICK_MS = 1000;          // how often the latency line is refreshed
const STALL_MS = 2000;         // a picture stalled this long says so

const MAX_BEHIND_S = 10;       // further behind live than this (a long stall): jump to the live point

// hls.js's settings for a live program with 0.5 s parts. No liveSyncDuration (nor its -Count forms,
// nor liveMaxLatencyDuration, which hls.js accepts only with one): any of them replaces the playlist's
// PART-HOLD-BACK as the target distance from live, and the server derives that from its part length.
// hls.js adds to the target by itself after each stall (liveSyncOnStallIncrease, at most a segment);
// `tick` jumps forward when a long stall left the picture far behind (MAX_BEHIND_S).
const HLS_CONFIG = {
  lowLatencyMode: true,
  maxLiveSyncPlaybackRate: 1.1,    // catch up to the target by playing at most 10% faster
  liveDurationInfinity: true,      // a live program has no end to show
  backBufferLength: 10,            // nobody seeks back in the live picture: keep memory small
  maxBufferLength: 10
};

// What the viewer waits for: [over the picture, in the tier line after "Live program (HLS), "].
const WAITS = {
  starting: [T("直播画面即将开始…", "The live program starts shortly…"), T("即将开始", "starting shortly")],
  paused: [T("直播画面暂停，稍后继续…", "The live program paused; it will be back…"), T("暂停中", "paused")],
  loading: [T("正在载入直播画面…", "Loading the live program…"), T("正在载入…", "loading…")],
  reconnecting: [T("正在重新连接…", "Reconnecting…"), T("正在重新连接…", "reconnecting…")]
};

let hlsLoading = null;   // the import of hls.js, once

// The stage's program player. `host`: what it asks of the stage: `signaling`, and `changed()`, called
// when what the stage should show changed (the program or the WebRTC tiles).
export class ProgramPlayer {
  constructor(root, head, before, host) {
    this.host = host;
    this.answer = null;     // the last program.watch answer
    this.held = false;      // this person is on stage (or going up): real time, whatever the answer
    this.open = false;      // the stage is open (lobby or live)
    this.asked = 0;         // the latest question; an older answer changes nothing
    this.url = null;        // what the player plays
    this.hls = null;
    this.gen = 0;           // the player's attempt; an older one's events change nothing
    this.failures = 0;
    this.retryTimer = null;
    this.mediaRecovered = 0;
    this.broken = false;    // the player failed and waits to start again
    this.unsupported = false;  // neither hls.js nor the browser can play HLS here
    this.played = false;    // the current attempt showed a picture (a stall after that is a stall)
    this.stalledSince = 0;
    this.wait = "";         // "" or a key of WAITS: said over the picture and in the tier line
    this.wasOn = false;     // the program was on once: its "off" is a pause, not the start to come

    this.tierEl = head.appendChild(el("span", "", "muted stage-tier"));
    this.tierEl.hidden = true;
    const box = this.el = root.insertBefore(el("div", null, "program"), before);
    box.setAttribute("role", "group");
    box.setAttribute("aria-label", T("直播画面", "Live program"));
    box.hidden = true;
    const video = this.video = box.appendChild(el("video"));
    video.muted = true; video.autoplay = true; video.playsInline = true;
    video.setAttribute("playsinline", "");
    this.soundHint = box.appendChild(button(T("点击开启声音", "Tap for sound"), "program-sound-hint", () => this.setMuted(false)));
    this.waitEl = box.appendChild(el("p", "", "program-wait"));
    this.waitEl.setAttribute("role", "status");
    this.waitEl.hidden = true;
    const bar = box.appendChild(el("div", null, "program-bar"));
    const pick = bar.appendChild(el("label", null, "program-quality"));
    pick.appendChild(el("span", T("清晰度", "Quality")));
    this.quality = pick.appendChild(el("select"));
    this.quality.onchange = () => this.chooseLevel(Number(this.quality.value));
    this.qualityBox = pick;
    pick.hidden = true;
    this.sound = bar.appendChild(button(T("打开声音", "Unmute"), "program-mute", () => this.setMuted(!video.muted)));
    this.sound.setAttribute("aria-pressed", "false");
    this.full = bar.appendChild(button(T("全屏", "Fullscreen"), "program-full", () => this.toggleFullscreen()));
    this.full.hidden = !document.fullscreenEnabled;
    box.addEventListener("fullscreenchange", () => {
      this.full.textContent = document.fullscreenElement === box ? T("退出全屏", "Exit fullscreen") : T("全屏", "Fullscreen");
    });
    video.addEventListener("playing", () => { this.played = true; this.stalledSince = 0; this.failures = 0; this.waiting(""); });
    video.addEventListener("waiting", () => { if (this.played) this.stalledSince = Date.now(); });
    video.addEventListener("volumechange", () => this.renderSound());
    this.renderSound();
    this.ticker = setInterval(() => this.tick(), TICK_MS);
  }

  get signaling() { return this.host.signaling; }

  // Whether the stage shows the program (and opens no WebRTC views).
  get showing() {
    const a = this.answer;
    return this.open && !this.held && !this.unsupported && !!a && a.tier === "program";
  }

  // Whether the program plays: it is on, and this viewer has its address.
  get playing() {
    return this.showing && this.answer.live && !!this.answer.url;
  }

  // The room's `program` push: on (a new run: play it from its start) or off (wait for the next).
  heard(e) {
    const a = this.answer;
    if (!a || !a.url) { this.ask(true); return; }   // no address yet: the one ask this push causes
    a.live = e.state === "on";
    if (a.live) this.wasOn = true;
    this.render(a.live);
    this.host.changed();
  }

  // Whether the stage opens WebRTC views: on stage, or told the WebRTC tier (not before the answer:
  // with the program on, a view asked for without a front-row seat is refused).
  get realTime() {
    return this.held || (!!this.answer && !this.showing);
  }

  // -- the tier ---------------------------------------------------------------------------------
  // Ask the server how this viewer watches now. `reload`: play the answer's address even if one plays
  // (a new run of the program, a refused key).
  ask(reload) {
    if (!this.open || !this.signaling.online) return;
    const n = ++this.asked;
    this.signaling.command("program.watch").then((r) => {
      if (n === this.asked) this.apply(r, reload);
    }, (err) => {
      if (n !== this.asked || (err && err.code === "disconnected")) return;  // asked again after the reconnect
      this.apply({ tier: "webrtc", live: false });   // refused: the stage as it is, over WebRTC
    });
  }

  apply(answer, reload) {
    this.answer = answer;
    if (answer.live) this.wasOn = true;
    this.render(reload);
    this.host.changed();
  }

  // The stage opens (lobby, live) or closes (scheduled, ended): closed, nothing plays.
  setOpen(open) {
    if (open === this.open) return;
    this.open = open;
    if (!open) { this.answer = null; this.asked++; this.render(); }
  }

  // On stage, or going up: WebRTC at once; back down: ask again (the answer from before is stale:
  // until the new one, the stage stays on WebRTC). The stage says so on every render.
  hold(on) {
    if (on === this.held) return;
    this.held = on;
    this.answer = null;
    this.asked++;
    this.render();
    if (!on) this.ask();
  }

  render(reload) {
    const showing = this.showing, playing = this.playing;
    this.el.hidden = !showing;
    if (playing && (reload || !this.url || this.broken)) this.play(this.answer.url);
    if (!playing) this.stopPlaying();
    if (showing && !playing) this.waiting(this.wasOn ? "paused" : "starting");
    this.renderTier();
  }

  renderTier() {
    const a = this.answer;
    this.tierEl.hidden = !this.open || !(a || this.held);
    if (this.tierEl.hidden) return;
    if (!this.showing) { this.tierEl.textContent = T("实时画面（WebRTC）", "Real-time (WebRTC)"); return; }
    const behind = this.latency();
    this.tierEl.textContent = this.wait ? T("直播画面（HLS），", "Live program (HLS), ") + WAITS[this.wait][1]
      : behind === null ? T("直播画面（HLS）", "Live program (HLS)")
      : T("直播画面（HLS），延迟约 " + behind.toFixed(1) + " 秒", "Live program (HLS), about " + behind.toFixed(1) + " s behind");
    this.tierEl.dataset.latency = behind === null ? "" : behind.toFixed(2);
  }

  // Seconds behind the live edge, or null before the picture plays.
  latency() {
    const v = this.video;
    if (!this.url || v.paused || v.readyState < 3) return null;
    if (this.hls) return this.hls.latency > 0 ? this.hls.latency : null;
    const s = v.seekable;   // native HLS: the end of what may be played is the live edge
    return s && s.length ? Math.max(0, s.end(s.length - 1) - v.currentTime) : null;
  }

  tick() {
    if (!this.playing) return;
    const stalled = this.stalledSince && Date.now() - this.stalledSince > STALL_MS;
    if (stalled && !this.wait) this.waiting("reconnecting");
    const hls = this.hls, live = hls && hls.liveSyncPosition;
    if (live && hls.latency > MAX_BEHIND_S && !this.video.paused) this.video.currentTime = live;
    this.renderTier();
  }

  // What the viewer waits for ("loading", "reconnecting"), over the picture and in the tier line; ""
  // when the picture plays.
  waiting(what) {
    this.wait = what || "";
    this.waitEl.textContent = this.wait ? WAITS[this.wait][0] : "";
    this.waitEl.hidden = !this.wait;
    this.renderTier();
  }

  // -- playing ----------------------------------------------------------------------------------
  // Play `url`: with hls.js where the browser has Media Source Extensions (it plays the low-latency
  // parts, and offers the quality choice), natively where it has not but plays HLS itself (Safari on
  // iPhone). Chromium answers "maybe" for HLS too these days, but without LL-HLS: hls.js comes first.
  play(url) {
    const gen = ++this.gen;
    clearTimeout(this.retryTimer);
    this.destroyHls();
    this.url = url;
    this.broken = false;
    this.played = false;
    this.stalledSince = 0;
    if (this.wait !== "reconnecting") this.waiting("loading");
    const video = this.video;
    video.onerror = null;
    const native = !!video.canPlayType(HLS_TYPE);
    if (native && !window.MediaSource) { this.playNative(gen, url); return; }
    loadHls().then((Hls) => {
      if (gen !== this.gen) return;
      if (Hls.isSupported()) this.playHls(gen, Hls, url);
      else if (native) this.playNative(gen, url);
      else {   // neither: the WebRTC tiles play everywhere
        this.unsupported = true;
        this.render();
        this.host.changed();
      }
    }).catch((err) => {   // hls.js did not load, or refused to start
      if (window.console) console.error(err);
      if (gen === this.gen) this.failed(gen, false);
    });
  }

  playHls(gen, Hls, url) {
    const hls = this.hls = new Hls(HLS_CONFIG), video = this.video;   // (a bad setting throws: failed below)
    hls.on(Hls.Events.MANIFEST_PARSED, () => {
      if (gen !== this.gen) return;
      this.levelsKnown(hls);
      video.play().catch(() => {});
    });
    hls.on(Hls.Events.LEVEL_SWITCHED, () => { if (gen === this.gen) this.renderQuality(); });
    hls.on(Hls.Events.FRAG_BUFFERED, () => { if (gen === this.gen) this.failures = 0; });
    hls.on(Hls.Events.ERROR, (event, data) => { if (gen === this.gen) this.hlsError(Hls, data); });
    hls.attachMedia(video);
    hls.loadSource(url);
  }

  // The browser's own player: no quality choice (it chooses), and an error says no status, so the
  // address is asked for again each time.
  playNative(gen, url) {
    const video = this.video;
    this.qualityBox.hidden = true;
    video.onerror = () => { if (gen === this.gen) this.failed(gen, true); };
    video.src = url;
    video.play().catch(() => {});
  }

  // hls.js gave up on something: a media error is recovered where the picture is; a refused address
  // (403: the key expired; 404: an old run of the program) is asked for again; anything else is
  // tried again after a growing pause.
  hlsError(Hls, data) {
    if (!data.fatal) return;
    this.waiting("reconnecting");
    if (data.type === Hls.ErrorTypes.MEDIA_ERROR && Date.now() - this.mediaRecovered > 5000) {
      this.mediaRecovered = Date.now();
      this.hls.recoverMediaError();
      return;
    }
    const status = data.response && data.response.code;
    this.failed(this.gen, status === 403 || status === 404);
  }

  // Start again after a pause that doubles with each failure in a row (at most 15 s); `askAgain`: the
  // address itself may be stale, so ask for it again first.
  failed(gen, askAgain) {
    this.broken = true;
    this.waiting("reconnecting");
    clearTimeout(this.retryTimer);
    const delay = Math.min(500 * Math.pow(2, this.failures), MAX_WAIT_MS);
    this.failures++;
    this.retryTimer = setTimeout(() => {
      if (gen !== this.gen || !this.playing) return;
      if (askAgain) this.ask(true); else this.play(this.url);
    }, delay);
  }

  stopPlaying() {
    if (!this.url) return;
    this.gen++;
    clearTimeout(this.retryTimer);
    this.destroyHls();
    this.url = null;
    this.broken = false;
    const video = this.video;
    video.onerror = null;
    video.pause();
    video.removeAttribute("src");
    video.load();
    this.waiting("");
    this.qualityBox.hidden = true;
  }

  destroyHls() {
    if (!this.hls) return;
    try { this.hls.destroy(); } catch (e) { /* already gone */ }
    this.hls = null;
  }

  // -- controls ---------------------------------------------------------------------------------
  levelsKnown(hls) {
    const select = this.quality;
    window.Collab.clear(select);
    select.appendChild(el("option", T("自动", "Auto"))).value = "-1";
    hls.levels.map((l, i) => ({ i: i, height: l.height }))
      .sort((a, b) => b.height - a.height)
      .forEach((l) => { select.appendChild(el("option", l.height + "p")).value = String(l.i); });
    // a choice made before (the player was started again) stays, by the rung's height
    const chosen = this.chosenHeight ? hls.levels.findIndex((l) => l.height === this.chosenHeight) : -1;
    if (chosen >= 0) hls.nextLevel = chosen;
    select.value = String(chosen);
    this.qualityBox.hidden = hls.levels.length < 2;
    this.renderQuality();
  }

  chooseLevel(index) {
    const hls = this.hls;
    if (!hls) return;
    this.chosenHeight = index >= 0 && hls.levels[index] ? hls.levels[index].height : 0;
    hls.nextLevel = index;   // from the next segment (the picture goes on; currentLevel would empty the buffer)
    this.renderQuality();
  }

  // "Auto" says which rung it is on now.
  renderQuality() {
    const hls = this.hls, auto = this.quality.querySelector("option[value='-1']");
    if (!hls || !auto) return;
    const now = hls.levels[hls.currentLevel];
    auto.textContent = hls.autoLevelEnabled && now ? T("自动（" + now.height + "p）", "Auto (" + now.height + "p)") : T("自动", "Auto");
  }

  setMuted(muted) {
    this.video.muted = muted;
    if (!muted) this.video.play().catch(() => {});
    this.renderSound();
  }

  renderSound() {
    const muted = this.video.muted;
    this.soundHint.hidden = !muted;
    this.sound.textContent = muted ? T("打开声音", "Unmute") : T("静音", "Mute");
    this.sound.setAttribute("aria-pressed", muted ? "false" : "true");
  }

  toggleFullscreen() {
    if (document.fullscreenElement === this.el) { document.exitFullscreen(); return; }
    this.el.requestFullscreen().catch(() => { if (this.video.requestFullscreen) this.video.requestFullscreen(); });
  }

  detach() {
    clearInterval(this.ticker);
    this.stopPlaying();
  }
}

// hls.js (static/dist/hls.js, an ES module bundled by webclient/build.mjs), fetched the first time a
// viewer of this page watches the program; the import map gives it its digest URL.
function loadHls() {
  if (!hlsLoading) {
    hlsLoading = import("../dist/hls.js").then((m) => m.default, (err) => { hlsLoading = null; throw err; });
  }
  return hlsLoading;
}
