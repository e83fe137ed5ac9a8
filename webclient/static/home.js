(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };
  var CHANNEL = "announce:all";
  var api = collabApi;
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
  function link(href, text, extra) {
    var li = document.createElement("li"), a = document.createElement("a");
    a.href = href;
    a.textContent = text;               // titles are user text: never markup
    li.appendChild(a);
    if (extra) li.appendChild(document.createTextNode(" · " + extra));
    return li;
  }
  function places() {
    Promise.all([api("/api/activities?status=live"), api("/api/activities?status=upcoming")]).then(function (r) {
      $("activities").textContent = "";
      r[0].activities.concat(r[1].activities).forEach(function (a) {
        $("activities").appendChild(link("/activities/" + a.id, a.title,
          (a.state === "live" ? "进行中 live" : new Date(a.starts_at).toLocaleString())));
      });
    });
    api("/api/studios?mine=1").then(function (r) {
      $("studios").textContent = "";
      r.studios.forEach(function (st) {
        var li = link("#", st.name, st.members + " members");
        li.firstChild.removeAttribute("href");
        var docs = document.createElement("ul");
        li.appendChild(docs);
        $("studios").appendChild(li);
        api("/api/studios/" + st.id + "/docs").then(function (d) {
          d.documents.forEach(function (doc) { docs.appendChild(link("/docs/" + doc.id, doc.title)); });
        });
      });
    });
  }
  function start(token, user) {
    $("signin").hidden = true;
    $("places").hidden = false;
    places();
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
  // back to the page that sent us here to sign in
  var next = new URLSearchParams(location.search).get("next");
  if (next && /^\/(activities|docs)\/\d+$/.test(next)) {
    var go = start;
    start = function (t, u) { go(t, u); location.href = next; };
  }
})();
