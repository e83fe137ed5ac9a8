// The schedule form: a new activity (/activities/new, ?studio=ID for a studio's own), or an edit of one
// (/activities/ID/edit) with its registration queue and invitation links. The agenda builder adds
// phases of the five kinds with their permissions prefilled from the kind's defaults, moves and removes
// them, and shows the planned minutes against the scheduled span. A group discussion carries its plan
// (size, how teachers are put together, guiding questions, group names) and, when it assigns from a
// list, the list's upload once the activity is saved. The API validates; its error is shown by the form,
// pointing at the field it names. User text is only ever set as text.
(function () {
  "use strict";
  var $ = Collab.$, el = Collab.el, T = Collab.T, api = collabApi;
  var main = document.querySelector("main");
  var activityId = main.dataset.activityId ? Number(main.dataset.activityId) : null;

  // The kinds and what a phase of each allows unless changed: as sessions/agenda.py (KINDS, DEFAULTS).
  var KINDS = {
    lesson_display: { name: ["课例展示", "Lesson display"], minutes: 40,
                      perms: { chat: false, questions: true, hands: false, polls: false } },
    discussion: { name: ["研讨交流", "Discussion"], minutes: 30,
                  perms: { chat: true, questions: true, hands: true, polls: false } },
    expert_guidance: { name: ["专家引领", "Expert guidance"], minutes: 20,
                       perms: { chat: false, questions: true, hands: false, polls: false } },
    online_interaction: { name: ["在线互动", "Online interaction"], minutes: 15,
                          perms: { chat: true, questions: true, hands: true, polls: true } },
    group_discussion: { name: ["分组研讨", "Group discussion"], minutes: 20,
                        perms: { chat: true, questions: false, hands: false, polls: false } },
    custom: { name: ["自定义", "Custom"], minutes: 15,
              perms: { chat: true, questions: true, hands: false, polls: false } }
  };
  var KIND_ORDER = ["lesson_display", "discussion", "expert_guidance", "online_interaction", "group_discussion", "custom"];
  // How a group discussion puts teachers together: as sessions/agenda.py ASSIGN (docs/groups.md).
  var ASSIGN = [["random", "随机", "At random"],
                ["by_school", "按学校（同校同组）", "By school (one school together)"],
                ["mix_schools", "按学校（不同学校混编）", "By school (schools mixed)"],
                ["by_region", "按地区（同地区同组）", "By region (one region together)"],
                ["mix_regions", "按地区（混编）", "By region (regions mixed)"],
                ["list", "按名单", "From a list"],
                ["self_select", "自主选择", "Teachers choose"]];
  function newPlan() { return { size: 8, assign: "random", questions: [], names: [] }; }
  var PERMS = [["chat", "讨论", "Chat"], ["questions", "提问", "Questions"], ["hands", "举手", "Hands"],
               ["polls", "投票", "Polls"]];
  var ROLES = [["host", "主持人", "Hosts", "添加主持人", "Add a host"],
               ["expert", "专家", "Experts", "添加专家", "Add an expert"],
               ["presenter", "主讲人", "Presenters", "添加主讲人", "Add a presenter"]];
  var FIELDS = { title: ["标题", "Title"], description: ["简介", "Description"], subject: ["学科", "Subject"],
                 grade: ["年级", "Grade"], level: ["级别", "Level"], region: ["地区", "Region"],
                 starts_at: ["开始时间", "Starts"], ends_at: ["结束时间", "Ends"], capacity: ["人数上限", "Capacity"],
                 front_row: ["实时观看名额", "Real-time seats"],
                 visibility: ["可见范围", "Who may see it"], registration: ["报名方式", "Registration"],
                 agenda: ["议程", "Agenda"], staff: ["人员", "Staff"], hosts: ["主持人", "Hosts"],
                 experts: ["专家", "Experts"], presenters: ["主讲人", "Presenters"], studio_id: ["工作室", "Studio"] };
  // The agenda rules' messages (sessions/agenda.py) in Chinese; others are shown as the server words them.
  var MESSAGES = [
    [/must end after it starts/, "结束时间必须晚于开始时间"], [/lasts at most 24 hours/, "活动最长 24 小时"],
    [/is required/, "必须填写"], [/minutes must be a whole number/, "分钟数须为 1 到 600 的整数"],
    [/capacity must be a whole number/, "人数上限须为 1 到 1,000,000 的整数"],
    [/front_row must be a whole number/, "实时观看名额须为 0 到 500 的整数"],
    [/needs a time zone|ISO 8601/, "请填写完整的日期和时间"], [/longer than (\d+) characters/, "超过 $1 个字"],
    [/at most (\d+) phases/, "议程最多 $1 个环节"], [/no such users/, "找不到所选的人员"],
    [/size must be a whole number from (\d+) to (\d+)/, "每组人数须为 $1 到 $2 的整数"],
    [/assign must be one of/, "请选择分组方式"], [/at most (\d+) questions/, "引导问题最多 $1 个"],
    [/names\[\d+\] is empty/, "组名不能为空"], [/the name (.+) is there twice/, "组名“$1”重复了"],
    [/self_select needs from (\d+) to (\d+) group names/, "自主选择须填写 $1 到 $2 个组名"],
    [/at most (\d+) group names/, "组名最多 $1 个"], [/only a group_discussion phase has groups/, "只有分组研讨环节可以设置分组"],
    [/must be a list of texts/, "须为文字，每行一个"]
  ];
  // Why a list was refused (sessions/groups/roster.py), in Chinese; the line is said apart.
  var ROSTER_MESSAGES = [
    [/(\d+) fields?; a line is/, "应为两列（用户名、组名），这一行有 $1 列"], [/the username is empty/, "用户名为空"],
    [/the group name is empty/, "组名为空"], [/the group name is longer than (\d+)/, "组名超过 $1 个字"],
    [/(\S+) is on lines (\d+) and (\d+)/, "用户名 $1 在第 $2 行和第 $3 行重复出现"],
    [/nobody has the username (\S+)/, "没有用户名为 $1 的用户"], [/control character/, "含有控制字符"],
    [/neither UTF-8 nor GB18030/, "文件编码无法识别，请另存为 UTF-8 或 GB18030 编码的 CSV"],
    [/at most ([\d,]+) lines/, "名单最多 $1 行"], [/over (\d+) MB/, "文件超过 $1 MB"],
    [/not CSV/, "不是有效的 CSV（引号没有成对？）"]
  ];
  var phases = [], users = null, staff = { host: [], expert: [], presenter: [] }, studioId = null;
  var loaded = null, me = null;

  function kindName(kind) { var k = KINDS[kind]; return k ? T(k.name[0], k.name[1]) : kind; }
  function say(id, text) { $(id).hidden = !text; $(id).textContent = text || ""; }

  // -- time: datetime-local in the browser's zone <-> ISO 8601 with its offset -----------------------
  function pad(n) { return String(n).padStart(2, "0"); }
  function toLocalInput(iso) {
    var d = new Date(iso);
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + "T" + pad(d.getHours()) + ":" + pad(d.getMinutes());
  }
  function fromLocalInput(value) {
    if (!value) return null;
    var d = new Date(value);  // a date-time without a zone is read in the browser's own
    if (isNaN(d.getTime())) return null;
    var off = -d.getTimezoneOffset(), sign = off >= 0 ? "+" : "-";
    off = Math.abs(off);
    return toLocalInput(d.toISOString()) + ":00" + sign + pad(Math.floor(off / 60)) + ":" + pad(off % 60);
  }
  function spanMinutes() {
    var s = new Date($("s-starts_at").value), e = new Date($("s-ends_at").value);
    if (isNaN(s.getTime()) || isNaN(e.getTime())) return null;
    return Math.round((e - s) / 60000);
  }

  // -- the agenda builder ----------------------------------------------------------------------------
  function newPhase(kind) {
    var k = KINDS[kind], p = { kind: kind, title: kindName(kind), minutes: k.minutes };
    PERMS.forEach(function (perm) { p[perm[0]] = k.perms[perm[0]]; });
    if (kind === "group_discussion") p.groups = newPlan();
    return p;
  }
  function lines(text) { return text.split("\n").map(function (t) { return t.trim(); }).filter(Boolean); }
  function minutesOf(p) { var m = String(p.minutes).trim(); return /^\d+$/.test(m) ? parseInt(m, 10) : m; }

  function total() {
    var sum = phases.reduce(function (acc, p) { var m = minutesOf(p); return acc + (typeof m === "number" ? m : 0); }, 0);
    var span = spanMinutes(), text = T("议程共 " + sum + " 分钟", "Agenda: " + sum + " min");
    var cls = "total";
    if (span !== null && span > 0) {
      text += T("，安排时长 " + span + " 分钟", " of " + span + " min scheduled");
      if (sum > span) { text += T("（超出 " + (sum - span) + " 分钟）", " (" + (sum - span) + " min over)"); cls += " over"; }
      else if (sum < span) text += T("（余 " + (span - sum) + " 分钟）", " (" + (span - sum) + " min to spare)");
    }
    $("total").textContent = text;
    $("total").className = cls;
    $("total").dataset.minutes = sum;
  }

  function button(text, cls, label, onclick) { return Collab.button(text, cls, onclick, label); }

  // Redraw the list; `focus` ({index, cls}) puts the keyboard back where the person was.
  function renderPhases(focus) {
    var ol = Collab.clear($("phases"));
    $("no-phases").hidden = phases.length > 0;
    phases.forEach(function (p, i) {
      var n = i + 1, li = el("li", null, "phase card");
      li.dataset.index = i;
      li.dataset.kind = p.kind;
      var head = el("div", null, "phase-head");
      head.appendChild(el("span", String(n), "phase-no"));
      var kindLabel = el("label", null, "inline");
      kindLabel.appendChild(el("span", T("类型", "Kind"), "sr-only"));
      var kind = el("select", null, "ph-kind");
      KIND_ORDER.forEach(function (k) {
        var o = el("option", kindName(k));
        o.value = k;
        kind.appendChild(o);
      });
      kind.value = p.kind;
      kind.setAttribute("aria-label", T("第 " + n + " 个环节的类型", "Kind of phase " + n));
      kind.onchange = function () {  // a new kind brings that kind's permissions (and its name, if unchanged)
        var fresh = newPhase(kind.value);
        if (p.title === kindName(p.kind)) p.title = fresh.title;
        PERMS.forEach(function (perm) { p[perm[0]] = fresh[perm[0]]; });
        p.kind = kind.value;
        if (p.kind === "group_discussion" && !p.groups) p.groups = newPlan();  // kept, if it had one, for a way back
        renderPhases({ index: i, cls: "ph-kind" });
      };
      kindLabel.appendChild(kind);
      head.appendChild(kindLabel);
      var moves = el("span", null, "phase-moves");
      var up = button("↑", "up", T("上移第 " + n + " 个环节", "Move phase " + n + " up"), function () { move(i, -1); });
      var down = button("↓", "down", T("下移第 " + n + " 个环节", "Move phase " + n + " down"), function () { move(i, 1); });
      up.disabled = i === 0;
      down.disabled = i === phases.length - 1;
      moves.appendChild(up);
      moves.appendChild(down);
      moves.appendChild(button(T("删除", "Remove"), "remove", T("删除第 " + n + " 个环节", "Remove phase " + n), function () {
        phases.splice(i, 1);
        renderPhases(phases.length ? { index: Math.min(i, phases.length - 1), cls: "remove" } : null);
        if (!phases.length) $("add-phase").focus();
      }));
      head.appendChild(moves);
      li.appendChild(head);

      var row = el("div", null, "phase-fields");
      var tl = el("label", null, "ph-title-label");
      tl.appendChild(el("span", T("环节名称", "Title")));
      var title = el("input", null, "ph-title");
      title.maxLength = 200;
      title.value = p.title;
      title.oninput = function () { p.title = title.value; };
      tl.appendChild(title);
      row.appendChild(tl);
      var ml = el("label", null, "ph-minutes-label");
      ml.appendChild(el("span", T("分钟", "Minutes")));
      var minutes = el("input", null, "ph-minutes");
      minutes.type = "number";
      minutes.min = 1; minutes.max = 600; minutes.step = 1;
      minutes.value = p.minutes;
      minutes.oninput = function () { p.minutes = minutes.value; total(); };
      ml.appendChild(minutes);
      row.appendChild(ml);
      li.appendChild(row);

      var perms = el("fieldset", null, "ph-perms");
      perms.appendChild(el("legend", T("本环节允许", "Allowed in this phase")));
      PERMS.forEach(function (perm) {
        var lab = el("label", null, "inline"), box = el("input");
        box.type = "checkbox";
        box.dataset.perm = perm[0];
        box.checked = !!p[perm[0]];
        box.onchange = function () { p[perm[0]] = box.checked; };
        lab.appendChild(box);
        lab.appendChild(el("span", T(perm[1], perm[2])));
        perms.appendChild(lab);
      });
      li.appendChild(perms);
      if (p.kind === "group_discussion") li.appendChild(groupFields(p, i));
      ol.appendChild(li);
    });
    total();
    if (focus) {
      var target = ol.children[focus.index] && ol.children[focus.index].querySelector("." + focus.cls);
      if (target && target.disabled) target = ol.children[focus.index].querySelector(focus.cls === "up" ? ".down" : ".up");
      if (target && !target.disabled) target.focus();
    }
  }
  // A group discussion's plan: size, mode, questions, names; and the list, for a saved phase that has one.
  function groupFields(p, i) {
    var g = p.groups, n = i + 1, box = el("fieldset", null, "ph-groups");
    box.appendChild(el("legend", T("分组设置", "Groups")));
    var row = el("div", null, "grid");
    var sl = el("label"), size = el("input", null, "ph-group-size");
    sl.appendChild(el("span", T("每组人数", "People per group")));
    size.type = "number";
    size.min = 2; size.max = 50; size.step = 1;
    size.value = g.size;
    size.setAttribute("aria-label", T("第 " + n + " 个环节每组人数", "People per group in phase " + n));
    size.oninput = function () { g.size = size.value; };
    sl.appendChild(size);
    row.appendChild(sl);
    var al = el("label"), assign = el("select", null, "ph-group-assign");
    al.appendChild(el("span", T("分组方式", "How groups are made")));
    ASSIGN.forEach(function (a) {
      var o = el("option", T(a[1], a[2]));
      o.value = a[0];
      assign.appendChild(o);
    });
    assign.value = g.assign;
    assign.setAttribute("aria-label", T("第 " + n + " 个环节的分组方式", "How groups are made in phase " + n));
    assign.onchange = function () { g.assign = assign.value; renderPhases({ index: i, cls: "ph-group-assign" }); };
    al.appendChild(assign);
    row.appendChild(al);
    box.appendChild(row);
    box.appendChild(textLines(g, "questions", "ph-group-questions", T("引导问题（每行一个，最多 10 个）", "Guiding questions (one a line, at most 10)"), 3));
    var namesHelp = g.assign === "self_select"
      ? T("每行一个组名；自主选择时必填，至少 2 个，教师从中选择", "One group name a line; required when teachers choose: at least 2 to choose from")
      : T("每行一个组名；不填则为第1组、第2组……", "One group name a line; if none, the groups are numbered");
    box.appendChild(textLines(g, "names", "ph-group-names", T("组名", "Group names"), 3, namesHelp, g.assign === "self_select"));
    if (g.assign === "list") box.appendChild(rosterUpload(p, i));
    return box;
  }
  function textLines(g, key, cls, label, rows, help, required) {
    var lab = el("label"), area = el("textarea", null, cls);
    var head = el("span", label);
    lab.appendChild(head);
    if (required) { var req = el("span", " *", "req"); req.setAttribute("aria-hidden", "true"); lab.appendChild(req); }
    area.rows = rows;
    area.value = (g[key] || []).join("\n");
    area.oninput = function () { g[key] = lines(area.value); };
    lab.appendChild(area);
    if (help) lab.appendChild(el("small", help, "muted"));
    return lab;
  }
  // The list goes to the phase as the server has it: a saved activity whose phase at this place assigns
  // from a list. Until then the form says to save first.
  function rosterUpload(p, i) {
    var box = el("div", null, "roster"), savedHere = activityId !== null && p.saved === i && loaded &&
      loaded.agenda[i] && loaded.agenda[i].groups && loaded.agenda[i].groups.assign === "list";
    box.appendChild(el("p", T("名单为 CSV 文件，每行两列：用户名、组名；可用 Excel 另存为 CSV。",
                              "The list is a CSV file, one “username,group name” a line (Excel saves it with Save As CSV)."), "muted"));
    if (!savedHere) {
      box.appendChild(el("p", T("保存活动后即可在这里上传名单。", "Save the activity, then upload the list here."), "notice roster-later"));
      return box;
    }
    var lab = el("label"), file = el("input", null, "roster-file");
    lab.appendChild(el("span", T("名单文件", "List file")));
    file.type = "file";
    file.accept = ".csv,text/csv";
    lab.appendChild(file);
    box.appendChild(lab);
    var status = el("p", null, "roster-status");
    status.setAttribute("role", "status");
    var error = el("p", null, "error roster-error");
    error.setAttribute("role", "alert");
    error.hidden = true;
    var up = button(T("上传名单", "Upload the list"), "roster-upload", T("上传第 " + (i + 1) + " 个环节的名单", "Upload the list of phase " + (i + 1)), function () {
      if (!file.files.length) { file.focus(); return; }
      up.disabled = true;
      api("/api/activities/" + activityId + "/phases/" + i + "/roster",
          { method: "PUT", body: file.files[0], headers: { "Content-Type": "text/csv" } }).then(function (r) {
        up.disabled = false;
        error.hidden = true;
        rosters[i] = { entries: r.entries, groups: r.groups.length };
        showRoster(status, i);
      }, function (err) {
        up.disabled = false;
        error.hidden = false;
        error.textContent = rosterError(err);
        file.setAttribute("aria-invalid", "true");
        file.focus();
      });
    });
    file.onchange = function () { error.hidden = true; file.removeAttribute("aria-invalid"); };
    box.appendChild(up);
    box.appendChild(error);
    box.appendChild(status);
    showRoster(status, i);
    return box;
  }
  var rosters = {};  // phase index -> {entries, groups} as stored, for the saved activity's list phases
  function showRoster(status, i) {
    var r = rosters[i];
    status.textContent = !r ? "" : r.entries
      ? T("已上传名单：" + r.entries + " 人，" + r.groups + " 个组", "List uploaded: " + r.entries + " teachers in " + r.groups + " groups")
      : T("还没有上传名单。", "No list uploaded yet.");
  }
  function rosterError(err) {
    if (!err || err.code !== "roster_invalid") return Collab.errorText(err);
    var why = String(err.message || "").replace(/^line \d+: /, ""), words = why;
    if (Collab.lang !== "en") {
      words = Collab.errorText(err);
      ROSTER_MESSAGES.some(function (pair) { if (pair[0].test(why)) { words = why.match(pair[0])[0].replace(pair[0], pair[1]); return true; } });
    }
    return err.line ? T("第 " + err.line + " 行：", "Line " + err.line + ": ") + words : words;
  }
  function loadRosters() {
    (loaded.agenda || []).forEach(function (p, i) {
      if (!p.groups || p.groups.assign !== "list") return;
      api("/api/activities/" + activityId + "/phases/" + i + "/roster").then(function (r) {
        rosters[i] = { entries: r.entries.length, groups: new Set(r.entries.map(function (e) { return e.group; })).size };
        var li = $("phases").children[i], status = li && phases[i] && phases[i].saved === i && li.querySelector(".roster-status");
        if (status) showRoster(status, i);
      }, function () {});
    });
  }

  function move(i, d) {
    var j = i + d;
    if (j < 0 || j >= phases.length) return;
    var p = phases[i];
    phases[i] = phases[j];
    phases[j] = p;
    renderPhases({ index: j, cls: d < 0 ? "up" : "down" });
  }

  // -- hosts, experts and presenters -----------------------------------------------------------------
  function userLabel(u) {
    return u.display_name + (u.school ? " · " + u.school : "") + T("（" + Collab.roleName(u.role) + "）", " (" + Collab.roleName(u.role) + ")");
  }
  function renderStaff() {
    var box = Collab.clear($("staff-pickers"));
    ROLES.forEach(function (r) {
      var role = r[0], div = el("div", null, "picker");
      div.id = "pick-" + role + "s";
      div.appendChild(el("h3", T(r[1], r[2])));
      var ul = el("ul", null, "chosen");
      staff[role].forEach(function (id) {
        var u = users[id], li = el("li", null, "chip");
        li.dataset.userId = id;
        li.appendChild(el("span", u ? u.display_name : "#" + id));
        li.appendChild(button("×", "unpick", T("移除 ", "Remove ") + (u ? u.display_name : "#" + id), function () {
          staff[role] = staff[role].filter(function (x) { return x !== id; });
          renderStaff();
          var sel = $("pick-" + role + "s").querySelector("select");
          if (sel) sel.focus();
        }));
        ul.appendChild(li);
      });
      if (!staff[role].length) ul.appendChild(el("li", T("无", "None"), "muted none"));
      div.appendChild(ul);
      var lab = el("label"), sel = el("select");
      lab.appendChild(el("span", T(r[3], r[4]), "sr-only"));
      var none = el("option", T("— 选择 —", "— choose —"));
      none.value = "";
      sel.appendChild(none);
      Object.keys(users).map(Number).sort(function (a, b) { return a - b; }).forEach(function (id) {
        if (staff[role].indexOf(id) >= 0) return;
        var o = el("option", userLabel(users[id]));
        o.value = id;
        sel.appendChild(o);
      });
      lab.appendChild(sel);
      var row = el("div", null, "toolbar");
      row.appendChild(lab);
      row.appendChild(button(T("添加", "Add"), "pick", T(r[3], r[4]), function () {
        if (!sel.value) { sel.focus(); return; }
        staff[role].push(Number(sel.value));
        renderStaff();
        $("pick-" + role + "s").querySelector("select").focus();
      }));
      div.appendChild(row);
      box.appendChild(div);
    });
  }
  function loadUsers() {
    return api("/api/users").then(function (r) {
      users = {};
      r.users.forEach(function (u) { users[u.id] = u; });
      renderStaff();
    }, function (err) {
      users = null;  // only organizers and admins may list people; the staff stays as it is
      $("staff-pickers").hidden = true;
      say("staff-note", err && err.code === "forbidden"
        ? T("只有组织者和管理员可以选择主持人、专家和主讲人。", "Only organizers and admins pick hosts, experts and presenters.")
        : Collab.errorText(err));
    });
  }

  // -- errors from the API, at the field they name ----------------------------------------------------
  function clearInvalid() {
    document.querySelectorAll("#schedule-form [aria-invalid]").forEach(function (e) {
      e.removeAttribute("aria-invalid");
      e.removeAttribute("aria-describedby");
    });
    say("form-error", "");
  }
  function fieldOf(field) {
    var m = /^agenda\[(\d+)\](?:\.(\w+))?(?:\.(\w+))?$/.exec(field || "");
    if (m) {
      var li = $("phases").children[Number(m[1])];
      if (!li) return $("add-phase");
      if (m[2] === "groups") return li.querySelector(".ph-group-" + (m[3] || "size")) || li.querySelector(".ph-kind");
      if (m[2] === "minutes") return li.querySelector(".ph-minutes");
      if (m[2]) return li.querySelector("[data-perm=" + m[2] + "]") || li.querySelector(".ph-title");
      return li.querySelector(".ph-title");
    }
    if (field === "agenda") return $("add-phase");
    if (/^(hosts|experts|presenters|staff)$/.test(field)) return document.querySelector("#staff-pickers select");
    return $("s-" + field);
  }
  function showInvalid(err) {
    var msg = (err && err.message) || "", field = null, text;
    var m = /^([\w\[\]\.]+): (.*)$/.exec(msg);
    if (err && err.code === "invalid" && m) {
      field = m[1];
      var words = m[2];
      if (Collab.lang !== "en") {  // a rule without Chinese words of its own: the code's, never the English
        words = Collab.errorText({ code: "invalid" });
        MESSAGES.some(function (pair) { if (pair[0].test(m[2])) { words = m[2].match(pair[0])[0].replace(pair[0], pair[1]); return true; } });
      }
      var base = field.replace(/\[\d+\].*$/, ""), f = FIELDS[base];
      var where = f ? T(f[0], f[1]) : field;
      var pm = /^agenda\[(\d+)\]/.exec(field);
      if (pm) where = T("第 " + (Number(pm[1]) + 1) + " 个环节", "Phase " + (Number(pm[1]) + 1));
      text = where + T("：", ": ") + words;
    } else {
      text = Collab.errorText(err);
    }
    say("form-error", text);
    var input = field && fieldOf(field);
    if (input) {
      input.setAttribute("aria-invalid", "true");
      input.setAttribute("aria-describedby", "form-error");
      input.focus();
    }
  }

  // -- the form --------------------------------------------------------------------------------------
  function value(id) { return $(id).value; }
  // Subject and grade codes ("math", "8") are shown by name (数学, 八年级) and stored as they were:
  // a name left as shown goes back as its code, a new word as typed.
  var shownCodes = {};
  function showCode(id, code, nameOf) {
    var name = nameOf(code);
    $(id).value = name || "";
    if (name !== code) shownCodes[id] = { code: code, name: name }; else delete shownCodes[id];
  }
  function coded(id) {
    var c = shownCodes[id], v = value(id);
    return c && v.trim() === c.name ? c.code : v;
  }
  function body() {
    var out = {
      title: value("s-title"), description: value("s-description"), subject: coded("s-subject"),
      grade: coded("s-grade"), level: value("s-level"), region: value("s-region"),
      starts_at: fromLocalInput(value("s-starts_at")), ends_at: fromLocalInput(value("s-ends_at")),
      visibility: value("s-visibility"), registration: value("s-registration"),
      agenda: phases.map(function (p) {
        var out = { kind: p.kind, title: p.title, minutes: minutesOf(p), chat: p.chat, questions: p.questions,
                    hands: p.hands, polls: p.polls };
        if (p.kind === "group_discussion" && p.groups) {  // a plan kept from another kind is not sent
          var size = String(p.groups.size).trim();
          out.groups = { size: /^\d+$/.test(size) ? parseInt(size, 10) : size, assign: p.groups.assign,
                         questions: p.groups.questions.slice(), names: p.groups.names.slice() };
        }
        return out;
      })
    };
    var cap = value("s-capacity").trim();
    if (cap) out.capacity = /^\d+$/.test(cap) ? parseInt(cap, 10) : cap;
    var row = value("s-front_row").trim();
    if (row) out.front_row = /^\d+$/.test(row) ? parseInt(row, 10) : row;
    if (users) ROLES.forEach(function (r) { out[r[0] + "s"] = staff[r[0]].slice(); });
    if (studioId !== null && activityId === null) out.studio_id = studioId;
    return out;
  }
  function submit(e) {
    e.preventDefault();
    clearInvalid();
    var data = body();
    if (!data.title.trim()) return showInvalid({ code: "invalid", message: "title: title is required" });
    if (!data.starts_at) return showInvalid({ code: "invalid", message: "starts_at: starts_at is required" });
    if (!data.ends_at) return showInvalid({ code: "invalid", message: "ends_at: ends_at is required" });
    $("save").disabled = true;
    var req = activityId === null
      ? api("/api/activities", { method: "POST", body: JSON.stringify(data) })
      : api("/api/activities/" + activityId, { method: "PATCH", body: JSON.stringify(data) });
    req.then(function (a) { location.href = "/activities/" + a.id; },
             function (err) { $("save").disabled = false; showInvalid(err); });
  }

  function fill(a) {
    ["title", "description", "level", "region", "visibility", "registration"].forEach(function (k) {
      $("s-" + k).value = a[k] || "";
    });
    showCode("s-subject", a.subject || "", Collab.subjectName);
    showCode("s-grade", a.grade || "", Collab.gradeName);
    $("s-capacity").value = a.capacity;
    $("s-front_row").value = a.front_row;
    $("s-starts_at").value = toLocalInput(a.starts_at);
    $("s-ends_at").value = toLocalInput(a.ends_at);
    phases = a.agenda.map(function (p, i) {  // `saved`: its place on the server, which a list upload names
      var copy = Object.assign({}, p, { saved: i });
      if (p.groups) copy.groups = { size: p.groups.size, assign: p.groups.assign, questions: p.groups.questions.slice(),
                                    names: p.groups.names.slice() };
      else delete copy.groups;
      return copy;
    });
    ROLES.forEach(function (r) { staff[r[0]] = (a[r[0] + "s"] || []).slice(); });
  }
  function lock() {
    $("locked").hidden = false;
    document.querySelectorAll("#schedule-form fieldset, #schedule-form button").forEach(function (e) { e.disabled = true; });
  }
  function defaults() {
    var d = new Date();
    d.setDate(d.getDate() + 1);
    d.setHours(14, 0, 0, 0);
    $("s-starts_at").value = toLocalInput(d.toISOString());
    d.setHours(16);
    $("s-ends_at").value = toLocalInput(d.toISOString());
  }

  // -- edit only: registrations and invitation links --------------------------------------------------
  var REG = { pending: ["待审核", "pending"], approved: ["已通过", "approved"], rejected: ["已拒绝", "rejected"] };
  function regRow(r) {
    var tr = el("tr");
    tr.dataset.userId = r.user_id;
    tr.appendChild(el("td", r.display_name, "reg-name"));
    tr.appendChild(el("td", r.school || "—"));
    tr.appendChild(el("td", r.region || "—"));
    tr.appendChild(el("td", Collab.fmtTime(r.at, loaded && loaded.time_zone)));
    var st = el("td"), badge = el("span", T(REG[r.status][0], REG[r.status][1]), "badge reg-" + r.status);
    st.appendChild(badge);
    tr.appendChild(st);
    var act = el("td", null, "reg-actions");
    function decide(approve) {
      api("/api/activities/" + activityId + "/registrations/" + r.user_id,
          { method: "POST", body: JSON.stringify({ approve: approve }) }).then(function (res) {
        say("reg-error", "");
        r.status = res.status;
        var fresh = regRow(r);
        tr.replaceWith(fresh);
        var b = fresh.querySelector("button");
        if (b) b.focus();
      }, function (err) { say("reg-error", Collab.errorText(err)); });
    }
    if (r.status !== "approved") act.appendChild(button(T("通过", "Approve"), "approve", T("通过 ", "Approve ") + r.display_name, function () { decide(true); }));
    if (r.status !== "rejected") act.appendChild(button(T("拒绝", "Reject"), "reject secondary", T("拒绝 ", "Reject ") + r.display_name, function () { decide(false); }));
    tr.appendChild(act);
    return tr;
  }
  function loadRegistrations() {
    $("registrations").hidden = false;
    api("/api/activities/" + activityId + "/registrations").then(function (r) {
      var rows = Collab.clear($("reg-rows"));
      var order = { pending: 0, approved: 1, rejected: 2 };
      r.registrations.sort(function (a, b) { return order[a.status] - order[b.status]; });
      r.registrations.forEach(function (x) { rows.appendChild(regRow(x)); });
      $("reg-table").hidden = !r.registrations.length;
      $("reg-empty").hidden = r.registrations.length > 0;
    }, function (err) { say("reg-error", Collab.errorText(err)); });
  }
  function setupInvite(a) {
    if (a.visibility !== "invited" || ["ended", "archived", "cancelled"].indexOf(a.state) >= 0) return;
    $("invite").hidden = false;
    $("make-invite").onclick = function () {
      api("/api/activities/" + activityId + "/invitations", { method: "POST", body: JSON.stringify({ hours: 72 }) })
        .then(function (r) {
          say("invite-error", "");
          $("invite-out").hidden = false;
          $("invite-url").value = r.url;
          $("invite-expiry").textContent = T("有效期至 ", "Valid until ") + Collab.fmtTime(new Date(r.expires_at * 1000).toISOString());
          $("invite-url").focus();
          $("invite-url").select();
        }, function (err) { say("invite-error", Collab.errorText(err)); });
    };
    $("invite-url").onfocus = function () { this.select(); };
  }

  function wire() {
    $("schedule-form").onsubmit = submit;
    $("add-phase").onclick = function () {
      phases.push(newPhase($("new-kind").value));
      renderPhases({ index: phases.length - 1, cls: "ph-title" });
    };
    $("s-starts_at").addEventListener("input", total);
    $("s-ends_at").addEventListener("input", total);
    $("schedule-form").addEventListener("input", function (e) {
      if (e.target.getAttribute("aria-invalid")) {  // being corrected: the complaint goes with it
        e.target.removeAttribute("aria-invalid");
        e.target.removeAttribute("aria-describedby");
        say("form-error", "");
      }
    });
  }

  function startNew(user) {
    var q = new URLSearchParams(location.search).get("studio");
    var ready = Promise.resolve(user.role === "organizer" || user.role === "admin");
    if (q && /^\d+$/.test(q)) {
      studioId = Number(q);
      ready = api("/api/studios/" + studioId).then(function (s) {
        say("studio-note", T("为工作室「" + s.name + "」安排教研活动", "An activity of the studio “" + s.name + "”"));
        if (s.subject) showCode("s-subject", s.subject, Collab.subjectName);
        if (s.grade) showCode("s-grade", s.grade, Collab.gradeName);
        if (s.region) $("s-region").value = s.region;
        return s.me && s.me.may_manage;
      });
    }
    return ready.then(function (may) {
      if (!may) { say("load-error", T("您不能安排这个活动。", "You may not schedule this activity.")); return; }
      defaults();
      $("schedule-form").hidden = false;
      renderPhases();
      return loadUsers();
    });
  }

  function startEdit(user) {
    return api("/api/activities/" + activityId).then(function (a) {
      loaded = a;
      var runs = (a.me && a.me.organizer) || user.role === "admin";
      if (!runs) { say("load-error", T("只有活动的组织者可以编辑它。", "Only the activity's organizer may edit it.")); return; }
      document.title = a.title + " · collab";
      fill(a);
      $("schedule-form").hidden = false;
      renderPhases();
      var editable = a.state === "scheduled" || a.state === "lobby";
      var cancel = $("cancel-activity");
      cancel.hidden = !editable;
      cancel.onclick = function () {
        if (!confirm(T("确定取消「" + a.title + "」吗？已报名的教师将看到活动已取消。",
                       "Cancel “" + a.title + "”? Registered teachers will see it as cancelled."))) return;
        api("/api/activities/" + activityId + "/cancel", { method: "POST", body: "{}" }).then(function () {
          lock();
          $("locked").hidden = true;
          cancel.hidden = true;
          $("invite").hidden = true;
          say("cancelled", T("活动已取消。", "The activity is cancelled."));
          $("cancelled").focus();
        }, function (err) { say("form-error", Collab.errorText(err)); });
      };
      loadRegistrations();
      loadRosters();
      setupInvite(a);
      return loadUsers().then(function () { if (!editable) lock(); });
    });
  }

  Collab.start().then(function (user) {
    me = user;
    wire();
    return activityId === null ? startNew(user) : startEdit(user);
  }).catch(function (err) { say("load-error", Collab.errorText(err)); });
})();
