// The audit log for admins: entries newest first with who (a person, a service key or the command
// line), what (the action in the reader's language, its target and detail), when (on the deployment's
// clock, to the second) and from where; filters, older entries page by page, and the two exports.
// Read-only. On a phone each row is a card whose cells name their column. User text is only ever text.
(function () {
  "use strict";
  var $ = Collab.$, el = Collab.el, T = Collab.T, api = collabApi;
  var zone = "Asia/Shanghai", query = "", next = null;

  // The actions the server records (collab/audit.py, sessions/audited.py), named for people.
  var ACTIONS = {
    "chat.hide": ["隐藏消息", "Hid a message"], "chat.approve": ["通过消息", "Approved a message"],
    "chat.mute": ["禁言", "Muted"], "chat.unmute": ["解除禁言", "Unmuted"],
    "chat.slow_mode": ["慢速模式", "Slow mode"], "chat.premoderation": ["先审后发", "Pre-moderation"],
    "question.dismiss": ["关闭提问", "Dismissed a question"],
    "activity.remove": ["移出活动", "Removed from the room"], "activity.readmit": ["允许重新进入", "Readmitted"],
    "stage.call": ["邀请上台", "Called on stage"], "stage.remove": ["请下台", "Taken off the stage"],
    "activity.staff": ["更改活动人员", "Changed the staff"],
    "activity.registration": ["处理报名", "Decided a registration"],
    "studio.application": ["处理入室申请", "Decided an application"], "studio.role": ["更改工作室角色", "Changed a studio role"],
    "studio.remove": ["移出工作室", "Removed from the studio"], "user.create": ["创建账号", "Created an account"],
    "attendance.export": ["导出考勤", "Exported attendance"], "group.roster": ["上传分组名单", "Uploaded a group list"],
    "group.hide": ["隐藏小组消息", "Hid a group message"], "group.move": ["调整分组", "Moved a teacher to another group"],
    "group.broadcast": ["向各小组广播", "Broadcast to every group"], "audit.export": ["导出审计日志", "Exported the audit log"],
    "key.create": ["创建服务密钥", "Made a service key"], "key.revoke": ["吊销服务密钥", "Revoked a service key"],
    "groups.export": ["导出分组名单", "Exported the groups"],
    "api.call": ["服务密钥调用接口", "Service key call"]
  };
  var TARGETS = { user: ["用户", "user"], chat_message: ["消息", "message"], activity: ["活动", "activity"],
                  question: ["提问", "question"], service_key: ["服务密钥", "service key"], route: ["接口", "route"],
                  audit_log: ["审计日志", "audit log"] };
  function named(table, key) { var n = table[key]; return n ? T(n[0], n[1]) : key; }

  function showError(err) { Collab.say($("error"), err); }
  function cell(text, cls, label) {
    var td = el("td", text, cls);
    td.dataset.label = label;
    return td;
  }
  function actor(e) {
    if (e.actor.key_id != null) return T("服务密钥 #", "Service key #") + e.actor.key_id + (e.actor.name ? "（" + e.actor.name + "）" : "");
    if (e.actor.user_id == null) return e.actor.name || T("系统", "the system");
    return (e.actor.name || "") + " #" + e.actor.user_id;
  }
  function row(e) {
    var tr = el("tr");
    tr.dataset.id = e.id;
    tr.dataset.action = e.action;
    var when = cell(Collab.fmtTime(e.at, zone), "time lead", T("时间", "Time"));
    when.title = e.at;
    tr.appendChild(when);
    tr.appendChild(cell(actor(e), "actor", T("操作者", "Actor")));
    var what = cell(named(ACTIONS, e.action), "action", T("操作", "Action"));
    what.title = e.action;
    tr.appendChild(what);
    tr.appendChild(cell(e.target.type ? named(TARGETS, e.target.type) + " " + e.target.id : "—", "target", T("对象", "Target")));
    var where = e.activity_id != null ? T("活动 ", "activity ") + e.activity_id
      : e.studio_id != null ? T("工作室 ", "studio ") + e.studio_id : "—";
    tr.appendChild(cell(where, "where", T("所在", "Where")));
    var detail = JSON.stringify(e.detail || {});
    tr.appendChild(cell(detail === "{}" ? "—" : detail, "detail", T("详情", "Detail")));
    var from = cell(e.address || "—", "address", T("来源地址", "Address"));
    if (e.user_agent) from.title = e.user_agent;
    tr.appendChild(from);
    return tr;
  }

  function load(more) {
    var path = "/api/audit?limit=100" + query + (more && next ? "&before=" + next.before : "");
    return api(path).then(function (r) {
      zone = r.time_zone || zone;
      $("zone").textContent = T("时间按 " + zone + " 显示。", "Times are on the " + zone + " clock.");
      var body = more ? $("rows") : Collab.clear($("rows"));
      r.events.forEach(function (e) { body.appendChild(row(e)); });
      next = r.next;
      $("more").hidden = !next;
      var any = body.children.length > 0;
      $("audit-table").hidden = !any;
      $("empty").hidden = any;
      showError(null);
    });
  }

  // The form's filters as the API's query; dates are whole days on the deployment's clock, given as UTC
  // moments the browser computes from the zone's offset at noon that day (close enough for a day's edge).
  function dayStart(date) { return new Date(date + "T00:00:00" + offsetOf(date)).toISOString(); }
  function offsetOf(date) {
    var noon = new Date(date + "T12:00:00Z");
    var shown = new Date(noon.toLocaleString("en-US", { timeZone: zone }));
    var asUtc = new Date(noon.toLocaleString("en-US", { timeZone: "UTC" }));
    var minutes = Math.round((shown - asUtc) / 60000), sign = minutes < 0 ? "-" : "+";
    minutes = Math.abs(minutes);
    return sign + String(Math.floor(minutes / 60)).padStart(2, "0") + ":" + String(minutes % 60).padStart(2, "0");
  }
  function nextDay(date) {
    var d = new Date(date + "T00:00:00Z");
    d.setUTCDate(d.getUTCDate() + 1);
    return d.toISOString().slice(0, 10);
  }
  function readFilters() {
    var q = [];
    [["f-action", "action"], ["f-actor", "actor"], ["f-key", "key"], ["f-activity", "activity_id"]].forEach(function (p) {
      var v = $(p[0]).value.trim();
      if (v) q.push(p[1] + "=" + encodeURIComponent(v));
    });
    if ($("f-since").value) q.push("since=" + encodeURIComponent(dayStart($("f-since").value)));
    if ($("f-until").value) q.push("until=" + encodeURIComponent(dayStart(nextDay($("f-until").value))));
    return q.length ? "&" + q.join("&") : "";
  }

  function exporting(format) {
    var name = format === "jsonl" ? "audit.jsonl" : "audit.csv";
    Collab.download("/api/audit/export?format=" + format + "&lang=" + (Collab.lang === "en" ? "en" : "zh")
                    + "&tz=" + encodeURIComponent(zone) + query, name).then(function () { showError(null); }, showError);
  }

  Collab.start().then(function () {
    var select = $("f-action");
    Object.keys(ACTIONS).forEach(function (a) { select.appendChild(el("option", named(ACTIONS, a) + "（" + a + "）")).value = a; });
    ["chat.*", "stage.*", "studio.*", "key.*"].forEach(function (a) { select.appendChild(el("option", a)).value = a; });
    $("filters").onsubmit = function (ev) {
      ev.preventDefault();
      query = readFilters();
      next = null;
      load(false).catch(showError);
    };
    $("more").onclick = function () { load(true).catch(showError); };
    $("export-csv").onclick = function () { exporting("csv"); };
    $("export-jsonl").onclick = function () { exporting("jsonl"); };
    return load(false).then(function () { $("filters").hidden = false; });
  }).catch(showError);
})();
