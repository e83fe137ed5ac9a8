// What every page shares: the interface language (zh-CN or English, from the browser, with a switch),
// the signed-in user and the header that shows them, the connection indicator, and small helpers for
// building DOM from user text without ever treating it as markup.
(function (global) {
  "use strict";
  var LANG_KEY = "collab_lang";

  function chooseLang() {
    var saved = localStorage.getItem(LANG_KEY);
    if (saved === "zh" || saved === "en") return saved;
    var langs = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language || ""];
    for (var i = 0; i < langs.length; i++) {
      var l = String(langs[i]).toLowerCase();
      if (l.indexOf("zh") === 0) return "zh";
      if (l.indexOf("en") === 0) return "en";
    }
    return "zh";
  }
  var lang = chooseLang();
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";

  // T("中文", "English"): the string in the interface language.
  function T(zh, en) { return lang === "en" && en !== undefined ? en : zh; }

  // Static text in templates is Chinese with its English in data-en (and data-en-placeholder,
  // data-en-title, data-en-aria-label for attributes).
  var ATTRS = ["placeholder", "title", "aria-label"];
  function applyLang(root) {
    if (lang !== "en") return;
    (root || document).querySelectorAll("[data-en]").forEach(function (e) { e.textContent = e.dataset.en; });
    ATTRS.forEach(function (a) {
      (root || document).querySelectorAll("[data-en-" + a + "]").forEach(function (e) {
        e.setAttribute(a, e.getAttribute("data-en-" + a));
      });
    });
  }

  function $(id) { return document.getElementById(id); }
  // el("li", text, "cls"): an element whose text is set as text, never parsed.
  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = text;
    if (cls) e.className = cls;
    return e;
  }
  // button("text", "cls", onclick, "label"): a real <button type=button>, named for screen readers
  // by `label` when its text alone (an icon, a count) would not say what it does.
  function button(text, cls, onclick, label) {
    var b = el("button", text, cls);
    b.type = "button";
    if (label) b.setAttribute("aria-label", label);
    if (onclick) b.onclick = onclick;
    return b;
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); return node; }

  var ROLES = { admin: ["管理员", "admin"], organizer: ["组织者", "organizer"], expert: ["专家", "expert"],
                teacher: ["教师", "teacher"], leader: ["领衔人", "leader"], co_leader: ["副领衔人", "co-leader"],
                member: ["成员", "member"], observer: ["观察员", "observer"], host: ["主持人", "host"],
                presenter: ["主讲人", "presenter"] };
  function roleName(r) { var n = ROLES[r]; return n ? T(n[0], n[1]) : r; }

  var CONN = { online: ["在线", "online"], synced: ["已同步", "synced"], connected: ["已连接", "connected"],
               connecting: ["连接中", "connecting"], reconnecting: ["重连中", "reconnecting"],
               disconnected: ["已断开", "disconnected"], offline: ["离线", "offline"],
               unauthorized: ["请重新登录", "sign in again"] };
  // The connection indicator: its class is the state (tests and styles key on it), its text translated.
  // Shown only on pages that hold a live connection.
  function showConn(state) {
    var c = $("conn");
    if (!c) return;
    c.hidden = false;
    var n = CONN[state];
    c.textContent = n ? T(n[0], n[1]) : state;
    c.className = "conn " + state;
    c.dataset.state = state;
  }

  var ERRORS = {
    forbidden: ["没有权限", "You may not do that"], unauthenticated: ["请先登录", "Sign in first"],
    not_found: ["找不到", "Not found"], rate_limited: ["操作太快了, 请稍候", "Too fast; wait a moment"],
    slow_mode: ["慢速模式: 请稍候再发", "Slow mode: wait before posting again"],
    muted: ["您已被禁言", "You are muted"], chat_closed: ["本环节不开放讨论", "Chat is closed in this phase"],
    questions_closed: ["本环节不开放提问", "Questions are closed in this phase"],
    hands_closed: ["本环节不能举手", "Hands are closed in this phase"],
    polls_closed: ["本环节不能发起投票", "Polls are closed in this phase"],
    already_voted: ["已经投过了", "Already voted"], already_raised: ["已经举手", "Hand already raised"],
    busy: ["服务器忙, 请重试", "The server is busy; try again"], disconnected: ["连接断开, 正在重连", "Disconnected; reconnecting"],
    bus_unavailable: ["服务暂时不可用, 请重试", "Briefly unavailable; try again"],
    wrong_state: ["活动当前状态不允许此操作", "Not in this state of the activity"],
    last_phase: ["已是最后一个环节", "This is the last phase"], conflict: ["别人刚刚操作过, 请刷新", "Someone else just did that"],
    too_large: ["文件太大", "Too large"], unsupported_type: ["不支持的文件类型", "Unsupported file type"],
    type_mismatch: ["文件内容与扩展名不符", "The file's content does not match its name"]
  };
  // An error from the API or /ws as a sentence for people: known codes translated, else the server's message.
  function errorText(err) {
    if (!err) return T("出错了", "Something went wrong");
    var n = ERRORS[err.code];
    if (n) return T(n[0], n[1]);
    return err.message || err.code || T("出错了", "Something went wrong");
  }

  // Subjects and grades stored as codes ("math", "8") by the demo and by imports, named for people;
  // free text (数学, 八年级) is shown as it is.
  var SUBJECTS = { math: ["数学", "Maths"], chinese: ["语文", "Chinese"], english: ["英语", "English"],
                   physics: ["物理", "Physics"], chemistry: ["化学", "Chemistry"], biology: ["生物", "Biology"],
                   history: ["历史", "History"], geography: ["地理", "Geography"], politics: ["道德与法治", "Ethics and law"],
                   science: ["科学", "Science"], music: ["音乐", "Music"], art: ["美术", "Art"], pe: ["体育", "PE"],
                   it: ["信息科技", "IT"] };
  function subjectName(s) { var n = SUBJECTS[s]; return n ? T(n[0], n[1]) : s; }
  function gradeName(g) {
    if (!g) return "";
    return /^\d{1,2}$/.test(g) ? T(g + " 年级", "Grade " + g) : g;
  }

  // say(node, err): a refusal (an API or /ws error, or a sentence) shown in its alert element;
  // say(node) hides it again.
  function say(node, err) {
    node.hidden = !err;
    node.textContent = !err ? "" : typeof err === "string" ? err : errorText(err);
  }

  function locale() { return lang === "en" ? "en-GB" : "zh-CN"; }

  // Times are shown in the activity's time zone (its `time_zone`, an IANA name), not the browser's:
  // a teacher travelling, or a test machine on UTC, sees the hour the organizer announced.
  var DEFAULT_ZONE = "Asia/Shanghai";
  var formats = {};
  function formatter(kind, timeZone) {
    var key = kind + " " + (timeZone || DEFAULT_ZONE);
    if (formats[key]) return formats[key];
    var o = { hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" };
    if (kind === "date" || kind === "full") { o.year = "numeric"; o.month = "short"; o.day = "numeric"; }
    if (kind === "date") { delete o.hour; delete o.minute; delete o.second; delete o.hourCycle; }
    try { o.timeZone = timeZone || DEFAULT_ZONE; formats[key] = new Intl.DateTimeFormat(locale(), o); }
    catch (e) { o.timeZone = DEFAULT_ZONE; formats[key] = new Intl.DateTimeFormat(locale(), o); } // unknown zone name
    return formats[key];
  }
  function shown(kind, iso, timeZone) {
    if (!iso) return "";
    var d = new Date(iso);
    return isNaN(d.getTime()) ? "" : formatter(kind, timeZone).format(d);
  }
  // fmtTime(iso, zone): date and time to the second (2026年3月5日 09:30:00, 5 Mar 2026, 09:30:00).
  function fmtTime(iso, timeZone) { return shown("full", iso, timeZone); }
  // fmtClock(iso, zone): the time of day alone (09:30:00); fmtDate(iso, zone): the date alone.
  function fmtClock(iso, timeZone) { return shown("clock", iso, timeZone); }
  function fmtDate(iso, timeZone) { return shown("date", iso, timeZone); }
  // fmtSpan(start, end, zone): "start – end", the end's date left out when it is the same day there.
  function fmtSpan(startIso, endIso, timeZone) {
    if (!endIso) return fmtTime(startIso, timeZone);
    var same = fmtDate(startIso, timeZone) === fmtDate(endIso, timeZone);
    return fmtTime(startIso, timeZone) + " – " + (same ? fmtClock(endIso, timeZone) : fmtTime(endIso, timeZone));
  }
  function fmtMinutes(seconds) {
    var m = Math.round((seconds || 0) / 60);
    return T(m + " 分钟", m + " min");
  }

  var token = global.collabToken;
  function setToken(t) { localStorage.setItem("collab_token", t); sessionStorage.removeItem("collab_token"); }
  function forgetToken() { localStorage.removeItem("collab_token"); sessionStorage.removeItem("collab_token"); }
  function signOut() { forgetToken(); location.href = "/signin"; }
  // Where to go after signing in: a path on this site only (never another origin).
  function nextPath() {
    var n = new URLSearchParams(location.search).get("next");
    return n && /^\/(?!\/)[\w\-\/.?=&%]*$/.test(n) ? n : null;
  }
  function toSignIn() { location.href = "/signin?next=" + encodeURIComponent(location.pathname + location.search); }

  function fillHeader(me) {
    var who = $("who");
    clear(who);
    who.appendChild(el("span", me.display_name, "who-name"));
    who.appendChild(el("span", roleName(me.role), "badge role"));
    $("nav").hidden = false;
    document.querySelectorAll("#nav [data-roles]").forEach(function (a) {
      a.hidden = a.dataset.roles.split(" ").indexOf(me.role) < 0;
    });
    document.querySelectorAll("#nav a").forEach(function (a) {
      if (a.getAttribute("href") === location.pathname) a.setAttribute("aria-current", "page");
    });
    $("signout").hidden = false;
  }

  // Collab.start(): the signed-in user (header filled), or off to sign in and back.
  var mePromise = null;
  function start() {
    if (mePromise) return mePromise;
    if (!token()) { toSignIn(); mePromise = new Promise(function () {}); return mePromise; }
    mePromise = collabApi("/api/me").then(function (me) { fillHeader(me); return me; }, function (err) {
      if (err && (err.code === "unauthenticated" || /^token_/.test(err.code || ""))) {
        forgetToken();
        toSignIn();
        return new Promise(function () {});
      }
      throw err;
    });
    return mePromise;
  }

  // A realtime connection whose state drives the indicator. A token that expired (or was revoked)
  // while the page was open: sign in again and come back here.
  function connect(onState) {
    return new Realtime({ token: token(), onState: function (s, code) {
      showConn(s);
      if (s === "unauthorized" && code && /^token_/.test(code.code || "")) {
        forgetToken();
        toSignIn();
        return;
      }
      if (onState) onState(s, code);
    } });
  }

  // A file download that needs the bearer token: fetch, then hand the browser a blob.
  function download(path, filename) {
    return fetch(path, { headers: { Authorization: "Bearer " + token() } }).then(function (r) {
      if (!r.ok) return r.json().then(function (b) { throw b.error; });
      return r.blob();
    }).then(function (blob) {
      var a = document.createElement("a");
      a.href = URL.createObjectURL(blob);
      a.download = filename;
      document.body.appendChild(a);
      a.click();
      setTimeout(function () { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
    });
  }

  global.Collab = { lang: lang, T: T, applyLang: applyLang, $: $, el: el, button: button, clear: clear, roleName: roleName,
                    showConn: showConn, errorText: errorText, say: say,
                    SUBJECTS: SUBJECTS, subjectName: subjectName, gradeName: gradeName,
                    fmtTime: fmtTime, fmtClock: fmtClock, fmtDate: fmtDate, fmtSpan: fmtSpan, fmtMinutes: fmtMinutes,
                    locale: locale, token: token, setToken: setToken, signOut: signOut, nextPath: nextPath,
                    start: start, connect: connect, download: download };

  document.addEventListener("DOMContentLoaded", function () {
    applyLang(document);
    var sw = $("lang");
    if (sw) {
      sw.textContent = lang === "en" ? "中文" : "English";
      sw.lang = lang === "en" ? "zh-CN" : "en";
      sw.onclick = function () { localStorage.setItem(LANG_KEY, lang === "en" ? "zh" : "en"); location.reload(); };
    }
    var so = $("signout");
    if (so) so.onclick = signOut;
  });
})(window);
