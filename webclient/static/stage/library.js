// The activity's lesson videos, for the organizer, hosts and presenters: the list (fetched once it is
// first shown), an upload (MP4 or WebM), and "play on stage" beside each while the stage is open.
import { errText, sizeText } from "./words.js";

const { T, el, button } = window.Collab;

export class Library {
  // `play(videoId)`: put it on stage; `canPlay()`: this person may, now.
  constructor(root, activityId, notices, play, canPlay) {
    this.path = "/api/activities/" + activityId + "/lesson-videos";
    this.notices = notices;
    this.play = play;
    this.canPlay = canPlay;
    this.videos = null;   // the uploaded lesson videos, once listed
    const box = this.el = root.appendChild(el("div", null, "stage-library"));
    box.hidden = true;
    box.appendChild(el("h3", T("课例视频", "Lesson videos")));
    const form = this.form = box.appendChild(el("form", null, "stage-upload"));
    const fileLabel = form.appendChild(el("label"));
    fileLabel.appendChild(el("span", T("视频文件（MP4 或 WebM）", "Video file (MP4 or WebM)")));
    const file = this.file = fileLabel.appendChild(el("input"));
    file.type = "file"; file.name = "file"; file.required = true;
    file.accept = "video/mp4,video/webm,.mp4,.webm";
    const titleLabel = form.appendChild(el("label"));
    titleLabel.appendChild(el("span", T("标题", "Title")));
    const title = this.title = titleLabel.appendChild(el("input"));
    title.name = "title"; title.maxLength = 200; title.autocomplete = "off";
    this.uploadBtn = form.appendChild(el("button", T("上传", "Upload")));
    this.uploadBtn.type = "submit";
    this.status = form.appendChild(el("span", "", "muted stage-upload-status"));
    this.status.setAttribute("role", "status");
    this.list = box.appendChild(el("ul", null, "stage-videos"));
    form.addEventListener("submit", (ev) => this.upload(ev));
  }

  get hidden() { return this.el.hidden; }
  get listed() { return this.videos !== null; }

  // Shown to those who may upload; listed the first time it is shown.
  show(on) {
    this.el.hidden = !on;
    if (on && this.videos === null) this.fetch();
  }

  fetch() {
    this.videos = this.videos || [];
    return window.collabApi(this.path).then((r) => {
      this.videos = r.videos || [];
      this.render();
    }, (err) => { this.notices.error(errText(err)); });
  }

  render() {
    window.Collab.clear(this.list);
    if (!this.videos.length) this.list.appendChild(el("li", T("还没有上传课例视频。", "No lesson videos uploaded yet."), "muted"));
    this.videos.forEach((v) => {
      const li = el("li");
      li.dataset.videoId = String(v.id);
      li.appendChild(el("span", v.title, "video-title"));
      li.appendChild(el("span", " · " + sizeText(v.size), "muted"));
      if (this.canPlay()) {
        const b = li.appendChild(button(T("在舞台播放", "Play on stage"), "video-start", () => this.play(v.id)));
        b.setAttribute("aria-label", T("在舞台播放：", "Play on stage: ") + v.title);
      }
      this.list.appendChild(li);
    });
  }

  upload(ev) {
    ev.preventDefault();
    this.notices.error("");
    const file = this.file.files && this.file.files[0];
    if (!file) { this.notices.error(T("请选择一个视频文件", "Choose a video file")); return; }
    const body = new FormData();
    body.append("file", file);
    if (this.title.value.trim()) body.append("title", this.title.value.trim());
    this.uploadBtn.disabled = true;
    this.status.textContent = T("上传中…", "Uploading…");
    fetch(this.path, {
      method: "POST", body: body, headers: { Authorization: "Bearer " + window.Collab.token() }
    }).then((r) => r.json().then((b) => { if (!r.ok) throw b.error; return b; },
      () => { throw { code: r.status === 413 ? "too_large" : "http_" + r.status, message: r.statusText }; }),
    () => { throw { code: "disconnected", message: "network error" }; }).then((v) => {
      this.uploadBtn.disabled = false;
      this.status.textContent = T("已上传：", "Uploaded: ") + v.title;
      this.form.reset();
      this.videos = (this.videos || []).concat([v]);
      this.render();
    }, (err) => {
      this.uploadBtn.disabled = false;
      this.status.textContent = "";
      this.notices.error(T("上传失败：", "Upload failed: ") + errText(err));
    });
  }
}
