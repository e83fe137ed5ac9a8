// Who is on the stage: the latest `stage` event of each node (a node lists the publishers it
// holds), and, until a node's list names them, those the snapshot said were up. No DOM.

export const LESSON = "lesson";   // the publisher id of the lesson video
const SCREEN = "screen:";         // a shared screen's publisher id: this and its owner's user id

export function screenOf(userId) { return SCREEN + userId; }
export function isScreen(publisherId) { return typeof publisherId === "string" && publisherId.startsWith(SCREEN); }

export class Lineup {
  constructor() {
    this.byNode = {};         // node -> the latest on_stage list of that node
    this.roster = new Map();  // publisher id -> name, from the snapshot, until a node's list names them
  }

  // A `stage` event: that node's list replaces what it said before.
  heard(e) {
    const list = (e.on_stage || []).map((p) => {
      if (p.user_id !== LESSON) this.roster.delete(p.user_id);
      return p;
    });
    this.byNode[e.node || "_"] = list;
    list.forEach((p) => { if (p.user_id === LESSON) p.at = Date.now(); });   // when its position was heard
  }

  // The snapshot's `stage` ([{user_id, name}], screens too): those no node has named yet.
  fromSnapshot(stage) {
    this.roster = new Map();
    const named = new Set();
    Object.keys(this.byNode).forEach((n) => { this.byNode[n].forEach((p) => { named.add(p.user_id); }); });
    (stage || []).forEach((p) => { if (!named.has(p.user_id)) this.roster.set(p.user_id, p.name); });
  }

  // Known only from the snapshot (no node has named them since).
  onlyFromSnapshot(publisherId) { return this.roster.has(publisherId); }
  forget(publisherId) { this.roster.delete(publisherId); }
  clear() { this.byNode = {}; this.roster = new Map(); }

  // The lesson video's new state, from a command's answer, before the `stage` event says it.
  lessonVideo(video) {
    Object.keys(this.byNode).forEach((n) => {
      this.byNode[n].forEach((p) => { if (p.user_id === LESSON) { p.video = video; p.at = Date.now(); } });
    });
  }

  // [{id, name, tracks, video, at}] in a stable order: shared screens first (the main picture), the
  // lesson video, then people; each in the nodes' order (nodes by name), then the snapshot's.
  list() {
    const all = [], seen = new Set();
    const add = (item) => { if (!seen.has(item.id)) { seen.add(item.id); all.push(item); } };
    Object.keys(this.byNode).sort().forEach((n) => {
      this.byNode[n].forEach((p) => { add({ id: p.user_id, name: p.name, tracks: p.tracks, video: p.video, at: p.at }); });
    });
    this.roster.forEach((name, id) => add({ id: id, name: name }));
    const rank = (p) => (isScreen(p.id) ? 0 : p.id === LESSON ? 1 : 2);
    return all.filter((p) => rank(p) === 0).concat(all.filter((p) => rank(p) === 1), all.filter((p) => rank(p) === 2));
  }
}
