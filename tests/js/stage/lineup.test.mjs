// webclient/static/stage/lineup.js (who is on the stage; no DOM) in Node: the order of the tiles a
// teacher sees and who is shown at all, from the nodes' `stage` events and the snapshot.
// Run: node --test tests/js/stage/ (tests/unit/test_stage_js.py runs it from pytest).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

// The module as the browser gets it (it imports nothing), loaded from its source.
const source = readFileSync(new URL("../../../webclient/static/stage/lineup.js", import.meta.url), "utf8");
const { Lineup, LESSON, isScreen, screenOf } = await import("data:text/javascript," + encodeURIComponent(source));

const names = (l) => l.list().map((p) => p.name);

test("the lesson video comes first, then the nodes' lists in node order, each person once", () => {
  const l = new Lineup();
  l.heard({ type: "stage", node: "node-b", on_stage: [{ user_id: 7, name: "Expert", tracks: ["video"] }, { user_id: 3, name: "Host" }] });
  l.heard({ type: "stage", node: "node-a", on_stage: [{ user_id: 3, name: "Host" },
                                                     { user_id: LESSON, name: "函数的概念", video: { state: "playing", position: 0, duration: 20 } }] });
  assert.deepEqual(l.list().map((p) => p.id), [LESSON, 3, 7]);
  assert.deepEqual(names(l), ["函数的概念", "Host", "Expert"]);
  assert.equal(typeof l.list()[0].at, "number");   // when its position was heard, for the clock
});

test("a node's new list replaces its old one: who left it goes", () => {
  const l = new Lineup();
  l.heard({ node: "node-a", on_stage: [{ user_id: 3, name: "Host" }, { user_id: 4, name: "Teacher" }] });
  l.heard({ node: "node-b", on_stage: [{ user_id: 5, name: "Expert" }] });
  l.heard({ node: "node-a", on_stage: [{ user_id: 4, name: "Teacher" }] });
  assert.deepEqual(names(l), ["Teacher", "Expert"]);
});

test("those the snapshot named are shown until a node's list names them, and not after it left them out", () => {
  const l = new Lineup();
  l.fromSnapshot([{ user_id: 3, name: "Host" }, { user_id: 9, name: "Presenter" }]);
  assert.deepEqual(names(l), ["Host", "Presenter"]);
  assert.ok(l.onlyFromSnapshot(9));
  l.heard({ node: "node-a", on_stage: [{ user_id: 9, name: "Presenter" }] });
  assert.ok(!l.onlyFromSnapshot(9));
  assert.deepEqual(names(l), ["Presenter", "Host"]);
  l.forget(3);   // refused again and again: not on stage after all
  assert.deepEqual(names(l), ["Presenter"]);
  // a later snapshot does not bring back what a node already lists, nor list it twice
  l.fromSnapshot([{ user_id: 9, name: "Presenter" }]);
  assert.deepEqual(names(l), ["Presenter"]);
  l.clear();
  assert.deepEqual(l.list(), []);
});

test("a lesson video command's answer moves the clock at once, before the stage event", () => {
  const l = new Lineup();
  l.heard({ node: "node-a", on_stage: [{ user_id: LESSON, name: "课例", video: { state: "playing", position: 3, duration: 20 } }] });
  l.lessonVideo({ state: "paused", position: 8, duration: 20 });
  assert.deepEqual(l.list()[0].video, { state: "paused", position: 8, duration: 20 });
});

test("a shared screen is the main picture: screens first, then the lesson video, then people", () => {
  const l = new Lineup();
  l.heard({ node: "node-a", on_stage: [{ user_id: 3, name: "Host", source: "camera" },
                                       { user_id: LESSON, name: "课例", source: "lesson" }] });
  l.heard({ node: "node-b", on_stage: [{ user_id: 9, name: "Presenter", source: "camera" },
                                       { user_id: "screen:9", owner_id: 9, name: "Presenter", source: "screen", tracks: ["video"] }] });
  assert.deepEqual(l.list().map((p) => p.id), ["screen:9", LESSON, 3, 9]);
  assert.deepEqual(l.list()[0].tracks, ["video"]);
  l.heard({ node: "node-b", on_stage: [{ user_id: 9, name: "Presenter", source: "camera" }] });   // the share stopped
  assert.deepEqual(l.list().map((p) => p.id), [LESSON, 3, 9]);
});

test("a screen the snapshot named keeps its id (a string, not a number) until a node names it or it is forgotten", () => {
  const l = new Lineup();
  l.fromSnapshot([{ user_id: 9, name: "Presenter" }, { user_id: "screen:9", name: "Presenter", owner_id: 9, source: "screen" }]);
  assert.deepEqual(l.list().map((p) => p.id), ["screen:9", 9]);
  assert.ok(l.onlyFromSnapshot("screen:9") && l.onlyFromSnapshot(9));
  l.forget(screenOf(9));   // its share stopped
  assert.deepEqual(l.list().map((p) => p.id), [9]);
  assert.ok(isScreen("screen:9") && !isScreen(9) && !isScreen(LESSON));
});
