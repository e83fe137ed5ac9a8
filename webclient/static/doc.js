// The lesson-document page: who am I, may I edit, then the editor (static/dist/editor.js).
(function () {
  "use strict";
  var $ = Collab.$, T = Collab.T, api = collabApi;
  var docId = Number($("editor").dataset.docId);
  Collab.start().then(function (me) {
    return api("/api/docs/" + docId).then(function (doc) {
      $("title").textContent = doc.title;          // textContent: a title is never markup
      document.title = doc.title + " · collab";
      if (doc.studio_id) $("studio-link").href = "/studios/" + doc.studio_id;
      $("readonly").hidden = doc.me.may_edit;
      $("export-md").onclick = function (e) { e.preventDefault(); Collab.download("/api/docs/" + docId + "/export.md", doc.title + ".md"); };
      $("export-html").onclick = function (e) { e.preventDefault(); Collab.download("/api/docs/" + docId + "/export.html", doc.title + ".html"); };
      window.collabEditor = CollabEditor.open({
        el: $("editor"), docId: docId, token: Collab.token(), canEdit: doc.me.may_edit,
        user: { id: me.id, name: me.display_name },
        onStatus: Collab.showConn,
        onDenied: function (reason) { $("denied").hidden = false; $("denied").textContent = reason; }
      });
    });
  }).catch(function (err) {
    $("denied").hidden = false;
    $("denied").textContent = Collab.errorText(err) || T("无法打开此文档", "This document cannot be opened.");
  });
})();
