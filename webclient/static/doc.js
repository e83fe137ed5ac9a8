// The lesson-document page: who am I, may I edit, then the editor (static/dist/editor.js).
(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };
  var token = sessionStorage.getItem("collab_token");
  var docId = Number($("editor").dataset.docId);
  if (!token) { location.href = "/?next=" + encodeURIComponent(location.pathname); return; }
  var api = collabApi;
  function download(fmt) {  // exports need the bearer token, so fetch and hand the browser a blob
    return function (e) {
      e.preventDefault();
      fetch("/api/docs/" + docId + "/export." + fmt, { headers: { Authorization: "Bearer " + token } })
        .then(function (r) { return r.blob(); })
        .then(function (blob) {
          var a = document.createElement("a");
          a.href = URL.createObjectURL(blob);
          a.download = $("title").textContent + "." + fmt;
          a.click();
        });
    };
  }
  Promise.all([api("/api/me"), api("/api/docs/" + docId)]).then(function (r) {
    var me = r[0], doc = r[1];
    $("who").textContent = me.display_name;
    $("title").textContent = doc.title;          // textContent: a title is never markup
    document.title = doc.title + " · collab";
    $("readonly").hidden = doc.me.may_edit;
    $("export-md").onclick = download("md");
    $("export-html").onclick = download("html");
    window.collabEditor = CollabEditor.open({
      el: $("editor"), docId: docId, token: token, canEdit: doc.me.may_edit,
      user: { id: me.id, name: me.display_name },
      onStatus: function (s) { $("conn").textContent = s; $("conn").className = "conn " + s; },
      onDenied: function (reason) { $("denied").hidden = false; $("denied").textContent = reason; }
    });
  }).catch(function (err) {
    $("denied").hidden = false;
    $("denied").textContent = (err && err.message) || "This document cannot be opened.";
  });
})();
