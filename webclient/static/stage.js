// The stage in the activity room (docs/stage.md): a video tile for everyone on stage and for the
// lesson video, going on stage with camera and microphone, an expert's invitation from the hand queue,
// taking people off the stage, and the lesson videos (upload, list, start / play / pause / seek / stop).
// Signaling is /ws (stage.publish, stage.watch, …); offers are sent once ICE gathering is complete.
// activity.js calls CollabStage.attach({rt, aid, me, snap, root, alerts}) and then, for the page's
// life, stage.onEvent(e), stage.onSnapshot(snap) and stage.onReconnect(). The invitation to the stage is
// a banner in `alerts` (the top of the room), where the teacher is looking. A tile can be enlarged to
// the stage's width or shown fullscreen. User text is textContent only.
(function (global) {
  "use strict";
  var MAX_VIEWS = 8;          // the server's limit per connection
  var LESSON = "lesson";      // the publisher id of the lesson video
  var CHECK_MS = 2000;        // how often views are checked for a picture that stopped
  var STALE = { stale: true };

  var T = global.Collab.T, el = global.Collab.el, button = global.Collab.button;

  var ERRORS = {
    not_on_stage: ["对方已不在台上", "Not on the stage any more"],
    too_many_views: ["同时最多观看 8 路画面", "At most 8 videos at once"],
    not_invited: ["邀请已失效", "The invitation is no longer valid"],
    wrong_codec: ["课例视频只支持 MP4（H.264）或 WebM（VP8）", "Lesson videos are MP4 (H.264) or WebM (VP8)"],
    invalid: ["请求无效", "The request was refused as invalid"]
  };
  function errText(err) {
    var n = err && ERRORS[err.code];
    return n ? T(n[0], n[1]) : global.Collab.errorText(err);
  }
  function deviceError(err) {
    var name = err && err.name;
    if (name === "NotAllowedError" || name === "SecurityError")
      return T("浏览器拒绝使用摄像头和麦克风。请在地址栏的网站设置中允许后重试。",
               "The browser refused the camera and microphone. Allow them in the site settings and try again.");
    if (name === "NotFoundError" || name === "OverconstrainedError")
      return T("没有找到可用的摄像头或麦克风。", "No camera or microphone was found.");
    if (name === "NotReadableError" || name === "AbortError")
      return T("摄像头或麦克风正被其他程序占用。", "The camera or microphone is in use by another program.");
    return T("无法使用摄像头和麦克风", "The camera and microphone cannot be used") + (err && err.message ? T("：", ": ") + err.message : "");
  }
  function clock(seconds) {
    seconds = Math.max(0, Math.floor(seconds || 0));
    return Math.floor(seconds / 60) + ":" + String(seconds % 60).padStart(2, "0");
  }
  function sizeText(bytes) { return (bytes / 1048576).toFixed(1) + " MB"; }

  // The offer is sent once it holds all its ICE candidates (the server takes no trickled ones).
  function negotiate(pc) {
    return pc.createOffer().then(function (offer) { return pc.setLocalDescription(offer); }).then(function () {
      if (pc.iceGatheringState === "complete") return;
      return new Promise(function (resolve) {
        var timer = setTimeout(resolve, 10000);
        pc.addEventListener("icegatheringstatechange", function () {
          if (pc.iceGatheringState === "complete") { clearTimeout(timer); resolve(); }
        });
      });
    }).then(function () { return { type: "offer", sdp: pc.localDescription.sdp }; });
  }

  function attach(o) {
    var rt = o.rt, aid = o.aid, me = o.me || {}, root = o.root;
    var may = {}, roles = [], state = null;
    var byNode = {};   // node -> the latest on_stage list of that node
    var roster = {};   // user id -> name, from the snapshot, until a node's list names them
    var views = {};    // publisher id -> {pid, gen, pc, watchId, tile, video, …}
    var pub = null;    // my publication: {stream, pc, gen, live}
    var invited = false;
    var lesson = null; // the lesson video's entry of a `stage` event, with `at` (when it was heard)
    var videos = null; // the uploaded lesson videos, once listed

    function online() { return rt.ws && rt.ws.readyState === 1; }
    function cmd(name, args) {
      if (!online()) return Promise.reject({ code: "disconnected" });
      return rt.command(name, Object.assign({ activity_id: aid }, args || {}));
    }

    // -- the frame ------------------------------------------------------------------------------
    global.Collab.clear(root);
    var head = el("div", null, "stage-head");
    head.appendChild(el("h2", T("舞台", "Stage")));
    var countEl = head.appendChild(el("span", "", "muted stage-count"));
    root.appendChild(head);
    var alertEl = root.appendChild(el("p", "", "error stage-alert"));
    alertEl.setAttribute("role", "alert");
    alertEl.hidden = true;
    var statusEl = root.appendChild(el("p", "", "notice stage-status"));
    statusEl.setAttribute("role", "status");
    statusEl.hidden = true;

    var inviteEl = (o.alerts || root).appendChild(el("div", null, "banner invite stage-invite"));
    inviteEl.setAttribute("role", "group");
    inviteEl.hidden = true;
    inviteEl.appendChild(el("strong", T("上台邀请", "On stage"), "banner-label"));
    inviteEl.appendChild(el("span", T("专家邀请您上台发言", "An expert invites you on stage"), "banner-text stage-invite-text")).id = "stage-invite-text";
    inviteEl.setAttribute("aria-labelledby", "stage-invite-text");
    var acceptBtn = inviteEl.appendChild(button(T("接受并上台", "Accept"), "stage-accept", acceptInvite));
    inviteEl.appendChild(button(T("谢绝", "Decline"), "stage-decline", declineInvite));

    var controls = root.appendChild(el("div", null, "toolbar stage-controls"));
    controls.hidden = true;
    var goBtn = controls.appendChild(button(T("上台（摄像头和麦克风）", "Go on stage (camera and microphone)"), "stage-go", goOnStage));
    var leaveBtn = controls.appendChild(button(T("下台", "Leave the stage"), "stage-leave", leaveStage));
    var micBtn = controls.appendChild(button(T("关闭麦克风", "Mute microphone"), "stage-mic", function () { toggle("audio"); }));
    var camBtn = controls.appendChild(button(T("关闭摄像头", "Camera off"), "stage-cam", function () { toggle("video"); }));
    micBtn.setAttribute("aria-pressed", "false");
    camBtn.setAttribute("aria-pressed", "false");

    var tiles = root.appendChild(el("div", null, "stage-tiles"));
    var emptyEl = root.appendChild(el("p", T("台上暂时没有人。", "Nobody is on the stage yet."), "muted stage-empty"));
    var moreEl = root.appendChild(el("p", "", "muted stage-more"));
    moreEl.hidden = true;

    // the lesson video's controls (for those who may put media on stage)
    var lessonBox = root.appendChild(el("div", null, "stage-lesson-controls"));
    lessonBox.setAttribute("role", "group");
    lessonBox.setAttribute("aria-label", T("课例视频控制", "Lesson video controls"));
    lessonBox.hidden = true;
    var lessonTitle = lessonBox.appendChild(el("span", "", "lesson-now"));
    var lessonTime = lessonBox.appendChild(el("span", "", "muted lesson-time"));
    var playBtn = lessonBox.appendChild(button(T("暂停", "Pause"), "lesson-play", function () {
      videoCmd(lesson && lesson.video && lesson.video.state === "playing" ? "pause" : "play");
    }));
    var seekLabel = lessonBox.appendChild(el("label", null, "inline lesson-seek"));
    seekLabel.appendChild(el("span", T("跳到（秒）", "Go to (s)")));
    var seekInput = seekLabel.appendChild(el("input"));
    seekInput.type = "number"; seekInput.min = "0"; seekInput.step = "1"; seekInput.value = "0";
    lessonBox.appendChild(button(T("跳转", "Seek"), "lesson-seek-go", function () {
      var p = Number(seekInput.value);
      if (!(p >= 0)) { showError(T("请输入秒数", "Enter a number of seconds")); return; }
      videoCmd("seek", { position: p });
    }));
    lessonBox.appendChild(button(T("停止播放", "Stop"), "lesson-stop", function () { videoCmd("stop"); }));

    // the lesson videos of the activity (organizer, hosts, presenters)
    var library = root.appendChild(el("div", null, "stage-library"));
    library.hidden = true;
    library.appendChild(el("h3", T("课例视频", "Lesson videos")));
    var form = library.appendChild(el("form", null, "stage-upload"));
    var fileLabel = form.appendChild(el("label"));
    fileLabel.appendChild(el("span", T("视频文件（MP4 或 WebM）", "Video file (MP4 or WebM)")));
    var fileInput = fileLabel.appendChild(el("input"));
    fileInput.type = "file"; fileInput.name = "file"; fileInput.required = true;
    fileInput.accept = "video/mp4,video/webm,.mp4,.webm";
    var titleLabel = form.appendChild(el("label"));
    titleLabel.appendChild(el("span", T("标题", "Title")));
    var titleInput = titleLabel.appendChild(el("input"));
    titleInput.name = "title"; titleInput.maxLength = 200; titleInput.autocomplete = "off";
    var uploadBtn = form.appendChild(el("button", T("上传", "Upload")));
    uploadBtn.type = "submit";
    var uploadStatus = form.appendChild(el("span", "", "muted stage-upload-status"));
    uploadStatus.setAttribute("role", "status");
    var videoList = library.appendChild(el("ul", null, "stage-videos"));
    form.addEventListener("submit", upload);

    function showError(text) { alertEl.textContent = text || ""; alertEl.hidden = !text; }
    // say(text, passing): the stage's status line. A passing one ("you left the stage") is a
    // confirmation that goes stale: it clears itself, and anything the stage says next replaces it.
    var said = 0;
    function say(text, passing) {
      statusEl.textContent = text || ""; statusEl.hidden = !text;
      var n = ++said;
      if (text && passing) setTimeout(function () { if (said === n) say(""); }, 8000);
    }
    function publishRole() {
      return !!(may.may_publish || may.may_run || roles.some(function (r) { return r === "host" || r === "expert" || r === "presenter"; }));
    }
    function stageOpen() { return state === "lobby" || state === "live"; }

    // -- who is on stage ----------------------------------------------------------------------
    function onStage() {  // [{id, name, tracks, video}] in a stable order: the lesson video first
      var out = [], seen = {};
      function add(id, item) { if (seen[id]) return; seen[id] = true; out.push(item); }
      var nodes = Object.keys(byNode).sort();
      nodes.forEach(function (n) {
        byNode[n].forEach(function (p) { if (p.user_id === LESSON) add(LESSON, { id: LESSON, name: p.name, tracks: p.tracks, video: p.video, at: p.at }); });
      });
      nodes.forEach(function (n) {
        byNode[n].forEach(function (p) { if (p.user_id !== LESSON) add(p.user_id, { id: p.user_id, name: p.name, tracks: p.tracks }); });
      });
      Object.keys(roster).forEach(function (k) { add(Number(k), { id: Number(k), name: roster[k] }); });
      return out;
    }

    function render() {
      var list = onStage(), want = {}, shown = 0, hidden = 0;
      lesson = null;
      list.forEach(function (p) {
        if (p.id === LESSON) lesson = p;
        if (p.id === me.id) return;   // my own picture is the local preview
        if (shown >= MAX_VIEWS) { hidden++; return; }
        shown++;
        want[p.id] = p;
      });
      Object.keys(views).forEach(function (k) {
        var v = views[k];
        if (!want[v.pid]) unwatch(v);
      });
      Object.keys(want).forEach(function (k) {
        var p = want[k], v = views[p.id];
        if (!v) watch(p);
        else {
          if (v.name !== p.name) { if (v.pid === LESSON && v.name !== undefined) restart(v); setName(v, p.name); }
        }
      });
      // the local preview, first
      var mine = tiles.querySelector(".tile.mine");
      if (pub && !mine) tiles.insertBefore(localTile(), tiles.firstChild);
      if (!pub && mine) mine.remove();
      // the order of tiles: the lesson video, then as listed
      var order = list.map(function (p) { return views[p.id] && views[p.id].tile; }).filter(Boolean);
      order.forEach(function (t) { tiles.appendChild(t); });
      var people = list.filter(function (p) { return p.id !== LESSON; }).length + (pub && !list.some(function (p) { return p.id === me.id; }) ? 1 : 0);
      countEl.textContent = people ? T("台上 " + people + " 人", people + " on stage") : "";
      emptyEl.hidden = tiles.children.length > 0;
      moreEl.hidden = !hidden;
      moreEl.textContent = T("另有 " + hidden + " 路画面未显示（同时最多 " + MAX_VIEWS + " 路）",
                             hidden + " more not shown (at most " + MAX_VIEWS + " at once)");
      renderControls();
      renderLesson();
      root.classList.toggle("watching", Object.keys(views).length > 0 && controls.hidden && library.hidden && lessonBox.hidden);
    }

    function renderControls() {
      var can = (publishRole() || invited) && stageOpen();
      controls.hidden = !(can || pub);
      goBtn.hidden = !!pub || !can;
      leaveBtn.hidden = micBtn.hidden = camBtn.hidden = !pub;
      goBtn.disabled = false;
      if (pub) {
        var a = pub.stream.getAudioTracks()[0], v = pub.stream.getVideoTracks()[0];
        micBtn.hidden = !a; camBtn.hidden = !v;
        var micOff = a && !a.enabled, camOff = v && !v.enabled;
        micBtn.textContent = micOff ? T("打开麦克风", "Unmute microphone") : T("关闭麦克风", "Mute microphone");
        camBtn.textContent = camOff ? T("打开摄像头", "Camera on") : T("关闭摄像头", "Camera off");
        micBtn.setAttribute("aria-pressed", micOff ? "true" : "false");
        camBtn.setAttribute("aria-pressed", camOff ? "true" : "false");
      }
      library.hidden = !may.may_upload_media;
      if (!library.hidden && videos === null) listVideos();
    }

    function renderLesson() {
      var v = lesson && lesson.video;
      lessonBox.hidden = !(v && publishRole() && stageOpen());
      if (!v) return;
      lessonTitle.textContent = T("正在播放：", "On stage: ") + lesson.name;
      playBtn.textContent = v.state === "playing" ? T("暂停", "Pause") : T("播放", "Play");
      tickLesson();
      if (document.activeElement !== seekInput) seekInput.max = String(Math.floor(v.duration || 0));
    }
    function lessonPosition() {
      var v = lesson && lesson.video;
      if (!v) return 0;
      var p = v.position + (v.state === "playing" ? (Date.now() - lesson.at) / 1000 : 0);
      return v.duration ? Math.min(p, v.duration) : p;
    }
    function tickLesson() {
      var v = lesson && lesson.video;
      if (!v) return;
      lessonTime.textContent = clock(lessonPosition()) + " / " + clock(v.duration) +
        (v.state === "playing" ? "" : " · " + T("已暂停", "paused"));
    }

    // -- watching -----------------------------------------------------------------------------
    function makeTile(v, p) {
      var tile = el("div", null, "tile" + (v.pid === LESSON ? " lesson" : ""));
      tile.dataset.publisher = String(v.pid);
      tile.setAttribute("role", "group");
      var video = tile.appendChild(el("video"));
      video.autoplay = true; video.playsInline = true; video.muted = true;
      video.setAttribute("playsinline", "");
      var bar = tile.appendChild(el("div", null, "tile-bar"));
      v.nameEl = bar.appendChild(el("span", "", "tile-name"));
      v.stateEl = bar.appendChild(el("span", "", "muted tile-state"));
      var sound = bar.appendChild(button(T("打开声音", "Unmute"), "tile-unmute", function () {
        video.muted = !video.muted;
        if (!video.muted) video.play().catch(function () {});
        sound.textContent = video.muted ? T("打开声音", "Unmute") : T("静音", "Mute");
        sound.setAttribute("aria-pressed", video.muted ? "false" : "true");
      }));
      sound.setAttribute("aria-pressed", "false");
      var big = bar.appendChild(button(T("放大", "Enlarge"), "tile-big", function () {
        var on = tile.classList.toggle("big");
        big.textContent = on ? T("还原", "Restore") : T("放大", "Enlarge");
        big.setAttribute("aria-pressed", on ? "true" : "false");
        setName(v, v.name);
        if (on) tile.scrollIntoView({ block: "nearest" });
      }));
      big.setAttribute("aria-pressed", "false");
      var full = bar.appendChild(button(T("全屏", "Fullscreen"), "tile-full", function () {
        if (document.fullscreenElement === tile) { document.exitFullscreen(); return; }
        if (tile.requestFullscreen) tile.requestFullscreen().catch(function () { video.requestFullscreen && video.requestFullscreen(); });
      }));
      full.hidden = !document.fullscreenEnabled;
      tile.addEventListener("fullscreenchange", function () {
        full.textContent = document.fullscreenElement === tile ? T("退出全屏", "Exit fullscreen") : T("全屏", "Fullscreen");
      });
      if (v.pid !== LESSON && may.may_manage_stage) {
        bar.appendChild(button(T("请下台", "Take off stage"), "tile-remove", function () {
          cmd("stage.remove", { user_id: v.pid }).then(function () {
            say(T("已请 " + v.name + " 下台", v.name + " was taken off the stage"), true);
          }, function (err) { showError(errText(err)); });
        }));
      }
      v.tile = tile; v.video = video; v.sound = sound; v.big = big; v.full = full;
      setName(v, p.name);
      return tile;
    }
    function setName(v, name) {
      v.name = name;
      var label = v.pid === LESSON ? T("课例视频：", "Lesson video: ") + name : name;
      v.nameEl.textContent = label;
      v.tile.setAttribute("aria-label", label);
      v.sound.setAttribute("aria-label", (v.video.muted ? T("打开声音：", "Unmute: ") : T("静音：", "Mute: ")) + label);
      v.big.setAttribute("aria-label", (v.tile.classList.contains("big") ? T("还原：", "Restore: ") : T("放大：", "Enlarge: ")) + label);
      v.full.setAttribute("aria-label", T("全屏：", "Fullscreen: ") + label);
    }
    function setTileState(v, text) { v.stateEl.textContent = text || ""; }

    function watch(p) {
      var v = views[p.id] = { pid: p.id, gen: 0, failures: 0 };
      tiles.appendChild(makeTile(v, p));
      start(v);
    }
    function dropPc(v, tellServer) {
      clearTimeout(v.retryTimer);
      if (tellServer && v.watchId && online()) cmd("stage.unwatch", { watch_id: v.watchId }).catch(function () {});
      v.watchId = null;
      if (v.pc) { try { v.pc.close(); } catch (e) { /* already closed */ } }
      v.pc = null;
    }
    function restart(v) { start(v, true); }
    function start(v, tellServer) {
      var gen = ++v.gen;
      dropPc(v, tellServer);
      v.bytes = -1; v.still = 0;
      setTileState(v, T("连接中…", "Connecting…"));
      if (!online()) { setTileState(v, T("等待重连…", "Waiting for the connection…")); return; }
      var pc = v.pc = new RTCPeerConnection();
      pc.addTransceiver("video", { direction: "recvonly" });
      pc.addTransceiver("audio", { direction: "recvonly" });
      var stream = new MediaStream();
      v.video.srcObject = stream;
      pc.ontrack = function (ev) {
        if (gen !== v.gen) return;
        stream.addTrack(ev.track);
        v.video.play().catch(function () { /* autoplay refused: the element is muted, so rarely */ });
      };
      pc.onconnectionstatechange = function () {
        if (gen !== v.gen) return;
        var s = pc.connectionState;
        if (s === "connected") { v.failures = 0; setTileState(v, ""); }
        else if (s === "failed" || s === "closed") { setTileState(v, T("重新连接画面…", "Reconnecting the video…")); retry(v, gen, 300); }
        else if (s === "disconnected") retry(v, gen, 3000, true);
      };
      negotiate(pc).then(function (offer) {
        if (gen !== v.gen) throw STALE;
        return cmd("stage.watch", { publisher_id: v.pid, offer: offer });
      }).then(function (r) {
        if (gen !== v.gen) { if (online()) cmd("stage.unwatch", { watch_id: r.watch_id }).catch(function () {}); throw STALE; }
        v.watchId = r.watch_id;
        v.video.dataset.watchId = r.watch_id;
        return pc.setRemoteDescription(r.answer);
      }).catch(function (err) {
        if (err === STALE || gen !== v.gen) return;
        if (err && err.code === "disconnected") { setTileState(v, T("等待重连…", "Waiting for the connection…")); return; }
        if (err && err.code === "not_on_stage") {
          if (roster[v.pid] !== undefined && v.failures >= 2) { delete roster[v.pid]; render(); return; }
          setTileState(v, T("等待画面…", "Waiting for the picture…"));
          retry(v, gen, 1500);
          return;
        }
        setTileState(v, errText(err));
        if (!(err && err.code === "too_many_views")) retry(v, gen, 3000);
      });
    }
    function retry(v, gen, ms, onlyIfStillDown) {
      clearTimeout(v.retryTimer);
      var delay = Math.min(ms * Math.pow(2, v.failures), 15000);
      v.retryTimer = setTimeout(function () {
        if (views[v.pid] !== v || gen !== v.gen) return;
        if (onlyIfStillDown && v.pc && v.pc.connectionState === "connected") return;
        v.failures++;
        start(v, true);
      }, delay);
    }
    function unwatch(v) {
      v.gen++;
      dropPc(v, true);
      if (v.tile) v.tile.remove();
      delete views[v.pid];
    }

    // A view whose media stopped (the publisher republished, the lesson video was restarted, or the
    // path died without the peer connection noticing yet) is established again.
    function check() {
      Object.keys(views).forEach(function (k) {
        var v = views[k], pc = v.pc, gen = v.gen;
        if (!pc || !v.watchId || pc.connectionState !== "connected") return;
        pc.getStats().then(function (report) {
          if (gen !== v.gen) return;
          var bytes = 0;
          report.forEach(function (s) { if (s.type === "inbound-rtp") bytes += s.bytesReceived || 0; });
          var paused = v.pid === LESSON && lesson && lesson.video && lesson.video.state !== "playing";
          if (bytes > v.bytes || paused) { v.still = 0; if (v.bytes >= 0 || bytes > 0) setTileState(v, ""); }
          else if (++v.still >= 3) { setTileState(v, T("重新连接画面…", "Reconnecting the video…")); start(v, true); return; }
          v.bytes = bytes;
        }, function () {});
      });
      if (lesson && lesson.video) tickLesson();
    }
    var checker = setInterval(check, CHECK_MS);

    // -- publishing ---------------------------------------------------------------------------
    function localTile() {
      var tile = el("div", null, "tile mine");
      tile.dataset.publisher = String(me.id);
      tile.setAttribute("role", "group");
      var label = (me.display_name || "") + T("（我）", " (you)");
      tile.setAttribute("aria-label", label);
      var video = tile.appendChild(el("video"));
      video.autoplay = true; video.playsInline = true; video.muted = true;
      video.setAttribute("playsinline", "");
      video.srcObject = pub.stream;
      var bar = tile.appendChild(el("div", null, "tile-bar"));
      bar.appendChild(el("span", label, "tile-name"));
      pub.stateEl = bar.appendChild(el("span", pub.live ? T("直播中", "live") : T("连接中…", "Connecting…"), "muted tile-state"));
      return tile;
    }
    function setPubState(text) { if (pub && pub.stateEl) pub.stateEl.textContent = text; }

    function goOnStage() {
      showError("");
      if (pub) return;
      if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
        showError(T("此浏览器无法使用摄像头（需要 HTTPS 连接）。", "This browser cannot use a camera here (an HTTPS connection is needed)."));
        return;
      }
      goBtn.disabled = true;
      say(T("正在打开摄像头和麦克风…", "Opening the camera and microphone…"));
      navigator.mediaDevices.getUserMedia({ video: { width: { ideal: 640 }, height: { ideal: 480 }, frameRate: { ideal: 30 } }, audio: true })
        .then(function (stream) {
          say("");
          pub = { stream: stream, pc: null, gen: 0, live: false };
          render();
          publish();
        }, function (err) {
          say("");
          goBtn.disabled = false;
          showError(deviceError(err));
        });
    }
    function publish() {
      if (!pub) return;
      var p = pub, gen = ++p.gen;
      if (p.pc) { try { p.pc.close(); } catch (e) { /* closed */ } }
      p.live = false;
      setPubState(T("连接中…", "Connecting…"));
      if (!online()) { setPubState(T("等待重连…", "Waiting for the connection…")); return; }
      var pc = p.pc = new RTCPeerConnection();
      p.stream.getTracks().forEach(function (t) { pc.addTransceiver(t, { direction: "sendonly", streams: [p.stream] }); });
      pc.onconnectionstatechange = function () {
        if (pub !== p || gen !== p.gen) return;
        var s = pc.connectionState;
        if (s === "connected") { p.live = true; setPubState(T("直播中", "live")); }
        else if (s === "failed") { setPubState(T("重新连接…", "Reconnecting…")); setTimeout(function () { if (pub === p && gen === p.gen) publish(); }, 1000); }
      };
      negotiate(pc).then(function (offer) {
        if (pub !== p || gen !== p.gen) throw STALE;
        return cmd("stage.publish", { offer: offer });
      }).then(function (r) {
        if (pub !== p || gen !== p.gen) throw STALE;
        return pc.setRemoteDescription(r.answer);
      }).then(function () {
        say(T("您已在台上。", "You are on the stage."));
      }).catch(function (err) {
        if (err === STALE || pub !== p || gen !== p.gen) return;
        if (err && err.code === "disconnected") { setPubState(T("等待重连…", "Waiting for the connection…")); return; }
        stopPublishing();
        showError(T("上台失败：", "Could not go on stage: ") + errText(err));
      });
    }
    function stopPublishing() {
      if (!pub) return;
      var p = pub;
      pub = null;
      p.gen++;
      p.stream.getTracks().forEach(function (t) { t.stop(); });
      if (p.pc) { try { p.pc.close(); } catch (e) { /* closed */ } }
      render();
    }
    function leaveStage() {
      showError("");
      var wasOn = !!pub;
      stopPublishing();
      if (invited) invited = false;
      render();
      if (!wasOn) return;
      cmd("stage.leave").then(function () { say(T("您已下台。", "You left the stage."), true); }, function (err) {
        if (err && (err.code === "not_on_stage" || err.code === "disconnected")) { say(T("您已下台。", "You left the stage."), true); return; }
        showError(errText(err));
      });
    }
    function toggle(kind) {
      if (!pub) return;
      var t = kind === "audio" ? pub.stream.getAudioTracks()[0] : pub.stream.getVideoTracks()[0];
      if (t) t.enabled = !t.enabled;
      renderControls();
    }

    // -- the invitation -------------------------------------------------------------------------
    function acceptInvite() {
      showError("");
      acceptBtn.disabled = true;
      cmd("stage.accept").then(function () {
        acceptBtn.disabled = false;
        inviteEl.hidden = true;
        invited = true;
        render();
        goOnStage();
      }, function (err) {
        acceptBtn.disabled = false;
        inviteEl.hidden = true;
        showError(errText(err));
      });
    }
    function declineInvite() {
      inviteEl.hidden = true;
      cmd("hand.lower").catch(function () {});  // the expert's desk hears the answer
      say(T("您谢绝了上台邀请。", "You declined the invitation."), true);
    }

    // -- lesson videos ----------------------------------------------------------------------------
    function listVideos() {
      videos = videos || [];
      return global.collabApi("/api/activities/" + aid + "/lesson-videos").then(function (r) {
        videos = r.videos || [];
        renderVideos();
      }, function (err) { showError(errText(err)); });
    }
    function renderVideos() {
      global.Collab.clear(videoList);
      if (!videos.length) videoList.appendChild(el("li", T("还没有上传课例视频。", "No lesson videos uploaded yet."), "muted"));
      videos.forEach(function (v) {
        var li = el("li");
        li.dataset.videoId = String(v.id);
        li.appendChild(el("span", v.title, "video-title"));
        li.appendChild(el("span", " · " + sizeText(v.size), "muted"));
        if (publishRole() && stageOpen()) {
          var b = li.appendChild(button(T("在舞台播放", "Play on stage"), "video-start", function () {
            videoCmd("start", { video_id: v.id });
          }));
          b.setAttribute("aria-label", T("在舞台播放：", "Play on stage: ") + v.title);
        }
        videoList.appendChild(li);
      });
    }
    function upload(ev) {
      ev.preventDefault();
      showError("");
      var file = fileInput.files && fileInput.files[0];
      if (!file) { showError(T("请选择一个视频文件", "Choose a video file")); return; }
      var body = new FormData();
      body.append("file", file);
      if (titleInput.value.trim()) body.append("title", titleInput.value.trim());
      uploadBtn.disabled = true;
      uploadStatus.textContent = T("上传中…", "Uploading…");
      fetch("/api/activities/" + aid + "/lesson-videos", {
        method: "POST", body: body, headers: { Authorization: "Bearer " + global.Collab.token() }
      }).then(function (r) {
        return r.json().then(function (b) { if (!r.ok) throw b.error; return b; },
          function () { throw { code: r.status === 413 ? "too_large" : "http_" + r.status, message: r.statusText }; });
      }, function () { throw { code: "disconnected", message: "network error" }; }).then(function (v) {
        uploadBtn.disabled = false;
        uploadStatus.textContent = T("已上传：", "Uploaded: ") + v.title;
        form.reset();
        videos = (videos || []).concat([v]);
        renderVideos();
      }, function (err) {
        uploadBtn.disabled = false;
        uploadStatus.textContent = "";
        showError(T("上传失败：", "Upload failed: ") + errText(err));
      });
    }
    function videoCmd(action, args) {
      showError("");
      cmd("stage.video", Object.assign({ action: action }, args || {})).then(function (r) {
        if (!r.video) return;  // the `stage` event that follows says what changed
        Object.keys(byNode).forEach(function (n) {
          byNode[n].forEach(function (p) { if (p.user_id === LESSON) { p.video = r.video; p.at = Date.now(); } });
        });
        render();
      }, function (err) { showError(errText(err)); });
    }

    // -- what activity.js tells the stage ------------------------------------------------------
    function takeSnapshot(s) {
      if (!s) return;
      may = s.me || {};
      roles = may.roles || [];
      if (s.activity) state = s.activity.state;
      roster = {};
      var named = {};
      Object.keys(byNode).forEach(function (n) { byNode[n].forEach(function (p) { named[p.user_id] = true; }); });
      (s.stage || []).forEach(function (p) { if (!named[p.user_id]) roster[p.user_id] = p.name; });
      if (!stageOpen()) closeStage();
      // an invitation outlives a reload: the snapshot says a called hand is waiting to come up
      if (may.invited_on_stage && !pub && stageOpen()) inviteEl.hidden = false;
      render();
      if (videos !== null && !library.hidden) renderVideos();
    }
    function closeStage() {
      byNode = {};
      roster = {};
      stopPublishing();
      invited = false;
      inviteEl.hidden = true;
    }

    function onEvent(e) {
      if (!e || !e.type) return;
      switch (e.type) {
        case "stage": {
          var list = (e.on_stage || []).map(function (p) {
            if (p.user_id !== LESSON) delete roster[p.user_id];
            return p;
          });
          byNode[e.node || "_"] = list;
          list.forEach(function (p) { if (p.user_id === LESSON) p.at = Date.now(); });
          render();
          return;
        }
        case "hand_called":
          if (e.user_id === me.id) {
            showError("");
            inviteEl.hidden = false;
            say("");
            acceptBtn.focus();
          }
          return;
        case "stage_removed":
          delete roster[e.user_id];
          if (e.user_id === me.id) {
            invited = false;
            inviteEl.hidden = true;
            stopPublishing();
            say(T("主持人已请您下台。", "You were taken off the stage."), true);
          }
          render();
          return;
        case "lobby_opened": state = "lobby"; render(); if (videos !== null) renderVideos(); return;
        case "started": state = "live"; render(); if (videos !== null) renderVideos(); return;
        case "ended": case "archived": case "cancelled":
          state = e.type === "cancelled" ? "cancelled" : e.type;
          closeStage();
          render();
          if (videos !== null) renderVideos();
          say(T("活动已结束，舞台已关闭。", "The activity has ended; the stage is closed."));
          return;
      }
    }

    function onReconnect() {
      // the server closed this socket's views and publication with it: establish them again
      Object.keys(views).forEach(function (k) { var v = views[k]; v.watchId = null; v.failures = 0; start(v, false); });
      if (pub) publish();
    }

    takeSnapshot(o.snap);
    return {
      onEvent: onEvent,
      onSnapshot: takeSnapshot,
      onReconnect: onReconnect,
      detach: function () {
        clearInterval(checker);
        Object.keys(views).forEach(function (k) { unwatch(views[k]); });
        stopPublishing();
      }
    };
  }

  global.CollabStage = { attach: attach };
})(window);
