// How the stage talks to the server (docs/stage.md): its /ws commands, each for this activity and
// refused at once while the socket is down (the caller waits for the reconnect), and the offer, sent
// once it holds all its ICE candidates (the server takes no trickled ones).

// What a step of an outdated attempt throws: a newer one has replaced it, nothing is to be said.
export const STALE = { stale: true };

export class Signaling {
  constructor(rt, activityId) {
    this.rt = rt;
    this.activityId = activityId;
  }

  get online() { return !!(this.rt.ws && this.rt.ws.readyState === 1); }

  command(name, args) {
    if (!this.online) return Promise.reject({ code: "disconnected" });
    return this.rt.command(name, Object.assign({ activity_id: this.activityId }, args || {}));
  }

  // `source`: "camera" (the default) or "screen", a shared screen beside the camera.
  publish(offer, source) { return this.command("stage.publish", { offer: offer, source: source || "camera" }); }
  // Without a source: off the stage (camera and screen); "screen": stop sharing only.
  leave(source) { return this.command("stage.leave", source ? { source: source } : {}); }
  watch(publisherId, offer) { return this.command("stage.watch", { publisher_id: publisherId, offer: offer }); }
  // Ending a view is best effort: the server ends it anyway with the socket.
  unwatch(watchId) {
    if (this.online) this.command("stage.unwatch", { watch_id: watchId }).catch(() => {});
  }
  accept() { return this.command("stage.accept"); }
  decline() { return this.command("hand.lower"); }   // a called teacher lowers the hand to say no
  // A moderator takes someone off the stage, or with "screen" stops only their sharing.
  remove(userId, source) { return this.command("stage.remove", Object.assign({ user_id: userId }, source ? { source: source } : {})); }
  video(action, args) { return this.command("stage.video", Object.assign({ action: action }, args || {})); }
}

// The peer connection's offer with every ICE candidate in it (or what there is after 10 s).
export function negotiate(pc) {
  return pc.createOffer().then((offer) => pc.setLocalDescription(offer)).then(() => {
    if (pc.iceGatheringState === "complete") return;
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, 10000);
      pc.addEventListener("icegatheringstatechange", () => {
        if (pc.iceGatheringState === "complete") { clearTimeout(timer); resolve(); }
      });
    });
  }).then(() => ({ type: "offer", sdp: pc.localDescription.sdp }));
}
