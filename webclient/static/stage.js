// The stage in the activity room (docs/stage.md): a video tile for everyone on stage, for each shared
// screen (the main picture) and for the lesson video, going on stage with camera and microphone,
// sharing a screen, an expert's invitation from the hand queue, taking people off the stage or
// stopping their sharing, and the lesson videos (upload, list, start / play / pause / seek / stop).
// An ES module; its parts are in stage/ (README.md, "Layout"). activity.js calls
// CollabStage.attach({rt, aid, me, snap, root, alerts}) and then, for the page's life,
// stage.onEvent(e), stage.onSnapshot(snap) and stage.onReconnect(). This module is the frame and the
// picture of who is on stage: it keeps the room's state (what this person may do, the activity's
// state), draws the lineup into tiles, and hands each job to its part. User text is textContent only.
import { LESSON, Lineup, isScreen, screenOf } from "./stage/lineup.js";
import { Signaling } from "./stage/signaling.js";
import { Notices } from "./stage/notices.js";
import { Invitation } from "./stage/invitation.js";
import { Controls } from "./stage/controls.js";
import { Tile } from "./stage/tile.js";
import { View } from "./stage/view.js";
import { Publisher } from "./stage/publisher.js";
import { LessonControls } from "./stage/lesson.js";
import { Library } from "./stage/library.js";
import { ProgramPlayer } from "./stage/program.js";
import { GroupStage } from "./stage/group.js";
import { deviceError, displayError, errText } from "./stage/words.js";

const { T, el } = window.Collab;

const MAX_VIEWS = 8;          // the server's limit per connection
const CHECK_MS = 2000;        // how often views are checked for a picture that stopped

export class Stage {
  // `o`: {rt, aid, me, root, alerts}: the page's Realtime, the activity, the signed-in user, the
  // element to draw in, and where the invitation banner goes (the top of the room).
  constructor(o) {
    this.me = o.me || {};
    this.root = o.root;
    this.signaling = new Signaling(o.rt, o.aid);
    this.may = {};          // the snapshot's `me`: what this person may do
    this.roles = [];
    this.state = null;      // the activity's state
    this.lineup = new Lineup();
    this.views = new Map(); // publisher id -> View
    this.pub = null;        // my Publisher while on stage
    this.screen = null;     // the Publisher of the screen I share
    this.invited = false;   // accepted an invitation: may go on stage without a publishing role
    this.lesson = null;     // the lesson video's entry of the lineup, while it is on stage

    const root = this.root;
    window.Collab.clear(root);
    const head = root.appendChild(el("div", null, "stage-head"));
    head.appendChild(el("h2", T("舞台", "Stage")));
    this.countEl = head.appendChild(el("span", "", "muted stage-count"));
    this.notices = new Notices(root);
    this.invitation = new Invitation(o.alerts || root, this.signaling, this.notices, () => {
      this.invited = true;
      this.render();
      this.goOnStage();
    });
    this.controls = new Controls(root, {
      go: () => this.goOnStage(), leave: () => this.leave(), toggle: (kind) => this.toggle(kind),
      share: Publisher.screenPossible() ? () => this.shareScreen() : null, unshare: () => this.stopSharing()
    });
    this.tiles = root.appendChild(el("div", null, "stage-tiles"));
    // the program tier: one composed picture over HLS instead of the tiles (stage/program.js)
    this.program = new ProgramPlayer(root, head, this.tiles, { signaling: this.signaling, changed: () => this.render() });
    this.emptyEl = root.appendChild(el("p", T("台上暂时没有人。", "Nobody is on the stage yet."), "muted stage-empty"));
    this.moreEl = root.appendChild(el("p", "", "muted stage-more"));
    this.moreEl.hidden = true;
    this.lessonControls = new LessonControls(root, (action, args) => this.videoCommand(action, args), this.notices);
    this.library = new Library(root, o.aid, this.notices, (videoId) => this.videoCommand("start", { video_id: videoId }),
                               () => this.publishRole() && this.stageOpen());
    this.checker = setInterval(() => this.check(), CHECK_MS);
  }

  publishRole() {
    return !!(this.may.may_publish || this.may.may_run ||
              this.roles.some((r) => r === "host" || r === "expert" || r === "presenter"));
  }
  stageOpen() { return this.state === "lobby" || this.state === "live"; }

