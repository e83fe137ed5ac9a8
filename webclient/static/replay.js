// The replay of an ended activity: the header, the phases as a bar sized by their durations, the whole
// record merged in time order (phase changes, chat, questions and answers, polls, hand calls, the stage)
// with a filter, the discussion, questions by votes with their answers, poll results as bars, and the
// recordings (the program, the whole stage in one picture, first). Choosing a phase jumps the record
// and the recordings to its start.
// Data: GET /api/activities/{id}/replay, /timeline and /groups (each group's chat and notes when opened). Before the end the replay answers 409 not_ended:
// the page says so and, when it may attend, waits on the room channel for the end.
// User text is only ever set with textContent (Collab.el).
(function () {
  "use strict";
  var T = Collab.T, el = Collab.el, $ = Collab.$, clear = Collab.clear;
  var aid = Number(document.querySelector("main").dataset.activityId);

  var LEVELS = { national: ["国家级", "national"], province: ["省级", "provincial"], city: ["市级", "city"],
                 county: ["县级", "county"], school: ["校级", "school"] };
  var STATES = { scheduled: ["未开始", "scheduled"], lobby: ["候场中", "lobby"], live: ["进行中", "live"],
                 ended: ["已结束", "ended"], archived: ["已归档", "archived"], cancelled: ["已取消", "cancelled"] };
  var KINDS = { lesson_display: ["课例展示", "Lesson display"], discussion: ["研讨交流", "Discussion"],
                expert_guidance: ["专家引领", "Expert guidance"], online_interaction: ["在线互动", "Online interaction"],
                group_discussion: ["分组研讨", "Group discussion"],
                custom: ["环节", "Phase"] };
  var TAGS = { phase: ["环节", "Phase"], chat: ["讨论", "Chat"], qa: ["问答", "Q&A"], polls: ["投票", "Poll"],
               groups: ["分组", "Groups"], other: ["发言", "Speaking"] };
  var HOW = { assigned: ["分配", "assigned"], late: ["迟到加入", "joined late"], chosen: ["自选", "chose"],
              moved: ["调整", "moved"], listed: ["名单", "listed"] };
  function tr(map, key) { var n = map[key]; return n ? T(n[0], n[1]) : key; }

  var data = null;          // the replay answer
  var groups = {};          // group id -> the group, from /groups (empty when the caller may not see them)
  var players = [];         // [{rec, video, start, end}]
  var filter = "all";
  var waiting = null;       // the realtime connection while waiting for the end

  function notice(text) { Collab.say($("notice"), text); }
  var fail = notice;  // an error object is said in words

  function ms(iso) { return iso ? new Date(iso).getTime() : NaN; }
  var zone;  // the activity's time zone: its times read as the organizer announced them
  function clock(iso, seconds) {
    var o = { hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZone: zone || "Asia/Shanghai" };
    if (seconds) o.second = "2-digit";
    return new Date(iso).toLocaleTimeString(Collab.locale(), o);
  }
  function timeEl(iso, seconds) {
    var t = el("time", clock(iso, seconds));
    t.dateTime = iso;
    t.title = Collab.fmtTime(iso, zone);
    return t;
  }
  function duration(sec) {
    sec = Math.max(0, Math.round(sec));
    if (sec < 60) return T(sec + " 秒", sec + " s");
    var m = Math.round(sec / 60);
    if (m < 60) return T(m + " 分钟", m + " min");
    return T(Math.floor(m / 60) + " 小时 " + (m % 60) + " 分钟", Math.floor(m / 60) + " h " + (m % 60) + " min");
  }
  function size(bytes) {
    return bytes >= 1048576 ? (bytes / 1048576).toFixed(1) + " MB" : Math.max(1, Math.round(bytes / 1024)) + " KB";
  }
  function pct(n, of) { return of ? Math.round(100 * n / of) : 0; }
  function phaseName(i) {
    var p = data.activity.agenda[i];
    return p ? (p.title || tr(KINDS, p.kind)) : String(i + 1);
  }

  // -- the header -------------------------------------------------------------------------------
  function header(a) {
    $("title").textContent = a.title;
    document.title = a.title + " · " + T("回放", "Replay") + " · collab";
    zone = a.time_zone;
    $("date").textContent = Collab.fmtTime(a.started_at || a.starts_at, zone);
    $("level").textContent = tr(LEVELS, a.level);
    $("state").textContent = tr(STATES, a.state);
    $("state").className = "badge " + a.state;
  }

  // -- the phases bar ---------------------------------------------------------------------------
  function phaseBar(phases) {
    var bar = clear($("phase-bar")), end = data.activity.ended_at;
    $("no-phases").hidden = phases.length > 0;
    phases.forEach(function (p, i) {
      var until = p.ended_at || end, secs = until ? (ms(until) - ms(p.started_at)) / 1000 : 0;
      var li = el("li", null, "seg kind-" + p.kind + " n" + (i % 4));
      li.style.flexGrow = String(Math.max(secs, 1));
      var b = el("button", null, "seg-button");
      b.type = "button";
      b.appendChild(el("span", (i + 1) + ". " + (p.title || tr(KINDS, p.kind)), "seg-title"));
      var times = el("span", null, "seg-times");
      times.appendChild(timeEl(p.started_at));
      if (until) { times.appendChild(document.createTextNode("–")); times.appendChild(timeEl(until)); }
      b.appendChild(times);
      b.appendChild(el("span", duration(secs), "seg-dur"));
      b.onclick = function () { jump(p.started_at, b); };
      li.appendChild(b);
      bar.appendChild(li);
    });
  }

  // Jump the record (and each recording that covers the moment) to `iso`.
  function jump(iso, button) {
    var t = ms(iso);
    document.querySelectorAll("#phase-bar button").forEach(function (b) {
      if (b === button) b.setAttribute("aria-current", "step"); else b.removeAttribute("aria-current");
    });
    var target = null;
    document.querySelectorAll("#record > li").forEach(function (li) {
      if (!target && !li.hidden && Number(li.dataset.t) >= t) target = li;
    });
    if (target) {
      document.querySelectorAll("#record > li.flash").forEach(function (li) { li.classList.remove("flash"); });
      target.classList.add("flash");
      target.scrollIntoView({ block: "start" });
      target.focus({ preventScroll: true });
    }
    players.forEach(function (p) {
      if (t >= p.start && t <= p.end) {
        try { p.video.currentTime = (t - p.start) / 1000; } catch (e) { /* not seekable yet */ }
        p.figure.classList.add("sought");
      } else {
        p.figure.classList.remove("sought");
      }
    });
  }

  // -- the merged record ------------------------------------------------------------------------
  function who(name) { return el("span", name || T("某人", "someone"), "who"); }

  function resultsLine(poll, res) {
    var out = el("span", null, "mini-results");
    poll.options.forEach(function (opt, i) {
      var n = res.counts[i] || 0;
      out.appendChild(el("span", opt + " " + n + T("（" + pct(n, res.voters) + "%）", " (" + pct(n, res.voters) + "%)"), "mini"));
    });
    return out;
  }

  function buildRecord(events) {
    var items = [], seq = 0;
    var questions = {}, polls = {}, sharers = {};   // sharers: user id -> name, from screen_started
    data.questions.forEach(function (q) { questions[q.id] = q; });
    data.polls.forEach(function (p) { polls[p.poll.id] = p; });
    function add(at, kind, parts) { items.push({ at: at, t: ms(at), kind: kind, parts: parts, seq: seq++ }); }

    events.forEach(function (ev) {
      var p;
      switch (ev.type) {
        case "started":
          add(ev.at, "phase", [el("strong", T("活动开始 · 环节 ", "Started · phase ") + (ev.phase + 1) + T("：", ": ") + phaseName(ev.phase))]);
          break;
        case "phase_changed":
          add(ev.at, "phase", [el("strong", T("进入环节 ", "Phase ") + (ev.phase + 1) + T("：", ": ") + phaseName(ev.phase))]);
          break;
        case "phase_extended":
          add(ev.at, "phase", [el("span", T("环节延长 " + ev.minutes + " 分钟", "Phase extended by " + ev.minutes + " min"))]);
          break;
        case "ended":
          add(ev.at, "phase", [el("strong", T("活动结束", "The activity ended"))]);
          break;
        case "question_answered":
          p = questions[ev.question_id];
          add(ev.at, "qa", [who(ev.by && ev.by.name), el("span", T(" 回答了：", " answered: ")),
                            el("q", p ? p.body : "#" + ev.question_id),
                            ev.answer ? el("span", ev.answer, "answer-text") : null,
                            ev.live ? el("span", T("现场回答", "answered live"), "badge live-answer") : null]);
          break;
        case "poll_opened":
          add(ev.at, "polls", [el("span", T("发起投票：", "Poll opened: ")), el("q", ev.poll.question),
                               el("span", T("（" + ev.poll.options.join(" / ") + "）", " (" + ev.poll.options.join(" / ") + ")"), "muted")]);
          break;
        case "poll_closed": case "poll_results_shown":
          p = polls[ev.poll_id];
          add(ev.at, "polls", [el("span", ev.type === "poll_closed" ? T("投票结束：", "Poll closed: ") : T("公布结果：", "Results shown: ")),
                               el("q", p ? p.poll.question : "#" + ev.poll_id), p ? resultsLine(p.poll, ev.results || p) : null]);
          break;
        case "hand_called":
          add(ev.at, "other", [who(ev.name), el("span", T(" 被邀请发言", " was called on to speak"))]);
          break;
        case "stage_joined":
          add(ev.at, "other", [who(ev.name), el("span", T(" 上台", " joined the stage"))]);
          break;
        case "screen_started":
          sharers[ev.user_id] = ev.name;
          add(ev.at, "other", [who(ev.name), el("span", T(" 开始共享屏幕", " started sharing a screen"))]);
          break;
        case "screen_stopped":
          if (ev.by && ev.by.id !== ev.user_id) {   // a moderator stopped it
            add(ev.at, "other", [who(ev.by.name), el("span", T(" 停止了 ", " stopped ")), who(sharers[ev.user_id]),
                                 el("span", T(" 的屏幕共享", "'s screen sharing"))]);
          } else {
            add(ev.at, "other", [who(sharers[ev.user_id]), el("span", T(" 停止共享屏幕", " stopped sharing a screen"))]);
          }
          break;
        case "groups_formed":
          add(ev.at, "groups", [el("strong", T("分组：", "Groups formed: ")),
                                el("span", T(ev.groups + " 个小组，" + ev.members + " 人", ev.groups + " groups, " + ev.members + " people"))]);
          break;
        case "group_broadcast":
          add(ev.at, "groups", [who(ev.by && ev.by.name), el("span", T(" 向各组广播：", " to every group: ")), el("span", ev.body, "body")]);
          break;
        case "rapporteur_named":
          add(ev.at, "groups", [who(ev.name), el("span", T(" 成为 ", " is the rapporteur of ")),
                                el("span", groupName(ev.group_id), "group-name"), el("span", T(" 的汇报人", ""))]);
          break;
        case "group_reporting":
          add(ev.at, "groups", [el("span", (ev.group && ev.group.name) || groupName(ev.group && ev.group.id), "group-name"),
                                el("span", T(" 汇报：", " reports: ")), who(ev.rapporteur && ev.rapporteur.name)]);
          break;
        default:  // moderation and bookkeeping (hidden messages, mutes, raised hands): not part of a replay
      }
    });
    data.chat.forEach(function (m) {
      add(m.at, "chat", [who(m.user.name), el("span", T("：", ": ")), el("span", m.body, "body")]);
    });
    data.questions.forEach(function (q) {
      add(q.at, "qa", [who(q.user.name), el("span", T(" 提问：", " asked: ")), el("q", q.body),
                       el("span", T(q.votes + " 票", q.votes + (q.votes === 1 ? " vote" : " votes")), "votes")]);
    });
    items.sort(function (a, b) { return a.t - b.t || a.seq - b.seq; });

    var list = clear($("record"));
    items.forEach(function (it) {
      var li = el("li", null, "rec rec-" + it.kind);
      li.dataset.kind = it.kind;
      li.dataset.t = String(it.t);
      li.tabIndex = -1;
      li.appendChild(timeEl(it.at, true));
      li.appendChild(el("span", tr(TAGS, it.kind), "tag"));
      var text = el("span", null, "text");
      it.parts.forEach(function (n) { if (n) text.appendChild(n); });
      li.appendChild(text);
      list.appendChild(li);
    });
    applyFilter();
  }

  function applyFilter() {
    var shown = 0;
    document.querySelectorAll("#record > li").forEach(function (li) {
      var k = li.dataset.kind;
      li.hidden = !(k === "phase" || filter === "all" || k === filter);
      if (!li.hidden && k !== "phase") shown++;
    });
    $("record-empty").hidden = shown > 0 || filter === "all";
  }

  // -- chat, questions, polls -------------------------------------------------------------------
  function chat() {
    var list = clear($("chat"));
    data.chat.forEach(function (m) {
      var li = el("li");
      var meta = el("p", null, "meta");
      meta.appendChild(el("span", m.user.name, "who"));
      meta.appendChild(timeEl(m.at, true));
      if (m.pinned) meta.appendChild(el("span", T("置顶", "pinned"), "badge"));
      li.appendChild(meta);
      li.appendChild(el("p", m.body, "body"));
      list.appendChild(li);
    });
    $("chat-count").textContent = data.chat.length ? T("（" + data.chat.length + "）", "(" + data.chat.length + ")") : "";
    $("chat-empty").hidden = data.chat.length > 0;
  }

  function questions() {
    var list = clear($("questions"));
    var qs = data.questions.slice().sort(function (a, b) { return b.votes - a.votes || ms(a.at) - ms(b.at); });
    qs.forEach(function (q) {
      var li = el("li", null, q.status === "answered" ? "answered" : "open");
      li.dataset.questionId = String(q.id);
      var head = el("div", null, "q-head");
      head.appendChild(el("span", T(q.votes + " 票", q.votes + (q.votes === 1 ? " vote" : " votes")), "votes"));
      head.appendChild(el("p", q.body, "q-body"));
      li.appendChild(head);
      var meta = el("p", null, "meta");
      meta.appendChild(el("span", q.user.name, "who"));
      meta.appendChild(timeEl(q.at, true));
      li.appendChild(meta);
      if (q.status === "answered") {
        var ans = el("div", null, "answer");
        ans.appendChild(el("span", T("回答", "Answer"), "answer-label"));
        if (q.answered_live) ans.appendChild(el("span", T("现场回答", "Answered live"), "badge live-answer"));
        if (q.answer) ans.appendChild(el("p", q.answer, "answer-text"));
        li.appendChild(ans);
      } else {
        li.appendChild(el("p", T("未回答", "Not answered"), "muted unanswered"));
      }
      list.appendChild(li);
    });
    $("questions-empty").hidden = qs.length > 0;
  }

  function pollsView() {
    var box = clear($("polls"));
    data.polls.forEach(function (p) {
      var poll = p.poll, card = el("article", null, "poll");
      card.dataset.pollId = String(poll.id);
      card.appendChild(el("h3", poll.question));
      card.appendChild(el("p", T(p.voters + " 人参与", p.voters + (p.voters === 1 ? " voter" : " voters")) +
                               (poll.multiple ? T(" · 多选", " · multiple choice") : "") +
                               (poll.anonymous ? T(" · 匿名", " · anonymous") : ""), "muted voters"));
      var ul = el("ul", null, "options");
      poll.options.forEach(function (opt, i) {
        var n = p.counts[i] || 0, share = pct(n, p.voters);
        var li = el("li", null, "option");
        li.dataset.count = String(n);
        var label = el("div", null, "option-label");
        label.appendChild(el("span", opt, "opt"));
        label.appendChild(el("span", T(n + " 票 · " + share + "%", n + (n === 1 ? " vote" : " votes") + " · " + share + "%"), "count"));
        li.appendChild(label);
        var bar = el("div", null, "bar");
        bar.setAttribute("aria-hidden", "true");
        var fill = el("div", null, "fill");
        fill.style.width = share + "%";
        bar.appendChild(fill);
        li.appendChild(bar);
        ul.appendChild(li);
      });
      card.appendChild(ul);
      if (p.answers && p.answers.length) {  // named voters: only when the API gives them
        var names = el("details", null, "named");
        names.appendChild(el("summary", T("投票人", "Who voted")));
        var nl = el("ul");
        p.answers.forEach(function (a) {
          nl.appendChild(el("li", a.user.name + T("：", ": ") + a.choices.map(function (c) { return poll.options[c]; }).join(T("、", ", "))));
        });
        names.appendChild(nl);
        card.appendChild(names);
      }
      box.appendChild(card);
    });
    $("polls-empty").hidden = data.polls.length > 0;
  }

  // -- the breakout groups ----------------------------------------------------------------------
  function groupName(id) {
    var g = groups[id];
    return g ? g.name : T("某小组", "a group");
  }

  // Each group phase, each group a <details>: its members and rapporteur at once; its chat and its
  // notes fetched when opened (GET /groups/{gid}/messages, /api/docs/{doc}/export.md).
  function groupsView(phases) {
    var box = clear($("groups"));
    $("groups-section").hidden = !phases.length;
    phases.forEach(function (ph) {
      var sec = el("section", null, "group-phase");
      sec.appendChild(el("h3", (ph.phase + 1) + ". " + (ph.title || tr(KINDS, "group_discussion")) +
                               T("（" + ph.groups.length + " 个小组）", " (" + ph.groups.length + " groups)")));
      ph.groups.forEach(function (g) { sec.appendChild(groupCard(g)); });
      box.appendChild(sec);
    });
  }

  function groupCard(g) {
    var d = el("details", null, "group");
    d.dataset.groupId = String(g.id);
    var sum = el("summary");
    sum.appendChild(el("strong", g.name, "group-name"));
    sum.appendChild(el("span", T(" · " + g.members.length + " 人 · " + g.messages + " 条发言",
                                 " · " + g.members.length + " people · " + g.messages + " messages"), "muted"));
    if (g.rapporteur) {
      sum.appendChild(el("span", T(" · 汇报人：", " · rapporteur: "), "muted"));
      sum.appendChild(el("span", g.rapporteur.name, "who rapporteur"));
    }
    d.appendChild(sum);
    var ul = el("ul", null, "members");
    g.members.forEach(function (m) {
      var li = el("li");
      li.appendChild(el("span", m.name, "who"));
      if (m.school) li.appendChild(el("span", " · " + m.school, "muted"));
      li.appendChild(el("span", T(" · " + m.messages + " 条发言", " · " + m.messages + " messages"), "muted"));
      if (m.how && m.how !== "assigned") li.appendChild(el("span", tr(HOW, m.how), "badge"));
      if (g.rapporteur && g.rapporteur.id === m.id) li.appendChild(el("span", T("汇报人", "rapporteur"), "badge"));
      ul.appendChild(li);
    });
    d.appendChild(ul);
    var cols = el("div", null, "group-cols");
    var chatBox = el("div", null, "group-chat");
    chatBox.appendChild(el("h4", T("组内讨论", "Group chat")));
    var feed = el("ul", null, "feed");
    chatBox.appendChild(feed);
    var notesBox = el("div", null, "group-notes");
    notesBox.appendChild(el("h4", T("研讨记录", "Notes")));
    cols.appendChild(chatBox);
    cols.appendChild(notesBox);
    d.appendChild(cols);
    var opened = false;
    d.addEventListener("toggle", function () {
      if (!d.open || opened) return;
      opened = true;
      groupChat(g, chatBox, feed, null);
      groupNotes(g, notesBox);
    });
    return d;
  }

  function groupChat(g, box, feed, before) {
    var url = "/api/activities/" + aid + "/groups/" + g.id + "/messages" + (before ? "?before=" + before : "");
    return collabApi(url).then(function (r) {
      var first = feed.firstChild;
      r.messages.forEach(function (m) {
        var li = el("li", null, m.status === "hidden" ? "hidden-message" : null);
        var meta = el("p", null, "meta");
        meta.appendChild(el("span", m.user.name, "who"));
        meta.appendChild(timeEl(m.at, true));
        if (m.status === "hidden") meta.appendChild(el("span", T("已隐藏", "hidden"), "badge"));
        li.appendChild(meta);
        li.appendChild(el("p", m.body, "body"));
        feed.insertBefore(li, first);
      });
      var more = box.querySelector(".more");
      if (more) more.remove();
      if (r.before) {
        box.insertBefore(Collab.button(T("更早的消息", "Earlier messages"), "more link", function () {
          groupChat(g, box, feed, r.before);
        }), feed);
      }
      if (!feed.firstChild) box.appendChild(el("p", T("没有组内讨论。", "No messages."), "muted"));
    }, function (err) { box.appendChild(el("p", Collab.errorText(err), "error")); });
  }

  function groupNotes(g, box) {
    if (!g.doc_id) { box.appendChild(el("p", T("本组没有打开研讨记录。", "This group never opened its notes."), "muted")); return; }
    var headers = {}, token = collabToken();
    if (token) headers.Authorization = "Bearer " + token;
    fetch("/api/docs/" + g.doc_id + "/export.md", { headers: headers }).then(function (r) {
      if (!r.ok) return r.json().then(function (b) { throw b.error; }, function () { throw { code: "http_" + r.status }; });
      return r.text();
    }).then(function (md) {
      box.appendChild(markdown(md));
      var link = el("a", T("下载 Markdown", "Download Markdown"), "small");
      link.href = "#";
      link.onclick = function (e) {  // the export needs the bearer token: save what we fetched
        e.preventDefault();
        var a = document.createElement("a");
        a.href = URL.createObjectURL(new Blob([md], { type: "text/markdown" }));
        a.download = g.name + ".md";
        a.click();
        setTimeout(function () { URL.revokeObjectURL(a.href); }, 1000);
      };
      box.appendChild(link);
    }, function (err) { box.appendChild(el("p", Collab.errorText(err), "error")); });
  }

  // The notes' Markdown export as plain elements: headings, list items and paragraphs, the text of
  // each set with textContent (the export escapes what would be markup; here it is only unescaped).
  function markdown(md) {
    var out = el("div", null, "notes"), list = null;
    function inline(s) {
      return s.replace(/\[([^\]]*)\]\([^)]*\)/g, "$1").replace(/(\*\*|~~|`)/g, "")
              .replace(/(^|[^\\])\*(?!\s)/g, "$1").replace(/\\(.)/g, "$1");
    }
    md.split("\n").forEach(function (line) {
      var m;
      if (!line.trim()) { list = null; return; }
      if ((m = /^(#{1,6})\s+(.*)$/.exec(line))) {
        list = null;
        out.appendChild(el("h" + Math.min(6, m[1].length + 3), inline(m[2])));
      } else if ((m = /^\s*(?:[-*+]|\d+[.)])\s+(.*)$/.exec(line))) {
        if (!list) { list = el(/^\s*\d/.test(line) ? "ol" : "ul"); out.appendChild(list); }
        list.appendChild(el("li", inline(m[1])));
      } else {
        list = null;
        out.appendChild(el("p", inline(line)));
      }
    });
    return out;
  }

  // -- recordings -------------------------------------------------------------------------------
  function videoTrouble(rec, p) {
    // a link expires after some hours: fetch fresh links once, keep the position; else say why
    if (!p.retried) {
      p.retried = true;
      return collabApi("/api/activities/" + aid + "/replay").then(function (r) {
        var fresh = r.recordings.filter(function (x) { return x.id === rec.id; })[0];
        if (!fresh) throw { code: "not_found" };
        var at = p.video.currentTime || 0;
        p.video.src = fresh.url;
        p.video.currentTime = at;
      }).catch(showVideoError);
    }
    fetch(p.video.currentSrc || rec.url, { headers: { Range: "bytes=0-0" } }).then(function (r) {
      if (r.ok) return null;
      return r.json().then(function (b) { return b.error; }, function () { return { code: "http_" + r.status }; });
    }).then(function (err) {
      showVideoError(err || { message: T("浏览器无法播放这段录像", "The browser cannot play this recording") });
    }, showVideoError);
  }
  var VIDEO_ERRORS = { gone: ["录像文件已不在服务器上", "the file is no longer on the server"],
                       link_expired: ["链接已过期，请刷新页面", "the link has expired; reload the page"],
                       link_invalid: ["链接无效，请刷新页面", "the link is not valid; reload the page"] };
  function showVideoError(err) {
    var n = err && VIDEO_ERRORS[err.code];
    $("video-notice").hidden = false;
    $("video-notice").textContent = T("录像无法播放：", "The recording cannot be played: ") +
      (n ? T(n[0], n[1]) : Collab.errorText(err));
  }

  // The program (kind "program": the whole stage composed, with everyone's sound) is the replay's main
  // video, the whole width; each speaker's own recording (kind "publication") follows as an extra.
  function recordings() {
    var box = clear($("recordings"));
    players = [];
    $("recordings-section").hidden = !data.recordings.length;
    var program = data.recordings.filter(function (r) { return r.kind === "program"; });
    var others = data.recordings.filter(function (r) { return r.kind !== "program"; });
    program.forEach(function (rec) { box.appendChild(player(rec, true)); });
    if (program.length && others.length) {
      box.appendChild(el("h3", T("各路画面", "Each speaker's own recording"), "recordings-extra"));
    }
    others.forEach(function (rec) { box.appendChild(player(rec, false)); });
  }

  function player(rec, whole) {
    var fig = el("figure", null, "recording" + (whole ? " program" : ""));
    fig.dataset.kind = rec.kind || "publication";
    var video = document.createElement("video");
    video.controls = true;
    video.preload = "metadata";
    video.setAttribute("playsinline", "");
    video.setAttribute("aria-label", whole ? T("录像：活动全程（舞台合成画面）", "Recording: the whole activity (the stage)")
                                           : T("录像：", "Recording: ") + rec.user.name);
    var p = { rec: rec, video: video, figure: fig, start: ms(rec.started_at), end: ms(rec.ended_at), retried: false };
    video.addEventListener("error", function () { videoTrouble(rec, p); });
    video.src = rec.url;
    fig.appendChild(video);
    var cap = el("figcaption");
    if (whole) cap.appendChild(el("strong", T("活动全程（舞台合成画面）", "The whole activity (the stage as broadcast)"), "who"));
    else cap.appendChild(el("span", rec.user.name, "who"));
    cap.appendChild(document.createTextNode(" · "));
    cap.appendChild(timeEl(rec.started_at));
    cap.appendChild(document.createTextNode("–"));
    cap.appendChild(timeEl(rec.ended_at));
    cap.appendChild(el("span", " · " + duration((p.end - p.start) / 1000) + " · " + size(rec.bytes), "muted"));
    fig.appendChild(cap);
    players.push(p);
    return fig;
  }

  // -- loading ----------------------------------------------------------------------------------
  function show(replay, timeline, grouped) {
    data = replay;
    groups = {};
    (grouped ? grouped.phases : []).forEach(function (ph) { ph.groups.forEach(function (g) { groups[g.id] = g; }); });
    notice("");
    $("not-ended").hidden = true;
    header(replay.activity);
    recordings();
    phaseBar(replay.phases);
    buildRecord(timeline.events);
    chat();
    questions();
    pollsView();
    groupsView(grouped ? grouped.phases : []);
    $("replay").hidden = false;
    if (waiting) { waiting.closedByUser = true; waiting.ws.close(); waiting = null; }
  }

  function waitForEnd() {
    $("not-ended").hidden = false;
    collabApi("/api/activities/" + aid).then(header, fail);
    if (waiting) return;
    // Wait on the room channel (when the caller may attend) and open the replay at the end. The first
    // subscription is made once the socket is up; Realtime renews it after a reconnect.
    var subscribed = false;
    var socket = waiting = Collab.connect(function (state) {
      if (socket && socket.closedByUser) { $("conn").hidden = true; return; }  // the replay opened: no live link to show
      if (state !== "online" || subscribed || !waiting) return;
      subscribed = true;
      setTimeout(function () {
        if (!waiting) return;
        var sub = waiting.subscribe("activity:" + aid, function (e) {
          if (e && (e.type === "ended" || e.type === "archived")) load();
        }, function () { load(); });
        if (sub) sub.then(function () { $("auto-open").hidden = false; }, function () { $("auto-open").hidden = true; });
      }, 0);
    });
  }

  function load() {
    return Promise.all([collabApi("/api/activities/" + aid + "/replay"),
                        collabApi("/api/activities/" + aid + "/timeline"),
                        // the groups' record: none to show when there were none (or this viewer may not see them)
                        collabApi("/api/activities/" + aid + "/groups").catch(function () { return null; })]).then(function (r) {
      show(r[0], r[1], r[2]);
    }, function (err) {
      if (err && err.code === "not_ended") waitForEnd(); else fail(err);
    });
  }

  Collab.start().then(function () {
    document.querySelectorAll("#filter input[name=filter]").forEach(function (input) {
      input.onchange = function () { if (input.checked) { filter = input.value; applyFilter(); } };
    });
    load();
  }, fail);
})();
