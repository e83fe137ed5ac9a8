// The stage's two lines: an alert (what went wrong, until the next attempt) and a status line. A
// passing status ("you left the stage") is a confirmation that goes stale: it clears itself after a
// while, and anything the stage says next replaces it.
const { el } = window.Collab;

const PASSING_MS = 8000;

export class Notices {
  constructor(root) {
    this.alertEl = root.appendChild(el("p", "", "error stage-alert"));
    this.alertEl.setAttribute("role", "alert");
    this.alertEl.hidden = true;
    this.statusEl = root.appendChild(el("p", "", "notice stage-status"));
    this.statusEl.setAttribute("role", "status");
    this.statusEl.hidden = true;
    this.said = 0;
  }

  error(text) { this.alertEl.textContent = text || ""; this.alertEl.hidden = !text; }

  say(text, passing) {
    this.statusEl.textContent = text || "";
    this.statusEl.hidden = !text;
    const n = ++this.said;
    if (text && passing) setTimeout(() => { if (this.said === n) this.say(""); }, PASSING_MS);
  }
}