  // -- the picture ------------------------------------------------------------------------------
  render() {
    this.program.setOpen(this.stageOpen());
    this.program.hold(!!(this.pub || this.screen) || this.invited);   // on stage, or going up: real time
    const program = this.program.showing, realTime = this.program.realTime;
    const list = this.lineup.list(), want = new Map();
    let shown = 0, hidden = 0;
    this.lesson = null;
    list.forEach((p) => {
      if (p.id === LESSON) this.lesson = p;
      if (p.id === this.me.id || p.id === screenOf(this.me.id)) return;   // mine are the local previews
      if (!realTime) return;             // the program shows everyone (or the tier is not known yet)
      if (shown >= MAX_VIEWS) { hidden++; return; }
      shown++;
      want.set(p.id, p);
    });
    Array.from(this.views.values()).forEach((v) => { if (!want.has(v.publisherId)) this.unwatch(v); });
    want.forEach((p) => {
      const v = this.views.get(p.id);
      if (!v) this.watch(p);
      else if (v.name !== p.name) {
        if (p.id === LESSON && v.name !== undefined) v.restart();   // another lesson video
        v.tile.setName(p.name);
      }
    });
    // the local previews, first: my camera, my screen
    this.preview(screenOf(this.me.id), this.screen);
    this.preview(this.me.id, this.pub);
    // the order of tiles: shared screens (the first is the main picture), the lesson video, then as listed
    list.map((p) => this.views.get(p.id)).filter(Boolean).forEach((v) => this.tiles.appendChild(v.tile.el));
    const main = list.map((p) => this.views.get(p.id)).find((v) => v && isScreen(v.publisherId));
    this.views.forEach((v) => v.tile.el.classList.toggle("main", v === main));
    this.tiles.classList.toggle("with-screen", !!main);
    const person = (p) => p.id !== LESSON && !isScreen(p.id);
    const people = list.filter(person).length + (this.pub && !list.some((p) => p.id === this.me.id) ? 1 : 0);
    this.countEl.textContent = people ? T("台上 " + people + " 人", people + " on stage") : "";
    this.emptyEl.hidden = this.tiles.children.length > 0 || program;
    this.moreEl.hidden = !hidden;
    this.moreEl.textContent = T("另有 " + hidden + " 路画面未显示（同时最多 " + MAX_VIEWS + " 路）",
                                hidden + " more not shown (at most " + MAX_VIEWS + " at once)");
    this.renderControls();
    this.lessonControls.render(this.lesson, this.publishRole() && this.stageOpen());
    this.root.classList.toggle("watching", (this.views.size > 0 || program) && this.controls.hidden && this.library.hidden &&
                                           this.lessonControls.hidden);
  }

  // My publication's local preview (`pub`, or none) under `id`, first in line.
  preview(id, pub) {
    const tile = Array.from(this.tiles.querySelectorAll(".tile.mine")).find((t) => t.dataset.publisher === String(id));
    if (pub && !tile) this.tiles.insertBefore(pub.tile(), this.tiles.firstChild);
    if (!pub && tile) tile.remove();
  }

  renderControls() {
    this.controls.render((this.publishRole() || this.invited) && this.stageOpen(), this.pub, this.screen);
    this.library.show(!!this.may.may_upload_media);
  }

  // -- watching ---------------------------------------------------------------------------------
  watch(p) {
    const manage = p.id !== LESSON && this.may.may_manage_stage;
    const remove = isScreen(p.id) ? (t) => this.stopTheirSharing(p.id, t) : (t) => this.takeOff(p.id, t);
    const tile = new Tile(p.id, manage ? remove : null);
    tile.setName(p.name);
    const view = new View(p.id, tile, this);
    this.views.set(p.id, view);
    this.tiles.appendChild(tile.el);
    view.start();
  }
  unwatch(view) {
    view.stop();
    this.views.delete(view.publisherId);
  }
  // What a View asks: is the lesson video paused; is this publisher, refused again and again, one
  // that only the snapshot named (then it is not on stage after all: forget it).
  paused() { return this.lessonControls.paused(); }
  gone(publisherId) {
    if (!this.lineup.onlyFromSnapshot(publisherId)) return false;
    this.lineup.forget(publisherId);
    this.render();
    return true;
  }
  check() {
    this.views.forEach((v) => v.check());
    if (this.lesson && this.lesson.video) this.lessonControls.tick();
  }
  takeOff(userId, tile) {
    this.signaling.remove(userId).then(() => {
      this.notices.say(T("已请 " + tile.name + " 下台", tile.name + " was taken off the stage"), true);
    }, (err) => { this.notices.error(errText(err)); });
  }
  stopTheirSharing(screenId, tile) {
    this.signaling.remove(Number(screenId.slice("screen:".length)), "screen").then(() => {
      this.notices.say(T("已停止 " + tile.name + " 的屏幕共享", tile.name + "'s screen sharing was stopped"), true);
    }, (err) => { this.notices.error(errText(err)); });
  }

