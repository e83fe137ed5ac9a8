// My camera and microphone on the stage, or a screen I share beside them (each its own publication):
// the devices (asked once), a send-only peer connection negotiated with `stage.publish` (again after
// it fails or the socket comes back), the mute toggles, and my own picture, the local preview tile.
import { STALE, negotiate } from "./signaling.js";
import { screenOf } from "./lineup.js";

const { T, el } = window.Collab;

const CAMERA = { video: { width: { ideal: 640 }, height: { ideal: 480 }, frameRate: { ideal: 30 } }, audio: true };
// A screen, window or tab at its own size; slides and documents need few frames. Its sound if the
// person ticks "share audio" in the browser's picker.
const SCREEN = { video: { frameRate: { ideal: 15, max: 30 } }, audio: true };

export class Publisher {
  // Whether this page may ask for a camera at all (it needs a secure context).
  static possible() { return !!(navigator.mediaDevices && navigator.mediaDevices.getUserMedia); }
  // The camera and microphone (the browser may ask the person): a MediaStream.
  static devices() { return navigator.mediaDevices.getUserMedia(CAMERA); }
  // Whether this browser shares screens (desktop browsers do; most phones do not).
  static screenPossible() { return !!(navigator.mediaDevices && navigator.mediaDevices.getDisplayMedia); }
  // The screen, window or tab the person picks in the browser's own dialog: a MediaStream.
  static screen() { return navigator.mediaDevices.getDisplayMedia(SCREEN); }

  // `events`: `up()` once the server took the publication, `refused(err)` when it would not (the
  // publication is over then: stop() it), and for a screen `ended()`, when the browser ended the
  // capture (its own "stop sharing" bar, or the shared window closed). `source`: "camera" or "screen".
  constructor(stream, signaling, me, events, source) {
    this.stream = stream;
    this.signaling = signaling;
    this.me = me;
    this.events = events;
    this.source = source || "camera";
    const picture = stream.getVideoTracks()[0];
    if (this.source === "screen" && picture) {
      picture.addEventListener("ended", () => { if (!this.stopped && events.ended) events.ended(); });
    }
    this.pc = null;
    this.gen = 0;
    this.live = false;
    this.stopped = false;
    this.stateEl = null;
  }

  // (Again): a new peer connection and `stage.publish`.
  publish() {
    if (this.stopped) return;
    const gen = ++this.gen;
    if (this.pc) { try { this.pc.close(); } catch (e) { /* closed */ } }
    this.live = false;
    this.setState(T("连接中…", "Connecting…"));
    if (!this.signaling.online) { this.setState(T("等待重连…", "Waiting for the connection…")); return; }
    const current = () => !this.stopped && gen === this.gen;
    const pc = this.pc = new RTCPeerConnection();
    this.stream.getTracks().forEach((t) => { pc.addTransceiver(t, { direction: "sendonly", streams: [this.stream] }); });
    pc.onconnectionstatechange = () => {
      if (!current()) return;
      const s = pc.connectionState;
      if (s === "connected") { this.live = true; this.setState(T("直播中", "live")); }
      else if (s === "failed") { this.setState(T("重新连接…", "Reconnecting…")); setTimeout(() => { if (current()) this.publish(); }, 1000); }
    };
    negotiate(pc).then((offer) => {
      if (!current()) throw STALE;
      return this.signaling.publish(offer, this.source);
    }).then((r) => {
      if (!current()) throw STALE;
      return pc.setRemoteDescription(r.answer);
    }).then(() => {
      this.events.up();
    }).catch((err) => {
      if (err === STALE || !current()) return;
      if (err && err.code === "disconnected") { this.setState(T("等待重连…", "Waiting for the connection…")); return; }
      this.events.refused(err);
    });
  }

  // The devices are released and the connection closed (the server hears `stage.leave` separately).
  stop() {
    if (this.stopped) return;
    this.stopped = true;
    this.gen++;
    this.stream.getTracks().forEach((t) => { t.stop(); });
    if (this.pc) { try { this.pc.close(); } catch (e) { /* closed */ } }
  }

  track(kind) { return kind === "audio" ? this.stream.getAudioTracks()[0] : this.stream.getVideoTracks()[0]; }
  // Muted (a track that is off), or null without such a track.
  off(kind) { const t = this.track(kind); return t ? !t.enabled : null; }
  toggle(kind) { const t = this.track(kind); if (t) t.enabled = !t.enabled; }

  // Its publisher id on the stage.
  get id() { return this.source === "screen" ? screenOf(this.me.id) : this.me.id; }

  // The local preview, with my name (or "my screen") and the publication's state.
  tile() {
    const tile = el("div", null, "tile mine" + (this.source === "screen" ? " screen" : ""));
    tile.dataset.publisher = String(this.id);
    tile.setAttribute("role", "group");
    const label = this.source === "screen" ? T("我共享的屏幕", "My shared screen")
                                           : (this.me.display_name || "") + T("（我）", " (you)");
    tile.setAttribute("aria-label", label);
    const video = tile.appendChild(el("video"));
    video.autoplay = true; video.playsInline = true; video.muted = true;
    video.setAttribute("playsinline", "");
    video.srcObject = this.stream;
    const bar = tile.appendChild(el("div", null, "tile-bar"));
    bar.appendChild(el("span", label, "tile-name"));
    this.stateEl = bar.appendChild(el("span", this.live ? T("直播中", "live") : T("连接中…", "Connecting…"), "muted tile-state"));
    return tile;
  }

  setState(text) { if (this.stateEl) this.stateEl.textContent = text; }
}
