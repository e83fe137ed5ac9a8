// The studio directory (/studios): filters (subject, grade, region, a search word, only mine) kept in
// the address, a card per studio with its leader, level and member count, my role or "apply to join"
// with a note, and a form that founds a studio and goes to it. studio.js shares the text helpers here
// (StudioUI). User text is only ever set as text.
(function (global) {
  "use strict";
  var $ = Collab.$, el = Collab.el, T = Collab.T, api = collabApi;

  var SUBJECTS = Collab.SUBJECTS, subjectName = Collab.subjectName, gradeName = Collab.gradeName;
  var showError = Collab.say;
  // "数学 · 8 年级 · 浙江": the parts a studio has, translated where they are known codes.
  function levelLine(s) {
    return [subjectName(s.subject), gradeName(s.grade), s.region].filter(function (x) { return x; }).join(" · ");
  }
  function fillLists() {
    var sl = $("subject-list"), gl = $("grade-list");
    if (sl && !sl.children.length) {
      Object.keys(SUBJECTS).forEach(function (k) { var o = el("option", subjectName(k)); o.value = k; sl.appendChild(o); });
    }
    if (gl && !gl.children.length) {
      for (var g = 1; g <= 12; g++) { var o = el("option", gradeName(String(g))); o.value = String(g); gl.appendChild(o); }
    }
  }
  global.StudioUI = { levelLine: levelLine, fillLists: fillLists };

  if (document.body.dataset.page !== "studios") return;

  var FIELDS = ["subject", "grade", "region", "q"];
  var form = $("filters");

  function query() {
    var p = new URLSearchParams();
    FIELDS.forEach(function (k) { var v = form[k].value.trim(); if (v) p.set(k, v); });
    if (form.mine.checked) p.set("mine", "1");
    return p;
  }
  function fromAddress() {
    var p = new URLSearchParams(location.search);
    FIELDS.forEach(function (k) { form[k].value = p.get(k) || ""; });
    form.mine.checked = p.get("mine") === "1";
  }

  function applyForm(s, holder) {
    var f = el("form", null, "apply");
    var label = el("label");
    label.appendChild(el("span", T("给领衔人的留言（可选）", "A note to the leader (optional)")));
    var note = el("input");
    note.name = "note"; note.maxLength = 500;
    label.appendChild(note);
    var button = el("button", T("申请加入", "Apply to join"));
    button.type = "submit";
    var err = el("p", null, "error");
    err.setAttribute("role", "alert"); err.hidden = true;
    f.appendChild(label); f.appendChild(button); f.appendChild(err);
    f.onsubmit = function (e) {
      e.preventDefault();
      button.disabled = true;
      api("/api/studios/" + s.id + "/apply", { method: "POST", body: JSON.stringify({ note: note.value }) }).then(function () {
        Collab.clear(holder).appendChild(sentNote());
      }, function (er) { button.disabled = false; showError(err, er); });
    };
    return f;
  }
  function sentNote() {
    var p = el("p", T("申请已发送，等待领衔人审核。", "Application sent; the leader will decide."), "notice sent");
    p.setAttribute("role", "status");
    return p;
  }

  function card(s) {
    var li = el("li", null, "studio-card card");
    li.dataset.id = s.id;
    var h = el("h2");
    var a = el("a", s.name);
    a.href = "/studios/" + s.id;
    h.appendChild(a);
    li.appendChild(h);
    var meta = el("p", null, "meta");
    var level = levelLine(s);
    if (level) meta.appendChild(el("span", level, "level"));
    meta.appendChild(el("span", T("领衔人：", "Leader: ") + (s.leader ? s.leader.name : ""), "leader"));
    meta.appendChild(el("span", T(s.members + " 位成员", s.members === 1 ? "1 member" : s.members + " members"), "count"));
    li.appendChild(meta);
    if (s.description) li.appendChild(el("p", s.description, "desc"));
    var place = el("div", null, "place");
    if (s.me && s.me.role) {
      place.appendChild(el("span", T("我的角色：", "My role: ") + Collab.roleName(s.me.role), "badge my-role"));
    } else if (s.me && s.me.pending) {
      place.appendChild(sentNote());
    } else {
      place.appendChild(applyForm(s, place));
    }
    li.appendChild(place);
    return li;
  }

  function load() {
    var p = query();
    var qs = p.toString();
    history.replaceState(null, "", "/studios" + (qs ? "?" + qs : ""));
    $("dir-error").hidden = true;
    return api("/api/studios" + (qs ? "?" + qs : "")).then(function (r) {
      var list = Collab.clear($("directory"));
      r.studios.forEach(function (s) { list.appendChild(card(s)); });
      $("dir-count").textContent = r.studios.length
        ? T("共 " + r.studios.length + " 个工作室", r.studios.length === 1 ? "1 studio" : r.studios.length + " studios")
        : T("没有符合条件的工作室", "No studio matches");
    }, function (err) { showError($("dir-error"), err); });
  }

  Collab.start().then(function () {
    fillLists();
    fromAddress();
    form.onsubmit = function (e) { e.preventDefault(); load(); };
    form.onreset = function () { setTimeout(load, 0); };
    load();
    $("found-form").onsubmit = function (e) {
      e.preventDefault();
      var f = e.target, body = {};
      ["name", "subject", "grade", "region", "description"].forEach(function (k) { body[k] = f[k].value.trim(); });
      $("found-error").hidden = true;
      api("/api/studios", { method: "POST", body: JSON.stringify(body) }).then(function (s) {
        location.href = "/studios/" + s.id;
      }, function (err) { showError($("found-error"), err); });
    };
  }, function (err) { showError($("dir-error"), err); });
})(window);
