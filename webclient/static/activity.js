// The activity room: lobby (agenda and countdown), then the live view: the stage (stage.js), the
// current phase, discussion, questions with upvotes, the open poll, raising a hand, reactions; for
// hosts the lifecycle controls, for experts the moderators' desk (held messages, pending questions,
// the hand queue, polls, slow mode). State comes from activity.snapshot; everything after it arrives
// on the room channel (and the desk channel for moderators), recovered across reconnects by
// realtime.js. User text is only ever set with textContent.
(function () {
  "use strict";
  var $ = Collab.$, el = Collab.el, T = Collab.T, clear = Collab.clear;
  var aid = Number(document.querySelector("main").dataset.activityId);
  var STATES = { scheduled: ["未开始", "scheduled"], lobby: ["候场中", "lobby"], live: ["进行中", "live"],
                 ended: ["已结束", "ended"], archived: ["已归档", "archived"], cancelled: ["已取消", "cancelled"] };
  var REACTIONS = { like: "👍", clap: "👏", heart: "❤️", laugh: "😄", think: "🤔" };
  var REACTION_NAMES = { like: ["赞", "like"], clap: ["鼓掌", "clap"], heart: ["喜欢", "heart"],
                         laugh: ["笑", "laugh"], think: ["思考", "think"] };
  var snap = null, preview = null, me = null, rt = null, stage = null;
  var questions = {}, votedFor = {}, messages = {}, myChoices = {}, deskCounts = null;
  var replyTo = null, handUp = false, subscribed = false, wasOnline = false;

  // -- small things ------------------------------------------------------------------------------
  function notice(text) { Collab.say($("notice"), text); }
  var fail = notice;  // an error object is said in words
  function cmd(name, args) {
    return rt.command(name, Object.assign({ activity_id: aid }, args || {})).catch(function (e) { fail(e); throw e; });
  }
  function button(text, onclick, cls, label) { return Collab.button(text, cls, onclick, label); }
  function quiet() {}  // for promises whose failure cmd() has already shown
  function moderator() { return snap && snap.me.may_moderate; }
  function phase() { var a = snap.activity; return a.current_phase !== null && a.current_phase !== undefined ? a.agenda[a.current_phase] : null; }
  function staff() { return snap.me.roles.length > 0 || snap.me.may_run || snap.me.may_moderate; }

  // -- state, agenda, host controls ----------------------------------------------------------------
  // What anyone who may see the activity sees: its title, state and agenda (the current phase marked).
  function renderHeading(a) {
    var live = a.state === "live";
    $("title").textContent = a.title;
    document.title = a.title + " · collab";
    var st = STATES[a.state];
    $("state").textContent = st ? T(st[0], st[1]) : a.state;
    $("state").className = "badge " + a.state;
    clear($("agenda"));
    a.agenda.forEach(function (ph, i) {
      var li = el("li", ph.title + " · " + T(ph.minutes + " 分钟", ph.minutes + " min"));
      if (i === a.current_phase && live) { li.className = "current"; li.setAttribute("aria-current", "step"); }
      $("agenda").appendChild(li);
    });
  }

  function renderState() {
    var a = snap.activity, p = phase(), live = a.state === "live";
    renderHeading(a);
    $("phase-now").textContent = live && p ? T("当前环节: ", "Now: ") + p.title : "";
    var chatOpen = live && (!p || p.chat || staff());
    $("chat-form").hidden = !chatOpen;
    $("chat-closed").hidden = chatOpen || !(live || a.state === "lobby");
    $("chat-closed").textContent = live ? T("本环节不开放讨论。", "Chat is closed in this phase.")
                                        : T("活动开始后开放讨论。", "Chat opens when the activity starts.");
    var modes = [];
    if (a.slow_mode) modes.push(T("慢速模式 " + a.slow_mode + " 秒", "slow mode " + a.slow_mode + " s"));
    if (a.premoderation) modes.push(T("先审后发", "pre-moderated"));
    $("chat-mode").textContent = modes.join(" · ");
    $("ask-form").hidden = !((live && (!p || p.questions || staff())) || a.state === "lobby");
    $("hand").hidden = !(live && p && p.hands);
    $("reactions").hidden = !live;
    var ended = a.state === "ended" || a.state === "archived";
    $("ended-links").hidden = !ended;
    $("replay-link").href = "/activities/" + aid + "/replay";
    $("host-controls").hidden = !snap.me.may_run;
    $("attendance-link").href = "/activities/" + aid + "/attendance";
    var allowed = { "activity.open_lobby": a.state === "scheduled", "activity.start": a.state === "scheduled" || a.state === "lobby",
                    "activity.next_phase": live && a.current_phase < a.agenda.length - 1, "activity.end": live,
                    "activity.extend_phase": live, "activity.archive": a.state === "ended" };
    document.querySelectorAll("#host-controls button[data-cmd]").forEach(function (b) { b.disabled = !allowed[b.dataset.cmd]; });
    $("mod-desk").hidden = !moderator() || a.state === "cancelled";
    $("slow-seconds").value = a.slow_mode || 0;
    $("premod").checked = !!a.premoderation;
    $("qa-approval").checked = !!a.qa_approval;
    $("poll-form").hidden = !(live && p && p.polls);
  }

  function tick() {  // the lobby's countdown to the scheduled start
    var shown = snap || preview;  // the room, or what an unregistered teacher may see of it
    if (!shown) return;
    var a = shown.activity, left = (new Date(a.starts_at) - Date.now()) / 1000;
    if ((a.state === "scheduled" || a.state === "lobby") && left > 0) {
      var d = Math.floor(left / 86400), h = Math.floor(left % 86400 / 3600), m = Math.floor(left % 3600 / 60), s = Math.floor(left % 60);
      var clock = (h || d ? h + ":" : "") + String(m).padStart(2, "0") + ":" + String(s).padStart(2, "0");
      $("countdown").textContent = d ? T("距开始 " + d + " 天 " + clock, "starts in " + d + " d " + clock)
                                     : T("距开始 " + clock, "starts in " + clock);
    } else {
      $("countdown").textContent = "";
    }
  }

  // -- discussion ----------------------------------------------------------------------------------
  function messageItem(m) {
    var li = el("li"); li.id = "msg-" + m.id; li.tabIndex = 0;  // Tab reaches a message, then its tools
    if (m.reply_to && messages[m.reply_to]) {
      var parent = messages[m.reply_to];
      li.appendChild(el("span", T("回复 ", "re ") + parent.user.name + ": " + parent.body.slice(0, 60), "reply-to"));
    }
    li.appendChild(el("strong", m.user.name + ": "));
    li.appendChild(document.createTextNode(m.body));
    var tools = el("span", undefined, "mod");
    if (snap.activity.state === "live") {
      tools.appendChild(button("↩", function () { setReply(m); }, "", T("回复 ", "Reply to ") + m.user.name));
    }
    if (moderator()) {
      tools.appendChild(button(m.pinned ? T("取消置顶", "Unpin") : T("置顶", "Pin"), function () {
        cmd(m.pinned ? "chat.unpin" : "chat.pin", { message_id: m.id }).catch(quiet);
      }));
      tools.appendChild(button(T("隐藏", "Hide"), function () { cmd("chat.hide", { message_id: m.id }).catch(quiet); }));
      if (m.user.id !== me.id) {
        tools.appendChild(button(T("禁言10分钟", "Mute 10 min"), function () {
          cmd("chat.mute", { user_id: m.user.id, minutes: 10 }).then(function () {
            notice(T("已禁言 ", "Muted ") + m.user.name);
          }, quiet);
        }));
      }
    } else if (m.user.id === me.id) {
      tools.appendChild(button(T("删除", "Delete"), function () { cmd("chat.delete", { message_id: m.id }).catch(quiet); }));
    }
    if (tools.children.length) li.appendChild(tools);
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
        var li = el("li"); li.appendChild(el("strong", "📌 " + m.user.name + ": ")); li.appendChild(document.createTextNode(m.body));
        $("pinned").appendChild(li);
      });
  }
  function setReply(m) {
    replyTo = m ? m.id : null;
    var chip = $("reply-chip");
    if (!m) { if (chip) chip.remove(); return; }
    if (!chip) { chip = el("p", undefined, "muted"); chip.id = "reply-chip"; $("chat-form").insertBefore(chip, $("chat-form").firstChild); }
    clear(chip);
    chip.appendChild(document.createTextNode(T("回复 ", "Replying to ") + m.user.name + " "));
    chip.appendChild(button("×", function () { setReply(null); }, "link", T("取消回复", "Cancel reply")));
    $("chat-input").focus();
  }

  // -- questions -----------------------------------------------------------------------------------
  function renderQuestions() {
    var byTime = $("q-sort").value === "time";
    var list = Object.keys(questions).map(function (k) { return questions[k]; })
      .filter(function (q) { return q.status === "open" || q.status === "answered"; });
    list.sort(function (a, b) {
      return (b.spotlight - a.spotlight) || (byTime ? b.id - a.id : (b.votes - a.votes) || (a.id - b.id));
    });
    clear($("questions"));
    list.forEach(function (q) {
      var li = el("li", undefined, q.spotlight ? "spotlight" : ""); li.id = "q-" + q.id;
      if (q.spotlight) li.appendChild(el("span", T("★ 正在讨论", "★ In focus"), "badge"));
      var body = el("span", q.body, "q-body");
      body.appendChild(el("span", " · " + q.user.name, "muted"));
      li.appendChild(body);
      var vote = button("▲ " + q.votes, function () {
        cmd("qa.vote", { question_id: q.id, up: !votedFor[q.id] }).then(function (r) {
          votedFor[q.id] = r.voted; q.votes = r.votes; renderQuestions();
        }, function (e) { if (e && e.code === "already_voted") { votedFor[q.id] = true; renderQuestions(); } });
      }, "vote", T("赞同这个问题, 当前 ", "Upvote, now ") + q.votes);
      vote.setAttribute("aria-pressed", votedFor[q.id] ? "true" : "false");
      li.appendChild(vote);
      if (moderator()) {
        li.appendChild(button(q.spotlight ? T("取消聚焦", "Unfocus") : T("聚焦", "Spotlight"), function () {
          cmd(q.spotlight ? "qa.spotlight_off" : "qa.spotlight", { question_id: q.id }).catch(quiet);
        }, "q-spot"));
        if (q.status !== "answered") {
          li.appendChild(button(T("回答", "Answer"), function () { answerForm(li, q); }, "q-answer"));
          li.appendChild(button(T("已现场回答", "Answered live"), function () {
            cmd("qa.answer", { question_id: q.id, live: true }).catch(quiet);
          }, "q-live"));
        }
        li.appendChild(button(T("移除", "Dismiss"), function () { cmd("qa.dismiss", { question_id: q.id }).catch(quiet); }, "q-dismiss"));
      }
      if (q.answer || q.answered_live) li.appendChild(el("div", q.answer ? T("答: ", "A: ") + q.answer : T("已现场回答", "answered live"), "answer"));
      $("questions").appendChild(li);
    });
  }
  function answerForm(li, q) {
    if (li.querySelector("form")) return;
    var f = el("form", undefined, "answer-form");
    var input = el("input"); input.name = "text"; input.maxLength = 1000; input.required = true;
    input.setAttribute("aria-label", T("回答内容", "Answer"));
    f.appendChild(input);
    var send = el("button", T("发布回答", "Post answer")); send.type = "submit"; f.appendChild(send);
    f.onsubmit = function (e) {
      e.preventDefault();
      cmd("qa.answer", { question_id: q.id, text: input.value }).catch(quiet);
    };
    li.appendChild(f);
    input.focus();
  }

  // -- the poll ------------------------------------------------------------------------------------
  function renderPoll() {
    var poll = snap.poll;
    $("poll").hidden = !poll;
    $("poll-admin").hidden = !(poll && moderator());
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
        var b = button(text + (count !== null ? " · " + count : ""), function () { answer(poll, [i]); });
        b.disabled = !open;
        b.setAttribute("aria-pressed", mine.indexOf(i) >= 0 ? "true" : "false");
        if (count !== null) {
          var bar = el("span", undefined, "bar"); bar.style.width = (total ? Math.round(100 * count / total) : 0) + "%";
          b.appendChild(bar);
        }
        box.appendChild(b);
      });
    }
    var status = open ? (mine.length ? T("已投票, 结束前可修改", "Voted; you may change it until the poll closes") : T("请投票", "Cast your vote"))
                      : T("投票已结束", "The poll is closed");
    if (results) status += " · " + T(total + " 人参与", total + " voted");
    $("poll-status").textContent = status;
    $("poll-show").disabled = !!poll.results_shown;
    $("poll-close").disabled = !open;
    $("poll-live").textContent = moderator() && results ? T("实时: ", "live: ") + results.counts.join(" / ") : "";
  }
  function answer(poll, choices) {
    cmd("poll.answer", { poll_id: poll.id, choices: choices }).then(function () { myChoices[poll.id] = choices; renderPoll(); }, quiet);
  }

  // -- hands and reactions -------------------------------------------------------------------------
  function renderHand(position) {
    $("hand").textContent = handUp ? T("放下手", "Lower hand") : T("举手", "Raise hand");
    $("hand").setAttribute("aria-pressed", handUp ? "true" : "false");
    $("hand-status").textContent = handUp ? (position ? T("已举手, 排第 " + position + " 位", "Hand raised, number " + position + " in line")
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
      var b = button(REACTIONS[k], function () { rt.command("react", { activity_id: aid, kind: k }).catch(fail); }, "",
                     T(REACTION_NAMES[k][0], REACTION_NAMES[k][1]));
      b.dataset.kind = k;
      b.appendChild(el("span", "", "n"));
      $("reactions").appendChild(b);
    });
  }

  // -- the moderators' desk ------------------------------------------------------------------------
  function heldItem(m) {
    var li = el("li"); li.id = "held-" + m.id;
    li.appendChild(el("strong", m.user.name + ": ")); li.appendChild(document.createTextNode(m.body));
    li.appendChild(button(T("通过", "Approve"), function () { cmd("chat.approve", { message_id: m.id }).then(function () { removeHeld(m.id); }, quiet); }));
    li.appendChild(button(T("不通过", "Reject"), function () { cmd("chat.hide", { message_id: m.id }).then(function () { removeHeld(m.id); }, quiet); }));
    return li;
  }
  function removeHeld(id) { var h = $("held-" + id); if (h) h.remove(); }
  function pendingItem(q) {
    var li = el("li"); li.id = "pq-" + q.id;
    li.appendChild(el("strong", q.user.name + ": ")); li.appendChild(document.createTextNode(q.body));
    li.appendChild(button(T("通过", "Approve"), function () { cmd("qa.approve", { question_id: q.id }).then(function () { li.remove(); }, quiet); }));
    li.appendChild(button(T("移除", "Dismiss"), function () { cmd("qa.dismiss", { question_id: q.id }).then(function () { li.remove(); }, quiet); }));
    return li;
  }
  function handItem(user) {
    var li = el("li"); li.id = "hq-" + user.id;
    li.appendChild(el("span", user.name + (user.school ? " · " + user.school : "")));
    li.appendChild(button(T("请上台", "Invite on stage"), function () { cmd("hand.call", { user_id: user.id }).then(function () { li.remove(); }, quiet); }, "call"));
    li.appendChild(button(T("放下", "Lower"), function () { cmd("hand.lower", { user_id: user.id }).then(function () { li.remove(); }, quiet); }));
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
        if (e.type === "hand_called") $("desk-note").textContent = T("已邀请 " + e.name + " 上台", "Invited " + e.name + " on stage");
        if (e.declined) $("desk-note").textContent = T(e.by.name + " 谢绝了上台邀请", e.by.name + " declined the invitation");
        return;
      case "poll_counts":
        (e.polls || []).forEach(function (p) { if (snap.poll && p.poll_id === snap.poll.id) { deskCounts = p; renderPoll(); } });
        return;
    }
  }

  // -- room events ---------------------------------------------------------------------------------
  function onEvent(e) {
    var a = snap.activity;
    switch (e.type) {
      case "lobby_opened": a.state = "lobby"; renderState(); break;
      case "started": a.state = "live"; a.current_phase = e.phase; renderState(); break;
      case "phase_changed": a.current_phase = e.phase; renderState(); break;
      case "phase_extended": a.agenda[e.phase].minutes += e.minutes; renderState(); break;
      case "ended": case "archived": a.state = e.type; renderState(); renderHand(); break;
      case "slow_mode": a.slow_mode = e.seconds; renderState(); break;
      case "premoderation": a.premoderation = e.on; renderState(); break;
      case "qa_approval": a.qa_approval = e.on; renderState(); break;
      case "muted": if (e.user_id === me.id) notice(T("您已被主持人禁言", "A moderator has muted you")); break;
      case "unmuted": if (e.user_id === me.id) notice(""); break;
      case "chat": addMessage(e.message); break;
      case "chat_deleted": case "chat_hidden": removeMessage(e.message_id); break;
      case "chat_pinned": case "chat_unpinned":
        var m = messages[e.message_id];
        if (m) { m.pinned = e.type === "chat_pinned"; addMessage(m); renderPinned(); }
        break;
      case "question": questions[e.question.id] = e.question; renderQuestions(); break;
      case "qa_votes":
        Object.keys(e.votes).forEach(function (id) { if (questions[id]) questions[id].votes = e.votes[id]; });
        renderQuestions(); break;
      case "question_answered":
        var q = questions[e.question_id];
        if (q) { q.status = "answered"; q.answer = e.answer; q.answered_live = e.live; }
        renderQuestions(); break;
      case "question_spotlight":
        Object.keys(questions).forEach(function (k) { questions[k].spotlight = questions[k].id === e.question_id; });
        renderQuestions(); break;
      case "question_dismissed": delete questions[e.question_id]; renderQuestions(); break;
      case "poll_opened": snap.poll = e.poll; deskCounts = null; renderPoll(); break;
      case "poll_closed": if (snap.poll && snap.poll.id === e.poll_id) { snap.poll.status = "closed"; renderPoll(); } break;
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
    }
    if (stage) stage.onEvent(e);
  }

  // -- loading and (re)joining ---------------------------------------------------------------------
  function apply(s) {
    snap = s;
    ["stage", "agenda-box", "chat-box", "qa-box", "hand-box"].forEach(function (id) { $(id).hidden = false; });
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
      stage = CollabStage.attach({ rt: rt, aid: aid, me: me, snap: s, root: $("stage"), notice: notice });
    } else {
      stage.onSnapshot(s);
    }
  }
  function resynced() {
    $("resync").hidden = false;
    $("resync").textContent = T("网络中断较久, 已重新载入活动现场。", "You were away a while: the room was reloaded.");
    load();
  }
  function load() {
    return rt.command("activity.snapshot", { activity_id: aid }).then(function (s) {
      $("register").hidden = true;
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
          renderHeading(a);
          $("agenda-box").hidden = false;
          tick();
          var open = a.visibility !== "invited" && (a.state === "scheduled" || a.state === "lobby" || a.state === "live");
          $("register").hidden = !open || a.me.registration === "pending";
          notice(a.me.registration === "pending" ? T("已提交报名, 等待组织者审核", "Registration sent; the organizer will decide")
                 : open ? "" : T("本活动需凭邀请链接参加", "This activity is by invitation"));
        }, fail);
      }
      fail(err);
    });
  }
  function joinByInvitation(invite) {  // a signed invitation link: register through it, then enter
    return collabApi("/api/activities/" + aid + "/join", { method: "POST", body: JSON.stringify({ token: invite }) })
      .then(function () { history.replaceState(null, "", location.pathname); }, fail);
  }

  $("register-button").onclick = function () {
    collabApi("/api/activities/" + aid + "/register", { method: "POST" })
      .then(function (reg) {
        if (reg.status === "approved") { $("register").hidden = true; load(); }
        else notice(T("已提交报名, 等待组织者审核", "Registration sent; the organizer will decide"));
      }).catch(fail);
  };
  document.querySelectorAll("#host-controls button[data-cmd]").forEach(function (b) {
    b.onclick = function () {
      if (b.dataset.cmd === "activity.end" && !confirm(T("确定结束活动吗?", "End the activity for everyone?"))) return;
      cmd(b.dataset.cmd, b.dataset.minutes ? { minutes: Number(b.dataset.minutes) } : {}).catch(quiet);
    };
  });
  $("chat-form").onsubmit = function (e) {
    e.preventDefault();
    var input = $("chat-input"), args = { body: input.value };
    if (replyTo) args.reply_to = replyTo;
    cmd("chat.post", args).then(function (r) {
      input.value = ""; setReply(null); notice("");
      if (r.message && r.message.status === "held") notice(T("消息已提交, 审核后显示", "Sent: it appears once a moderator approves it"));
    }, quiet);
  };
  $("ask-form").onsubmit = function (e) {
    e.preventDefault();
    var input = $("ask-input");
    cmd("qa.ask", { body: input.value }).then(function (r) {
      input.value = "";
      if (r.question.status === "pending") notice(T("问题已提交, 审核后显示", "Sent: it appears once a moderator approves it"));
    }, quiet);
  };
  $("q-sort").onchange = renderQuestions;
  $("hand").onclick = function () {
    if (handUp) cmd("hand.lower").then(function () { handUp = false; renderHand(); }, quiet);
    else cmd("hand.raise").then(function (r) { handUp = true; renderHand(r.position); },
      function (err) { if (err && err.code === "already_raised") { handUp = true; renderHand(); } });
  };
  $("slow-apply").onclick = function () { cmd("chat.slow_mode", { seconds: Number($("slow-seconds").value) || 0 }).catch(quiet); };
  $("premod").onchange = function () { cmd("chat.premoderation", { on: $("premod").checked }).catch(quiet); };
  $("qa-approval").onchange = function () { cmd("qa.approval", { on: $("qa-approval").checked }).catch(quiet); };
  $("poll-form").onsubmit = function (e) {
    e.preventDefault();
    var f = e.target;
    var options = f.options.value.split("\n").map(function (s) { return s.trim(); }).filter(Boolean);
    cmd("poll.create", { question: f.question.value, options: options, multiple: f.multiple.checked }).then(function () { f.reset(); }, quiet);
  };
  $("poll-show").onclick = function () { cmd("poll.show_results", { poll_id: snap.poll.id, on: true }).catch(quiet); };
  $("poll-close").onclick = function () { cmd("poll.close", { poll_id: snap.poll.id }).catch(quiet); };
  buildReactions();
  renderHand();

  Collab.start().then(function (user) {
    me = user;
    var invite = new URLSearchParams(location.search).get("invite");
    var ready = invite ? joinByInvitation(invite) : Promise.resolve();
    ready.then(function () {
      rt = Collab.connect(function (state) {
        if (state !== "online") { if (wasOnline) notice(""); return; }
        if (!snap) { load(); } else if (stage) { stage.onReconnect(); }
        if (snap && moderator()) loadDesk();
        wasOnline = true;
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
