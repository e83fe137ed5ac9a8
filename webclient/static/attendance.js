// The attendance report of one activity, for its organizer: the totals over the teachers, a chart of how
// many people were present across the live window (inline SVG drawn here, phases marked, with a text
// summary), one row per teacher sortable by minutes, the staff apart under their role (they run the
// activity and earn no credit), and the CSV export in the page's language. Times are on the activity's
// clock (its time_zone). On a phone each row is a card whose cells name their column. While the
// activity is live the report refreshes every half minute. With group phases: each teacher's group,
// and the groups with what each member said and the notes' length, and the groups' CSV. User text is only ever set as text.
(function () {
  "use strict";
  var $ = Collab.$, el = Collab.el, T = Collab.T, api = collabApi;
  var SVG = "http://www.w3.org/2000/svg";
  var aid = Number(document.querySelector("main").dataset.activityId);
  var activity = null, report = null, sort = null, drawnWidth = 0, zone = "Asia/Shanghai";

  function showError(err) { Collab.say($("error"), err); }
  function minutes(m) {  // minutes with a decimal while they are few
    var v = m < 10 ? Math.round(m * 10) / 10 : Math.round(m);
    return T(v + " 分钟", v + " min");
  }
  function clock(iso, seconds) {  // the time of day on the activity's clock, to the second or the minute
    var c = Collab.fmtClock(iso, zone);
    return seconds ? c : c.replace(/:\d\d$/, "");
  }
  function number(n) { return Number(n).toLocaleString(Collab.locale()); }
  function median(values) {
    if (!values.length) return 0;
    var v = values.slice().sort(function (a, b) { return a - b; }), mid = Math.floor(v.length / 2);
    return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
  }

  // -- totals and the table --------------------------------------------------------------------------
  // The totals are over the teachers: staff in the room are neither attendees seeking credit nor misses.
  function renderTotals() {
    var rows = report.attendees, credited = rows.filter(function (r) { return r.credited; }).length;
    $("t-attendees").textContent = number(rows.length);
    var share = rows.length ? Math.round(credited * 100 / rows.length) + "%" : "";
    $("t-credited").textContent = number(credited) + (share ? T("（" + share + "）", " (" + share + ")") : "");
    $("t-median").textContent = minutes(median(rows.map(function (r) { return r.seconds; })) / 60);
    var pct = Math.round(report.credit_ratio * 1000) / 10;
    $("t-rule").textContent = T("直播期间在线满安排时长的 " + pct + "%（" + minutes(report.needed_minutes) + "）",
                                "Present while live for " + pct + "% of the scheduled time (" + minutes(report.needed_minutes) + ")");
    $("t-staff").textContent = number(report.staff.length);
  }
  // A cell named by its column, for the phone's card layout (td::before shows data-label).
  function cell(text, cls, label) {
    var td = el("td", text, cls);
    td.dataset.label = label;
    return td;
  }
  function timeCell(iso, label) {
    var td = cell(iso ? clock(iso, true) : "—", "time", label);
    if (iso) td.title = Collab.fmtTime(iso, zone);
    return td;
  }
  function renderRows() {
    var rows = report.attendees.slice();
    if (sort) rows.sort(function (a, b) { return sort === "desc" ? b.seconds - a.seconds : a.seconds - b.seconds; });
    var body = Collab.clear($("rows"));
    rows.forEach(function (r) {
      var tr = el("tr");
      tr.dataset.userId = r.user_id;
      tr.appendChild(cell(r.name || "#" + r.user_id, "name lead", T("教师", "Teacher")));
      var m = cell(minutes(r.minutes), "minutes num", T("分钟", "Minutes"));
      m.dataset.seconds = r.seconds;
      tr.appendChild(m);
      var c = cell(null, "credited", T("学时", "Credited"));
      c.appendChild(el("span", r.credited ? T("是", "yes") : T("否", "no"), "badge " + (r.credited ? "yes" : "no")));
      tr.appendChild(c);
      tr.appendChild(cell(String(r.rejoins), "num", T("重连", "Rejoins")));
      tr.appendChild(timeCell(r.first_join, T("首次进入", "First join")));
      tr.appendChild(timeCell(r.last_leave, T("最后离开", "Last leave")));
      tr.appendChild(cell(r.school || "—", "school", T("学校", "School")));
      tr.appendChild(cell(r.region || "—", "region", T("地区", "Region")));
      if (hasGroups()) tr.appendChild(cell(r.group || "—", "group", T("小组", "Group")));
      body.appendChild(tr);
    });
    $("rows-table").hidden = !rows.length;
    $("empty").hidden = rows.length > 0;
    $("th-minutes").setAttribute("aria-sort", sort === "desc" ? "descending" : sort === "asc" ? "ascending" : "none");
    $("sort-mark").textContent = sort === "desc" ? "↓" : sort === "asc" ? "↑" : "↕";
    $("sort-minutes").setAttribute("aria-label", sort === "desc"
      ? T("按分钟排序（当前从多到少）", "Sort by minutes (now most first)")
      : T("按分钟从多到少排序", "Sort by minutes, most first"));
  }
  // The organizer, hosts, experts and presenters who came in: under their role, with their time.
  function renderStaff() {
    var body = Collab.clear($("staff-rows"));
    report.staff.forEach(function (r) {
      var tr = el("tr");
      tr.dataset.userId = r.user_id;
      tr.dataset.role = r.role;
      tr.appendChild(cell(r.name || "#" + r.user_id, "name lead", T("姓名", "Name")));
      var role = cell(null, "role", T("角色", "Role"));
      role.appendChild(el("span", Collab.roleName(r.role), "badge role"));
      tr.appendChild(role);
      tr.appendChild(cell(minutes(r.minutes), "minutes num", T("分钟", "Minutes")));
      tr.appendChild(timeCell(r.first_join, T("首次进入", "First join")));
      tr.appendChild(timeCell(r.last_leave, T("最后离开", "Last leave")));
      body.appendChild(tr);
    });
    $("staff").hidden = !report.staff.length;
  }

  // -- the chart -------------------------------------------------------------------------------------
  function svg(tag, attrs, text) {
    var e = document.createElementNS(SVG, tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function niceMax(n) {
    if (n <= 4) return Math.max(1, n);
    var p = Math.pow(10, Math.floor(Math.log10(n))), m = n / p;
    return (m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
  }
  function renderChart() {
    var box = Collab.clear($("chart-svg")), legend = Collab.clear($("phase-legend"));
    var pts = report.timeline, step = report.timeline_step;
    if (!pts.length) {
      $("chart-summary").textContent = T("活动还没有开始直播，暂无在线曲线。", "The activity has not gone live yet: no curve to draw.");
      return;
    }
    var W = Math.max(280, box.clientWidth || 600), H = W < 480 ? 200 : 240;
    drawnWidth = W;
    var L = 40, R = 12, TOP = 18, B = 30, w = W - L - R, h = H - TOP - B;
    var t0 = new Date(pts[0].at).getTime();
    var t1 = report.ended_at ? new Date(report.ended_at).getTime() : new Date(pts[pts.length - 1].at).getTime() + step * 1000;
    t1 = Math.max(t1, new Date(pts[pts.length - 1].at).getTime() + 1);
    var peak = 0, peakAt = pts[0].at;
    pts.forEach(function (p) { if (p.present > peak) { peak = p.present; peakAt = p.at; } });
    var ymax = niceMax(peak), fine = (t1 - t0) < 10 * 60000;
    function x(t) { return L + (t - t0) / (t1 - t0) * w; }
    function y(n) { return TOP + h - n / ymax * h; }

    var summary = fine
      ? T(clock(pts[0].at, true) + " 至 " + clock(new Date(t1).toISOString(), true), clock(pts[0].at, true) + " to " + clock(new Date(t1).toISOString(), true))
      : T(clock(pts[0].at) + " 至 " + clock(new Date(t1).toISOString()), clock(pts[0].at) + " to " + clock(new Date(t1).toISOString()));
    var last = pts[pts.length - 1].present;
    // The curve counts everyone in the room, staff too: people, not teachers.
    summary += T("：最多同时 " + number(peak) + " 人在线（" + clock(peakAt, fine) + "），最后一刻 " + number(last) + " 人。",
                 ": at most " + number(peak) + (peak === 1 ? " person" : " people") + " present at once (at " +
                 clock(peakAt, fine) + "), " + number(last) + " at the last point.");
    summary += T("每 " + (step >= 60 ? step / 60 + " 分钟" : step + " 秒") + "一个点，共 " + pts.length + " 个。",
                 " One point every " + (step >= 60 ? (step / 60 === 1 ? "minute" : step / 60 + " minutes") : step + " s") +
                 ", " + pts.length + " points.");

    var s = svg("svg", { viewBox: "0 0 " + W + " " + H, width: W, height: H, role: "img",
                         "aria-labelledby": "chart-summary", "class": "curve-svg" });
    [0, ymax / 2, ymax].forEach(function (v) {  // the y axis: none, half, the top
      if (v !== Math.round(v)) return;
      s.appendChild(svg("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), "class": "grid" }));
      s.appendChild(svg("text", { x: L - 6, y: y(v) + 4, "text-anchor": "end", "class": "tick" }, number(v)));
    });
    var ticks = W < 480 ? [t0, t1] : [t0, (t0 + t1) / 2, t1];
    ticks.forEach(function (t, i) {
      var anchor = i === 0 ? "start" : i === ticks.length - 1 ? "end" : "middle";
      s.appendChild(svg("text", { x: x(t), y: H - 8, "text-anchor": anchor, "class": "tick" },
                        clock(new Date(t).toISOString(), fine)));
    });
    (report.phases || []).forEach(function (p, i) {  // the phases: a line where each began, numbered
      var t = new Date(p.at).getTime();
      if (t < t0 - 1000 || t > t1) return;
      var px = Math.max(L, Math.min(W - R, x(t)));
      var g = svg("g", { "class": "phase-mark", "data-phase": p.phase });
      g.appendChild(svg("line", { x1: px, x2: px, y1: TOP - 4, y2: TOP + h }));
      g.appendChild(svg("text", { x: px + 3, y: TOP + 6, "class": "phase-no" }, String(i + 1)));
      g.appendChild(svg("title", {}, (i + 1) + ". " + p.title + " · " + clock(p.at, fine)));
      s.appendChild(g);
      var li = el("li");
      li.appendChild(el("span", String(i + 1), "phase-no"));
      li.appendChild(el("span", p.title + " · " + clock(p.at, fine)));
      legend.appendChild(li);
    });
    var line = pts.map(function (p, i) {
      return (i ? "L" : "M") + x(new Date(p.at).getTime()).toFixed(1) + " " + y(p.present).toFixed(1);
    }).join(" ");
    var lastX = x(new Date(pts[pts.length - 1].at).getTime()).toFixed(1);
    s.appendChild(svg("path", { d: line + " L" + lastX + " " + y(0) + " L" + x(t0).toFixed(1) + " " + y(0) + " Z", "class": "area" }));
    s.appendChild(svg("path", { d: line, "class": "line" }));
    var r = pts.length > 90 ? 1.5 : 3;
    pts.forEach(function (p) {
      var c = svg("circle", { cx: x(new Date(p.at).getTime()).toFixed(1), cy: y(p.present).toFixed(1), r: r, "class": "pt",
                              "data-present": p.present });
      c.appendChild(svg("title", {}, clock(p.at, fine) + " · " + T(p.present + " 人在线", p.present + " present")));
      s.appendChild(c);
    });
    box.appendChild(s);
    $("chart-summary").textContent = summary;
  }

  // -- the groups: each group phase, each group's members with what they said, the notes' length ----
  function hasGroups() { return !!(report.groups && report.groups.length); }
  var HOW = { late: ["迟到加入", "joined late"], chosen: ["自选", "chose"], moved: ["调整", "moved"], listed: ["名单", "listed"] };
  function renderGroups() {
    $("th-group").hidden = !hasGroups();
    $("groups").hidden = !hasGroups();
    var box = Collab.clear($("group-list"));
    (report.groups || []).forEach(function (ph) {
      box.appendChild(el("h3", (ph.phase + 1) + ". " + ph.title));
      var wrap = el("div", null, "group-cards");
      ph.groups.forEach(function (g) {
        var card = el("article", null, "group-card card");
        card.dataset.groupId = g.id;
        card.appendChild(el("h4", g.name));
        card.appendChild(el("p", T(g.members.length + " 人 · " + g.messages + " 条发言 · 研讨记录 " + number(g.notes_chars || 0) + " 字",
                                   g.members.length + " people · " + g.messages + " messages · notes " + number(g.notes_chars || 0) + " characters") +
                                 (g.hidden ? T("（" + g.hidden + " 条被隐藏）", " (" + g.hidden + " hidden)") : ""), "muted group-sums"));
        var ul = el("ul", null, "group-members");
        g.members.forEach(function (m) {
          var li = el("li");
          li.dataset.userId = m.id;
          li.appendChild(el("span", m.name, "name"));
          li.appendChild(el("span", T(m.messages + " 条发言", m.messages + " messages"), "num said"));
          li.appendChild(el("span", T("编辑 " + (m.notes_edits || 0) + " 次", (m.notes_edits || 0) + " edits"), "num edits"));
          if (g.rapporteur && g.rapporteur.id === m.id) li.appendChild(el("span", T("汇报人", "rapporteur"), "badge"));
          if (HOW[m.how]) li.appendChild(el("span", T(HOW[m.how][0], HOW[m.how][1]), "badge"));
          ul.appendChild(li);
        });
        card.appendChild(ul);
        wrap.appendChild(card);
      });
      box.appendChild(wrap);
    });
  }

  function load() {
    return Promise.all([api("/api/activities/" + aid), api("/api/activities/" + aid + "/attendance")]).then(function (r) {
      activity = r[0];
      report = r[1];
      zone = activity.time_zone || "Asia/Shanghai";
      showError(null);
      $("act-title").textContent = activity.title;
      document.title = T("考勤 · ", "Attendance · ") + activity.title + " · collab";
      var when = Collab.clear($("act-when"));
      when.appendChild(document.createTextNode(Collab.fmtSpan(activity.starts_at, activity.ends_at, zone) + " "));
      when.appendChild(el("span", T("（时区：" + zone + "）", "(time zone: " + zone + ")"), "zone"));
      $("report").hidden = false;
      renderTotals();
      renderRows();
      renderStaff();
      renderGroups();
      renderChart();
      return activity;
    });
  }

  Collab.start().then(function () {
    $("export-groups").onclick = function () {
      Collab.download("/api/activities/" + aid + "/groups.csv", "groups-" + aid + ".csv").then(function () { showError(null); }, showError);
    };
    $("sort-minutes").onclick = function () { sort = sort === "desc" ? "asc" : "desc"; renderRows(); };
    $("export").onclick = function () {
      var path = "/api/activities/" + aid + "/attendance.csv?lang=" + T("zh", "en");  // headers in the page's language
      Collab.download(path, "attendance-" + aid + ".csv").then(function () { showError(null); }, showError);
    };
    var timer = null;
    window.addEventListener("resize", function () {
      clearTimeout(timer);
      timer = setTimeout(function () { if (report && $("chart-svg").clientWidth !== drawnWidth) renderChart(); }, 150);
    });
    return load().then(function (a) {
      if (a.state === "live") setInterval(function () { load().catch(showError); }, 30000);
    });
  }).catch(showError);
})();
