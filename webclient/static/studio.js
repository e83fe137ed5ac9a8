// A studio's home (/studios/{id}): the profile (edited by the leader and co-leaders), the discussion and
// announcements live on /ws channel studio:<id> with older posts paged from the API, the lesson
// documents, members and applications (decide, change roles, remove, hand over, invitation links,
// leave), and the resource library (find, download, delete, upload with a progress bar). Who may do
// what comes from the API's "me" ({role, pending, may_manage, may_appoint, may_edit}); the server
// refuses the rest anyway. Outsiders see the profile and may apply, or join with an invitation link.
(function () {
  "use strict";
  var $ = Collab.$, el = Collab.el, T = Collab.T, api = collabApi, UI = StudioUI;
  var SID = Number(location.pathname.split("/")[2]);
  var BASE = "/api/studios/" + SID;
  var PAGE = 50;   // posts per page of GET /api/studios/{id}/posts
  var KINDS = { lesson_plan: ["教案", "Lesson plan"], slides: ["课件", "Slides"], worksheet: ["学习单", "Worksheet"],
                video: ["视频", "Video"], other: ["其他", "Other"] };
  var TABS = ["profile", "discussion", "docs", "members", "library"];
  var params = new URLSearchParams(location.search);
  var user = null, studio = null, rt = null, insider = false;

  function fail(id, err) { Collab.say($(id), err); }
  function ok(id) { $(id).hidden = true; }
  var button = Collab.button;
  function kindName(k) { var n = KINDS[k]; return n ? T(n[0], n[1]) : k; }
  function size(n) {
    if (n < 1024) return n + " B";
    if (n < 1024 * 1024) return (n / 1024).toFixed(1) + " KB";
    return (n / 1024 / 1024).toFixed(1) + " MB";
  }

  // A question with a yes and a cancel in place of `trigger` (no modal dialogs): `act` returns a promise.
  function confirmStep(trigger, question, yesText, act, errorId) {
    var box = el("span", null, "confirm");
    box.setAttribute("role", "group");
    box.appendChild(el("span", question));
    var yes = button(yesText, "danger"), no = button(T("取消", "Cancel"));
    box.appendChild(yes);
    box.appendChild(no);
    trigger.hidden = true;
    trigger.parentNode.insertBefore(box, trigger.nextSibling);
    function back() { box.remove(); trigger.hidden = false; trigger.focus(); }
    no.onclick = back;
    yes.onclick = function () {
      yes.disabled = true;
      act().then(function () { if (box.isConnected) { box.remove(); trigger.hidden = false; } },
                 function (err) { fail(errorId, err); back(); });
    };
    yes.focus();
  }

  // -- tabs: every tab a button in the Tab order; arrows, Home and End move between them too ---------
  function selectTab(name, focus) {
    if (TABS.indexOf(name) < 0) name = "profile";
    TABS.forEach(function (t) {
      var on = t === name;
      $("tab-" + t).setAttribute("aria-selected", on ? "true" : "false");
      $("panel-" + t).hidden = !on;
    });
    if (focus) $("tab-" + name).focus();
    history.replaceState(null, "", location.pathname + location.search + "#" + name);
  }
  function setupTabs() {
    TABS.forEach(function (t, i) {
      var tab = $("tab-" + t);
      tab.onclick = function () { selectTab(t); };
      tab.onkeydown = function (e) {
        var j = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: TABS.length - 1 }[e.key];
        if (j === undefined) return;
        e.preventDefault();
        selectTab(TABS[(j + TABS.length) % TABS.length], true);
      };
    });
    window.addEventListener("hashchange", function () { selectTab(location.hash.slice(1)); });
  }

  // -- profile --------------------------------------------------------------------------------------
  function renderProfile() {
    var s = studio, m = s.me;
    document.title = s.name + " · collab";
    $("name").textContent = s.name;
    $("level").textContent = UI.levelLine(s);
    $("my-role").textContent = m.role ? T("我的角色：", "My role: ") + Collab.roleName(m.role)
      : m.pending ? T("申请审核中", "Application waiting") : T("非成员", "Not a member");
    $("leader-name").textContent = s.leader.name;
    $("f-subject").textContent = Collab.subjectName(s.subject) || "—";
    $("f-grade").textContent = Collab.gradeName(s.grade) || "—";
    $("f-region").textContent = s.region || "—";
    $("f-members").textContent = String(s.members);
    $("description").textContent = s.description || T("还没有简介。", "No description yet.");
    $("edit-profile").hidden = !m.may_manage || !$("profile-form").hidden;
  }
  function setupProfileForm() {
    var f = $("profile-form"), fields = ["name", "subject", "grade", "region", "description"];
    $("edit-profile").onclick = function () {
      fields.forEach(function (k) { f.elements[k].value = studio[k] || ""; });
      f.hidden = false;
      $("edit-profile").hidden = true;
      f.elements.name.focus();
    };
    $("profile-cancel").onclick = function () { f.hidden = true; renderProfile(); $("edit-profile").focus(); };
    f.onsubmit = function (e) {
      e.preventDefault();
      var body = {};
      fields.forEach(function (k) { body[k] = f.elements[k].value.trim(); });
      ok("profile-error");
      api(BASE, { method: "PATCH", body: JSON.stringify(body) }).then(function (s) {
        fields.forEach(function (k) { studio[k] = s[k]; });
        f.hidden = true;
        renderProfile();
        $("profile-status").textContent = T("简介已保存。", "Profile saved.");
        $("edit-profile").focus();
      }, function (err) { fail("profile-error", err); });
    };
  }

  // -- outsiders: apply, or join with an invitation link ---------------------------------------------
  function renderOutsider() {
    var m = studio.me;
    $("outsider").hidden = insider;
    $("apply-form").hidden = !!m.pending;
    $("apply-sent").hidden = !m.pending;
    var invite = params.get("invite");
    if (!invite) return;
    var role = params.get("role") === "observer" ? "observer" : "member";
    $("invite-offer").hidden = false;
    if (m.role) {
      $("invite-text").textContent = T("您已是本工作室的" + Collab.roleName(m.role) + "。",
                                       "You are already in this studio as " + Collab.roleName(m.role) + ".");
      $("invite-join").hidden = true;
      return;
    }
    $("invite-text").textContent = T("您收到了加入本工作室的邀请，身份为" + Collab.roleName(role) + "。",
                                     "You are invited to join this studio as " + Collab.roleName(role) + ".");
    $("invite-join").hidden = false;
    $("invite-join").textContent = T("以" + Collab.roleName(role) + "身份加入", "Join as " + Collab.roleName(role));
    $("invite-join").onclick = function () {
      ok("invite-error");
      $("invite-join").disabled = true;
      api(BASE + "/join", { method: "POST", body: JSON.stringify({ token: invite, role: role }) }).then(function () {
        params.delete("invite");
        params.delete("role");
        history.replaceState(null, "", location.pathname);
        $("invite-offer").hidden = true;
        return refresh().then(function () { $("posts-notice").hidden = true; selectTab("discussion", true); });
      }, function (err) { $("invite-join").disabled = false; fail("invite-error", err); });
    };
  }
  function setupApply() {
    $("apply-form").onsubmit = function (e) {
      e.preventDefault();
      ok("apply-error");
      api(BASE + "/apply", { method: "POST", body: JSON.stringify({ note: e.target.elements.note.value }) }).then(function () {
        studio.me.pending = true;
        renderProfile();
        renderOutsider();
      }, function (err) { fail("apply-error", err); });
    };
  }

  // -- discussion and announcements ------------------------------------------------------------------
  var shown = {};
  function postItem(p) {
    var li = el("li", null, "post" + (p.kind === "announcement" ? " announcement" : ""));
    li.dataset.id = p.id;
    li.dataset.kind = p.kind;
    var head = el("div", null, "post-head");
    if (p.kind === "announcement") head.appendChild(el("span", T("公告", "Announcement"), "badge announce"));
    head.appendChild(el("strong", p.user.name, "author"));
    var time = el("time", Collab.fmtTime(p.at), "muted");
    time.dateTime = p.at;
    head.appendChild(time);
    li.appendChild(head);
    li.appendChild(el("p", p.body, "body"));
    return li;
  }
  // Posts in the order of their ids, whichever way they came (a page of history, the channel, our reply).
  function addPost(p) {
    if (shown[p.id]) return;
    var list = $("posts"), li = postItem(p), next = null;
    var atEnd = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    shown[p.id] = li;
    for (var c = list.lastElementChild; c && Number(c.dataset.id) > p.id; c = c.previousElementSibling) next = c;
    list.insertBefore(li, next);
    $("posts-empty").hidden = true;
    if (!next && atEnd) list.scrollTop = list.scrollHeight;
  }
  function loadPosts(before) {
    return api(BASE + "/posts" + (before ? "?before=" + before : "")).then(function (r) {
      r.posts.forEach(addPost);
      $("older").hidden = r.posts.length < PAGE;
      $("posts-empty").hidden = $("posts").children.length > 0;
      if (!before) $("posts").scrollTop = $("posts").scrollHeight;
    }, function (err) { fail("post-error", err); });
  }
  function reloadPosts() {
    Collab.clear($("posts"));
    shown = {};
    return loadPosts();
  }
  function setupDiscussion() {
    $("older").onclick = function () {
      var first = $("posts").firstElementChild;
      if (first) loadPosts(Number(first.dataset.id));
    };
    $("post-form").onsubmit = function (e) {
      e.preventDefault();
      var f = e.target, body = f.elements.body.value.trim();
      if (!body) return;
      var kind = studio.me.may_manage && f.elements.announcement.checked ? "announcement" : "discussion";
      ok("post-error");
      rt.command("studio.post", { studio_id: SID, body: body, kind: kind }).then(function (r) {
        addPost(r.post);
        f.reset();
        f.elements.body.focus();
      }, function (err) { fail("post-error", err); });
    };
  }
  // History first (HTTP), then the channel; once the subscription is confirmed the history is read
  // again, so a post made in between is not lost (ids keep the order, `shown` the uniqueness).
  function connect() {
    var asked = false;
    reloadPosts();
    rt = Collab.connect(function (state) {
      if (state === "unauthorized") fail("post-error", { code: "unauthenticated" });
      if (state !== "online" || asked) return;
      asked = true;
      setTimeout(function () {  // after Realtime resubscribed its channels (none yet), so it asks once
        Promise.resolve(rt.subscribe("studio:" + SID, function (event) {
          if (event && event.type === "post") addPost(event.post);
        }, function () {
          $("posts-notice").hidden = false;
          $("posts-notice").textContent = T("断线时间较长，已重新加载帖子。", "Reconnected after a long gap: reloaded the posts.");
          reloadPosts();
        })).then(function () {
          $("posts").dataset.live = "1";
          return loadPosts();
        }, function (err) { fail("post-error", err); });
      }, 0);
    });
  }

  // -- lesson documents ------------------------------------------------------------------------------
  function docItem(d) {
    var li = el("li"), a = el("a", d.title);
    a.href = "/docs/" + d.id;
    li.appendChild(a);
    li.appendChild(el("span", " · " + d.created_by.name + " · " + T("更新于 ", "updated ") + Collab.fmtTime(d.updated_at), "muted"));
    return li;
  }
  function loadDocs() {
    return api(BASE + "/docs").then(function (r) {
      var list = Collab.clear($("docs"));
      r.documents.forEach(function (d) { list.appendChild(docItem(d)); });
      $("docs-empty").hidden = r.documents.length > 0;
    }, function (err) { fail("docs-error", err); });
  }
  function setupDocs() {
    $("doc-form").onsubmit = function (e) {
      e.preventDefault();
      var f = e.target, title = f.elements.doc_title.value.trim();
      if (!title) return;
      ok("docs-error");
      api(BASE + "/docs", { method: "POST", body: JSON.stringify({ title: title }) }).then(function (d) {
        var li = docItem(d);
        $("docs").insertBefore(li, $("docs").firstChild);
        $("docs-empty").hidden = true;
        f.reset();
        li.querySelector("a").focus();
      }, function (err) { fail("docs-error", err); });
    };
  }

  // -- members and applications ----------------------------------------------------------------------
  function roleChoices() {
    return studio.me.may_appoint ? ["co_leader", "member", "observer"] : ["member", "observer"];
  }
  function memberItem(m) {
    var me = studio.me, li = el("li", null, "member");
    li.dataset.userId = m.user_id;
    var who = el("div", null, "who");
    who.appendChild(el("strong", m.name));
    if (m.user_id === user.id) who.appendChild(el("span", T("（我）", " (me)"), "muted"));
    who.appendChild(el("span", Collab.roleName(m.role), "badge role-" + m.role));
    if (m.school) who.appendChild(el("span", m.school, "muted"));
    li.appendChild(who);
    var mine = m.user_id === user.id;
    var may = me.may_manage && !mine && m.role !== "leader" && (m.role !== "co_leader" || me.may_appoint);
    if (!may) return li;
    var tools = el("div", null, "tools");
    var label = el("label", null, "inline");
    label.appendChild(el("span", T("角色", "Role")));
    var select = el("select");
    select.name = "role";
    roleChoices().forEach(function (r) {
      var o = el("option", Collab.roleName(r));
      o.value = r;
      o.selected = r === m.role;
      select.appendChild(o);
    });
    label.appendChild(select);
    tools.appendChild(label);
    var change = button(T("更改角色", "Change role"), "change-role");
    change.onclick = function () {
      if (select.value === m.role) return;
      ok("members-error");
      api(BASE + "/members/" + m.user_id, { method: "POST", body: JSON.stringify({ role: select.value }) }).then(function (r) {
        $("members-status").textContent = T(m.name + " 现在是" + Collab.roleName(r.role) + "。",
                                            m.name + " is now " + Collab.roleName(r.role) + ".");
        loadMembers();
      }, function (err) { fail("members-error", err); });
    };
    tools.appendChild(change);
    var remove = button(T("移除", "Remove"), "remove");
    remove.onclick = function () {
      confirmStep(remove, T("把 " + m.name + " 移出工作室？", "Remove " + m.name + " from the studio?"), T("确定移除", "Remove"), function () {
        return api(BASE + "/members/" + m.user_id, { method: "DELETE" }).then(function () {
          $("members-status").textContent = T("已移除 " + m.name + "。", m.name + " was removed.");
          return refresh();
        });
      }, "members-error");
    };
    tools.appendChild(remove);
    if (me.may_appoint) {
      var hand = button(T("移交工作室", "Hand the studio over"), "hand-over");
      hand.onclick = function () {
        confirmStep(hand, T("把工作室移交给 " + m.name + "？您将成为副领衔人。",
                            "Hand the studio over to " + m.name + "? You will become a co-leader."),
                    T("确定移交", "Hand it over"), function () {
          return api(BASE + "/members/" + m.user_id, { method: "POST", body: JSON.stringify({ role: "leader" }) }).then(function () {
            $("members-status").textContent = T(m.name + " 现在是领衔人。", m.name + " now leads the studio.");
            return refresh();
          });
        }, "members-error");
      };
      tools.appendChild(hand);
    }
    li.appendChild(tools);
    return li;
  }
  function applicationItem(m) {
    var li = el("li", null, "member application");
    li.dataset.userId = m.user_id;
    var who = el("div", null, "who");
    who.appendChild(el("strong", m.name));
    if (m.school) who.appendChild(el("span", m.school, "muted"));
    li.appendChild(who);
    if (m.note) li.appendChild(el("p", T("留言：", "Note: ") + m.note, "note"));
    var tools = el("div", null, "tools");
    function decide(approve) {
      ok("members-error");
      api(BASE + "/members/" + m.user_id, { method: "POST", body: JSON.stringify({ approve: approve }) }).then(function () {
        $("members-status").textContent = approve ? T("已批准 " + m.name + " 加入。", m.name + " was approved.")
                                                  : T("已拒绝 " + m.name + " 的申请。", m.name + "'s application was rejected.");
        refresh();
      }, function (err) { fail("members-error", err); });
    }
    var yes = button(T("批准", "Approve"), "approve"), no = button(T("拒绝", "Reject"), "reject");
    yes.onclick = function () { decide(true); };
    no.onclick = function () { decide(false); };
    tools.appendChild(yes);
    tools.appendChild(no);
    li.appendChild(tools);
    return li;
  }
  function loadMembers() {
    var work = [api(BASE + "/members").then(function (r) {
      var list = Collab.clear($("members"));
      r.members.forEach(function (m) { list.appendChild(memberItem(m)); });
    })];
    if (studio.me.may_manage) {
      work.push(api(BASE + "/members?status=pending").then(function (r) {
        var list = Collab.clear($("applications"));
        r.members.forEach(function (m) { list.appendChild(applicationItem(m)); });
        $("applications-empty").hidden = r.members.length > 0;
        $("tab-members").classList.toggle("has-news", r.members.length > 0);
      }));
    }
    return Promise.all(work).catch(function (err) { fail("members-error", err); });
  }
  function setupMembers() {
    $("invite-form").onsubmit = function (e) {
      e.preventDefault();
      ok("members-error");
      api(BASE + "/invitations", { method: "POST", body: JSON.stringify({ role: e.target.elements.role.value }) }).then(function (r) {
        $("invite-result").hidden = false;
        $("invite-url").value = r.url;
        $("invite-expiry").textContent = T("以" + Collab.roleName(r.role) + "身份加入，有效期至 ", "Joins as " + Collab.roleName(r.role) + "; valid until ")
          + Collab.fmtTime(new Date(r.expires_at * 1000).toISOString());
        $("invite-url").focus();
        $("invite-url").select();
      }, function (err) { fail("members-error", err); });
    };
    $("copy-invite").onclick = function () {
      var input = $("invite-url");
      var done = function () { $("invite-expiry").textContent = T("链接已复制。", "Link copied."); };
      var manual = function () { input.focus(); input.select(); $("invite-expiry").textContent = T("请按 Ctrl+C 复制。", "Press Ctrl+C to copy."); };
      if (navigator.clipboard && navigator.clipboard.writeText) navigator.clipboard.writeText(input.value).then(done, manual);
      else manual();
    };
    $("leave").onclick = function () {
      confirmStep($("leave"), T("确定退出本工作室？", "Leave this studio?"), T("确定退出", "Leave"), function () {
        return api(BASE + "/leave", { method: "POST" }).then(function () { location.href = "/studios"; });
      }, "members-error");
    };
  }

  // -- the resource library --------------------------------------------------------------------------
  function mayDelete(r) {
    return studio.me.may_manage || (studio.me.may_edit && r.uploaded_by.id === user.id);
  }
  function resourceItem(r) {
    var li = el("li", null, "resource");
    li.dataset.id = r.id;
    var head = el("div", null, "res-head");
    head.appendChild(el("strong", r.title, "res-title"));
    head.appendChild(el("span", kindName(r.kind), "badge kind"));
    li.appendChild(head);
    li.appendChild(el("div", [r.filename, size(r.size), r.uploaded_by.name, Collab.fmtTime(r.created_at)].join(" · "), "muted"));
    if (r.tags.length) {
      var tags = el("div", null, "tags");
      r.tags.forEach(function (t) {
        var b = button("#" + t, "tag link");
        b.setAttribute("aria-label", T("按标签筛选：", "Filter by tag: ") + t);
        b.onclick = function () { $("lib-filter").elements.tag.value = t; loadLibrary(); };
        tags.appendChild(b);
      });
      li.appendChild(tags);
    }
    var tools = el("div", null, "tools");
    var dl = button(T("下载", "Download"), "download");
    dl.onclick = function () {
      ok("lib-error");
      Collab.download(r.download, r.filename).catch(function (err) { fail("lib-error", err); });
    };
    tools.appendChild(dl);
    if (mayDelete(r)) {
      var del = button(T("删除", "Delete"), "delete");
      del.onclick = function () {
        confirmStep(del, T("删除《" + r.title + "》？", "Delete \u201c" + r.title + "\u201d?"), T("确定删除", "Delete"), function () {
          return api("/api/resources/" + r.id, { method: "DELETE" }).then(loadLibrary);
        }, "lib-error");
      };
      tools.appendChild(del);
    }
    li.appendChild(tools);
    return li;
  }
  function loadLibrary() {
    var f = $("lib-filter"), p = new URLSearchParams();
    ["q", "kind", "tag"].forEach(function (k) { var v = f.elements[k].value.trim(); if (v) p.set(k, v); });
    var qs = p.toString();
    return api(BASE + "/resources" + (qs ? "?" + qs : "")).then(function (r) {
      var list = Collab.clear($("resources"));
      r.resources.forEach(function (x) { list.appendChild(resourceItem(x)); });
      $("lib-count").textContent = r.resources.length
        ? T("共 " + r.resources.length + " 个文件", r.resources.length === 1 ? "1 file" : r.resources.length + " files")
        : (qs ? T("没有符合条件的文件", "No file matches") : T("资源库还是空的", "The library is empty"));
    }, function (err) { fail("lib-error", err); });
  }
  // An XMLHttpRequest, not fetch: only it reports upload progress (xhr.upload.onprogress).
  function upload(f) {
    var file = f.elements.file.files[0];
    ok("upload-error");
    $("upload-status").textContent = "";
    if (!file) { fail("upload-error", T("请选择一个文件。", "Choose a file.")); return; }
    var data = new FormData();
    data.append("file", file, file.name);
    data.append("title", f.elements.res_title.value.trim());
    data.append("kind", f.elements.kind.value);
    data.append("tags", f.elements.tags.value.replace(/[，、]/g, ","));  // the server splits on ","; people type ，
    var bar = $("upload-progress"), pct = $("upload-percent"), submit = f.querySelector("button[type=submit]");
    var events = 0;
    function show(loaded, total) {
      bar.max = total || 1;
      bar.value = Math.min(loaded, bar.max);
      pct.textContent = Math.round(100 * bar.value / bar.max) + "%";
    }
    show(0, file.size);
    bar.dataset.events = "0";
    $("upload-state").hidden = false;
    submit.disabled = true;
    var xhr = new XMLHttpRequest();
    xhr.open("POST", BASE + "/resources");
    xhr.setRequestHeader("Authorization", "Bearer " + Collab.token());
    xhr.upload.onprogress = function (ev) {
      bar.dataset.events = String(++events);
      if (ev.lengthComputable) show(ev.loaded, ev.total);
    };
    xhr.onload = function () {
      submit.disabled = false;
      var body = null;
      try { body = JSON.parse(xhr.responseText); } catch (e) { body = null; }
      if (xhr.status === 201 && body) {
        show(bar.max, bar.max);
        $("upload-status").textContent = T("已上传《" + body.title + "》。", "Uploaded \u201c" + body.title + "\u201d.");
        f.reset();
        loadLibrary();
        return;
      }
      $("upload-state").hidden = true;
      var err = body && body.error ? body.error
        : { code: xhr.status === 413 ? "too_large" : "http_" + xhr.status, message: xhr.statusText };
      fail("upload-error", T("上传失败：", "Upload refused: ") + Collab.errorText(err));
    };
    xhr.onerror = function () {
      submit.disabled = false;
      $("upload-state").hidden = true;
      fail("upload-error", T("上传中断：网络出错，或文件超过服务器允许的大小。",
                             "The upload was cut off: a network error, or the file is larger than the server allows."));
    };
    xhr.send(data);
  }
  function setupLibrary() {
    $("lib-filter").onsubmit = function (e) { e.preventDefault(); loadLibrary(); };
    $("lib-filter").onreset = function () { setTimeout(loadLibrary, 0); };
    $("upload-form").onsubmit = function (e) { e.preventDefault(); upload(e.target); };
  }

  // -- putting it together ---------------------------------------------------------------------------
  // What the caller may do decides which sections and controls show.
  function renderControls() {
    var m = studio.me;
    $("tabs").hidden = !insider;
    $("post-form").hidden = !m.may_edit;
    $("announce-label").hidden = !m.may_manage;
    $("doc-form").hidden = !m.may_edit;
    $("upload-form").hidden = !m.may_edit;
    $("applications-box").hidden = !m.may_manage;
    $("invite-box").hidden = !m.may_manage;
    $("leave-box").hidden = !m.role || m.role === "leader";
    $("leader-note").hidden = m.role !== "leader";
  }
  var started = false;
  function refresh() {
    return api(BASE).then(function (s) {
      studio = s;
      insider = !!s.me.role || s.me.may_manage;
      renderProfile();
      renderOutsider();
      renderControls();
      if (!insider) {
        TABS.forEach(function (t) { $("panel-" + t).hidden = t !== "profile"; });
        return;
      }
      if (!started) {
        started = true;
        selectTab(location.hash.slice(1) || "profile");
        connect();
        loadDocs();
        loadLibrary();
      }
      return loadMembers();
    });
  }

  Collab.start().then(function (me) {
    user = me;
    UI.fillLists();
    setupTabs();
    setupProfileForm();
    setupApply();
    setupDiscussion();
    setupDocs();
    setupMembers();
    setupLibrary();
    return refresh();
  }).catch(function (err) { fail("studio-error", err); });
})();
