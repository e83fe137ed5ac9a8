// The room's group view (docs/groups.md): while the current phase is a group discussion, the teacher's
// group (its name, members, guiding questions, the countdown to the phase's end, the rapporteur), its
// chat on the group's channel, and its notes in the lesson-document editor (static/dist/editor.js,
// loaded the first time notes are opened); self-selection among named groups; for moderators the
// groups' list, entering any group, moving a teacher, and a broadcast to all groups. Broadcasts and
// the report-back (`group_reporting`) arrive on the room. The page stays subscribed to the room all the
// while: group time is attended time. activity.js calls attach() once, then onSnapshot, onEvent (every
// room event) and onReconnect. User text is only ever set with textContent.
(function (global) {
  "use strict";
  var $ = Collab.$, el = Collab.el, T = Collab.T, clear = Collab.clear;
  var ASK_SPREAD_MS = 1500;  // a national room's pages ask group.mine spread over this, not all at once
  var SMALL_STAGE = 8;       // groups planned this small have voice and camera (the server's group_too_large)

  function attach(o) {
    var rt = o.rt, aid = o.aid, me = o.me, root = o.root, report = o.report;
    var snap = null;
    var phase = null;        // the group phase shown (its index), or null: the main room
    var asking = null;       // the timer of a pending group.mine
    var mine = null;         // the last group.mine answer
    var group = null;        // the group in view (mine, or one a moderator entered)
    var channel = null;      // its channel, subscribed
    var gstage = null;       // its small stage (groups of at most SMALL_STAGE), while the group shows
    var members = [];        // its members
    var listed = [];         // the moderators' list of groups
    var editor = null, reportEditor = null;
    var editorLoad = null;

    function moderator() { return !!(snap && snap.me.may_moderate); }
    function running() {
      var a = snap && snap.activity;
      if (!a || a.state !== "live" || a.current_phase === null || a.current_phase === undefined) return null;
      var p = a.agenda[a.current_phase];
      return p && p.kind === "group_discussion" ? a.current_phase : null;
    }
    function cmd(name, args) { return rt.command(name, Object.assign({ activity_id: aid }, args || {})); }
    // a refusal in its line; "too fast" passes by itself after a moment
    function problem(id, err) {
      var node = $(id);
      Collab.say(node, err || null);
      if (err && err.code === "rate_limited") setTimeout(function () { if (node.textContent === Collab.errorText(err)) Collab.say(node, null); }, 2000);
    }
    function show(id, on) { $(id).hidden = !on; }

    // -- entering and leaving the group phase ------------------------------------------------------
    function update() {
      var now = running();
      if (now === phase) return;
      if (phase !== null) leave();
      if (now !== null) enter(now);
    }
    function enter(p) {
      phase = p;
      document.querySelector("main").classList.add("grouping");
      root.hidden = false;
      show("group-wait", true); show("group-view", false); show("group-choices", false);
      show("group-broadcast", false); problem("group-error");
      show("group-desk", moderator());
      askSoon();
      tick();
    }
    function leave() {
      phase = null; mine = null; listed = [];
      clearTimeout(asking); asking = null;
      closeGroup();
      document.querySelector("main").classList.remove("grouping");
      root.hidden = true;
    }
    // group.mine after a small random wait; `forming` means: wait for groups_formed, which asks again.
    function askSoon() {
      if (asking) return;
      asking = setTimeout(function () { asking = null; ask(); }, Math.random() * ASK_SPREAD_MS);
    }
    function ask() {
      if (phase === null) return;
      cmd("group.mine").then(function (r) {
        if (phase === null) return;
        mine = r;
        // forming: groups_formed asks again; should it pass this answer on the way, ask again anyway
        if (r.forming) { setTimeout(function () { if (phase !== null && mine === r) askSoon(); }, 3000); return; }
        show("group-wait", false);
        if (moderator()) loadList();
        if (r.group) { renderChoices(false); openGroup(r.group); }
        else if (r.mode === "self_select" && r.choices.length && !moderator()) renderChoices(true);
        else if (!moderator()) problem("group-error", T("您不在任何小组中。", "You are in no group."));
      }, function (err) {
        if (err && err.code === "no_groups") return;  // formed a moment later: groups_formed asks again
        problem("group-error", err);
      });
    }

    // -- self-selection ----------------------------------------------------------------------------
    function renderChoices(on) {
      show("group-choices", on);
      if (!on) return;
      var list = clear($("group-choice-list"));
      mine.choices.forEach(function (g) {
        var li = el("li", undefined, "group-choice"); li.dataset.groupId = g.id;
        li.appendChild(el("span", g.name, "group-choice-name"));
        li.appendChild(el("span", g.members + "/" + g.size, "muted group-choice-count"));
        var mineNow = mine.group && mine.group.id === g.id, full = !mineNow && g.members >= g.size;
        var b = Collab.button(mineNow ? T("已加入", "Joined") : full ? T("已满", "Full") : T("加入", "Join"), "group-join", function () {
          b.disabled = true;
          cmd("group.choose", { group_id: g.id }).then(function (r) {
            problem("group-error");
            mine.group = r.group;
            renderChoices(false);
            openGroup(r.group);
          }, function (err) {
            b.disabled = false;
            problem("group-error", err);
            if (err && err.code === "group_full") refreshChoices();
          });
        }, T("加入" + g.name, "Join " + g.name));
        b.disabled = mineNow || full;
        li.appendChild(b);
        list.appendChild(li);
      });
    }
    function refreshChoices() {
      cmd("group.mine").then(function (r) { mine = r; renderChoices(true); }, function () {});
    }

    // -- one group: its head, members, chat ----------------------------------------------------------
    function openGroup(g) {
      if (group && group.id === g.id) { group = g; renderHead(); return; }
      closeGroup();
      group = g;
      show("group-view", true);
      clear($("group-chat")); problem("group-chat-error"); problem("group-notes-error");
      renderHead();
      var qs = clear($("group-questions"));
      ((mine && mine.questions) || []).forEach(function (q) { qs.appendChild(el("li", q)); });
      $("group-questions-box").hidden = !qs.children.length;
      $("group-change").hidden = !(mine && mine.mode === "self_select" && !moderator());
      channel = g.channel;
      rt.subscribe(channel, onGroupEvent, loadHistory, null, function () {
        // ended by the server: moved to another group, so ask where we are now
        if (channel === g.channel) { closeNotes(); closeStage(); channel = null; group = null; show("group-view", false); askSoon(); }
      });
      loadHistory();
      loadMembers();
      // a small group's own stage: camera and microphone among its members (stage/group.js)
      if (g.size <= SMALL_STAGE && global.CollabStage) {
        gstage = global.CollabStage.joinGroupStage({ rt: rt, aid: aid, gid: g.id, me: me, mount: $("group-stage") });
      }
    }
    function closeStage() {
      if (gstage && global.CollabStage) global.CollabStage.leaveGroupStage();
      gstage = null;
    }
    function closeGroup() {
      closeNotes();
      closeStage();
      if (channel) rt.unsubscribe(channel);
      channel = null; group = null; members = [];
      show("group-view", false);
    }
    function renderHead() {
      $("group-name").textContent = group.name;
      var r = $("group-rapporteur");
      r.textContent = group.rapporteur ? T("汇报人：", "Rapporteur: ") + group.rapporteur.name : T("尚未推选汇报人", "No rapporteur yet");
      renderMembers();
    }
    function loadHistory() {
      if (!group) return;
      var g = group;
      cmd("group.history", { group_id: g.id }).then(function (r) {
        if (group !== g) return;
        clear($("group-chat"));
        r.messages.forEach(addMessage);
      }, function (err) { problem("group-chat-error", err); });
    }
    function loadMembers() {
      if (!group) return;
      var g = group;
      cmd("group.members", { group_id: g.id }).then(function (r) {
        if (group !== g) return;
        members = r.members; renderMembers();
      }, function () {});
    }
    function renderMembers() {
      var list = clear($("group-members"));
      members.forEach(function (m) {
        var li = el("li", undefined, "group-member"); li.dataset.userId = m.id;
        li.appendChild(el("span", m.name + (m.school ? " · " + m.school : ""), "who-name"));
        if (group.rapporteur && group.rapporteur.id === m.id) li.appendChild(el("span", T("汇报人", "Rapporteur"), "badge"));
        else if (phase !== null) {
          li.appendChild(Collab.button(T("设为汇报人", "Make rapporteur"), "link group-name-rapporteur", function () {
            cmd("group.rapporteur", { group_id: group.id, user_id: m.id })
              .then(function () { problem("group-chat-error"); }, function (err) { problem("group-chat-error", err); });
          }, T("设 " + m.name + " 为汇报人", "Make " + m.name + " the rapporteur")));
        }
        if (moderator() && listed.length > 1) li.appendChild(moveControl(m));
        list.appendChild(li);
      });
      $("group-member-count").textContent = members.length ? T("（" + members.length + " 人）", " (" + members.length + ")") : "";
    }
    function moveControl(m) {
      var span = el("span", undefined, "group-move");
      var select = el("select");
      select.setAttribute("aria-label", T("把 " + m.name + " 移到", "Move " + m.name + " to"));
      listed.forEach(function (g) {
        if (g.id === group.id) return;
        var opt = el("option", g.name); opt.value = g.id; select.appendChild(opt);
      });
      span.appendChild(select);
      span.appendChild(Collab.button(T("移动", "Move"), "group-move-go", function () {
        cmd("group.move", { user_id: m.id, group_id: Number(select.value) }).then(function () {
          problem("group-desk-error"); loadMembers(); loadList();
        }, function (err) { problem("group-desk-error", err); });
      }));
      return span;
    }
    function addMessage(m) {
      if (m.status && m.status !== "visible") return;
      var feed = $("group-chat"), old = $("gmsg-" + m.id);
      var li = el("li", undefined, "msg"); li.id = "gmsg-" + m.id;
      var text = el("div", undefined, "msg-text");
      text.appendChild(el("strong", m.user.name, "who-name"));
      text.appendChild(el("span", m.body, "msg-body"));
      li.appendChild(text);
      if (moderator()) {
        li.appendChild(Collab.button(T("隐藏", "Hide"), "link msg-hide", function () {
          cmd("group.hide", { message_id: m.id }).catch(function (err) { problem("group-chat-error", err); });
        }, T("隐藏 " + m.user.name + " 的消息", "Hide " + m.user.name + "'s message")));
      }
      if (old) { old.replaceWith(li); return; }
      var atEnd = feed.scrollHeight - feed.scrollTop - feed.clientHeight < 40;
      feed.appendChild(li);
      while (feed.children.length > 300) feed.removeChild(feed.firstChild);
      if (atEnd) feed.scrollTop = feed.scrollHeight;
    }
    function say(text) {  // who came and went, in the feed
      $("group-chat").appendChild(el("li", text, "msg system muted"));
    }
    function onGroupEvent(e) {
      if (gstage) gstage.onEvent(e);  // it takes `stage` and `group_stage_closed`
      switch (e.type) {
        case "group_chat": addMessage(e.message); break;
        case "group_chat_hidden": var gone = $("gmsg-" + e.message_id); if (gone) gone.remove(); break;
        case "group_member_joined":
          if (e.user.id !== me.id) say(T(e.user.name + " 加入了小组", e.user.name + " joined the group"));
          loadMembers(); break;
        case "group_member_left":
          say(T(e.user.name + " 离开了小组", e.user.name + " left the group"));
          loadMembers(); break;
        case "rapporteur_named":
          if (group && e.group_id === group.id) { group.rapporteur = { id: e.user_id, name: e.name }; renderHead(); }
          break;
      }
    }
    $("group-chat-form").onsubmit = function (e) {
      e.preventDefault();
      if (!group) return;
      var input = $("group-chat-input");
      cmd("group.post", { group_id: group.id, body: input.value }).then(function () {
        input.value = ""; problem("group-chat-error");
      }, function (err) { problem("group-chat-error", err); });  // the text stays, to send again
    };
    $("group-change").onclick = function () { refreshChoices(); };

    // -- the notes, in the document editor -----------------------------------------------------------
    // The editor bundle is loaded once, when notes are first opened (a room page that never opens
    // them does not fetch it).
    function loadEditor() {
      if (global.CollabEditor) return Promise.resolve();
      if (editorLoad) return editorLoad;
      editorLoad = new Promise(function (resolve, reject) {
        var css = document.createElement("link");
        css.rel = "stylesheet"; css.href = root.dataset.editorCss;
        document.head.appendChild(css);
        var s = document.createElement("script");
        s.src = root.dataset.editorJs;
        s.onload = function () { resolve(); };
        s.onerror = function () { editorLoad = null; reject({ code: "disconnected" }); };
        document.head.appendChild(s);
      });
      return editorLoad;
    }
    // open the document `docId` in `box` (a fresh element each time: Quill keeps to its own)
    function openDoc(box, docId, editable, status) {
      return loadEditor().then(function () {
        var host = el("div", undefined, "group-notes-editor");
        clear(box).appendChild(host);
        return CollabEditor.open({
          el: host, docId: docId, canEdit: editable, user: { id: me.id, name: me.display_name },
          ticket: function () {
            return collabApi("/api/docs/" + docId + "/ticket", { method: "POST" }).then(function (r) { return r.ticket; });
          },
          onStatus: function (s) { if (status) { status.dataset.state = s; } },
          onDenied: function () { if (status) status.textContent = T("只读：修改不会保存", "Read-only: changes are not saved"); }
        });
      });
    }
    function closeNotes() {
      if (editor) { editor.destroy(); editor = null; }
      clear($("group-notes-box")); show("group-notes", false);
      $("group-notes-open").setAttribute("aria-expanded", "false");
    }
    $("group-notes-open").onclick = function () {
      if (editor) { closeNotes(); return; }
      if (!group) return;
      var g = group, b = $("group-notes-open");
      b.disabled = true;
      cmd("group.notes", { group_id: g.id }).then(function (r) {
        if (group !== g) return;
        problem("group-notes-error");
        show("group-notes", true);
        $("group-notes-state").textContent = r.editable ? "" : T("只读", "Read-only");
        return openDoc($("group-notes-box"), r.doc_id, r.editable, $("group-notes-state")).then(function (ed) {
          editor = ed; b.setAttribute("aria-expanded", "true");
        });
      }).catch(function (err) { problem("group-notes-error", err); }).then(function () { b.disabled = false; });
    };

    // -- moderators: every group, entering one, broadcasting ------------------------------------------
    function loadList() {
      cmd("group.list").then(function (r) {
        listed = r.groups;
        var list = clear($("group-list"));
        r.groups.forEach(function (g) {
          var li = el("li", undefined, "group-listed" + (group && group.id === g.id ? " current" : ""));
          li.dataset.groupId = g.id;
          li.appendChild(el("span", g.name, "group-listed-name"));
          li.appendChild(el("span", T(g.members + " 人 · " + g.messages + " 条消息",
                                 (g.members === 1 ? "1 person" : g.members + " people") + " · " + (g.messages === 1 ? "1 message" : g.messages + " messages")), "muted"));
          if (g.rapporteur) li.appendChild(el("span", T("汇报人：", "Rapporteur: ") + g.rapporteur.name, "muted"));
          var here = group && group.id === g.id;
          var enter = Collab.button(here ? T("查看中", "Viewing") : T("进入", "Enter"), "group-enter",
                                    function () { openGroup(g); loadList(); }, T("进入" + g.name, "Enter " + g.name));
          enter.disabled = here;
          li.appendChild(enter);
          list.appendChild(li);
        });
        if (group) renderMembers();
      }, function (err) { if (!(err && err.code === "no_groups")) problem("group-desk-error", err); });
    }
    $("group-list-refresh").onclick = loadList;
    $("group-broadcast-form").onsubmit = function (e) {
      e.preventDefault();
      var input = $("group-broadcast-input");
      cmd("group.broadcast", { body: input.value }).then(function () {
        input.value = ""; problem("group-desk-error");
      }, function (err) { problem("group-desk-error", err); });
    };

    // -- the countdown ------------------------------------------------------------------------------
    // From the room's own record of the phase (its start and minutes), so an extension moves it.
    function tick() {
      if (phase === null || !snap.activity.phase_started_at) return;
      var a = snap.activity;
      var ends = new Date(a.phase_started_at).getTime() + a.agenda[phase].minutes * 60000;
      var left = (ends - Date.now()) / 1000;
      var s = Math.max(0, Math.floor(left));
      $("group-countdown").textContent = T("剩余 ", "") + Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0") + T("", " left");
      var note = $("group-time-note");
      var text = left <= 0 ? T("时间到", "Time is up") : left <= 60 ? T("还剩1分钟", "1 minute left") : "";
      note.hidden = !text; note.textContent = text;
      note.classList.toggle("over", left <= 0);
    }
    setInterval(tick, 1000);

    // -- the report-back, beside the stage ----------------------------------------------------------
    // Once the groups have discussed, every group's notes are open to the whole room, read-only.
    function reporting(e) {
      if (reportEditor) { reportEditor.destroy(); reportEditor = null; }
      report.hidden = false;
      $("group-report-title").textContent = T("第" + e.group.number + "组 汇报人：" + e.rapporteur.name,
                                                "Group " + e.group.number + " reporting: " + e.rapporteur.name);
      var named = e.group.name !== "第" + e.group.number + "组";  // a name of its own, beside the number
      $("group-report-name").textContent = named ? e.group.name : "";
      $("group-report-name").hidden = !named;
      var box = clear($("group-report-box")), note = $("group-report-note");
      note.hidden = true;
      cmd("group.notes", { group_id: e.group.id }).then(function (r) {
        return openDoc(box, r.doc_id, false, null).then(function (ed) { reportEditor = ed; });
      }).catch(function (err) {
        note.hidden = false;
        note.textContent = err && (err.code === "not_in_group" || err.code === "forbidden")
          ? T("小组笔记只对本组成员和主持人开放。", "The group's notes are open to its members and the hosts only.")
          : Collab.errorText(err);
      });
    }
    function endReport() {
      if (reportEditor) { reportEditor.destroy(); reportEditor = null; }
      report.hidden = true;
    }

    return {
      onSnapshot: function (s) {
        snap = s; if (phase !== null && running() === phase) askSoon(); update();
        if (s.reporting) reporting(s.reporting); else endReport();  // joined or reloaded during a report
      },
      onEvent: function (e) {
        switch (e.type) {
          case "started": case "phase_changed": endReport(); update(); break;
          case "ended": case "archived": endReport(); update(); break;
          case "phase_extended": tick(); break;
          case "groups_formed": if (phase !== null && e.phase === phase) askSoon(); break;
          case "group_broadcast":
            if (phase !== null) {
              var b = $("group-broadcast");
              clear(b);
              b.appendChild(el("strong", T("主持人通知：", "To all groups: ")));
              b.appendChild(el("span", e.body));
              b.hidden = false;
            }
            break;
          case "group_reporting": reporting(e); break;
        }
      },
      onReconnect: function () {
        if (phase !== null) askSoon();
        if (moderator() && phase !== null) loadList();
        if (gstage) gstage.onReconnect();
      }
    };
  }
  global.CollabGroups = { attach: attach };
})(window);
