// What the stage says in words: its refusals, a camera or microphone (or a screen) the browser would
// not give, a clock for the lesson video, a file's size. Every sentence in the interface language (page.js T).
const { T } = window.Collab;

const ERRORS = {
  not_on_stage: ["对方已不在台上", "Not on the stage any more"],
  too_many_views: ["同时最多观看 8 路画面", "At most 8 videos at once"],
  not_invited: ["邀请已失效", "The invitation is no longer valid"],
  wrong_codec: ["课例视频只支持 MP4（H.264）或 WebM（VP8）", "Lesson videos are MP4 (H.264) or WebM (VP8)"],
  invalid: ["请求无效", "The request was refused as invalid"]
};

// A refusal from the server, in the stage's words where it has its own, otherwise the page's.
export function errText(err) {
  const n = err && ERRORS[err.code];
  return n ? T(n[0], n[1]) : window.Collab.errorText(err);
}

// Why getUserMedia failed, and what the person can do about it.
export function deviceError(err) {
  const name = err && err.name;
  if (name === "NotAllowedError" || name === "SecurityError")
    return T("浏览器拒绝使用摄像头和麦克风。请在地址栏的网站设置中允许后重试。",
             "The browser refused the camera and microphone. Allow them in the site settings and try again.");
  if (name === "NotFoundError" || name === "OverconstrainedError")
    return T("没有找到可用的摄像头或麦克风。", "No camera or microphone was found.");
  if (name === "NotReadableError" || name === "AbortError")
    return T("摄像头或麦克风正被其他程序占用。", "The camera or microphone is in use by another program.");
  return T("无法使用摄像头和麦克风", "The camera and microphone cannot be used") + (err && err.message ? T("：", ": ") + err.message : "");
}

// Why getDisplayMedia gave no screen: the person cancelled the browser's picker or the browser (or
// its administrator) does not allow it, or the chosen screen could not be captured.
export function displayError(err) {
  const name = err && err.name;
  if (name === "NotAllowedError" || name === "SecurityError")
    return T("屏幕共享已取消，或浏览器不允许共享屏幕。", "Screen sharing was cancelled, or the browser does not allow it.");
  if (name === "NotFoundError" || name === "NotReadableError" || name === "AbortError")
    return T("无法捕获所选的屏幕或窗口，请重新选择。", "The chosen screen or window could not be captured. Please choose again.");
  return T("无法共享屏幕", "The screen cannot be shared") + (err && err.message ? T("：", ": ") + err.message : "");
}

// 75 -> "1:15"
export function clock(seconds) {
  seconds = Math.max(0, Math.floor(seconds || 0));
  return Math.floor(seconds / 60) + ":" + String(seconds % 60).padStart(2, "0");
}

export function sizeText(bytes) { return (bytes / 1048576).toFixed(1) + " MB"; }
