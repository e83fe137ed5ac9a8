// The stage in the activity room: filled in by the stage view (publish, watch, lesson videos).
(function (global) {
  "use strict";
  global.CollabStage = { attach: function () { return { onEvent: function () {}, onSnapshot: function () {} }; } };
})(window);
