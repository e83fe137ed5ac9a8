// The audience benchmark's player page: hls.js players in low-latency mode, each locked to one rung,
// reading the stamp (benchmarks/audience/stamp.py, same geometry) out of every frame the video
// presents: requestVideoFrameCallback -> draw the frame to a canvas -> find the card's green box ->
// read its cells -> now - stamp. Python drives it through window.bench (start, take, status).
"use strict";

(function () {
  const MASK = 0xffffff;
  let G = null; // the card's geometry, from stamp.GEOMETRY

  function check(ms) {
    return ((ms & 0xff) * 3 + ((ms >> 8) & 0xff) * 7 + ((ms >> 16) & 0xff) * 13 + 0x5a) & 0xff;
  }

  // The stamp in an RGBA picture, or null (no card, or a read that fails the pattern or the check byte).
  function read(data, width, height) {
    const step = width > 800 ? 2 : 1; // every other pixel of a 720p picture is plenty to find the box
    const rowCount = new Uint16Array(height);
    const colCount = new Uint16Array(width);
    for (let y = 0; y < height; y += step) {
      let i = y * width * 4;
      for (let x = 0; x < width; x += step, i += 4 * step) {
        const r = data[i], g = data[i + 1], b = data[i + 2];
        if (g > 120 && r < 100 && b < 100 && g - Math.max(r, b) > 70) {
          rowCount[y]++;
          colCount[x]++;
        }
      }
    }
    const least = step === 1 ? 4 : 2;
    let y0 = -1, y1 = -1, x0 = -1, x1 = -1, rows = 0, cols = 0;
    for (let y = 0; y < height; y++) if (rowCount[y] >= least) { if (y0 < 0) y0 = y; y1 = y; rows++; }
    for (let x = 0; x < width; x++) if (colCount[x] >= least) { if (x0 < 0) x0 = x; x1 = x; cols++; }
    if (rows * step < 8 || cols * step < 8) return null;
    y1 += step; x1 += step;
    const sx = (x1 - x0) / G.width, sy = (y1 - y0) / G.height;
    const levels = [];
    for (let row = 0; row < G.rows; row++) {
      for (let col = 0; col < G.cols; col++) {
        const cx = Math.floor(x0 + (G.left + (col + 0.5) * G.cellW) * sx);
        const cy = Math.floor(y0 + (G.top + (row + 0.5) * G.cellH) * sy);
        const hx = Math.max(1, Math.floor(G.cellW * sx / 5)), hy = Math.max(1, Math.floor(G.cellH * sy / 5));
        let sum = 0, n = 0;
        for (let y = Math.max(0, cy - hy); y <= Math.min(height - 1, cy + hy); y++) {
          for (let x = Math.max(0, cx - hx); x <= Math.min(width - 1, cx + hx); x++) {
            const i = (y * width + x) * 4;
            sum += data[i] + data[i + 1] + data[i + 2];
            n++;
          }
        }
        levels.push(sum / (3 * n));
      }
    }
    let lo = -1, hi = 256;
    for (let c = 0; c < G.cols; c++) {
      if ((G.pattern >> (7 - c)) & 1) hi = Math.min(hi, levels[c]); else lo = Math.max(lo, levels[c]);
    }
    if (hi - lo < 40) return null;
    const cut = (lo + hi) / 2;
    let word = 0n;
    for (const v of levels) word = (word << 1n) | (v > cut ? 1n : 0n);
    if (Number(word >> 32n) !== G.pattern) return null;
    const ms = Number((word >> 8n) & 0xffffffn), got = Number(word & 0xffn);
    return check(ms) === got ? ms : null;
  }

  const players = {};

  function start(name, url, height, options) {
    const video = document.createElement("video");
    video.muted = true;
    video.playsInline = true;
    video.autoplay = true;
    video.width = 320;
    document.getElementById("players").appendChild(video);
    const canvas = document.createElement("canvas");
    const ctx = canvas.getContext("2d", { willReadFrequently: true });
    const hls = new Hls({ lowLatencyMode: true, enableWorker: true, backBufferLength: 10, capLevelToPlayerSize: false,
                          ...(options || {}) });
    const p = { name, hls, video, samples: [], unread: 0, frames: 0, errors: [], level: null, stalls: 0, height };
    players[name] = p;
    hls.on(Hls.Events.MANIFEST_PARSED, (_e, data) => {
      const i = data.levels.findIndex((l) => l.height === height);
      if (i >= 0) { hls.currentLevel = i; hls.loadLevel = i; p.level = i; }
      video.play().catch((e) => p.errors.push("play: " + e));
    });
    hls.on(Hls.Events.ERROR, (_e, data) => {
      if (p.errors.length < 50) p.errors.push(`${data.fatal ? "fatal " : ""}${data.type}/${data.details}`);
      if (data.fatal && data.type === Hls.ErrorTypes.NETWORK_ERROR) hls.startLoad();
      else if (data.fatal && data.type === Hls.ErrorTypes.MEDIA_ERROR) hls.recoverMediaError();
    });
    video.addEventListener("waiting", () => { p.stalls++; });
    hls.loadSource(url);
    hls.attachMedia(video);
    const onFrame = (now, meta) => {
      p.frames++;
      const w = video.videoWidth, h = video.videoHeight;
      if (w && h) {
        if (canvas.width !== w || canvas.height !== h) { canvas.width = w; canvas.height = h; }
        ctx.drawImage(video, 0, 0, w, h);
        const t = Date.now();
        const ms = read(ctx.getImageData(0, 0, w, h).data, w, h);
        if (ms === null) p.unread++;
        else {
          const age = ((t & MASK) - ms + MASK + 1) & MASK;
          if (age < 60000) p.samples.push([t, age, h, hls.latency, hls.targetLatency, video.playbackRate]);
          else p.unread++;
        }
      }
      video.requestVideoFrameCallback(onFrame);
    };
    video.requestVideoFrameCallback(onFrame);
  }

  window.bench = {
    setup(geometry) { G = geometry; },
    start,
    // samples since the last take, per player: [wall ms, age ms, height, hls.latency, target, rate]
    take() {
      const out = {};
      for (const [name, p] of Object.entries(players)) {
        const q = p.video.getVideoPlaybackQuality();
        out[name] = { samples: p.samples, unread: p.unread, frames: p.frames, errors: p.errors.slice(),
                      stalls: p.stalls, dropped: q.droppedVideoFrames, decoded: q.totalVideoFrames,
                      level: p.hls.currentLevel, height: p.video.videoHeight };
        p.samples = []; p.unread = 0; p.frames = 0;
      }
      return out;
    },
    stop() {
      for (const p of Object.values(players)) { p.hls.destroy(); p.video.remove(); }
    },
  };
})();
