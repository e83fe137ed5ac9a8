// The activity room: what the activity is (description, time, subject and grade, level, organizer,
// experts, the current phase's clock), the lobby's countdown, then the live view: the stage (stage.js),
// discussion, questions with upvotes, the open poll, raising a hand, reactions; for hosts the lifecycle
// controls, for experts the moderators' desk (held messages, pending questions, the hand queue, polls,
// slow mode). What must be seen (a poll opening, the question in focus, an invitation to the stage) is
// a banner at the top of the room. In a group discussion the group view (groups.js) shows the
// teacher's group, in the main chat's place on a phone. A refusal is shown by what caused it and
// cleared when its cause ends.
// State comes from activity.snapshot; everything after it arrives on the room channel (and the desk
// channel for moderators), recovered across reconnects by realtime.js. User text is only ever set with
// textContent.
(function () {
  "use strict";
  var $ = Collab.$, el = Collab.el, T = Collab.T, clear = Collab.clear;
  var aid = Number(document.querySelector("main").dataset.activityId);
  var STATES = { scheduled: ["未开始", "scheduled"], lobby: ["候场中", "lobby"], live: ["进行中", "live"],
                 ended: ["已结束", "ended"], archived: ["已归档", "archived"], cancelled: ["已取消", "cancelled"] };
  var LEVELS = { national: ["国家级", "National"], province: ["省级", "Province"], city: ["市级", "City"],
                 county: ["县级", "County"], school: ["校级", "School"] };
  // a person's part in this activity, shown as a badge by their name (never as part of the name)
  var PARTS = { expert: ["专家", "Expert"], host: ["主持人", "Host"], presenter: ["主讲人", "Presenter"],
                organizer: ["组织者", "Organizer"] };
  var REACTIONS = { like: "👍", clap: "👏", heart: "❤️", laugh: "😄", think: "🤔" };
  var REACTION_NAMES = { like: ["赞", "like"], clap: ["鼓掌", "clap"], heart: ["喜欢", "heart"],
                         laugh: ["笑", "laugh"], think: ["思考", "think"] };
  // refusals that end by themselves when the connection is back, or when the phase moves on
  var CONNECTION_CODES = ["disconnected", "bus_unavailable", "busy"];
  var PHASE_CODES = ["chat_closed", "questions_closed", "hands_closed", "polls_closed", "wrong_state", "last_phase"];
  var snap = null, preview = null, me = null, rt = null, stage = null, groups = null;
  var questions = {}, votedFor = {}, messages = {}, myChoices = {}, deskCounts = null, voteErrors = {};
  var replyTo = null, handUp = false, subscribed = false;
  var mutedUntil = null;   // when my mute ends (null: not muted, or no end known)
  var dismissed = {};      // banners closed by the teacher, by key
  var invitedId = null;    // the desk: whom it last invited on stage, until they come up or decline
  var stamps = 0;

  // -- where refusals and confirmations are shown ------------------------------------------------
  // problem(slot, err): a refusal in the line of what caused it (#chat-error, #ask-error, #poll-error,
  // #hand-error, #desk-error, #host-error; else the room's #notice). The line keeps the error's code so
  // settle() can clear it when its cause ends; slow mode and a timed mute end by the clock.
  function problem(slot, err) {
    var node = $(slot + "-error") || $("notice");
    Collab.say(node, err || null);
    node.dataset.code = err && err.code ? err.code : "";
    var stamp = node.dataset.stamp = String(++stamps);
    var seconds = !err ? 0 : err.code === "slow_mode" ? Math.max(1, snap ? snap.activity.slow_mode : 1)
                : err.code === "rate_limited" ? 2
                : err.code === "muted" && mutedUntil ? (mutedUntil - Date.now()) / 1000 : 0;
    if (seconds > 0) setTimeout(function () { if (node.dataset.stamp === stamp) problem(slot); }, seconds * 1000);
  }
  function settle(codes) {
    document.querySelectorAll(".field-error, #notice").forEach(function (n) {
      if (!n.hidden && codes.indexOf(n.dataset.code) >= 0) problem(n.id.replace(/-error$/, ""));
    });
  }
  function notice(text) { problem("notice", text || null); }
  // inform(slot, text, passing): a confirmation by what it confirms (#status, #chat-status,
  // #ask-status); a passing one ("you are registered") has said its piece after a few seconds.
  function inform(slot, text, passing) {
    var node = $(slot === "room" ? "status" : slot + "-status");
    node.textContent = text || ""; node.hidden = !text;
    var stamp = node.dataset.stamp = String(++stamps);
    if (text && passing) setTimeout(function () { if (node.dataset.stamp === stamp) inform(slot); }, 10000);
  }
  function cmd(name, args, slot) {
    return rt.command(name, Object.assign({ activity_id: aid }, args || {}))
      .catch(function (e) { problem(slot || "notice", e); throw e; });
  }
  function button(text, onclick, cls, label) { return Collab.button(text, cls, onclick, label); }
  function quiet() {}  // for promises whose failure cmd() has already shown
  function moderator() { return snap && snap.me.may_moderate; }
  function phase() { var a = snap.activity; return a.current_phase !== null && a.current_phase !== undefined ? a.agenda[a.current_phase] : null; }
  function staff() { return snap.me.roles.length > 0 || snap.me.may_run || snap.me.may_moderate; }
  function shownActivity() { return (snap || preview || {}).activity; }
  function zone(a) { return a.time_zone || "Asia/Shanghai"; }
  function clock(seconds) {  // 5:07, 1:05:07
    var s = Math.max(0, Math.floor(seconds)), h = Math.floor(s / 3600), m = Math.floor(s % 3600 / 60);
    return (h ? h + ":" + String(m).padStart(2, "0") : String(m)) + ":" + String(s % 60).padStart(2, "0");
  }

  // -- who is who ----------------------------------------------------------------------------------
  function partOf(userId) {
    var a = shownActivity();
    if (!a) return null;
    if ((a.experts || []).indexOf(userId) >= 0) return "expert";
    if ((a.hosts || []).indexOf(userId) >= 0) return "host";
    if ((a.presenters || []).indexOf(userId) >= 0) return "presenter";
    return a.organizer_id === userId ? "organizer" : null;
  }
  function who(user) {  // a name, with the person's part in the activity as a badge in the page's language
    var span = el("span", undefined, "who");
    span.appendChild(el("strong", user.name, "who-name"));
    var part = partOf(user.id);
    if (part) span.appendChild(el("span", T(PARTS[part][0], PARTS[part][1]), "badge part " + part));
    return span;
  }
  function nameOf(a, id) { return a.names && a.names[String(id)]; }

  // -- what the activity is ------------------------------------------------------------------------
  // What anyone who may see the activity sees: its title, state, facts, description and agenda.
  function renderHeading(a) {
    var live = a.state === "live";
    $("title").textContent = a.title;
    document.title = a.title + " · collab";
    var st = STATES[a.state];
    $("state").textContent = st ? T(st[0], st[1]) : a.state;
    $("state").className = "badge " + a.state;
    var level = LEVELS[a.level];
    $("level").hidden = !level;
    $("level").textContent = level ? T(level[0], level[1]) : "";
    $("subject-grade").textContent = [Collab.subjectName(a.subject), Collab.gradeName(a.grade)].filter(Boolean).join(" · ");
    $("facts").hidden = false;
    var span = Collab.fmtSpan(a.starts_at, a.ends_at, zone(a));
    $("fact-time").textContent = span + (zone(a) === "Asia/Shanghai" ? T("（北京时间）", " (China time)") : " (" + zone(a) + ")");
    var organizer = nameOf(a, a.organizer_id);
    $("fact-organizer-row").hidden = !organizer;
    $("fact-organizer").textContent = organizer || "";
    var experts = (a.experts || []).map(function (id) { return nameOf(a, id); }).filter(Boolean);
    $("fact-experts-row").hidden = !experts.length;
    $("fact-experts").textContent = experts.join(T("、", ", "));
    $("description").hidden = !a.description;
    $("description").textContent = a.description || "";
    clear($("agenda"));
    a.agenda.forEach(function (ph, i) {
      var li = el("li");
      li.appendChild(el("span", ph.title, "phase-title"));
      li.appendChild(el("span", T(ph.minutes + " 分钟", ph.minutes + " min"), "muted phase-minutes"));
      if (i === a.current_phase && live) { li.className = "current"; li.setAttribute("aria-current", "step"); }
      $("agenda").appendChild(li);
    });
  }

  function renderState() {
    var a = snap.activity, p = phase(), live = a.state === "live";
    renderHeading(a);
    $("phase-now").textContent = live && p ? T("当前环节：", "Now: ") + p.title +
      T("（第 " + (a.current_phase + 1) + "/" + a.agenda.length + " 环节）", " (phase " + (a.current_phase + 1) + " of " + a.agenda.length + ")") : "";
    var chatOpen = live && (!p || p.chat || staff());
    $("chat-form").hidden = !chatOpen;
    $("chat-closed").hidden = chatOpen || !(live || a.state === "lobby" || a.state === "scheduled");
    $("chat-closed").textContent = live ? T("本环节不开放讨论。", "Chat is closed in this phase.")
                                        : T("活动开始后开放讨论。", "Chat opens when the activity starts.");
    var modes = [];
    if (a.slow_mode) modes.push(T("慢速模式 " + a.slow_mode + " 秒", "slow mode " + a.slow_mode + " s"));
    if (a.premoderation) modes.push(T("先审后发", "pre-moderated"));
    $("chat-mode").textContent = modes.join(" · ");
    $("ask-form").hidden = !((live && (!p || p.questions || staff())) || a.state === "lobby");
    $("hand").hidden = staff() || !(live && p && p.hands);  // staff are on stage by right: no hand to raise
    $("hand-status").hidden = $("hand").hidden;
    $("reactions").hidden = !live;
    $("hand-box").hidden = $("hand").hidden && $("reactions").hidden;
    var ended = a.state === "ended" || a.state === "archived";
    $("ended-links").hidden = !ended;
    $("replay-link").href = "/activities/" + aid + "/replay";
    var organizer = me && (a.organizer_id === me.id || me.role === "admin");
    $("host-controls").hidden = !snap.me.may_run && !organizer;
    $("edit-link").hidden = !organizer;
    $("edit-link").href = "/activities/" + aid + "/edit";
    $("attendance-link").href = "/activities/" + aid + "/attendance";
    var allowed = { "activity.open_lobby": a.state === "scheduled", "activity.start": a.state === "scheduled" || a.state === "lobby",
                    "activity.next_phase": live && a.current_phase < a.agenda.length - 1, "activity.end": live,
                    "activity.extend_phase": live, "activity.archive": a.state === "ended" };
    document.querySelectorAll("#host-controls button[data-cmd]").forEach(function (b) {
      b.hidden = !snap.me.may_run || !allowed[b.dataset.cmd];  // only what this state allows, not a row of greyed buttons
    });
    $("mod-desk").hidden = !moderator() || a.state === "cancelled";
    $("slow-seconds").value = a.slow_mode || 0;
    $("premod").checked = !!a.premoderation;
    $("qa-approval").checked = !!a.qa_approval;
    $("poll-form").hidden = !(live && p && p.polls);
    tick();
  }

  function tick() {  // the countdown to the start; in a live phase, its time elapsed and remaining
    var a = shownActivity();
    if (!a) return;
    var left = (new Date(a.starts_at) - Date.now()) / 1000;
    if ((a.state === "scheduled" || a.state === "lobby") && left > 0) {
      var d = Math.floor(left / 86400), rest = clock(left % 86400);
      $("countdown").textContent = d ? T("距开始 " + d + " 天 " + rest, "starts in " + d + " d " + rest)
                                     : T("距开始 " + rest, "starts in " + rest);
    } else {
      $("countdown").textContent = "";
    }
    var p = a.state === "live" && a.current_phase !== null && a.current_phase !== undefined ? a.agenda[a.current_phase] : null;
    var since = p && a.phase_started_at ? (Date.now() - new Date(a.phase_started_at)) / 1000 : null;
    $("phase-progress").hidden = since === null;
    if (since === null) { $("phase-clock").textContent = ""; return; }
    var total = p.minutes * 60, remaining = total - since;
    $("phase-clock").textContent = remaining >= 0
      ? T("已进行 " + clock(since) + "，剩余 " + clock(remaining), clock(since) + " elapsed, " + clock(remaining) + " left")
      : T("已进行 " + clock(since) + "，超时 " + clock(-remaining), clock(since) + " elapsed, " + clock(-remaining) + " over time");
    var bar = $("phase-progress").firstElementChild;
    bar.style.width = Math.min(100, Math.round(100 * since / total)) + "%";
    $("phase-progress").classList.toggle("over", remaining < 0);
  }

  // -- banners: what must be seen, at the top of the room ---------------------------------------
  // One banner per kind; `key` names what it shows, so a banner the teacher closed stays closed for
  // that poll or question, and a new one is shown again.
  function banner(kind, key, label, text, go) {
    var old = document.querySelector("#alerts .banner[data-kind='" + kind + "']");
    if (dismissed[key]) { if (old) old.remove(); return; }
    if (old && old.dataset.key === key && old.querySelector(".banner-text").textContent === text) return;
    var b = el("div", undefined, "banner " + kind);
    b.dataset.kind = kind; b.dataset.key = key;
    b.setAttribute("role", "group"); b.setAttribute("aria-label", label);
    b.appendChild(el("strong", label, "banner-label"));
    b.appendChild(el("span", text, "banner-text"));
    b.appendChild(button(go[0], go[1], "banner-go"));
    b.appendChild(button("×", function () { dismissed[key] = true; b.remove(); }, "banner-close", T("关闭提醒：", "Dismiss: ") + label));
    if (old) old.replaceWith(b); else $("alerts").appendChild(b);
  }
  function unbanner(kind) { var old = document.querySelector("#alerts .banner[data-kind='" + kind + "']"); if (old) old.remove(); }
  function reveal(node, focus) {  // take the teacher to it: scrolled into the middle of the screen, focused
    node.scrollIntoView({ block: "center" });
    (focus || node).focus({ preventScroll: true });
  }
  function renderBanners() {
    var poll = snap && snap.poll;
    if (poll && poll.status === "open" && !(myChoices[poll.id] || []).length) {
      banner("poll", "poll-" + poll.id, T("新投票", "New poll"), poll.question, [T("去投票", "Vote now"), function () {
        reveal($("poll"), $("poll-options").querySelector("button:not([disabled]), input"));
      }]);
    } else unbanner("poll");
    var q = Object.keys(questions).map(function (k) { return questions[k]; })
      .filter(function (x) { return x.spotlight && (x.status === "open" || x.status === "answered"); })[0];
    if (q && snap.activity.state === "live") {
      banner("spotlight", "q-" + q.id, T("正在讨论的问题", "The question in focus"), q.body, [T("查看问题", "See the question"), function () {
        var li = $("q-" + q.id); if (li) reveal(li);
      }]);
    } else unbanner("spotlight");
  }

  // -- discussion ----------------------------------------------------------------------------------
  // A message's tools (reply, pin, hide, mute, delete) sit behind one "⋯" button: a real button, for
  // touch and keyboard alike, that leaves the text its full width.
  function messageActions(m) {
    var out = [];
    if (snap.activity.state === "live") out.push(button(T("回复", "Reply"), function () { setReply(m); }, "msg-reply"));
    if (moderator()) {
      out.push(button(m.pinned ? T("取消置顶", "Unpin") : T("置顶", "Pin"), function () {
        cmd(m.pinned ? "chat.unpin" : "chat.pin", { message_id: m.id }, "chat").catch(quiet);
      }, "msg-pin"));
      out.push(button(T("隐藏", "Hide"), function () { cmd("chat.hide", { message_id: m.id }, "chat").catch(quiet); }, "msg-hide"));
      if (m.user.id !== me.id) {
        out.push(button(T("禁言 10 分钟", "Mute 10 min"), function () {
          cmd("chat.mute", { user_id: m.user.id, minutes: 10 }, "chat").then(function () {
            inform("chat", T("已禁言 " + m.user.name + " 10 分钟", m.user.name + " is muted for 10 min"), true);
          }, quiet);
        }, "msg-mute"));
      }
    } else if (m.user.id === me.id) {
      out.push(button(T("删除", "Delete"), function () { cmd("chat.delete", { message_id: m.id }, "chat").catch(quiet); }, "msg-delete"));
    }
    return out;
  }
  function messageItem(m) {
    var li = el("li", undefined, "msg"); li.id = "msg-" + m.id;
    var text = el("div", undefined, "msg-text");
    if (m.reply_to && messages[m.reply_to]) {
      var parent = messages[m.reply_to];
      text.appendChild(el("span", T("回复 ", "Re ") + parent.user.name + T("：", ": ") + parent.body.slice(0, 60), "reply-to"));
    }
    text.appendChild(who(m.user));
    text.appendChild(el("span", m.body, "msg-body"));
    li.appendChild(text);
    var actions = messageActions(m);
    if (actions.length) {
      var tools = el("div", undefined, "msg-tools"); tools.hidden = true;
      tools.setAttribute("role", "group"); tools.setAttribute("aria-label", T("消息操作", "Message actions"));
      actions.forEach(function (b) { tools.appendChild(b); });
      var more = button("⋯", function () {
        tools.hidden = !tools.hidden;
        more.setAttribute("aria-expanded", tools.hidden ? "false" : "true");
        if (!tools.hidden) tools.firstChild.focus();
      }, "msg-more", T("操作：", "Actions: ") + m.user.name + T("的消息", "'s message"));
      more.setAttribute("aria-expanded", "false");
      tools.onkeydown = function (e) {
        if (e.key === "Escape") { tools.hidden = true; more.setAttribute("aria-expanded", "false"); more.focus(); }
      };
      li.appendChild(more);
      li.appendChild(tools);
    }
    return li;
  }
  // The feed keeps the last 300 messages (a national chat runs at 100 a second): older ones leave the
  // page and its memory, unless pinned. The pinned list is redrawn only when a pin changes.
  function addMessage(m) {
    var was = messages[m.id];
    messages[m.id] = m;
    var old = $("msg-" + m.id);
    var li = messageItem(m);
    if (old) old.replaceWith(li);  // a replayed or re-sent message is shown once
    else {
      var feed = $("chat"), atEnd = feed.scrollHeight - feed.scrollTop - feed.clientHeight < 40;
      feed.appendChild(li);
      while (feed.children.length > 300) {
        var id = Number(feed.firstChild.id.slice(4));
        feed.removeChild(feed.firstChild);
        if (messages[id] && !messages[id].pinned) delete messages[id];
      }
      if (atEnd) feed.scrollTop = feed.scrollHeight;
    }
    if (me && m.user.id === me.id) inform("chat");  // my held message came through
    if (m.pinned || (was && was.pinned)) renderPinned();
  }
  function removeMessage(id) {
    var gone = $("msg-" + id); if (gone) gone.remove();
    var was = messages[id];
    delete messages[id];
    if (was && was.pinned) renderPinned();
    removeHeld(id);
  }
  function renderPinned() {
    clear($("pinned"));
    Object.keys(messages).map(function (k) { return messages[k]; }).filter(function (m) { return m.pinned; })
      .forEach(function (m) {
        var li = el("li"); li.appendChild(el("span", "📌 ", "pin-mark")); li.appendChild(who(m.user));
        li.appendChild(el("span", m.body, "msg-body"));
        $("pinned").appendChild(li);
      });
  }
  function setReply(m) {
    replyTo = m ? m.id : null;
    var chip = $("reply-chip");
    if (!m) { if (chip) chip.remove(); return; }
    if (!chip) { chip = el("p", undefined, "muted reply-chip"); chip.id = "reply-chip"; $("chat-form").parentNode.insertBefore(chip, $("chat-form")); }
    clear(chip);
    chip.appendChild(document.createTextNode(T("回复 ", "Replying to ") + m.user.name + " "));
    chip.appendChild(button("×", function () { setReply(null); }, "link", T("取消回复", "Cancel reply")));
    $("chat-input").focus();
  }

  // -- questions -----------------------------------------------------------------------------------
  // Only an open question takes votes: an answered one shows its total, not a button.
  function questionItem(q) {
    var li = el("li", undefined, "q" + (q.spotlight ? " spotlight" : "") + (q.status === "answered" ? " answered" : ""));
    li.id = "q-" + q.id; li.tabIndex = -1;
    var votes;
    if (q.status === "open") {
      votes = button("▲ " + q.votes, function () {
        delete voteErrors[q.id];
        rt.command("qa.vote", { activity_id: aid, question_id: q.id, up: !votedFor[q.id] }).then(function (r) {
          votedFor[q.id] = r.voted; q.votes = r.votes; renderQuestions();
        }, function (e) {
          if (e && e.code === "already_voted") votedFor[q.id] = true;
          else voteErrors[q.id] = e;
          renderQuestions();
        });
      }, "vote", T("赞同这个问题，当前 " + q.votes + " 票", "Upvote, now " + q.votes));
      votes.setAttribute("aria-pressed", votedFor[q.id] ? "true" : "false");
    } else {
      votes = el("span", "▲ " + q.votes, "votes");
      votes.setAttribute("aria-label", T(q.votes + " 票", q.votes + " votes"));
    }
    li.appendChild(votes);
    var text = el("div", undefined, "q-text");
    if (q.spotlight) text.appendChild(el("span", T("★ 正在讨论", "★ In focus"), "badge focus"));
    if (q.status === "answered") text.appendChild(el("span", T("已回答", "Answered"), "badge answered"));
    text.appendChild(el("span", q.body, "q-body"));
    var meta = el("span", undefined, "q-meta muted");
    meta.appendChild(who(q.user));
    text.appendChild(meta);
    li.appendChild(text);
    if (q.answer || q.answered_live) li.appendChild(el("div", q.answer ? T("答：", "A: ") + q.answer : T("已现场回答", "Answered live"), "answer"));
    if (voteErrors[q.id]) li.appendChild(el("p", Collab.errorText(voteErrors[q.id]), "error q-error")).setAttribute("role", "alert");
    if (moderator()) {
      var tools = el("div", undefined, "q-tools");
      tools.setAttribute("role", "group"); tools.setAttribute("aria-label", T("问题操作", "Question actions"));
      tools.appendChild(button(q.spotlight ? T("取消聚焦", "Unfocus") : T("聚焦", "Spotlight"), function () {
        cmd(q.spotlight ? "qa.spotlight_off" : "qa.spotlight", { question_id: q.id }, "ask").catch(quiet);
      }, "q-spot"));
      if (q.status !== "answered") {
        tools.appendChild(button(T("回答", "Answer"), function () { answerForm(li, q); }, "q-answer"));
        tools.appendChild(button(T("已现场回答", "Answered live"), function () {
          cmd("qa.answer", { question_id: q.id, live: true }, "ask").catch(quiet);
        }, "q-live"));
      }
      tools.appendChild(button(T("移除", "Dismiss"), function () { cmd("qa.dismiss", { question_id: q.id }, "ask").catch(quiet); }, "q-dismiss"));
      li.appendChild(tools);
    }
    return li;
  }
  function renderQuestions() {
    var byTime = $("q-sort").value === "time";
    var list = Object.keys(questions).map(function (k) { return questions[k]; })
      .filter(function (q) { return q.status === "open" || q.status === "answered"; });
    list.sort(function (a, b) {
      return (b.spotlight - a.spotlight) || (byTime ? b.id - a.id : (b.votes - a.votes) || (a.id - b.id));
    });
    var focused = document.activeElement && document.activeElement.closest && document.activeElement.closest("#questions li");
    var refocus = focused ? [focused.id, document.activeElement.className] : null;
    clear($("questions"));
    if (!list.length) $("questions").appendChild(el("li", T("还没有问题。", "No questions yet."), "muted empty"));
    document.querySelector(".q-sort").hidden = list.length < 2;  // nothing to sort yet
    list.forEach(function (q) { $("questions").appendChild(questionItem(q)); });
    if (refocus && $(refocus[0])) {  // a re-ordered list keeps the keyboard where it was
      var again = refocus[1] ? $(refocus[0]).querySelector("." + refocus[1].split(" ")[0]) : null;
      (again || $(refocus[0])).focus({ preventScroll: true });
    }
    if (snap) renderBanners();
  }
  function answerForm(li, q) {
    if (li.querySelector("form")) return;
    var f = el("form", undefined, "answer-form inline-form");
    var input = el("input"); input.name = "text"; input.maxLength = 1000; input.required = true;
    input.setAttribute("aria-label", T("回答内容", "Answer"));
    f.appendChild(input);
    var send = el("button", T("发布回答", "Post answer")); send.type = "submit"; f.appendChild(send);
    f.onsubmit = function (e) {
      e.preventDefault();
      cmd("qa.answer", { question_id: q.id, text: input.value }, "ask").catch(quiet);
    };
    li.appendChild(f);
    input.focus();
  }

  // -- the poll ------------------------------------------------------------------------------------
  function renderPoll() {
    var poll = snap.poll;
    $("poll").hidden = !poll;
    $("poll-admin").hidden = !(poll && moderator());
    renderBanners();
    if (!poll) return;
    $("poll-question").textContent = poll.question;
    var results = poll.results || (moderator() && deskCounts && deskCounts.poll_id === poll.id ? deskCounts : null);
    var total = results ? results.voters || 0 : 0;
    var mine = myChoices[poll.id] || [];
    var box = clear($("poll-options"));
    var open = poll.status === "open";
    if (poll.multiple && open) {
      var f = el("form");
      poll.options.forEach(function (text, i) {
        var l = el("label"), c = el("input"); c.type = "checkbox"; c.value = i; c.checked = mine.indexOf(i) >= 0;
        l.appendChild(c); l.appendChild(document.createTextNode(" " + text + (results ? " · " + results.counts[i] : "")));
        f.appendChild(l);
      });
      var submit = el("button", T("提交", "Submit")); submit.type = "submit"; f.appendChild(submit);
      f.onsubmit = function (e) {
        e.preventDefault();
        var choices = [].slice.call(f.querySelectorAll("input:checked")).map(function (c) { return Number(c.value); });
        answer(poll, choices);
      };
      box.appendChild(f);
    } else {
      poll.options.forEach(function (text, i) {
        var count = results ? results.counts[i] : null;
        var b = button(text + (count !== null ? " · " + count : ""), function () { answer(poll, [i]); }, "poll-option");
        b.disabled = !open;
        b.setAttribute("aria-pressed", mine.indexOf(i) >= 0 ? "true" : "false");
        if (count !== null) {
          var bar = el("span", undefined, "bar"); bar.style.width = (total ? Math.round(100 * count / total) : 0) + "%";
          b.appendChild(bar);
        }
        box.appendChild(b);
      });
    }
    var status = open ? (mine.length ? T("已投票，结束前可修改", "Voted; you may change it until the poll closes") : T("请投票", "Cast your vote"))
                      : T("投票已结束", "The poll is closed");
    if (results) status += " · " + T(total + " 人参与", total + " voted");
    $("poll-status").textContent = status;
    $("poll-show").disabled = !!poll.results_shown;
    $("poll-close").disabled = !open;
    $("poll-live").textContent = moderator() && results ? T("实时：", "live: ") + results.counts.join(" / ") : "";
  }
  function answer(poll, choices) {
    cmd("poll.answer", { poll_id: poll.id, choices: choices }, "poll").then(function () {
      myChoices[poll.id] = choices; problem("poll"); renderPoll();
    }, quiet);
  }

  // -- hands and reactions -------------------------------------------------------------------------
  function renderHand(position) {
    $("hand").textContent = handUp ? T("放下手", "Lower hand") : T("✋ 举手", "✋ Raise hand");
    $("hand").setAttribute("aria-pressed", handUp ? "true" : "false");
    $("hand-status").textContent = handUp ? (position ? T("已举手，排第 " + position + " 位", "Hand raised, number " + position + " in line")
                                                      : T("已举手", "Hand raised")) : "";
  }
  var reactionTotals = {};
  function showReactions(counts) {
    Object.keys(counts).forEach(function (k) {
      reactionTotals[k] = (reactionTotals[k] || 0) + counts[k];
      var b = document.querySelector("#reactions button[data-kind='" + k + "']");
      if (b) b.querySelector(".n").textContent = reactionTotals[k];
    });
  }
  function buildReactions() {
    Object.keys(REACTIONS).forEach(function (k) {
      var b = button(REACTIONS[k], function () {
        rt.command("react", { activity_id: aid, kind: k }).then(function () { problem("hand"); }, function (e) { problem("hand", e); });
      }, "", T(REACTION_NAMES[k][0], REACTION_NAMES[k][1]));
      b.dataset.kind = k;
      b.appendChild(el("span", "", "n"));
      $("reactions").appendChild(b);
    });
  }

  // -- the moderators' desk ------------------------------------------------------------------------
  function heldItem(m) {
    var li = el("li"); li.id = "held-" + m.id;
    li.appendChild(who(m.user)); li.appendChild(el("span", m.body, "msg-body"));
    li.appendChild(button(T("通过", "Approve"), function () { cmd("chat.approve", { message_id: m.id }, "desk").then(function () { removeHeld(m.id); }, quiet); }));
    li.appendChild(button(T("不通过", "Reject"), function () { cmd("chat.hide", { message_id: m.id }, "desk").then(function () { removeHeld(m.id); }, quiet); }));
    return li;
  }
  function removeHeld(id) { var h = $("held-" + id); if (h) h.remove(); }
  function pendingItem(q) {
    var li = el("li"); li.id = "pq-" + q.id;
    li.appendChild(who(q.user)); li.appendChild(el("span", q.body, "msg-body"));
    li.appendChild(button(T("通过", "Approve"), function () { cmd("qa.approve", { question_id: q.id }, "desk").then(function () { li.remove(); }, quiet); }));
    li.appendChild(button(T("移除", "Dismiss"), function () { cmd("qa.dismiss", { question_id: q.id }, "desk").then(function () { li.remove(); }, quiet); }));
    return li;
  }
  function handItem(user) {
    var li = el("li"); li.id = "hq-" + user.id;
    li.appendChild(el("span", user.name + (user.school ? " · " + user.school : "")));
    li.appendChild(button(T("请上台", "Invite on stage"), function () { cmd("hand.call", { user_id: user.id }, "desk").then(function () { li.remove(); }, quiet); }, "call"));
    li.appendChild(button(T("放下", "Lower"), function () { cmd("hand.lower", { user_id: user.id }, "desk").then(function () { li.remove(); }, quiet); }));
    return li;
  }
  function loadDesk() {
    rt.command("chat.held", { activity_id: aid }).then(function (r) {
      clear($("held")); r.messages.forEach(function (m) { $("held").appendChild(heldItem(m)); });
    }, function () {});
    rt.command("qa.list", { activity_id: aid, pending: true }).then(function (r) {
      clear($("pending-questions")); r.questions.forEach(function (q) { $("pending-questions").appendChild(pendingItem(q)); });
    }, function () {});
    rt.command("hand.queue", { activity_id: aid }).then(function (r) {
      clear($("hand-queue")); r.hands.forEach(function (h) { $("hand-queue").appendChild(handItem(h.user)); });
    }, function () {});
  }
  function deskNote(text) { $("desk-note").textContent = text || ""; }
  function onDesk(e) {
    switch (e.type) {
      case "chat_held": if (!$("held-" + e.message.id)) $("held").appendChild(heldItem(e.message)); return;
      case "chat_approved": case "chat_hidden": case "chat_deleted": return removeHeld(e.message_id);
      case "question_pending": if (!$("pq-" + e.question.id)) $("pending-questions").appendChild(pendingItem(e.question)); return;
      case "question": case "question_dismissed":
        var pq = $("pq-" + (e.question ? e.question.id : e.question_id)); if (pq) pq.remove(); return;
      case "hand_raised": if (!$("hq-" + e.user_id)) $("hand-queue").appendChild(handItem({ id: e.user_id, name: e.by.name })); return;
      case "hand_lowered": case "hand_called":
        var h = $("hq-" + e.user_id); if (h) h.remove();
        if (e.type === "hand_called") { invitedId = e.user_id; deskNote(T("已邀请 " + e.name + " 上台", "Invited " + e.name + " on stage")); }
        if (e.declined) { invitedId = null; deskNote(T(e.by.name + " 谢绝了上台邀请", e.by.name + " declined the invitation")); }
        return;
      case "screen_started": deskNote(T(e.name + " 开始共享屏幕", e.name + " started sharing a screen")); return;
      case "screen_stopped":
        deskNote(e.by.id === e.user_id ? T(e.by.name + " 停止共享屏幕", e.by.name + " stopped sharing a screen")
                                       : T(e.by.name + " 停止了一项屏幕共享", e.by.name + " stopped a screen share"));
        return;
      case "poll_counts":
        (e.polls || []).forEach(function (p) { if (snap.poll && p.poll_id === snap.poll.id) { deskCounts = p; renderPoll(); } });
        return;
    }
  }

  // -- room events ---------------------------------------------------------------------------------
  function phaseMoved(e) {
    var a = snap.activity;
    if (e.at) a.phase_started_at = e.at;
    settle(PHASE_CODES);
  }
  function onEvent(e) {
    var a = snap.activity;
    switch (e.type) {
      case "lobby_opened": a.state = "lobby"; settle(PHASE_CODES); renderState(); break;
      case "started": a.state = "live"; a.current_phase = e.phase; phaseMoved(e); renderState(); renderBanners(); break;
      case "phase_changed": a.current_phase = e.phase; phaseMoved(e); renderState(); break;
      case "phase_extended": a.agenda[e.phase].minutes += e.minutes; renderState(); break;
      case "ended": case "archived": a.state = e.type; settle(PHASE_CODES); renderState(); renderHand(); renderBanners(); break;
      case "slow_mode": a.slow_mode = e.seconds; if (!e.seconds) settle(["slow_mode"]); renderState(); break;
      case "premoderation": a.premoderation = e.on; renderState(); break;
      case "qa_approval": a.qa_approval = e.on; renderState(); break;
      case "muted":
        if (e.user_id === me.id) {
          mutedUntil = e.until ? new Date(e.until).getTime() : null;
          problem("chat", { code: "muted", message: T("您已被主持人禁言", "A moderator has muted you") });
        }
        break;
      case "unmuted": if (e.user_id === me.id) { mutedUntil = null; settle(["muted"]); } break;
      case "chat": addMessage(e.message); break;
      case "chat_deleted": case "chat_hidden": removeMessage(e.message_id); break;
      case "chat_pinned": case "chat_unpinned":
        var m = messages[e.message_id];
        if (m) { m.pinned = e.type === "chat_pinned"; addMessage(m); renderPinned(); }
        break;
      case "question":
        questions[e.question.id] = e.question;
        if (me && e.question.user.id === me.id) inform("ask");  // my pending question was approved
        renderQuestions(); break;
      case "qa_votes":
        Object.keys(e.votes).forEach(function (id) { if (questions[id]) questions[id].votes = e.votes[id]; });
        renderQuestions(); break;
      case "question_answered":
        var q = questions[e.question_id];
        if (q) { q.status = "answered"; q.answer = e.answer; q.answered_live = e.live; }
        delete voteErrors[e.question_id];
        renderQuestions(); break;
      case "question_spotlight":
        Object.keys(questions).forEach(function (k) { questions[k].spotlight = questions[k].id === e.question_id; });
        renderQuestions(); break;
      case "question_dismissed": delete questions[e.question_id]; renderQuestions(); break;
      case "poll_opened": snap.poll = e.poll; deskCounts = null; problem("poll"); renderPoll(); break;
      case "poll_closed": if (snap.poll && snap.poll.id === e.poll_id) { snap.poll.status = "closed"; problem("poll"); renderPoll(); } break;
      case "poll_results_shown":
        if (snap.poll && snap.poll.id === e.poll_id) {
          snap.poll.results_shown = true;
          rt.command("poll.results", { activity_id: aid, poll_id: e.poll_id }).then(function (r) { snap.poll.results = r; renderPoll(); }, function () {});
        }
        break;
      case "poll_counts":
        (e.polls || []).forEach(function (p) { if (snap.poll && p.poll_id === snap.poll.id && p.shown) { snap.poll.results = p; renderPoll(); } });
        break;
      case "reactions": showReactions(e.counts || {}); break;
      case "hand_called": if (e.user_id === me.id) { handUp = false; renderHand(); } break;
      case "stage":  // the desk's "invited" note is stale once that teacher is up
        if (invitedId !== null && (e.on_stage || []).some(function (p) { return p.user_id === invitedId; })) { invitedId = null; deskNote(""); }
        break;
    }
    if (stage) stage.onEvent(e);
    if (groups) groups.onEvent(e);
  }

  // -- loading and (re)joining ---------------------------------------------------------------------
  function apply(s) {
    snap = s;
    document.querySelector(".room-body").classList.remove("preview");
    ["stage", "agenda-box", "chat-box", "qa-box"].forEach(function (id) { $(id).hidden = false; });
    renderState(); tick();
    showCount(s.presence);
    clear($("chat")); messages = {};
    s.chat.pinned.forEach(function (m) { messages[m.id] = m; });
    s.chat.recent.forEach(addMessage);
    renderPinned();
    questions = {}; s.questions.forEach(function (q) { questions[q.id] = q; }); renderQuestions();
    renderPoll();
    if (s.poll && s.poll.results_shown) {
      rt.command("poll.results", { activity_id: aid, poll_id: s.poll.id }).then(function (r) { snap.poll.results = r; renderPoll(); }, function () {});
    }
    if (moderator()) loadDesk();
    if (!stage) {
      stage = CollabStage.attach({ rt: rt, aid: aid, me: me, snap: s, root: $("stage"), alerts: $("alerts") });
    } else {
      stage.onSnapshot(s);
    }
    if (!groups) groups = CollabGroups.attach({ rt: rt, aid: aid, me: me, root: $("groups"), report: $("group-report") });
    groups.onSnapshot(s);
  }
  function resynced() {  // said until the room is back, and a little while after
    var node = $("resync"), stamp = node.dataset.stamp = String(++stamps);
    node.hidden = false;
    node.textContent = T("网络中断较久，正在重新载入活动现场…", "You were away a while: reloading the room…");
    load().then(function () {
      if (node.dataset.stamp !== stamp) return;
      node.textContent = T("网络中断较久，已重新载入活动现场。", "You were away a while: the room was reloaded.");
      setTimeout(function () { if (node.dataset.stamp === stamp) node.hidden = true; }, 10000);
    });
  }
  function load() {
    return rt.command("activity.snapshot", { activity_id: aid }).then(function (s) {
      $("register").hidden = true;
      notice("");
      apply(s);
      if (!subscribed) {
        subscribed = true;
        rt.subscribe(s.channel, onEvent, resynced, s.since, function () {
          subscribed = false;
          notice(T("您已被主持人移出本活动", "A moderator removed you from this activity"));
        }, showCount);
        if (s.me.may_moderate) rt.subscribe(s.channel + ":mod", onDesk, loadDesk);
      }
    }).catch(function (err) {
      if (err && err.code === "forbidden" && !snap) {  // not registered (yet): what it is, and registration
        return collabApi("/api/activities/" + aid).then(function (a) {
          preview = { activity: a };
          document.querySelector(".room-body").classList.add("preview");
          renderHeading(a);
          $("agenda-box").hidden = false;
          tick();
          var open = a.visibility !== "invited" && (a.state === "scheduled" || a.state === "lobby" || a.state === "live");
          $("register").hidden = !open || a.me.registration === "pending";
          if (a.me.registration === "pending") inform("room", T("已提交报名，等待组织者审核。", "Registration sent: the organizer will decide."));
          else if (!open) notice(T("本活动需凭邀请链接参加。", "This activity is by invitation."));
        }, notice);
      }
      notice(err);
    });
  }
  function joinByInvitation(invite) {  // a signed invitation link: register through it, then enter
    return collabApi("/api/activities/" + aid + "/join", { method: "POST", body: JSON.stringify({ token: invite }) })
      .then(function () {
        history.replaceState(null, "", location.pathname);
        inform("room", T("已通过邀请报名，欢迎参加。", "You are registered through the invitation: welcome."), true);
      }, notice);
  }

  $("register-button").onclick = function () {
    var b = $("register-button");
    b.disabled = true;
    collabApi("/api/activities/" + aid + "/register", { method: "POST" })
      .then(function (reg) {
        $("register").hidden = true;
        notice("");
        if (reg.status === "approved") {
          inform("room", T("报名成功，欢迎进入活动。", "You are registered: welcome to the room."), true);
          load();
        } else {
          inform("room", T("已提交报名，等待组织者审核。", "Registration sent: the organizer will decide."));
        }
      }).catch(notice).then(function () { b.disabled = false; });
  };
  document.querySelectorAll("#host-controls button[data-cmd]").forEach(function (b) {
    b.onclick = function () {
      if (b.dataset.cmd === "activity.end" && !confirm(T("确定为所有人结束活动吗？", "End the activity for everyone?"))) return;
      cmd(b.dataset.cmd, b.dataset.minutes ? { minutes: Number(b.dataset.minutes) } : {}, "host")
        .then(function () { problem("host"); }, quiet);
    };
  });
  $("chat-form").onsubmit = function (e) {
    e.preventDefault();
    var input = $("chat-input"), args = { body: input.value };
    if (replyTo) args.reply_to = replyTo;
    cmd("chat.post", args, "chat").then(function (r) {
      input.value = ""; setReply(null); problem("chat"); inform("chat");
      if (r.message && r.message.status === "held") inform("chat", T("消息已提交，审核后显示。", "Sent: it appears once a moderator approves it."));
    }, quiet);  // refused: the text stays in the box, to send again
  };
  $("ask-form").onsubmit = function (e) {
    e.preventDefault();
    var input = $("ask-input");
    cmd("qa.ask", { body: input.value }, "ask").then(function (r) {
      input.value = ""; problem("ask"); inform("ask");
      if (r.question.status === "pending") inform("ask", T("问题已提交，审核后显示。", "Sent: it appears once a moderator approves it."));
    }, quiet);
  };
  $("q-sort").onchange = renderQuestions;
  $("hand").onclick = function () {
    if (handUp) cmd("hand.lower", {}, "hand").then(function () { handUp = false; problem("hand"); renderHand(); }, quiet);
    else rt.command("hand.raise", { activity_id: aid }).then(function (r) { handUp = true; problem("hand"); renderHand(r.position); },
      function (err) { if (err && err.code === "already_raised") { handUp = true; renderHand(); } else problem("hand", err); });
  };
  $("slow-apply").onclick = function () {
    cmd("chat.slow_mode", { seconds: Number($("slow-seconds").value) || 0 }, "desk").then(function () { problem("desk"); }, quiet);
  };
  $("premod").onchange = function () { cmd("chat.premoderation", { on: $("premod").checked }, "desk").catch(quiet); };
  $("qa-approval").onchange = function () { cmd("qa.approval", { on: $("qa-approval").checked }, "desk").catch(quiet); };
  $("poll-form").onsubmit = function (e) {
    e.preventDefault();
    var f = e.target;
    var options = f.options.value.split("\n").map(function (s) { return s.trim(); }).filter(Boolean);
    cmd("poll.create", { question: f.question.value, options: options, multiple: f.multiple.checked }, "desk").then(function (r) {
      f.reset(); problem("desk");
      var poll = r && r.poll;
      if (poll) { dismissed["poll-" + poll.id] = true; renderBanners(); }  // who opened it needs no banner for it
    }, quiet);
  };
  $("poll-show").onclick = function () { cmd("poll.show_results", { poll_id: snap.poll.id, on: true }, "desk").catch(quiet); };
  $("poll-close").onclick = function () { cmd("poll.close", { poll_id: snap.poll.id }, "desk").catch(quiet); };
  buildReactions();
  renderHand();

  Collab.start().then(function (user) {
    me = user;
    var invite = new URLSearchParams(location.search).get("invite");
    var ready = invite ? joinByInvitation(invite) : Promise.resolve();
    ready.then(function () {
      rt = Collab.connect(function (state) {
        if (state !== "online") return;  // the indicator says so; what is typed meanwhile stays
        settle(CONNECTION_CODES);
        if (!snap) { load(); } else if (stage) { stage.onReconnect(); }
        if (groups) groups.onReconnect();
        if (snap && moderator()) loadDesk();
      });
    });
  });
  setInterval(tick, 1000);
  // The attendee count: in the snapshot, then pushed by the server whenever it changes (every node
  // reads the same summed count, so every page in the room shows the same number within seconds).
  function showCount(p) {
    $("count").textContent = T("在线 " + p.users, p.users + " online");
    $("count").dataset.users = String(p.users);
  }
})();
