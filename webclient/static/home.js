(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };
  var CHANNEL = "announce:all";
  function api(path, opts) {
    opts = opts || {};
    opts.headers = Object.assign({ "Content-Type": "application/json" }, opts.headers || {});
    var token = sessionStorage.getItem("collab_token");
    if (token) opts.headers.Authorization = "Bearer " + token;
    return fetch(path, opts).then(function (r) { return r.json().then(function (b) { if (!r.ok) throw b.error; return b; }); });
  }
  function show(event) {
    var li = document.createElement("li");
    li.textContent = event.body;          // textContent: user text is never markup
    var by = document.createElement("div");
    by.className = "muted";
    by.textContent = (event.author && event.author.name || "") + " · " + new Date(event.at).toLocaleString();
    li.appendChild(by);
    $("feed").insertBefore(li, $("feed").firstChild);
  }
  function reload() {
    return api("/api/announcements?channel=" + encodeURIComponent(CHANNEL)).then(function (r) {
      $("feed").textContent = "";
      r.announcements.forEach(show);
    });
  }
  function start(token, user) {
    $("signin").hidden = true;
    $("announcements").hidden = false;
    $("who").textContent = user.display_name + " (" + user.role + ")";
    $("announce-form").hidden = !(user.role === "admin" || user.role === "organizer");
    var rt = new Realtime({ token: token, onState: function (s) { $("conn").textContent = s; $("conn").className = "conn " + s; } });
    reload().then(function () {
      rt.subscribe(CHANNEL, show, function () {
        $("resync").hidden = false;
        $("resync").textContent = "Reconnected after a long gap: reloaded the announcements.";
        reload();
      });
    });
    $("announce-form").onsubmit = function (e) {
      e.preventDefault();
      rt.command("announce.post", { channel: CHANNEL, body: e.target.body.value }).then(function () { e.target.reset(); },
        function (err) { alert(err.message); });
    };
  }
  $("signin-form").onsubmit = function (e) {
    e.preventDefault();
    var f = e.target;
    api("/api/auth/login", { method: "POST", body: JSON.stringify({ username: f.username.value, password: f.password.value }) })
      .then(function (r) { sessionStorage.setItem("collab_token", r.token); start(r.token, r.user); },
        function (err) { $("signin-error").textContent = err.message; });
  };
  var saved = sessionStorage.getItem("collab_token");
  if (saved) api("/api/me").then(function (u) { start(saved, u); }, function () { sessionStorage.removeItem("collab_token"); });
})();
