// The signed-in teacher's learning record: each activity attended with its date, minutes present while
// live and whether it earned credit, a link to its replay, and the totals. User text is only ever text.
(function () {
  "use strict";
  var $ = Collab.$, el = Collab.el, T = Collab.T, api = collabApi;

  function showError(err) { Collab.say($("error"), err); }
  function minutes(m) {  // minutes with a decimal while they are few
    var v = m < 10 ? Math.round(m * 10) / 10 : Math.round(m);
    return T(v + " 分钟", v + " min");
  }
  function day(iso) {
    return new Date(iso).toLocaleDateString(Collab.locale(), { year: "numeric", month: "short", day: "numeric" });
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
    $("t-hours").appendChild(el("small", " (" + minutes(r.credited_minutes || 0) + ")"));
    list.forEach(function (a) {
      var tr = el("tr");
      tr.dataset.activityId = a.activity_id;
      tr.appendChild(el("td", day(a.starts_at), "date"));
      var name = el("td", null, "title"), link = el("a", a.title);
      link.href = "/activities/" + a.activity_id;
      name.appendChild(link);
      tr.appendChild(name);
      tr.appendChild(el("td", minutes(a.minutes), "minutes num"));
      var c = el("td", null, "credited");
      c.appendChild(el("span", a.credited ? T("已获得", "credited") : T("未获得", "not credited"), "badge " + (a.credited ? "yes" : "no")));
      tr.appendChild(c);
      var rp = el("td", null, "replay");
      if (a.state === "ended" || a.state === "archived") {
        var replay = el("a", T("观看回放", "Replay"));
        replay.href = "/activities/" + a.activity_id + "/replay";
        replay.setAttribute("aria-label", T("观看回放: ", "Replay: ") + a.title);
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
