// A picture on the stage: its <video> (muted until the viewer unmutes it) and a bar with the name,
// the connection's state and the buttons: sound, enlarge to the stage's width, fullscreen and, for
// those who manage the stage, "take off stage" (on a shared screen: "stop their sharing"). Names are
// set as text only.
import { LESSON, isScreen } from "./lineup.js";

const { T, el, button } = window.Collab;

export class Tile {
  // `onRemove(tile)`: given for those who may take people off the stage or stop their sharing (not
  // for the lesson video).
  constructor(publisherId, onRemove) {
    this.publisherId = publisherId;
    this.name = undefined;
    const kind = publisherId === LESSON ? " lesson" : isScreen(publisherId) ? " screen" : "";
    const tile = this.el = el("div", null, "tile" + kind);
    tile.dataset.publisher = String(publisherId);
    tile.setAttribute("role", "group");
    const video = this.video = tile.appendChild(el("video"));
    video.autoplay = true; video.playsInline = true; video.muted = true;
    video.setAttribute("playsinline", "");
    const bar = tile.appendChild(el("div", null, "tile-bar"));
    this.nameEl = bar.appendChild(el("span", "", "tile-name"));
    this.stateEl = bar.appendChild(el("span", "", "muted tile-state"));
    this.sound = bar.appendChild(button(T("打开声音", "Unmute"), "tile-unmute", () => this.toggleSound()));
    this.sound.setAttribute("aria-pressed", "false");
    this.big = bar.appendChild(button(T("放大", "Enlarge"), "tile-big", () => this.toggleBig()));
    this.big.setAttribute("aria-pressed", "false");
    this.full = bar.appendChild(button(T("全屏", "Fullscreen"), "tile-full", () => this.toggleFullscreen()));
    this.full.hidden = !document.fullscreenEnabled;
    tile.addEventListener("fullscreenchange", () => {
      this.full.textContent = document.fullscreenElement === tile ? T("退出全屏", "Exit fullscreen") : T("全屏", "Fullscreen");
    });
    if (publisherId !== LESSON && onRemove) {
      bar.appendChild(isScreen(publisherId)
        ? button(T("停止其共享", "Stop their sharing"), "tile-remove tile-stop-share", () => onRemove(this))
        : button(T("请下台", "Take off stage"), "tile-remove", () => onRemove(this)));
    }
  }

  setName(name) {
    this.name = name;
    const label = this.publisherId === LESSON ? T("课例视频：", "Lesson video: ") + name
      : isScreen(this.publisherId) ? T(name + " 的屏幕", name + "'s screen") : name;
    this.nameEl.textContent = label;
    this.el.setAttribute("aria-label", label);
    this.sound.setAttribute("aria-label", (this.video.muted ? T("打开声音：", "Unmute: ") : T("静音：", "Mute: ")) + label);
    this.big.setAttribute("aria-label", (this.el.classList.contains("big") ? T("还原：", "Restore: ") : T("放大：", "Enlarge: ")) + label);
    this.full.setAttribute("aria-label", T("全屏：", "Fullscreen: ") + label);
  }

  setState(text) { this.stateEl.textContent = text || ""; }

  toggleSound() {
    const video = this.video;
    video.muted = !video.muted;
    if (!video.muted) video.play().catch(() => {});
    this.sound.textContent = video.muted ? T("打开声音", "Unmute") : T("静音", "Mute");
    this.sound.setAttribute("aria-pressed", video.muted ? "false" : "true");
  }

  // Enlarged: the stage's whole width, first in line.
  toggleBig() {
    const on = this.el.classList.toggle("big");
    this.big.textContent = on ? T("还原", "Restore") : T("放大", "Enlarge");
    this.big.setAttribute("aria-pressed", on ? "true" : "false");
    this.setName(this.name);
    if (on) this.el.scrollIntoView({ block: "nearest" });
  }

  // The same button enters and leaves fullscreen; where the tile cannot, the video alone goes.
  toggleFullscreen() {
    if (document.fullscreenElement === this.el) { document.exitFullscreen(); return; }
    if (this.el.requestFullscreen) {
      this.el.requestFullscreen().catch(() => { if (this.video.requestFullscreen) this.video.requestFullscreen(); });
    }
  }

  remove() { this.el.remove(); }
}