  // -- publishing: my camera and microphone, and a screen I share beside them --------------------
  goOnStage() {
    this.notices.error("");
    if (this.pub) return;
    if (!Publisher.possible()) {
      this.notices.error(T("此浏览器无法使用摄像头（需要 HTTPS 连接）。", "This browser cannot use a camera here (an HTTPS connection is needed)."));
      return;
    }
    this.controls.busy(true);
    this.open("pub", Publisher.devices(), T("正在打开摄像头和麦克风…", "Opening the camera and microphone…"), deviceError, {
      up: () => this.notices.say(T("您已在台上。", "You are on the stage.")),
      refused: (err) => {
        this.drop("pub");
        this.notices.error(T("上台失败：", "Could not go on stage: ") + errText(err));
      }
    });
  }
  shareScreen() {
    this.notices.error("");
    if (this.screen) return;
    this.controls.choosing(true);
    this.open("screen", Publisher.screen(),
              T("请在浏览器的对话框中选择要共享的屏幕、窗口或标签页…", "Choose the screen, window or tab to share in the browser's dialog…"),
              displayError, {
      up: () => this.notices.say(T("正在共享屏幕。", "You are sharing your screen.")),
      refused: (err) => {
        this.drop("screen");
        this.notices.error(T("共享屏幕失败：", "Could not share the screen: ") + errText(err));
      },
      ended: () => this.stopSharing()   // the browser's own "stop sharing" bar
    });
  }
  // While `asking` is said, the browser gives the devices or the screen (`given`, a promise of a
  // MediaStream; `denied(err)` says why not); then `this[mine]` ("pub" or "screen") publishes them.
  open(mine, given, asking, denied, events) {
    this.notices.say(asking);
    given.then((stream) => {
      this.notices.say("");
      if (this[mine] || !this.stageOpen()) { stream.getTracks().forEach((t) => { t.stop(); }); this.render(); return; }
      this[mine] = new Publisher(stream, this.signaling, this.me, events, mine === "screen" ? "screen" : "camera");
      this.render();
      this[mine].publish();
    }, (err) => {
      this.notices.say("");
      this.renderControls();
      this.notices.error(denied(err));
    });
  }
  // My publication (`mine`: "pub" or "screen") ends here, its devices and connection (the server
  // hears of it separately, or already knows).
  drop(mine) {
    if (!this[mine]) return;
    const p = this[mine];
    this[mine] = null;
    p.stop();
    this.render();
  }
  leave() {
    this.notices.error("");
    const wasOn = !!this.pub;
    this.drop("pub");
    this.drop("screen");   // off the stage: the server ends the share too
    this.invited = false;
    this.render();
    if (wasOn) this.tellLeft(null, T("您已下台。", "You left the stage."));
  }
  stopSharing() {
    this.notices.error("");
    if (!this.screen) return;
    this.drop("screen");
    this.tellLeft("screen", T("已停止共享屏幕。", "You stopped sharing your screen."));
  }
  // `stage.leave`, then `done` is said (also when the server already let go: the socket went down, or
  // it ended the publication first).
  tellLeft(source, done) {
    const said = () => {
      this.notices.say(done, true);
      this.program.ask();   // the server has lowered the hand only now: the program tier again
    };
    this.signaling.leave(source).then(said, (err) => {
      if (err && (err.code === "not_on_stage" || err.code === "disconnected")) { said(); return; }
      this.notices.error(errText(err));
    });
  }

