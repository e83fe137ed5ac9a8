// A breakout group's small stage (docs/stage.md, "A group's small stage"): my camera and microphone
// for the group, and a tile for each other member on it, watched at once. The same Publisher, View
// and Tile as the main stage, talking `group.stage.*` instead of `stage.*`. The room page owns the
// group view; it calls joinGroupStage(o) when the group shows and leaveGroupStage() when it goes, and
// hands every event of the group's channel to onEvent (this module takes `stage` and
// `group_stage_closed`). User text is textContent only.
import { Tile } from "./tile.js";
import { View } from "./view.js";
import { Publisher } from "./publisher.js";
import { deviceError, errText } from "./words.js";

const { T, el, button } = window.Collab;

const CHECK_MS = 2000;   // how often views are checked for a picture that stopped

// The group's commands, in the shape Publisher and View expect of the main stage's Signaling.
class GroupSignaling {
  constructor(rt, activityId, groupId) {
    this.rt = rt;
    this.activityId = activityId;
    this.groupId = groupId;
  }

  get online() { return !!(this.rt.ws && this.rt.ws.readyState === 1); }

  command(name, args) {
    if (!this.online) return Promise.reject({ code: "disconnected" });
    return this.rt.command(name, Object.assign({ activity_id: this.activityId, group_id: this.groupId }, args || {}));
  }

  publish(offer) { return this.command("group.stage.publish", { offer: offer }); }
  leave() { return this.command("group.stage.leave"); }
  watch(publisherId, offer) { return this.command("group.stage.watch", { publisher_id: publisherId, offer: offer }); }
  unwatch(watchId) {
    if (this.online) this.command("group.stage.unwatch", { watch_id: watchId }).catch(() => {});
  }
  state() { return this.command("group.stage.state"); }
}

export class GroupStage {
  // `o`: {rt, aid, gid, me, mount}: the page's Realtime, the activity, the group, the signed-in user
  // ({id, display_name}), and the element to draw in (cleared; this module owns it until leave()).
  constructor(o) {
    this.me = o.me || {};
    this.gid = o.gid;
    this.mount = o.mount;
    this.signaling = new GroupSignaling(o.rt, o.aid, o.gid);
    this.lineup = new Map();   // node -> its on_stage list
    this.views = new Map();    // publisher id -> View
    this.pub = null;
    this.closed = false;
    window.Collab.clear(this.mount);
    const root = this.root = this.mount.appendChild(el("section", null, "group-stage"));
    root.setAttribute("aria-label", T("小组视频", "Group video"));
    const head = root.appendChild(el("div", null, "stage-head"));
    head.appendChild(el("h3", T("小组视频", "Group video")));
    this.toggleEl = head.appendChild(button(T("开启摄像头", "Turn on my camera"), "group-stage-go", () => this.toggle()));
    this.noticeEl = root.appendChild(el("p", "", "muted group-stage-notice"));
    this.noticeEl.setAttribute("role", "status");
    this.tiles = root.appendChild(el("div", null, "stage-tiles"));
    this.checker = setInterval(() => this.views.forEach((v) => v.check()), CHECK_MS);
    this.ask();
  }

  say(text) { this.noticeEl.textContent = text || ""; }

  // Who is on the group's stage through the node I am on; the others announce theirs on the channel.
  ask() {
    this.signaling.state().then((r) => {
      if (!this.closed) this.onEvent({ type: "stage", node: r.node, group_id: this.gid, on_stage: r.on_stage });
    }, (err) => {
      if (err && err.code !== "disconnected") this.refused(err);
    });
  }

  refused(err) {
    this.say(errText(err));
    if (err && (err.code === "group_too_large" || err.code === "no_groups" || err.code === "not_in_group")) {
      this.toggleEl.disabled = true;
    }
  }

  toggle() {
    if (this.pub) { this.stopPublishing(true); return; }
    if (!Publisher.possible()) { this.say(T("此浏览器不能使用摄像头（需要 HTTPS）", "This browser cannot use a camera here (HTTPS is needed)")); return; }
    this.toggleEl.disabled = true;
    Publisher.devices().then((stream) => {
      if (this.closed) { stream.getTracks().forEach((t) => t.stop()); return; }
      const pub = this.pub = new Publisher(stream, this.signaling, this.me, {
        up: () => { this.say(""); },
        refused: (err) => { this.stopPublishing(false); this.refused(err); }
      }, "camera");
      this.mine = this.tiles.insertBefore(pub.tile(), this.tiles.firstChild);
      pub.publish();
      this.toggleEl.textContent = T("关闭摄像头", "Turn off my camera");
      this.toggleEl.disabled = false;
    }, (err) => {
      this.toggleEl.disabled = false;
      this.say(deviceError(err));
    });
  }

  stopPublishing(tellServer) {
    if (!this.pub) return;
    this.pub.stop();
    this.pub = null;
    if (this.mine) { this.mine.remove(); this.mine = null; }
    if (tellServer) this.signaling.leave().catch(() => {});
    this.toggleEl.textContent = T("开启摄像头", "Turn on my camera");
  }

  // An event of the group's channel.
  onEvent(e) {
    if (this.closed || !e || e.group_id !== this.gid) return;
    if (e.type === "group_stage_closed") {
      this.stopPublishing(false);
      this.say(T("分组研讨已结束，小组视频已关闭。", "The group discussion has ended; group video is closed."));
      this.toggleEl.disabled = true;
      return;
    }
    if (e.type !== "stage") return;
    this.lineup.set(String(e.node), e.on_stage || []);
    this.render();
  }

  render() {
    const wanted = new Map();
    this.lineup.forEach((items) => items.forEach((p) => {
      if (p.user_id !== this.me.id && typeof p.user_id === "number") wanted.set(p.user_id, p.name);
    }));
    this.views.forEach((v, id) => { if (!wanted.has(id)) { v.stop(); this.views.delete(id); } });
    wanted.forEach((name, id) => {
      if (this.views.has(id) || this.views.size >= 7) return;   // eight people: seven others at most
      const tile = new Tile(id, null);
      tile.setName(name);
      this.tiles.appendChild(tile.el);
      const view = new View(id, tile, { signaling: this.signaling, paused: () => false, gone: (pid) => this.gone(pid) });
      this.views.set(id, view);
      view.start(false);
    });
  }

  // A refused watch: true (and the view is dropped) when no node says the member is on the stage.
  gone(publisherId) {
    let on = false;
    this.lineup.forEach((items) => { if (items.some((p) => p.user_id === publisherId)) on = true; });
    if (on) return false;
    const view = this.views.get(publisherId);
    if (view) { view.stop(); this.views.delete(publisherId); }
    return true;
  }

  onReconnect() {
    if (this.closed) return;
    this.views.forEach((v) => v.reconnected());
    if (this.pub) this.pub.publish();
    this.ask();
  }

  leave() {
    if (this.closed) return;
    this.stopPublishing(true);
    this.closed = true;
    clearInterval(this.checker);
    this.views.forEach((v) => v.stop());
    this.views.clear();
    window.Collab.clear(this.mount);
  }
}
