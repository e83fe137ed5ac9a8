// The toolbar for going on stage: "go on stage" for those who may (or were invited), then "leave",
// and the microphone and camera toggles, real buttons that say their state (aria-pressed); beside
// them "share screen" (on stage or not yet), then "stop sharing".
const { T, el, button } = window.Collab;

export class Controls {
  // `actions`: go(), leave(), toggle("audio" | "video"), share() (null where the browser cannot share
  // a screen: most phones), unshare().
  constructor(root, actions) {
    this.canShare = !!actions.share;
    const bar = this.el = root.appendChild(el("div", null, "toolbar stage-controls"));
    bar.hidden = true;
    this.go = bar.appendChild(button(T("上台（摄像头和麦克风）", "Go on stage (camera and microphone)"), "stage-go", actions.go));
    this.leave = bar.appendChild(button(T("下台", "Leave the stage"), "stage-leave", actions.leave));
    this.mic = bar.appendChild(button(T("关闭麦克风", "Mute microphone"), "stage-mic", () => actions.toggle("audio")));
    this.cam = bar.appendChild(button(T("关闭摄像头", "Camera off"), "stage-cam", () => actions.toggle("video")));
    this.share = bar.appendChild(button(T("共享屏幕", "Share screen"), "stage-share", actions.share));
    this.unshare = bar.appendChild(button(T("停止共享", "Stop sharing"), "stage-unshare", actions.unshare));
    this.mic.setAttribute("aria-pressed", "false");
    this.cam.setAttribute("aria-pressed", "false");
  }

  get hidden() { return this.el.hidden; }

  // `can`: this person may go on stage now; `pub`: the Publisher while on stage, or null; `screen`:
  // the Publisher of the screen they share, or null.
  render(can, pub, screen) {
    this.el.hidden = !(can || pub || screen);
    this.go.hidden = !!pub || !can;
    this.leave.hidden = this.mic.hidden = this.cam.hidden = !pub;
    this.share.hidden = !!screen || !can || !this.canShare;
    this.unshare.hidden = !screen;
    this.go.disabled = false;
    this.share.disabled = false;
    if (!pub) return;
    const micOff = pub.off("audio"), camOff = pub.off("video");
    this.mic.hidden = micOff === null; this.cam.hidden = camOff === null;
    this.mic.textContent = micOff ? T("打开麦克风", "Unmute microphone") : T("关闭麦克风", "Mute microphone");
    this.cam.textContent = camOff ? T("打开摄像头", "Camera on") : T("关闭摄像头", "Camera off");
    this.mic.setAttribute("aria-pressed", micOff ? "true" : "false");
    this.cam.setAttribute("aria-pressed", camOff ? "true" : "false");
  }

  // While the devices are being opened.
  busy(on) { this.go.disabled = on; }
  // While the browser asks which screen to share.
  choosing(on) { this.share.disabled = on; }
}
