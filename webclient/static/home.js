// Home: signed out, the sign-in form; signed in, where to go (live and upcoming activities, my
// studios and their lesson documents) and the announcements feed, live and recovered after a drop.
(function () {
  "use strict";
  var $ = Collab.$, el = Collab.el, T = Collab.T, api = collabApi;
  var CHANNEL = "announce:all";
  if (!Collab.token()) { $("signed-out").hidden = false; return; }

  function show(event) {
    var li = el("li", event.body);        // user text is never markup
    li.appendChild(el("div", (event.author && event.author.name || "") + " · " + Collab.fmtTime(event.at), "muted"));
    $("feed").insertBefore(li, $("feed").firstChild);
  }
  function reload() {
    return api("/api/announcements?channel=" + encodeURIComponent(CHANNEL)).then(function (r) {
      Collab.clear($("feed"));
      r.announcements.forEach(show);
    });
  }
  function link(href, text, extra) {
    var li = el("li"), a = el("a", text);
    if (href) a.href = href;
    li.appendChild(a);
    if (extra) li.appendChild(el("span", " · " + extra, "muted"));
    return li;
  }
  function places() {
    Promise.all([api("/api/activities?status=live"), api("/api/activities?status=upcoming")]).then(function (r) {
      Collab.clear($("activities"));
      r[0].activities.concat(r[1].activities).forEach(function (a) {
        $("activities").appendChild(link("/activities/" + a.id, a.title,
          a.state === "live" ? T("进行中", "live") : Collab.fmtTime(a.starts_at, a.time_zone)));
      });
      if (!$("activities").children.length) $("activities").appendChild(el("li", T("暂无活动", "Nothing scheduled"), "muted"));
    });
    api("/api/studios?mine=1").then(function (r) {
      Collab.clear($("studios"));
      r.studios.forEach(function (st) {
        var li = link("/studios/" + st.id, st.name, T(st.members + " 位成员", st.members + " members"));
        var docs = el("ul");
        li.appendChild(docs);
        $("studios").appendChild(li);
        api("/api/studios/" + st.id + "/docs").then(function (d) {
          d.documents.forEach(function (doc) { docs.appendChild(link("/docs/" + doc.id, doc.title)); });
        }, function () {});
      });
      if (!r.studios.length) $("studios").appendChild(el("li", T("还没有加入工作室", "No studio yet"), "muted"));
    });
  }

  // Signed-in devices (GET /api/me/sessions): this one first named as such; ending another signs it
  // out on the server, and its pages close their connection at once.
  function device(s) {
    var what = s.user_agent ? s.user_agent.slice(0, 80) : T("未知设备", "Unknown device");
    var li = el("li", what);   // text, never markup
    li.dataset.session = s.id;
    li.appendChild(el("span", " · " + (s.client_address || "?") + " · " + T("最近使用 ", "last used ") + Collab.fmtTime(s.last_seen_at), "muted"));
    if (s.current) {
      li.appendChild(document.createTextNode(" "));
      li.appendChild(el("span", T("本设备", "this device"), "badge"));
    } else {
      var end = Collab.button(T("退出", "Sign out"), "end-device", function () {
        api("/api/me/sessions/" + s.id, { method: "DELETE" }).then(devices, devicesError);
      }, T("退出该设备：", "Sign out ") + what);
      li.appendChild(document.createTextNode(" "));
      li.appendChild(end);
    }
    return li;
  }
  function devicesError(err) { $("devices-error").hidden = false; $("devices-error").textContent = Collab.errorText(err); }
  function devices() {
    return api("/api/me/sessions").then(function (r) {
      $("devices").hidden = false;
      Collab.clear($("device-list"));
      r.sessions.forEach(function (s) { $("device-list").appendChild(device(s)); });
      $("end-others").hidden = r.sessions.length < 2;
    }, devicesError);
  }

  Collab.start().then(function (user) {
    devices();
    $("end-others").onclick = function () {
      api("/api/me/sessions/end-others", { method: "POST", body: "{}" }).then(devices, devicesError);
    };
    $("places").hidden = false;
    $("announcements").hidden = false;
    $("announce-form").hidden = !(user.role === "admin" || user.role === "organizer");
    places();
    var rt = Collab.connect();
    reload().then(function () {
      rt.subscribe(CHANNEL, show, function () {
        $("resync").hidden = false;
        $("resync").textContent = T("断线时间较长，已重新加载通知。", "Reconnected after a long gap: reloaded the announcements.");
        reload();
      });
    });
    $("announce-form").onsubmit = function (e) {
      e.preventDefault();
      rt.command("announce.post", { channel: CHANNEL, body: e.target.body.value }).then(function () { e.target.reset(); },
        function (err) { $("resync").hidden = false; $("resync").textContent = Collab.errorText(err); });
    };
  });
})();