  toggle(kind) {
    if (!this.pub) return;
    this.pub.toggle(kind);
    this.renderControls();
  }

  // -- the lesson video -------------------------------------------------------------------------
  videoCommand(action, args) {
    this.notices.error("");
    this.signaling.video(action, args).then((r) => {
      if (!r.video) return;  // the `stage` event that follows says what changed
      this.lineup.lessonVideo(r.video);
      this.render();
    }, (err) => { this.notices.error(errText(err)); });
  }

  // -- what activity.js tells the stage ---------------------------------------------------------
  onSnapshot(s) {
    if (!s) return;
    this.may = s.me || {};
    this.roles = this.may.roles || [];
    if (s.activity) this.state = s.activity.state;
    this.lineup.fromSnapshot(s.stage);
    if (!this.stageOpen()) this.closeStage();
    // an invitation outlives a reload: the snapshot says a called hand is waiting to come up
    if (this.may.invited_on_stage && !this.pub && this.stageOpen()) this.invitation.show();
    this.render();
    this.program.ask();
    if (this.library.listed && !this.library.hidden) this.library.render();
  }
  closeStage() {
    this.lineup.clear();
    this.drop("pub");
    this.drop("screen");
    this.invited = false;
    this.invitation.hide();
  }

  onEvent(e) {
    if (!e || !e.type) return;
    switch (e.type) {
      case "stage":
        this.lineup.heard(e);
        this.render();
        return;
      case "program":   // the program started or stopped
        this.program.heard(e);
        return;
      case "hand_called":
        if (e.user_id === this.me.id) this.invitation.called();
        return;
      case "stage_removed":
        this.lineup.forget(e.user_id);
        this.lineup.forget(screenOf(e.user_id));
        if (e.user_id === this.me.id) {
          this.invited = false;
          this.invitation.hide();
          this.drop("pub");
          this.drop("screen");
          this.notices.say(T("主持人已请您下台。", "You were taken off the stage."), true);
        }
        this.render();
        return;
      case "screen_stopped":
        this.lineup.forget(screenOf(e.user_id));
        if (e.user_id === this.me.id && this.screen && e.by && e.by.id !== this.me.id) {   // not my own stop
          this.drop("screen");
          this.notices.say(T(e.by.name + " 停止了您的屏幕共享。", e.by.name + " stopped your screen sharing."), true);
        }
        this.render();
        return;
      case "lobby_opened": case "started":
        this.state = e.type === "started" ? "live" : "lobby";
        this.render();
        if (this.library.listed) this.library.render();
        return;
      case "ended": case "archived": case "cancelled":
        this.state = e.type;
        this.closeStage();
        this.render();
        if (this.library.listed) this.library.render();
        this.notices.say(T("活动已结束，舞台已关闭。", "The activity has ended; the stage is closed."));
        return;
    }
  }

  // The server closed this socket's views and publication with it: establish them again.
  onReconnect() {
    this.views.forEach((v) => v.reconnected());
    if (this.pub) this.pub.publish();
    if (this.screen) this.screen.publish();
    this.program.ask();
  }

  detach() {
    clearInterval(this.checker);
    this.program.detach();
    Array.from(this.views.values()).forEach((v) => this.unwatch(v));
    this.drop("pub");
    this.drop("screen");
  }
}

export function attach(o) {
  const stage = new Stage(o);
  stage.onSnapshot(o.snap);
  return stage;
}

// A breakout group's small stage (docs/stage.md, "A group's small stage"), one per page:
// `o` = {rt, aid, gid, me, mount}. Returns the GroupStage: the room page hands it every event of the
// group's channel (`onEvent(e)`) and calls `onReconnect()` after the socket came back. Joining
// another group's stage leaves the first.
let groupStage = null;
export function joinGroupStage(o) {
  leaveGroupStage();
  groupStage = new GroupStage(o);
  return groupStage;
}
// The group view closes: my camera goes off, my views close, the mount is emptied.
export function leaveGroupStage() {
  if (groupStage) groupStage.leave();
  groupStage = null;
}

// activity.js is a classic script: it finds the stage here.
window.CollabStage = { attach: attach, joinGroupStage: joinGroupStage, leaveGroupStage: leaveGroupStage };
