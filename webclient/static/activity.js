// The activity room: lobby (agenda and countdown), then the live view: current phase, discussion,
// questions with upvotes, the open poll, raising a hand, host controls for those allowed. State comes
// from activity.snapshot; everything after it arrives on the room channel, recovered across
// reconnects (realtime.js). User text is only ever set with textContent.
(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };
  var el = function (tag, text, cls) { var e = document.createElement(tag); if (text !== undefined) e.textContent = text; if (cls) e.className = cls; return e; };
  var aid = Number(document.querySelector("main").dataset.activityId);
  var STATES = { scheduled: "未开始 scheduled", lobby: "候场中 lobby", live: "进行中 live", ended: "已结束 ended",
                 archived: "已归档 archived", cancelled: "已取消 cancelled" };
  var snap = null, questions = {}, votedFor = {}, rt, myId = null;

  function notice(text) { $("notice").hidden = !text; $("notice").textContent = text || ""; }
  function fail(err) { notice((err && (err.message || err.code)) || "出错了 something went wrong"); }
  function cmd(name, args) { return rt.command(name, Object.assign({ activity_id: aid }, args || {})).catch(function (e) { fail(e); throw e; }); }

  function renderState() {
    var a = snap.activity;
    $("title").textContent = a.title;
    document.title = a.title + " · collab";
    $("state").textContent = STATES[a.state] || a.state;
    $("state").className = "badge " + a.state;
    $("agenda").textContent = "";
    a.agenda.forEach(function (p, i) {
      var li = el("li", p.title + " · " + p.minutes + " min");
      if (i === a.current_phase && a.state === "live") { li.className = "current"; li.setAttribute("aria-current", "step"); }
      $("agenda").appendChild(li);
    });
    var phase = a.current_phase !== null ? a.agenda[a.current_phase] : null;
    $("chat-form").hidden = !(a.state === "live" && (!phase || phase.chat || snap.me.roles.length));
    $("ask-form").hidden = !(a.state === "live" || a.state === "lobby");
    $("hand").hidden = !(a.state === "live" && phase && phase.hands);
    $("host-controls").hidden = !snap.me.may_run;
  }

  function tick() {  // the lobby's countdown to the scheduled start
    if (!snap) return;
    var a = snap.activity, left = (new Date(a.starts_at) - Date.now()) / 1000;
    if ((a.state === "scheduled" || a.state === "lobby") && left > 0) {
      var h = Math.floor(left / 3600), m = Math.floor(left % 3600 / 60), s = Math.floor(left % 60);
      $("countdown").textContent = "距开始 starts in " + (h ? h + ":" : "") + String(m).padStart(2, "0") + ":" + String(s).padStart(2, "0");
    } else {
      $("countdown").textContent = "";
    }
  }

  function addMessage(m, where) {
    var li = el("li"); li.id = "msg-" + m.id;
    li.appendChild(el("strong", m.user.name + ": "));
    li.appendChild(document.createTextNode(m.body));
    (where || $("chat")).appendChild(li);
    if (!where) li.scrollIntoView({ block: "nearest" });
  }

  function renderQuestions() {
    var list = Object.values(questions).filter(function (q) { return q.status === "open" || q.status === "answered"; });
    list.sort(function (a, b) { return (b.spotlight - a.spotlight) || (b.votes - a.votes) || (a.id - b.id); });
    $("questions").textContent = "";
    list.forEach(function (q) {
      var li = el("li", undefined, q.spotlight ? "spotlight" : ""); li.id = "q-" + q.id;
      li.appendChild(el("span", q.body, "q-body"));
      var vote = el("button", "▲ " + q.votes, "vote");
      vote.setAttribute("aria-pressed", votedFor[q.id] ? "true" : "false");
      vote.onclick = function () {
        cmd("qa.vote", { question_id: q.id, up: !votedFor[q.id] }).then(function (r) {
          votedFor[q.id] = r.voted; q.votes = r.votes; renderQuestions();
        });
      };
      li.appendChild(vote);
      if (q.answer || q.answered_live) li.appendChild(el("div", q.answer ? "答 " + q.answer : "已现场回答 answered live", "answer"));
      $("questions").appendChild(li);
    });
  }

  function renderPoll(poll) {
    $("poll").hidden = !poll;
    if (!poll) return;
    $("poll-question").textContent = poll.question;
    $("poll-options").textContent = "";
    poll.options.forEach(function (text, i) {
      var b = el("button", text + (poll.results ? " · " + poll.results.counts[i] : ""));
      b.disabled = poll.status !== "open";
      b.onclick = function () { cmd("poll.answer", { poll_id: poll.id, choices: [i] }); };
      $("poll-options").appendChild(b);
    });
  }

  function onEvent(e) {
    switch (e.type) {
      case "lobby_opened": snap.activity.state = "lobby"; return renderState();
      case "started": snap.activity.state = "live"; snap.activity.current_phase = e.phase; return renderState();
      case "phase_changed": snap.activity.current_phase = e.phase; return renderState();
      case "phase_extended": snap.activity.agenda[e.phase].minutes += e.minutes; return renderState();
      case "ended": case "archived": snap.activity.state = e.type; return renderState();
      case "chat": return addMessage(e.message);
      case "chat_deleted": case "chat_hidden":
        var gone = $("msg-" + e.message_id); if (gone) gone.remove(); return;
      case "question": questions[e.question.id] = e.question; return renderQuestions();
      case "qa_votes":
        Object.keys(e.votes).forEach(function (id) { if (questions[id]) questions[id].votes = e.votes[id]; });
        return renderQuestions();
      case "question_answered":
        var q = questions[e.question_id]; if (q) { q.status = "answered"; q.answer = e.answer; q.answered_live = e.live; }
        return renderQuestions();
      case "question_spotlight":
        Object.values(questions).forEach(function (x) { x.spotlight = x.id === e.question_id; });
        return renderQuestions();
      case "poll_opened": snap.poll = e.poll; return renderPoll(snap.poll);
      case "poll_closed": if (snap.poll) { snap.poll.status = "closed"; renderPoll(snap.poll); } return;
      case "poll_results_shown": if (snap.poll) { snap.poll.results = e.results; renderPoll(snap.poll); } return;
      case "poll_counts":
        (e.polls || []).forEach(function (p) { if (snap.poll && p.poll_id === snap.poll.id && p.shown) { snap.poll.results = p; renderPoll(snap.poll); } });
        return;
      case "hand_called":
        if (e.user_id === myId) notice("专家请您上台发言 An expert invites you on stage");
        return;
    }
  }

  function load(subscribe) {
    return rt.command("activity.snapshot", { activity_id: aid }).then(function (s) {
      snap = s;
      renderState(); tick();
      $("count").textContent = "在线 " + s.presence.users + " online";
      if (subscribe) {
        $("chat").textContent = ""; $("pinned").textContent = "";
        s.chat.recent.forEach(function (m) { addMessage(m); });
        s.chat.pinned.forEach(function (m) { addMessage(m, $("pinned")); });
        questions = {}; s.questions.forEach(function (q) { questions[q.id] = q; }); renderQuestions();
        renderPoll(s.poll);
        rt.subscribe(s.channel, onEvent, function () { load(true); }, s.since);
      }
    }).catch(function (err) {
      if (err && err.code === "forbidden" && subscribe) {  // not registered (yet): offer it
        $("register").hidden = false;
        notice("");
        return;
      }
      fail(err);
    });
  }
  $("register-button").onclick = function () {
    collabApi("/api/activities/" + aid + "/register", { method: "POST" })
      .then(function (reg) {
        if (reg.status === "approved") { $("register").hidden = true; load(true); }
        else notice("已提交报名, 等待组织者审核 · registration sent; the organizer will decide");
      }).catch(fail);
  };

  Collab.start().then(function (me) {
    myId = me.id;
    var first = true;
    rt = Collab.connect(function (state) {
      if (state === "online" && first) { first = false; load(true); }
    });
  });
  setInterval(tick, 1000);
  setInterval(function () {  // attendee count: the bus's presence, refreshed every 10 s
    if (!snap || !rt || rt.ws.readyState !== 1) return;
    rt.command("presence", { channel: snap.channel }).then(function (p) {
      $("count").textContent = "在线 " + p.users + " online";
    }, function () {});
  }, 10000);
  document.querySelectorAll("#host-controls button").forEach(function (b) {
    b.onclick = function () { cmd(b.dataset.cmd); };
  });
  $("chat-form").onsubmit = function (e) {
    e.preventDefault();
    var input = e.target.body;
    cmd("chat.post", { body: input.value }).then(function () { input.value = ""; notice(""); });
  };
  $("ask-form").onsubmit = function (e) {
    e.preventDefault();
    var input = e.target.body;
    cmd("qa.ask", { body: input.value }).then(function () { input.value = ""; });
  };
  $("hand").onclick = function () { cmd("hand.raise").then(function () { $("hand").disabled = true; }); };
})();
