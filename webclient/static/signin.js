// Sign in with a username and password; the token goes to localStorage (every tab of this browser
// is signed in until it expires or the user signs out), then back to the page that sent us here.
(function () {
  "use strict";
  var form = document.getElementById("signin-form");
  if (!form) return;
  form.onsubmit = function (e) {
    e.preventDefault();
    collabApi("/api/auth/login", { method: "POST",
      body: JSON.stringify({ username: form.username.value, password: form.password.value }) })
      .then(function (r) {
        Collab.setToken(r.token);
        location.href = Collab.nextPath() || "/";
      }, function (err) {
        var shown = document.getElementById("signin-error");
        shown.textContent = Collab.errorText(err);
        if (typeof err.retry_after === "number") pause(shown, err);
      });
  };

  // Throttled (429): the button rests and the message counts down until trying again can pass.
  var timer = null;
  function pause(shown, err) {
    var button = form.querySelector("button[type=submit]");
    var until = Date.now() + err.retry_after * 1000;
    clearInterval(timer);
    button.disabled = true;
    timer = setInterval(function () {
      var left = (until - Date.now()) / 1000;
      if (left > 0) {
        shown.textContent = Collab.errorText({ code: err.code, retry_after: left });
        return;
      }
      clearInterval(timer);
      button.disabled = false;
      shown.textContent = "";
    }, 1000);
  }
})();
