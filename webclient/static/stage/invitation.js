// The invitation to the stage: a banner in the room's alerts (the top of the room, where the teacher
// is looking), shown when an expert calls this teacher's hand (or on a reload while the call stands),
// its Accept button focused so Enter answers. Accept: `stage.accept`, then the stage goes on;
// decline: the hand goes down, which the experts' desk hears as a no.
import { errText } from "./words.js";

const { T, el, button } = window.Collab;

export class Invitation {
  // `accepted()`: the server took the acceptance.
  constructor(where, signaling, notices, accepted) {
    this.signaling = signaling;
    this.notices = notices;
    this.accepted = accepted;
    const banner = this.el = where.appendChild(el("div", null, "banner invite stage-invite"));
    banner.setAttribute("role", "group");
    banner.hidden = true;
    banner.appendChild(el("strong", T("上台邀请", "On stage"), "banner-label"));
    banner.appendChild(el("span", T("专家邀请您上台发言", "An expert invites you on stage"), "banner-text stage-invite-text")).id = "stage-invite-text";
    banner.setAttribute("aria-labelledby", "stage-invite-text");
    this.acceptBtn = banner.appendChild(button(T("接受并上台", "Accept"), "stage-accept", () => this.accept()));
    banner.appendChild(button(T("谢绝", "Decline"), "stage-decline", () => this.decline()));
  }

  // An expert called this teacher: the banner, the focus on Accept, the stage's old lines gone.
  called() {
    this.notices.error("");
    this.el.hidden = false;
    this.notices.say("");
    this.acceptBtn.focus();
  }
  show() { this.el.hidden = false; }
  hide() { this.el.hidden = true; }

  accept() {
    this.notices.error("");
    this.acceptBtn.disabled = true;
    this.signaling.accept().then(() => {
      this.acceptBtn.disabled = false;
      this.hide();
      this.accepted();
    }, (err) => {
      this.acceptBtn.disabled = false;
      this.hide();
      this.notices.error(errText(err));
    });
  }

  decline() {
    this.hide();
    this.signaling.decline().catch(() => {});   // the expert's desk hears the answer
    this.notices.say(T("您谢绝了上台邀请。", "You declined the invitation."), true);
  }
}
