// Who is on the stage: the latest `stage` event of each node (a node lists the publishers it
// holds), and, until a node's list names them, those the snapshot said were up. No DOM.

export const LESSON = "lesson";   // the publisher id of the lesson video

export class Lineup {
  constructor() {
    this.byNode = {};   // node -> the latest on_stage list of that node
    this.roster = {};   // user id -> name, from the snapshot, until a node's list names them
  }

  // A `stage` event: that node's list replaces what it said before.
  heard(e) {
    const list = (e.on_stage || []).map((p) => {
      if (p.user_id !== LESSON) delete this.roster[p.user_id];
      return p;
    });
    this.byNode[e.node || "_"] = list;
    list.forEach((p) => { if (p.user_id === LESSON) p.at = Date.now(); });   // when its position was heard
  }

  // The snapshot's `stage` ([{user_id, name}]): those no node has named yet.
  fromSnapshot(stage) {
    this.roster = {};
    const named = {};
    Object.keys(this.byNode).forEach((n) => { this.byNode[n].forEach((p) => { named[p.user_id] = true; }); });
    (stage || []).forEach((p) => { if (!named[p.user_id]) this.roster[p.user_id] = p.name; });
  }

  // Known only from the snapshot (no node has named them since).
  onlyFromSnapshot(userId) { return this.roster[userId] !== undefined; }
  forget(userId) { delete this.roster[userId]; }
  clear() { this.byNode = {}; this.roster = {}; }

  // The lesson video's new state, from a command's answer, before the `stage` event says it.
  lessonVideo(video) {
    Object.keys(this.byNode).forEach((n) => {
      this.byNode[n].forEach((p) => { if (p.user_id === LESSON) { p.video = video; p.at = Date.now(); } });
    });
  }

  // [{id, name, tracks, video, at}] in a stable order: the lesson video first, then the nodes' lists
  // (nodes by name), then the snapshot's.
  list() {
    const out = [], seen = {};
    const add = (id, item) => { if (seen[id]) return; seen[id] = true; out.push(item); };
    const nodes = Object.keys(this.byNode).sort();
    nodes.forEach((n) => {
      this.byNode[n].forEach((p) => { if (p.user_id === LESSON) add(LESSON, { id: LESSON, name: p.name, tracks: p.tracks, video: p.video, at: p.at }); });
    });
    nodes.forEach((n) => {
      this.byNode[n].forEach((p) => { if (p.user_id !== LESSON) add(p.user_id, { id: p.user_id, name: p.name, tracks: p.tracks }); });
    });
    Object.keys(this.roster).forEach((k) => add(Number(k), { id: Number(k), name: this.roster[k] }));
    return out;
  }
}
