// The signed-in teacher's learning record: each activity attended with its date (on the activity's
// clock), minutes present while live, whether it earned credit and why ("需 96 分钟，已参加 72 分钟"),
// a link to its replay, and the totals. An activity the teacher helped run is marked by their role and
// earns no credit. On a phone each row is a card whose cells name their column. User text is only ever text.
(function () {
  "use strict";
  var $ = Collab.$, el = Collab.el, T = Collab.T, api = collabApi;

  function showError(err) { Collab.say($("error"), err); }
  function amount(m) {  // minutes with a decimal while they are few
    return m < 10 ? Math.round(m * 10) / 10 : Math.round(m);
  }
  function minutes(m) { return T(amount(m) + " 分钟", amount(m) + " min"); }
  function cell(text, cls, label) {  // named by its column, for the card layout (td::before)
    var td = el("td", text, cls);
    td.dataset.label = label;
    return td;
  }

  // The credit column: the verdict, and the rule's numbers for this activity.
  function creditCell(a) {
    var c = cell(null, "credited", T("学时", "Credit")), box = el("span", null, "credit");
    c.appendChild(box);
    if (a.role !== "teacher") {
      box.appendChild(el("span", T("不计学时", "no credit"), "badge role"));
      box.appendChild(el("span", T("您是本活动的" + Collab.roleName(a.role), "You were its " + Collab.roleName(a.role)), "credit-note"));
      return c;
    }
    var verdict = a.credited ? T("已获得", "credited") : a.state === "live" ? T("进行中", "in progress") : T("未获得", "not credited");
    box.appendChild(el("span", verdict, "badge " + (a.credited ? "yes" : "no")));
    box.appendChild(el("span", T("需 " + amount(a.needed_minutes) + " 分钟，已参加 " + amount(a.minutes) + " 分钟",
                               "Needs " + amount(a.needed_minutes) + " min, attended " + amount(a.minutes) + " min"), "credit-note"));
    return c;
  }

  function render(r) {
    var list = r.activities, body = Collab.clear($("rows"));
    var total = list.reduce(function (s, a) { return s + a.minutes; }, 0);
    var credited = list.filter(function (a) { return a.credited; });
    $("t-activities").textContent = String(list.length);
    $("t-minutes").textContent = minutes(total);
    $("t-credited").textContent = String(credited.length);
    var hours = Math.round((r.credited_minutes || 0) / 6) / 10;
    $("t-hours").textContent = T(hours + " 小时", hours + " h");
    $("t-hours").appendChild(el("small", T("（" + minutes(r.credited_minutes || 0) + "）", " (" + minutes(r.credited_minutes || 0) + ")")));
    list.forEach(function (a) {
      var zone = a.time_zone || "Asia/Shanghai";
      var tr = el("tr");
      tr.dataset.activityId = a.activity_id;
      var date = cell(Collab.fmtDate(a.starts_at, zone), "date", T("日期", "Date"));
      date.title = Collab.fmtSpan(a.starts_at, a.ends_at, zone) + T("（" + zone + "）", " (" + zone + ")");
      tr.appendChild(date);
      var name = cell(null, "title lead", T("活动", "Activity")), link = el("a", a.title);
      link.href = "/activities/" + a.activity_id;
      name.appendChild(link);
      tr.appendChild(name);
      tr.appendChild(cell(minutes(a.minutes), "minutes num", T("分钟", "Minutes")));
      tr.appendChild(creditCell(a));
      var rp = cell(null, "replay", T("回放", "Replay"));
      if (a.state === "ended" || a.state === "archived") {
        var replay = el("a", T("观看回放", "Replay"));
        replay.href = "/activities/" + a.activity_id + "/replay";
        replay.setAttribute("aria-label", T("观看回放：", "Replay: ") + a.title);
        rp.appendChild(replay);
      } else {
        rp.appendChild(el("span", a.state === "live" ? T("直播中", "live now") : "—", "muted"));
      }
      tr.appendChild(rp);
      body.appendChild(tr);
    });
    $("learning-table").hidden = !list.length;
    $("empty").hidden = list.length > 0;
    $("record").hidden = false;
  }

  Collab.start().then(function () { return api("/api/me/learning").then(render); }).catch(showError);
})();
