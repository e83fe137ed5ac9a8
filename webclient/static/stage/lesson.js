// The lesson video's controls, for those who may put media on stage: what is playing, where it is
// (counted on from when its state was heard), play / pause, go to a second, stop. The commands go
// through `command(action, args)` (`stage.video`); everyone's tiles follow the `stage` events.
import { clock } from "./words.js";

const { T, el, button } = window.Collab;

export class LessonControls {
  // `command(action, args)`: stage.video; `notices`: where a bad position is said.
  constructor(root, command, notices) {
    this.lesson = null;   // the lesson video's entry of the lineup ({name, video, at}), or null
    const box = this.el = root.appendChild(el("div", null, "stage-lesson-controls"));
    box.setAttribute("role", "group");
    box.setAttribute("aria-label", T("课例视频控制", "Lesson video controls"));
    box.hidden = true;
    this.title = box.appendChild(el("span", "", "lesson-now"));
    this.time = box.appendChild(el("span", "", "muted lesson-time"));
    this.play = box.appendChild(button(T("暂停", "Pause"), "lesson-play", () => command(this.playing() ? "pause" : "play")));
    const seekLabel = box.appendChild(el("label", null, "inline lesson-seek"));
    seekLabel.appendChild(el("span", T("跳到（秒）", "Go to (s)")));
    const seek = this.seek = seekLabel.appendChild(el("input"));
    seek.type = "number"; seek.min = "0"; seek.step = "1"; seek.value = "0";
    box.appendChild(button(T("跳转", "Seek"), "lesson-seek-go", () => {
      const p = Number(seek.value);
      if (!(p >= 0)) { notices.error(T("请输入秒数", "Enter a number of seconds")); return; }
      command("seek", { position: p });
    }));
    box.appendChild(button(T("停止播放", "Stop"), "lesson-stop", () => command("stop")));
  }

  get hidden() { return this.el.hidden; }
  video() { return this.lesson && this.lesson.video; }
  playing() { const v = this.video(); return !!v && v.state === "playing"; }
  // On stage and not playing: its picture stands still on purpose.
  paused() { const v = this.video(); return !!v && v.state !== "playing"; }

  // `lesson`: the lineup's lesson entry or null; `shown`: this person controls it and the stage is open.
  render(lesson, shown) {
    this.lesson = lesson;
    const v = this.video();
    this.el.hidden = !(v && shown);
    if (!v) return;
    this.title.textContent = T("正在播放：", "On stage: ") + lesson.name;
    this.play.textContent = v.state === "playing" ? T("暂停", "Pause") : T("播放", "Play");
    this.tick();
    if (document.activeElement !== this.seek) this.seek.max = String(Math.floor(v.duration || 0));
  }

  // Where the video is now, in seconds.
  position() {
    const v = this.video();
    if (!v) return 0;
    const p = v.position + (v.state === "playing" ? (Date.now() - this.lesson.at) / 1000 : 0);
    return v.duration ? Math.min(p, v.duration) : p;
  }

  // The clock, moved on (the stage calls it every few seconds).
  tick() {
    const v = this.video();
    if (!v) return;
    this.time.textContent = clock(this.position()) + " / " + clock(v.duration) +
      (v.state === "playing" ? "" : " · " + T("已暂停", "paused"));
  }
}
