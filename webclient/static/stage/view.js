// Watching one publisher (a person on stage or the lesson video): a receive-only peer connection
// negotiated with `stage.watch`, shown in its Tile; established again, with a growing wait, when the
// connection fails, the watch is refused for now, or the picture stops (`check`, called every few
// seconds: the publisher republished, the lesson video restarted, or the path died unnoticed).
import { STALE, negotiate } from "./signaling.js";
import { LESSON } from "./lineup.js";
import { errText } from "./words.js";

const { T } = window.Collab;

const MAX_WAIT_MS = 15000;

export class View {
  // `host`: what the view asks of the stage: `signaling`; `paused()`, the lesson video is paused (its
  // picture stands still on purpose); `gone(publisherId)`, true when a refused watch means the
  // publisher is not on stage after all (the stage then drops this view).
  constructor(publisherId, tile, host) {
    this.publisherId = publisherId;
    this.tile = tile;
    this.host = host;
    this.gen = 0;           // the attempt; a step of an older one changes nothing
    this.failures = 0;
    this.pc = null;
    this.watchId = null;
    this.retryTimer = null;
    this.bytes = -1;        // bytes received at the last check
    this.still = 0;         // checks in a row without a byte more
    this.stopped = false;
  }

  get signaling() { return this.host.signaling; }
  get name() { return this.tile.name; }

  // A new peer connection and watch; `tellServer`: end the old watch on the server too (not after a
  // reconnect: the server ended it with the socket).
  start(tellServer) {
    const gen = ++this.gen;
    this.drop(tellServer);
    this.bytes = -1; this.still = 0;
    this.tile.setState(T("连接中…", "Connecting…"));
    if (!this.signaling.online) { this.tile.setState(T("等待重连…", "Waiting for the connection…")); return; }
    const pc = this.pc = new RTCPeerConnection();
    pc.addTransceiver("video", { direction: "recvonly" });
    pc.addTransceiver("audio", { direction: "recvonly" });
    const stream = new MediaStream();
    const video = this.tile.video;
    video.srcObject = stream;
    pc.ontrack = (ev) => {
      if (gen !== this.gen) return;
      stream.addTrack(ev.track);
      video.play().catch(() => { /* autoplay refused: the element is muted, so rarely */ });
    };
    pc.onconnectionstatechange = () => {
      if (gen !== this.gen) return;
      const s = pc.connectionState;
      if (s === "connected") { this.failures = 0; this.tile.setState(""); }
      else if (s === "failed" || s === "closed") { this.tile.setState(T("重新连接画面…", "Reconnecting the video…")); this.retry(gen, 300); }
      else if (s === "disconnected") this.retry(gen, 3000, true);
    };
    negotiate(pc).then((offer) => {
      if (gen !== this.gen) throw STALE;
      return this.signaling.watch(this.publisherId, offer);
    }).then((r) => {
      if (gen !== this.gen) { this.signaling.unwatch(r.watch_id); throw STALE; }
      this.watchId = r.watch_id;
      video.dataset.watchId = r.watch_id;
      return pc.setRemoteDescription(r.answer);
    }).catch((err) => {
      if (err === STALE || gen !== this.gen) return;
      if (err && err.code === "disconnected") { this.tile.setState(T("等待重连…", "Waiting for the connection…")); return; }
      if (err && err.code === "not_on_stage") {
        if (this.failures >= 2 && this.host.gone(this.publisherId)) return;
        this.tile.setState(T("等待画面…", "Waiting for the picture…"));
        this.retry(gen, 1500);
        return;
      }
      this.tile.setState(errText(err));
      if (!(err && err.code === "too_many_views")) this.retry(gen, 3000);
    });
  }

  restart() { this.start(true); }

  // After the socket came back: the server closed this socket's views with it.
  reconnected() {
    this.watchId = null;
    this.failures = 0;
    this.start(false);
  }

  // Try again after `ms`, doubled for each failure in a row (at most 15 s). `onlyIfStillDown`: not if
  // the connection recovered by itself meanwhile.
  retry(gen, ms, onlyIfStillDown) {
    clearTimeout(this.retryTimer);
    const delay = Math.min(ms * Math.pow(2, this.failures), MAX_WAIT_MS);
    this.retryTimer = setTimeout(() => {
      if (this.stopped || gen !== this.gen) return;
      if (onlyIfStillDown && this.pc && this.pc.connectionState === "connected") return;
      this.failures++;
      this.start(true);
    }, delay);
  }

  drop(tellServer) {
    clearTimeout(this.retryTimer);
    if (tellServer && this.watchId) this.signaling.unwatch(this.watchId);
    this.watchId = null;
    if (this.pc) { try { this.pc.close(); } catch (e) { /* already closed */ } }
    this.pc = null;
  }

  // No longer watched: the watch ends, the tile goes.
  stop() {
    this.stopped = true;
    this.gen++;
    this.drop(true);
    this.tile.remove();
  }

  // Is the picture still coming? Three checks in a row without a byte more (a paused lesson video
  // aside) and the view starts again.
  check() {
    const pc = this.pc, gen = this.gen;
    if (!pc || !this.watchId || pc.connectionState !== "connected") return;
    pc.getStats().then((report) => {
      if (gen !== this.gen) return;
      let bytes = 0;
      report.forEach((s) => { if (s.type === "inbound-rtp") bytes += s.bytesReceived || 0; });
      const paused = this.publisherId === LESSON && this.host.paused();
      if (bytes > this.bytes || paused) { this.still = 0; if (this.bytes >= 0 || bytes > 0) this.tile.setState(""); }
      else if (++this.still >= 3) { this.tile.setState(T("重新连接画面…", "Reconnecting the video…")); this.start(true); return; }
      this.bytes = bytes;
    }, () => {});
  }
}
