// The activity list: upcoming / live / past tabs and the subject, grade, level and region filters, all
// kept in the page's query so a filtered list can be shared and survives a reload. Each activity asks
// the API for the caller's place in it (`me`): a teacher sees their registration and a Register button,
// whoever runs it sees edit and attendance links. User text is only ever set as text.
(function () {
  "use strict";
  var $ = Collab.$, el = Collab.el, T = Collab.T, api = collabApi;
  var STATUSES = ["upcoming", "live", "past"];
  var FILTERS = ["subject", "grade", "level", "region"];
  var LEVELS = { national: ["国家级", "National"], province: ["省级", "Province"], city: ["市级", "City"],
                 county: ["县级", "County"], school: ["校级", "School"] };
  var STATES = { scheduled: ["未开始", "scheduled"], lobby: ["候场中", "lobby open"], live: ["进行中", "live"],
                 ended: ["已结束", "ended"], archived: ["已归档", "archived"], cancelled: ["已取消", "cancelled"] };
  var REGS = { pending: ["待审核", "awaiting approval"], approved: ["已报名", "registered"],
               rejected: ["未通过审核", "not approved"] };
  var me = null, generation = 0;

  function name(table, key) { var n = table[key]; return n ? T(n[0], n[1]) : key; }
  function showError(err) { Collab.say($("error"), err); }

  // -- the query: ?status=…&subject=…&grade=…&level=…&region=… ---------------------------------------
  function readQuery() {
    var q = new URLSearchParams(location.search), out = { status: q.get("status") || "upcoming" };
    if (STATUSES.indexOf(out.status) < 0) out.status = "upcoming";
    FILTERS.forEach(function (k) { out[k] = (q.get(k) || "").trim(); });
    return out;
  }
  function writeQuery(state, replace) {
    var q = new URLSearchParams();
    if (state.status !== "upcoming") q.set("status", state.status);
    FILTERS.forEach(function (k) { if (state[k]) q.set(k, state[k]); });
    var url = location.pathname + (q.toString() ? "?" + q.toString() : "");
    if (url === location.pathname + location.search) return;
    if (replace) history.replaceState(null, "", url); else history.pushState(null, "", url);
  }
  function fromForm(status) {
    var f = $("filters"), out = { status: status };
    FILTERS.forEach(function (k) { out[k] = f.elements[k].value.trim(); });
    return out;
  }
  function toForm(state) {
    var f = $("filters");
    FILTERS.forEach(function (k) { f.elements[k].value = state[k]; });
    STATUSES.forEach(function (s) {
      var tab = $("tab-" + s);
      tab.setAttribute("aria-selected", s === state.status ? "true" : "false");
      tab.className = s === state.status ? "current" : "";
    });
    $("list").setAttribute("aria-labelledby", "tab-" + state.status);
  }

  // -- one activity ----------------------------------------------------------------------------------
  function span(a) { return Collab.fmtSpan(a.starts_at, a.ends_at, a.time_zone); }  // on the activity's clock

  function item(a) {
    var li = el("li", null, "act card");
    li.id = "activity-" + a.id;
    li.dataset.id = a.id;
    var head = el("div", null, "act-head");
    var h = el("h2", null, "act-title"), link = el("a", a.title);
    link.href = "/activities/" + a.id;
    h.appendChild(link);
    head.appendChild(h);
    var badges = el("span", null, "act-badges");
    badges.appendChild(el("span", name(STATES, a.state), "badge state " + a.state));
    badges.appendChild(el("span", name(LEVELS, a.level), "badge level"));
    head.appendChild(badges);
    li.appendChild(head);
    var when = el("p", span(a), "act-when");
    li.appendChild(when);
    var facts = [Collab.subjectName(a.subject), Collab.gradeName(a.grade), a.region].filter(function (x) { return x; });
    if (facts.length) li.appendChild(el("p", facts.join(" · "), "act-facts muted"));
    var actions = el("div", null, "act-actions toolbar");
    if (a.state === "ended" || a.state === "archived") {
      var replay = el("a", T("观看回放", "Replay"), "replay-link");
      replay.href = "/activities/" + a.id + "/replay";
      actions.appendChild(replay);
    }
    li.appendChild(actions);
    mine(a, li, actions);
    return li;
  }

  // The caller's place in it, then what they may do there.
  function mine(a, li, actions) {
    var m = a.me;  // the listing says the caller's place in each entry
    var runs = m.organizer || me.role === "admin";
    var open = a.state === "scheduled" || a.state === "lobby" || a.state === "live";
    var status = el("span", "", "reg-status");
    status.setAttribute("tabindex", "-1");
    function showStatus(reg) {
      status.textContent = reg ? name(REGS, reg) : "";
      status.className = "reg-status badge" + (reg ? " reg-" + reg : "");
      status.hidden = !reg;
    }
    if (m.roles.length) {
      actions.appendChild(el("span", m.roles.map(Collab.roleName).join(" · "), "badge staff"));
    } else if (!m.organizer) {
      showStatus(m.registration);
      actions.appendChild(status);
      if (open && !m.registration && a.visibility !== "invited") {
        var reg = el("button", T("报名", "Register"), "register primary");
        reg.type = "button";
        reg.setAttribute("aria-label", T("报名：", "Register: ") + a.title);
        reg.onclick = function () {
          reg.disabled = true;
          api("/api/activities/" + a.id + "/register", { method: "POST", body: "{}" }).then(function (r) {
            showError(null);
            showStatus(r.status);
            reg.remove();
            status.focus();
          }, function (err) { reg.disabled = false; showError(err); });
        };
        actions.appendChild(reg);
      } else if (open && !m.registration && a.visibility === "invited") {
        actions.appendChild(el("span", T("凭邀请链接参加", "By invitation"), "muted"));
      }
    }
    if (open) {
      var cal = el("button", T("加入日历", "Add to calendar"), "calendar secondary");
      cal.type = "button";
      cal.setAttribute("aria-label", T("加入日历：", "Add to calendar: ") + a.title);
      cal.onclick = function () {
        Collab.download("/api/activities/" + a.id + "/calendar.ics", "activity-" + a.id + ".ics")
          .then(function () { showError(null); }, showError);
      };
      actions.appendChild(cal);
    }
    if (runs) {
      if (a.state === "scheduled" || a.state === "lobby") {
        var edit = el("a", T("编辑", "Edit"), "edit-link");
        edit.href = "/activities/" + a.id + "/edit";
        actions.appendChild(edit);
      }
      if (a.started_at || a.state === "live" || a.state === "ended" || a.state === "archived") {
        var att = el("a", T("考勤报告", "Attendance"), "attendance-link");
        att.href = "/activities/" + a.id + "/attendance";
        actions.appendChild(att);
      }
    }
    li.dataset.ready = "1";
  }

  // -- the list --------------------------------------------------------------------------------------
  function load(state) {
    var mineGen = ++generation;
    toForm(state);
    var q = new URLSearchParams({ status: state.status });
    FILTERS.forEach(function (k) { if (state[k]) q.set(k, state[k]); });
    $("status").textContent = T("加载中…", "Loading…");
    $("list").setAttribute("aria-busy", "true");
    api("/api/activities?" + q.toString()).then(function (r) {
      if (mineGen !== generation) return;  // a newer request is on its way
      showError(null);
      Collab.clear($("list"));
      r.activities.forEach(function (a) { $("list").appendChild(item(a)); });
      var filtered = FILTERS.some(function (k) { return state[k]; });
      $("status").textContent = r.activities.length
        ? T("共 " + r.activities.length + " 个活动", r.activities.length + (r.activities.length === 1 ? " activity" : " activities"))
        : (filtered ? T("没有符合筛选条件的活动", "No activity matches these filters")
                    : T("暂无活动", "Nothing here yet"));
      $("list").removeAttribute("aria-busy");
    }, function (err) {
      if (mineGen !== generation) return;
      $("status").textContent = "";
      $("list").removeAttribute("aria-busy");
      showError(err);
    });
  }

  function feed() {
    api("/api/me/calendar").then(function (r) {
      var a = $("calendar-feed");
      a.href = r.url;
      a.hidden = false;
      $("calendar-feed-help").hidden = false;
    }, showError);
  }

  Collab.start().then(function (user) {
    me = user;
    $("schedule-link").hidden = !(user.role === "organizer" || user.role === "admin");
    var state = readQuery();
    STATUSES.forEach(function (s, i) {
      var tab = $("tab-" + s);
      tab.onclick = function () {
        state = fromForm(s);
        writeQuery(state);
        load(state);
      };
      tab.onkeydown = function (e) {  // arrow keys move between tabs, as in every tab strip
        var d = e.key === "ArrowRight" ? 1 : e.key === "ArrowLeft" ? -1 : 0;
        if (!d) return;
        e.preventDefault();
        var next = $("tab-" + STATUSES[(i + d + STATUSES.length) % STATUSES.length]);
        next.focus();
        next.click();
      };
    });
    $("filters").onsubmit = function (e) {
      e.preventDefault();
      state = fromForm(state.status);
      writeQuery(state);
      load(state);
    };
    $("f-level").onchange = function () { $("filters").requestSubmit(); };
    $("f-clear").onclick = function () {
      state = { status: state.status, subject: "", grade: "", level: "", region: "" };
      writeQuery(state);
      load(state);
    };
    window.addEventListener("popstate", function () { state = readQuery(); load(state); });
    writeQuery(state, true);
    load(state);
    feed();
  }, showError);
})();
