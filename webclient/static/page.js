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
  // `code`: the close code that ended the last connection, if any; its meaning goes in the title.
  function showConn(state, code) {
    var c = $("conn");
    if (!c) return;
    c.hidden = false;
    var n = CONN[state];
    c.textContent = n ? T(n[0], n[1]) : state;
    c.className = "conn " + state;
    c.dataset.state = state;
    c.title = (typeof code === "number" && closeText(code)) || T("连接", "connection");
  }

  // Every code the server answers with (over /ws and in the API's error bodies), and the client's own
  // (disconnected): tests/unit/test_error_codes.py reads the server's source and fails on one missing.
  var SIGN_IN_AGAIN = ["登录已失效，请重新登录", "Your sign-in is no longer valid; sign in again"];
  var ERRORS = {
    account_disabled: ["该账号已被停用，请联系管理员", "This account is disabled; ask an administrator"],
    already_connected: ["已经连接", "Already connected"],
    already_raised: ["您已经举手了", "Your hand is already raised"],
    already_subscribed: ["已在接收这里的消息", "Already following this"],
    already_voted: ["您已经投过票了", "You have already voted"],
    bad_channel: ["频道名称无效", "Not a valid channel name"],
    bad_command: ["请求格式有误，请刷新页面", "A malformed request; reload the page"],
    bad_credentials: ["用户名或密码不对", "Wrong username or password"],
    bad_frame: ["请求格式有误，请刷新页面", "A malformed request; reload the page"],
    bad_json: ["请求格式有误，请刷新页面", "A malformed request; reload the page"],
    bad_time_zone: ["时区无效（例如 Asia/Shanghai）", "Not a time zone (such as Asia/Shanghai)"],
    bus_unavailable: ["服务暂时不可用，请稍后重试", "Briefly unavailable; try again"],
    busy: ["服务器忙，请稍后重试", "The server is busy; try again in a moment"],
    chat_closed: ["本环节不开放讨论", "Chat is closed in this phase"],
    conflict: ["别人刚刚改过，请刷新后再试", "Someone else just changed this; reload and try again"],
    disconnected: ["连接断开，正在重连", "Disconnected; reconnecting"],
    forbidden: ["您没有权限这样做", "You may not do that"],
    front_row_full: ["实时画面名额已满，请观看直播画面", "The real-time seats are taken; watch the live program"],
    gone: ["文件已不存在", "The file is no longer there"],
    hands_closed: ["本环节不能举手", "Hands are not taken in this phase"],
    internal: ["服务器出错了，操作没有生效", "A fault on the server; nothing was changed"],
    invalid: ["输入的内容不符合要求", "Not accepted"],
    invalid_name: ["姓名须为 1～100 个字符", "A display name has 1 to 100 characters"],
    invalid_role: ["没有这个角色", "Not a role"],
    invalid_scope: ["没有这个权限范围（可选：attendance:read、activities:read、registrations:read）", "Not a scope (attendance:read, activities:read or registrations:read)"],
    invalid_username: ["用户名须为 3～64 个字母、数字或“.”“-”“_”", "A username has 3 to 64 letters, digits, '.', '-' or '_'"],
    invitation_expired: ["邀请链接已过期，请向对方要一个新的", "This invitation link has expired; ask for a new one"],
    invitation_invalid: ["邀请链接无效", "This invitation link is not valid"],
    key_expired: ["服务密钥已过期，请向管理员要一个新的", "This service key has expired; ask an admin for a new one"],
    key_invalid: ["服务密钥无效", "This service key is not valid"],
    key_not_allowed: ["服务密钥只能调用接口，不能登录或建立实时连接", "A service key calls the API; it cannot sign in or open a live connection"],
    key_revoked: ["服务密钥已被吊销", "This service key was revoked"],
    key_scope: ["服务密钥的权限范围不包括这项操作", "This service key's scopes do not allow that"],
    last_phase: ["已是最后一个环节，请结束活动", "This is the last phase; end the activity instead"],
    length_required: ["上传时须说明文件大小，请换个浏览器重试", "The upload did not state its size; try another browser"],
    hls_bad_request: ["直播画面请求有误，正在重新加载", "The live picture's request was refused; reloading"],
    hls_not_ready: ["直播画面暂未就绪，请稍候", "The live picture is not ready yet; wait a moment"],
    link_expired: ["链接已过期，请重新打开页面", "This link has expired; open the page again"],
    link_invalid: ["链接无效，请重新打开页面", "This link is not valid; open the page again"],
    muted: ["您已被禁言", "You are muted"],
    no_password: ["该账号通过其他系统登录，不能在这里改密码", "This account signs in through another system; its password is not changed here"],
    not_connected: ["尚未连接，请稍候", "Not connected yet; wait a moment"],
    not_ended: ["活动结束后才能看回放", "The replay opens when the activity ends"],
    not_found: ["找不到，可能已被删除", "Not found; it may have been deleted"],
    not_invited: ["没有人邀请您上台", "Nobody has invited you on stage"],
    not_on_stage: ["不在台上", "Not on the stage"],
    not_raised: ["没有举手", "That hand is not raised"],
    no_groups: ["当前没有进行中的分组研讨", "No group discussion is running"],
    not_in_group: ["你不在这个小组中", "You are not in this group"],
    group_full: ["该小组已满，请选择其他小组", "That group is full; choose another"],
    group_too_large: ["小组超过8人，不能开启小组视频，请用文字讨论", "Group video is for groups of at most 8; this group discusses in writing"],
    not_self_select: ["本环节由主持人分组，不能自行换组", "Groups are assigned in this phase; you cannot change yours"],
    removed_from_activity: ["你已不在本活动中，小组笔记已关闭", "You are no longer in this activity; the group's notes closed"],
    moved_to_another_group: ["你已调到其他小组，原小组的笔记已关闭", "You were moved to another group; the old group's notes closed"],
    no_rapporteur: ["该小组尚未推选汇报人", "This group has not named its rapporteur"],
    roster_invalid: ["分组名单有误，请按提示修改后重新上传", "The group list has an error; correct it and upload again"],
    not_subscribed: ["未在接收这里的消息", "Not following this"],
    program_off: ["直播画面暂未开始", "The live picture has not begun"],
    poll_closed: ["投票已结束", "This poll is closed"],
    polls_closed: ["本环节不能发起投票", "Polls are not run in this phase"],
    question_closed: ["这个问题已回答或已关闭，不再接受点赞", "This question is answered or closed: it takes no more votes"],
    questions_closed: ["本环节不开放提问", "Questions are closed in this phase"],
    rate_limited: ["操作太快了，请稍候", "Too fast; wait a moment"],
    removed_from_studio: ["您已不是这个工作室的成员", "You are no longer a member of this studio"],
    signin_throttled: ["登录失败次数太多，暂时不能登录", "Too many failed sign-ins; signing in is paused"],
    slow_mode: ["慢速模式：请稍候再发", "Slow mode: wait before posting again"],
    ticket_expired: ["文档连接已过期，正在重新连接", "The document's pass expired; reconnecting"],
    ticket_invalid: ["文档连接无效，请刷新页面", "The document's pass is not valid; reload the page"],
    ticket_missing: ["请先登录", "Sign in first"],
    ticket_used: ["文档连接已用过，正在重新连接", "The document's pass was used; reconnecting"],
    ticket_wrong_document: ["文档连接不属于这个文档，请刷新页面", "That pass is for another document; reload the page"],
    token_audience: SIGN_IN_AGAIN, token_invalid: SIGN_IN_AGAIN, token_issuer: SIGN_IN_AGAIN,
    token_signature: SIGN_IN_AGAIN,
    token_expired: ["登录已过期，请重新登录", "Your sign-in has expired; sign in again"],
    token_missing: ["请先登录", "Sign in first"],
    token_mismatch: ["新的登录凭证属于另一个账号，正在重新连接", "The new sign-in is for another account; reconnecting"],
    token_not_renewable: ["这次登录不能续期，请重新登录", "This sign-in cannot be renewed; sign in again"],
    token_revoked: ["您已退出登录（或登录已在别处被结束），请重新登录", "You were signed out (or the sign-in was ended elsewhere); sign in again"],
    too_large: ["内容太大", "Too large"],
    too_many_channels: ["同时打开的页面太多，请关掉一些再试", "Too many pages open at once; close some and try again"],
    too_many_commands: ["请求太多，请稍候", "Too many requests at once; wait a moment"],
    too_many_views: ["同时观看的画面太多", "Too many videos at once"],
    type_mismatch: ["文件内容与扩展名不符", "The file's content does not match its name"],
    unauthenticated: ["请先登录", "Sign in first"],
    unknown_command: ["服务器不认识这个操作，请刷新页面", "The server does not know this command; reload the page"],
    unknown_event_type: ["没有这种事件类型", "No such event type"],
    unsupported_type: ["不支持这种文件", "This kind of file is not accepted"],
    username_taken: ["用户名已被占用", "That username is taken"],
    weak_password: ["密码太短", "The password is too short"],
    webhook_url_refused: ["接收地址须为公网的 http 或 https 地址", "The receiver's address must be a public http or https URL"],
    wrong_codec: ["课堂视频须为 MP4（H.264）或 WebM（VP8）", "Lesson videos are MP4 (H.264) or WebM (VP8)"],
    wrong_state: ["活动当前状态不允许此操作", "Not possible in the activity's current state"]
  };
  // Codes whose server message says more than their name (which field, which limit): English pages
  // add it; Chinese pages show the translation alone, never an English sentence.
  var DETAILED = { invalid: true, roster_invalid: true };
  // How long until a refusal that passes with time (a 429's retry_after, in seconds) passes.
  function waitText(seconds) {
    var s = Math.max(1, Math.ceil(seconds));
    if (s < 60) return T(s + " 秒", s === 1 ? "1 second" : s + " seconds");
    var m = Math.ceil(s / 60);
    return T(m + " 分钟", m === 1 ? "1 minute" : m + " minutes");
  }
  // An error from the API or /ws as a sentence for people, in the interface language; with its wait
  // when it has one.
  function errorText(err) {
    if (!err) return T("出错了", "Something went wrong");
    if (typeof err === "string") return err;
    var n = ERRORS[err.code];
    if (n && typeof err.retry_after === "number") {
      return T(n[0] + "（" + waitText(err.retry_after) + "后可再试）", n[1] + " (try again in " + waitText(err.retry_after) + ")");
    }
    if (n) return T(n[0], DETAILED[err.code] && err.message ? n[1] + ": " + err.message : n[1]);
    var http = /^http_(\d+)$/.exec(err.code || "");
    if (http) return T("服务器出错（HTTP " + http[1] + "），请稍后重试", "The server answered HTTP " + http[1] + "; try again later");
    return T("出错了（" + (err.code || "?") + "）", "Something went wrong (" + (err.message || err.code) + ")");
  }

  // What each WebSocket close code the server uses means for the person (collab/realtime/protocol.py
  // Close, collab/docs/endpoint.py): the connection indicator's title says it.
  var CLOSES = {
    1011: ["服务器出错，正在重连", "A fault on the server; reconnecting"],
    4001: ["登录已失效，请重新登录", "Sign in again to connect"],
    4002: ["连接协议有误，请刷新页面", "The page spoke the protocol wrongly; reload it"],
    4003: ["您不是这个工作室的成员", "You are not a member of this studio"],
    4004: ["文档不存在或已被删除", "No such document, or it was deleted"],
    4005: ["登录凭证已过期，请重新登录", "Your sign-in expired; sign in again"],
    4006: ["您已退出登录（或登录已在别处被结束），请重新登录", "You were signed out (or the sign-in was ended elsewhere); sign in again"],
    4008: ["网络太慢，跟不上了，正在重连", "Fell behind on a slow link; reconnecting"],
    4009: ["发送的内容太大，没有发出", "What was sent was too large"],
    4011: ["文档连接已失效，正在重新连接", "The document's pass was refused; reconnecting"],
    4012: ["服务器正在更新，正在连接另一台", "The server is restarting; connecting to another"],
    4029: ["发送太频繁，稍后重连", "Too many messages; reconnecting after a pause"]
  };
  function closeText(code) { var n = CLOSES[code]; return n ? T(n[0], n[1]) : ""; }

  // Subjects and grades stored as codes ("math", "8") by the demo and by imports, named for people;
  // free text (数学, 八年级) is shown as it is.
  var SUBJECTS = { math: ["数学", "Maths"], chinese: ["语文", "Chinese"], english: ["英语", "English"],
                   physics: ["物理", "Physics"], chemistry: ["化学", "Chemistry"], biology: ["生物", "Biology"],
                   history: ["历史", "History"], geography: ["地理", "Geography"], politics: ["道德与法治", "Ethics and law"],
                   science: ["科学", "Science"], music: ["音乐", "Music"], art: ["美术", "Art"], pe: ["体育", "PE"],
                   it: ["信息科技", "IT"] };
  function subjectName(s) { var n = SUBJECTS[s]; return n ? T(n[0], n[1]) : s; }
  // Grades 1 to 12 as a Chinese school names them: 一年级…九年级, then senior high 高一 to 高三.
  var GRADES_ZH = ["一年级", "二年级", "三年级", "四年级", "五年级", "六年级", "七年级", "八年级", "九年级",
                   "高一", "高二", "高三"];
  function gradeName(g) {
    if (!g) return "";
    var n = /^\d{1,2}$/.test(g) ? Number(g) : 0;
    return n >= 1 && n <= 12 ? T(GRADES_ZH[n - 1], "Grade " + n) : g;
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
  // Signing out ends the session on the server (its token stops working everywhere), then here.
  function signOut() {
    var done = function () { forgetToken(); location.href = "/signin"; };
    if (!token()) { done(); return; }
    collabApi("/api/signout", { method: "POST", body: "{}" }).then(done, done);
  }
  // A new token for this sign-in (POST /api/token/refresh), kept for every tab; one request at a time.
  var renewing = null;
  function renewToken() {
    if (!renewing) {
      renewing = collabApi("/api/token/refresh", { method: "POST", body: "{}" }).then(function (r) {
        renewing = null; setToken(r.token); return r.token;
      }, function (err) { renewing = null; throw err; });
    }
    return renewing;
  }
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
    return new Realtime({ token: token, renew: renewToken, onState: function (s, code) {
      showConn(s, code);
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
                    showConn: showConn, errorText: errorText, closeText: closeText, say: say,
                    SUBJECTS: SUBJECTS, subjectName: subjectName, gradeName: gradeName,
                    fmtTime: fmtTime, fmtClock: fmtClock, fmtDate: fmtDate, fmtSpan: fmtSpan, fmtMinutes: fmtMinutes,
                    locale: locale, token: token, setToken: setToken, signOut: signOut, renewToken: renewToken, nextPath: nextPath,
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
