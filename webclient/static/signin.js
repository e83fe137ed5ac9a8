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
        document.getElementById("signin-error").textContent = Collab.errorText(err);
      });
  };
})();
