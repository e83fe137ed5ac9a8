// The lesson-document page: who am I, may I edit, then the editor (static/dist/editor.js) with its
// side panel: comment threads anchored in the text (marks `comment_<id>`, drawn as highlights by the
// editor), saved versions (preview, restore), exports. Comment and restore events arrive on the /ws
// channel doc:<id>; a restore itself arrives through Yjs like anyone's edit (docs/documents.md).
(function () {
  "use strict";
  var $ = Collab.$, T = Collab.T, el = Collab.el, api = collabApi;
  var docId = Number($("editor").dataset.docId);
  var base = "/api/docs/" + docId;
  var me = null, info = null, editor = null;
  var threads = [], versions = [];
  var activeId = null;            // the thread whose mark holds the cursor, or that was clicked
  var drafts = {};                // thread id -> a reply being written (kept across re-renders)
  var marks = markSheet();

  function canEdit() { return !!(info && info.me.may_edit && editor && !editor.readOnly); }

  function showError(id, err) { Collab.say($(id), err); }

  var button = Collab.button;

  // -- comment highlights -------------------------------------------------------------------------
  // The rules go into a constructed stylesheet: the page's Content-Security-Policy refuses inline
  // <style> (a browser without constructed sheets falls back to one, and keeps the marks doc.css draws).
  function markSheet() {
    try {
      var sheet = new CSSStyleSheet();
      document.adoptedStyleSheets = document.adoptedStyleSheets.concat([sheet]);
      return function (text) { sheet.replaceSync(text); };
    } catch (e) {
      var style = document.head.appendChild(document.createElement("style"));
      return function (text) { style.textContent = text; };
    }
  }

  // Every mark is highlighted by doc.css; here: resolved threads unhighlighted, open ones (overlapping a
  // resolved one) highlighted again, the active one stronger. Ids are numbers, never user text.
  function paintMarks() {
    var rules = [];
    threads.forEach(function (t) {
      var c = ".ql-editor .qc-" + Number(t.id) + "-on";
      if (t.resolved) rules.push(c + "{background:transparent;border-bottom-color:transparent}");
      else rules.push(c + c.slice(c.lastIndexOf(".")) + "{background:var(--mark-bg);border-bottom-color:var(--mark-line)}");
    });
    var active = threads.filter(function (t) { return t.id === activeId && !t.resolved; })[0];
    if (active) {
      var a = ".qc-" + Number(activeId) + "-on";
      rules.push(".ql-editor " + a + a + a + "{background:var(--mark-active-bg);border-bottom-color:var(--mark-active-line)}");
    }
    marks(rules.join("\n"));
    document.querySelectorAll("#threads > li").forEach(function (li) {
      li.classList.toggle("active", Number(li.dataset.id) === activeId);
    });
  }

  function setActive(id) {
    if (id === activeId) return;
    activeId = id;
    paintMarks();
  }

  // -- threads ------------------------------------------------------------------------------------
  function mayDelete(c) {
    return info.me.may_manage || (canEdit() && c.user.id === me.id);
  }

  function meta(c) {
    var p = el("p", null, "meta");
    p.appendChild(el("strong", c.user.name));
    p.appendChild(document.createTextNode(" · "));
    var time = el("time", Collab.fmtTime(c.at));
    time.dateTime = c.at;
    p.appendChild(time);
    return p;
  }

  function selectThread(t, li) {
    setActive(t.id);
    var r = editor && editor.rangeOf(t.id);
    var err = li.querySelector(".thread-error");
    if (!r) {
      err.hidden = false;
      err.textContent = T("批注的文字已被删除", "The commented text is no longer in the document");
      return;
    }
    err.hidden = true;
    editor.select(r.start, r.end);
  }

  function act(li, promise) {
    var err = li.querySelector(".thread-error");
    li.querySelectorAll("button").forEach(function (b) { b.disabled = true; });
    return promise.then(function () { loadThreads(); }, function (e) {
      li.querySelectorAll("button").forEach(function (b) { b.disabled = false; });
      err.hidden = false;
      err.textContent = Collab.errorText(e);
    });
  }

  function removeComment(li, c, isThread) {
    var q = isThread ? T("删除这条批注及其回复？", "Delete this comment and its replies?")
                     : T("删除这条回复？", "Delete this reply?");
    if (!window.confirm(q)) return;
    act(li, api(base + "/comments/" + c.id, { method: "DELETE" }));
  }

  function renderThread(t) {
    var li = el("li", null, "thread" + (t.resolved ? " resolved" : "") + (t.detached ? " detached" : ""));
    li.dataset.id = t.id;
    var head = el("div", null, "thread-head");
    var quote = button("“" + t.quote + "”", "quote", function () { selectThread(t, li); });
    quote.title = T("在文档中选中", "Select it in the document");
    head.appendChild(quote);
    if (t.resolved) head.appendChild(el("span", T("已解决", "Resolved"), "badge state"));
    if (t.detached) head.appendChild(el("span", T("原文已删除", "Text removed"), "badge state"));
    li.appendChild(head);
    li.appendChild(meta(t));
    li.appendChild(el("p", t.body, "body"));

    var replies = el("ul", null, "replies");
    t.replies.forEach(function (r) {
      var ri = el("li", null, "reply");
      ri.dataset.id = r.id;
      ri.appendChild(meta(r));
      ri.appendChild(el("p", r.body, "body"));
      if (mayDelete(r)) {
        ri.appendChild(button(T("删除", "Delete"), "link danger delete-reply", function () { removeComment(li, r, false); }));
      }
      replies.appendChild(ri);
    });
    if (t.replies.length) li.appendChild(replies);

    if (canEdit()) {
      var form = el("form", null, "reply-form");
      var fid = "reply-" + t.id;
      var label = el("label", T("回复", "Reply"), "sr-only");
      label.htmlFor = fid;
      var input = el("input");
      input.id = fid;
      input.maxLength = 2000;
      input.placeholder = T("写回复…", "Write a reply…");
      input.value = drafts[t.id] || "";
      input.oninput = function () { drafts[t.id] = input.value; };
      var send = el("button", T("回复", "Reply"), "send-reply");
      send.type = "submit";
      form.appendChild(label);
      form.appendChild(input);
      form.appendChild(send);
      form.onsubmit = function (e) {
        e.preventDefault();
        if (!input.value.trim()) { input.focus(); return; }
        act(li, api(base + "/comments", { method: "POST", body: JSON.stringify({ parent_id: t.id, body: input.value }) })
          .then(function () { delete drafts[t.id]; }));
      };
      li.appendChild(form);
    }
    var tools = el("div", null, "toolbar thread-tools");
    if (canEdit()) {
      tools.appendChild(button(t.resolved ? T("重新打开", "Reopen") : T("解决", "Resolve"), "resolve", function () {
        act(li, api(base + "/comments/" + t.id + "/resolve",
                    { method: "POST", body: JSON.stringify({ resolved: !t.resolved }) }));
      }));
    }
    if (mayDelete(t)) {
      tools.appendChild(button(T("删除", "Delete"), "link danger delete-thread", function () { removeComment(li, t, true); }));
    }
    if (tools.firstChild) li.appendChild(tools);
    var err = el("p", null, "error thread-error");
    err.setAttribute("role", "alert");
    err.hidden = true;
    li.appendChild(err);
    return li;
  }

  function renderThreads() {
    var list = $("threads");
    // keep the focus where it was (a reply being written) across the re-render
    var focused = document.activeElement && list.contains(document.activeElement) ? document.activeElement.id : null;
    Collab.clear(list);
    var open = threads.filter(function (t) { return !t.resolved; });
    var done = threads.filter(function (t) { return t.resolved; });
    open.concat(done).forEach(function (t) { list.appendChild(renderThread(t)); });
    $("threads-empty").hidden = threads.length > 0;
    $("thread-count").textContent = String(open.length);
    $("thread-count").hidden = !open.length;
    $("thread-count").title = T(open.length + " 条未解决", open.length + " open");
    var again = focused && $(focused);
    if (again) {
      again.focus();
      if (again.setSelectionRange) again.setSelectionRange(again.value.length, again.value.length);
    }
    paintMarks();
  }

  var threadsTimer = null;
  function loadThreads() {
    clearTimeout(threadsTimer);
    threadsTimer = setTimeout(function () {
      api(base + "/comments").then(function (r) {
        threads = r.threads;
        showError("threads-error", null);
        renderThreads();
      }, function (err) { showError("threads-error", err); });
    }, 50);
  }

  // -- adding a comment ---------------------------------------------------------------------------
  function showSelection(sel) {
    var q = $("comment-quote");
    q.textContent = sel ? T("批注：", "On: ") + "“" + (sel.quote.length > 80 ? sel.quote.slice(0, 80) + "…" : sel.quote) + "”"
                        : T("先在文档中选中一段文字。", "Select a passage in the document first.");
    q.classList.toggle("has-selection", !!sel);
  }

  function setupCommentForm() {
    $("comment-bar").hidden = false;
    $("comment-form").hidden = false;
    showSelection(null);
    $("comment-start").onclick = function () {
      $("comment-form").scrollIntoView({ block: "nearest" });
      $("comment-body").focus();
    };
    $("comment-form").onsubmit = function (e) {
      e.preventDefault();
      var sel = editor.selection();
      var body = $("comment-body").value;
      if (!sel) { showError("comment-error", T("先在文档中选中要批注的文字", "Select the text to comment on first")); return; }
      if (!body.trim()) {
        showError("comment-error", T("请写下批注内容", "Write the comment first"));
        $("comment-body").focus();
        return;
      }
      $("comment-submit").disabled = true;
      api(base + "/comments", { method: "POST", body: JSON.stringify({ start: sel.start, end: sel.end, body: body }) })
        .then(function (c) {
          $("comment-body").value = "";
          showError("comment-error", null);
          editor.clearSelection();
          activeId = c.id;
          loadThreads();
        }, function (err) { showError("comment-error", err); })
        .then(function () { $("comment-submit").disabled = false; });
    };
  }

  // -- versions -----------------------------------------------------------------------------------
  var previewing = null;

  function renderVersions() {
    var list = $("versions");
    Collab.clear(list);
    versions.forEach(function (v) {
      var li = el("li", null, "version");
      li.dataset.id = v.id;
      li.appendChild(el("strong", v.name, "name"));
      var m = el("p", null, "meta");
      m.appendChild(document.createTextNode(v.created_by.name + " · "));
      var time = el("time", Collab.fmtTime(v.created_at));
      time.dateTime = v.created_at;
      m.appendChild(time);
      li.appendChild(m);
      var tools = el("div", null, "toolbar");
      tools.appendChild(button(T("预览", "Preview"), "preview-version", function () { preview(v); }));
      if (canEdit()) tools.appendChild(button(T("恢复…", "Restore…"), "restore-version", function () { restore(v); }));
      li.appendChild(tools);
      list.appendChild(li);
    });
    $("versions-empty").hidden = versions.length > 0;
  }

  function loadVersions() {
    return api(base + "/versions").then(function (r) {
      versions = r.versions;
      showError("versions-error", null);
      renderVersions();
    }, function (err) { showError("versions-error", err); });
  }

  function note(text) {
    $("version-note").hidden = !text;
    $("version-note").textContent = text || "";
  }

  function setupVersionForm() {
    $("version-form").hidden = false;
    $("version-form").onsubmit = function (e) {
      e.preventDefault();
      var name = $("version-name").value;
      if (!name.trim()) {
        showError("versions-error", T("请给版本起个名字", "Give the version a name"));
        $("version-name").focus();
        return;
      }
      $("version-save").disabled = true;
      api(base + "/versions", { method: "POST", body: JSON.stringify({ name: name }) }).then(function (v) {
        $("version-name").value = "";
        showError("versions-error", null);
        note(T("已保存版本 “" + v.name + "”", "Saved version “" + v.name + "”"));
        return loadVersions();
      }, function (err) { showError("versions-error", err); })
        .then(function () { $("version-save").disabled = false; });
    };
  }

  function restore(v) {
    if (!window.confirm(T("把文档恢复到版本“" + v.name + "”？之后的修改会被替换（可先保存当前版本）。",
                          "Restore the document to version “" + v.name + "”? Later changes are replaced " +
                          "(save the current text as a version first if you may need it)."))) return;
    api(base + "/versions/" + v.id + "/restore", { method: "POST" }).then(function () {
      showError("versions-error", null);
      note(T("已恢复到版本 “" + v.name + "”", "Restored version “" + v.name + "”"));
      if (previewing === v.id) $("preview").close();
      loadVersions();
      loadThreads();
    }, function (err) {
      showError("versions-error", err);
      showError("preview-error", err);
    });
  }

  // A version shown as the server's HTML export in a sandboxed frame: no scripts, no same origin,
  // never parsed into this page.
  function preview(v) {
    var dlg = $("preview");
    previewing = v.id;
    $("preview-title").textContent = v.name;
    $("preview-meta").textContent = v.created_by.name + " · " + Collab.fmtTime(v.created_at);
    $("preview-frame").srcdoc = "";
    showError("preview-error", null);
    $("preview-restore").hidden = !canEdit();
    $("preview-restore").onclick = function () { restore(v); };
    if (!dlg.open) dlg.showModal();
    api(base + "/versions/" + v.id).then(function (r) {
      if (previewing === v.id) $("preview-frame").srcdoc = r.html;
    }, function (err) { showError("preview-error", err); });
  }

  $("preview-close").onclick = function () { $("preview").close(); };
  $("preview").addEventListener("close", function () { previewing = null; });

  // -- live events ----------------------------------------------------------------------------------
  var LIVE = { online: ["在线", "online"], connecting: ["连接中", "connecting"], reconnecting: ["重连中", "reconnecting"],
               offline: ["离线", "offline"], unauthorized: ["请重新登录", "sign in again"] };
  function showLive(state) {
    var n = LIVE[state];
    $("live").textContent = n ? T(n[0], n[1]) : state;
    $("live").className = "conn " + state;
  }

  function onDocEvent(e) {
    if (!e) return;
    if (e.type === "version_saved") { loadVersions(); return; }
    if (e.type === "restored") {
      loadVersions().then(function () {
        var v = versions.filter(function (x) { return x.id === e.version_id; })[0];
        if (e.by && e.by.id !== me.id) {
          note(T(e.by.name + " 恢复了版本" + (v ? " “" + v.name + "”" : ""),
                 e.by.name + " restored " + (v ? "version “" + v.name + "”" : "a version")));
        }
      });
    }
    loadThreads();
  }

  // -- the page -------------------------------------------------------------------------------------
  // Quill's toolbar buttons are named in English by Quill: name them in the interface language
  var TOOLS = { "ql-bold": ["加粗", "Bold"], "ql-italic": ["斜体", "Italic"], "ql-underline": ["下划线", "Underline"],
                "ql-strike": ["删除线", "Strikethrough"], "ql-link": ["链接", "Link"], "ql-clean": ["清除格式", "Clear formatting"] };
  function nameToolbar() {
    document.querySelectorAll(".ql-toolbar button").forEach(function (b) {
      var n = null;
      Object.keys(TOOLS).forEach(function (c) { if (b.classList.contains(c)) n = TOOLS[c]; });
      if (b.classList.contains("ql-list")) n = b.value === "ordered" ? ["编号列表", "Numbered list"] : ["项目符号列表", "Bulleted list"];
      if (n) { b.setAttribute("aria-label", T(n[0], n[1])); b.title = T(n[0], n[1]); }
    });
    var h = document.querySelector(".ql-toolbar .ql-header .ql-picker-label");
    if (h) { h.setAttribute("aria-label", T("段落样式", "Paragraph style")); h.title = T("段落样式", "Paragraph style"); }
  }

  function readOnlyNow() {
    $("readonly").hidden = false;
    $("comment-bar").hidden = true;
    $("comment-form").hidden = true;
    $("version-form").hidden = true;
    renderThreads();
    renderVersions();
  }

  Collab.start().then(function (who) {
    me = who;
    return api(base).then(function (doc) {
      info = doc;
      $("doc-side").hidden = false;
      $("title").textContent = doc.title;          // textContent: a title is never markup
      document.title = doc.title + " · collab";
      if (doc.studio_id) $("studio-link").href = "/studios/" + doc.studio_id;
      $("readonly").hidden = doc.me.may_edit;
      function exporter(fmt) {
        return function (e) {
          e.preventDefault();
          Collab.download(base + "/export." + fmt, doc.title + "." + fmt).then(function () {
            showError("export-error", null);
          }, function (err) { showError("export-error", err); });
        };
      }
      $("export-md").onclick = exporter("md");
      $("export-html").onclick = exporter("html");
      editor = window.collabEditor = CollabEditor.open({
        el: $("editor"), docId: docId, canEdit: doc.me.may_edit,
        // before every connection a fresh single-use ticket: the sign-in token never goes in a URL
        ticket: function () { return api(base + "/ticket", { method: "POST" }).then(function (r) { return r.ticket; }); },
        user: { id: me.id, name: me.display_name },
        onStatus: Collab.showConn,
        onDenied: function (reason) {
          // the server's reason is English; say it in the interface language, keep it as the title
          $("denied").hidden = false;
          $("denied").textContent = T("修改未保存：您只能阅读此文档。文档已重新载入。",
                                      "Not saved: you may read this document but not edit it. It was loaded again.");
          $("denied").title = reason;
        },
        onReadOnly: readOnlyNow,
        onSelection: function (sel) { if (canEdit()) showSelection(sel); },
        onMarksAt: function (ids) {
          var open = ids.filter(function (id) { return threads.some(function (t) { return t.id === id && !t.resolved; }); });
          if (open.length) setActive(open[0]);
        }
      });
      nameToolbar();
      if (doc.me.may_edit) { setupCommentForm(); setupVersionForm(); }
      // the page renews its token before it expires (refresh on /ws); the editor's next ticket uses the new one
      var rt = new Realtime({ token: Collab.token, renew: Collab.renewToken, onState: showLive });
      rt.subscribe("doc:" + docId, onDocEvent, function () { loadThreads(); loadVersions(); });
      loadThreads();
      loadVersions();
    });
  }).catch(function (err) {
    $("denied").hidden = false;
    $("denied").textContent = Collab.errorText(err) || T("无法打开此文档", "This document cannot be opened.");
  });
})();
