// A member's controls: hand, their turn (finish or pass), "I relate", and a private "I need help".
// A button that cannot be used now says why in words on the page (touch screens show no tooltips).

import { announce, h, setAvailable, setText, unavailable } from './dom.js';
import { ordinal } from './format.js';
import { setIconLabel } from './icons.js';
import { kindOf, placeKey } from './places.js';
import { toast } from './toast.js';

/**
 * A bar button; pressed while unavailable, it shows why instead of acting.
 * @param {string} testid
 * @param {string} iconName
 * @param {string} text
 * @param {() => void} onClick
 * @param {Record<string, unknown>} [attrs]
 */
function button(testid, iconName, text, onClick, attrs = {}) {
  const b = h('button', { type: 'button', 'data-testid': testid, ...attrs });
  b.addEventListener('click', () => {
    if (!unavailable(b)) onClick();
    else toast(document.getElementById(b.getAttribute('aria-describedby') ?? '')?.textContent ?? '', { ms: 4000 });
  });
  setIconLabel(b, iconName, text);
  return b;
}

export class MemberControls {
  /** @param {import('./state.js').AppState} app */
  constructor(app) {
    this.app = app;
    this.hand = button('hand-button', 'hand', 'Raise hand', () => this.toggleHand(), { 'aria-pressed': 'false' });
    this.position = h('span', { className: 'queue-position', 'data-testid': 'queue-position', hidden: true });
    this.release = button('release-button', 'done', 'I am done speaking', () => this.endTurn('floor.release'), { hidden: true });
    this.pass = button('pass-button', 'pass', 'Pass my turn', () => this.endTurn('turn.pass'), { hidden: true });
    this.turnHint = h('p', { className: 'hint turn-hint', id: 'turn-hint', 'data-testid': 'turn-hint', hidden: true });
    this.nod = button('nod-button', 'heart', 'I relate', () => this.sendNod());
    this.help = button('help-button', 'help', 'I need help', () => this.askHelp(), { className: 'help' });
    this.helpSent = h('p', { className: 'hint help-sent', role: 'status', 'data-testid': 'help-sent' });
    this.why = h('p', { className: 'hint', id: 'controls-why', 'data-testid': 'controls-why', hidden: true });
    this.el = h('div', { className: 'member-controls', role: 'group', 'aria-label': 'Take part' },
      this.hand, this.release, this.pass, this.nod, this.help);
    /** Words that go with the controls: place in line, whose turn and what to do, why a button waits, help's answer. */
    this.notes = h('div', { className: 'control-notes' }, this.position, this.turnHint, this.why, this.helpSent);
    this.update();
  }

  /** @returns {Partial<import('../wire').ParticipantOut>} */
  me() {
    return this.app.participants.find((p) => p.id === this.app.you?.id) ?? {};
  }

  update() {
    const { app } = this;
    const s = app.session ?? /** @type {Partial<import('../wire').SessionStateOut>} */ ({});
    const you = app.you?.id;
    const raised = Boolean(this.me().hand_raised) || (s.queue ?? []).includes(you ?? '');
    const holder = s.floor?.holder === you;
    const away = kindOf(placeKey(s, you)) !== 'main'; // hands and nods are the main room's
    this.hand.setAttribute('aria-pressed', String(raised));
    setIconLabel(this.hand, 'hand', raised ? 'Lower hand' : 'Raise hand');
    setAvailable(this.hand, !away && !(holder && !raised), 'controls-why'); // my turn: "I am done speaking" is beside it
    const place = (s.queue ?? []).indexOf(you ?? '');
    const line = place >= 0 ? (place === 0 ? 'You are next in line' : `You are ${ordinal(place + 1)} in line`) : '';
    if (line && line !== this.position.textContent) announce(line);
    setText(this.position, line);
    this.position.hidden = !line;
    this.#turn(s, holder);
    const speaker = s.floor?.holder;
    setAvailable(this.nod, !away && Boolean(speaker) && !holder, 'controls-why'); // support is for someone else's turn
    this.#why(holder, away);
    this.#helpStatus();
  }

  /**
   * My go-around turn: one way to finish and one to pass, with a line saying which is which.
   * Holding the floor otherwise: only "I am done speaking".
   * @param {Partial<import('../wire').SessionStateOut>} s
   * @param {boolean} holder this person holds the floor
   */
  #turn(s, holder) {
    const g = s.go_around;
    const myGoAround = Boolean(g && g.order?.[g.position] === this.app.you?.id);
    this.pass.hidden = !myGoAround;
    this.release.hidden = !holder;
    setIconLabel(this.release, 'done', myGoAround ? 'I have finished' : 'I am done speaking');
    this.turnHint.hidden = !myGoAround;
    setText(this.turnHint, myGoAround
      ? 'It is your turn. Share when you are ready and press "I have finished", or pass: passing is always fine.'
      : '');
    for (const b of [this.release, this.pass]) {
      if (myGoAround) b.setAttribute('aria-describedby', 'turn-hint');
      else b.removeAttribute('aria-describedby');
    }
  }

  /** Why a button waits, in words on the page that the buttons point to. */
  /**
   * @param {boolean} holder this person holds the floor
   * @param {boolean} away this person is not in the main room
   */
  #why(holder, away) {
    const reasons = [];
    if (away) reasons.push('Raising a hand and "I relate" are for the main room: they work again when you are back.');
    else if (unavailable(this.hand)) reasons.push('You have the floor: no need to raise your hand.');
    if (!away && unavailable(this.nod)) reasons.push(holder ? '"I relate" is for someone else\'s turn.' : '"I relate" works while someone has the floor.');
    this.why.hidden = reasons.length === 0;
    setText(this.why, reasons.join(' '));
    this.el.classList.toggle('my-turn', holder);
  }

  #helpStatus() {
    const mine = this.app.help.mine;
    const text = !mine ? ''
      : mine.ack ? `${mine.ack.name} has seen your request and will reach out to you privately.`
        : 'A facilitator has been told, privately. They will reach out to you.';
    setText(this.helpSent, text);
    this.helpSent.dataset.acknowledged = String(Boolean(mine?.ack));
  }

  async toggleHand() {
    const raised = this.hand.getAttribute('aria-pressed') === 'true';
    if (await this.app.run(raised ? 'hand.lower' : 'hand.raise')) announce(raised ? 'Hand lowered' : 'Hand raised');
  }

  /** Finish or pass: these buttons then go, so focus moves to the hand (not back to the page's top). */
  /** @param {'floor.release' | 'turn.pass'} event */
  async endTurn(event) {
    const moveFocus = this.el.contains(document.activeElement);
    if (!(await this.app.run(event))) return;
    if (event === 'turn.pass') announce('You passed your turn');
    if (moveFocus) this.hand.focus();
  }

  async sendNod() {
    if (!(await this.app.run('nod'))) return;
    this.nod.classList.add('sent');
    setTimeout(() => this.nod.classList.remove('sent'), 1500);
    toast('Sent: you relate', { ms: 2000 });
  }

  /** The button stays where it is (it must never move under a finger); a second press within a few seconds is one request. */
  async askHelp() {
    if (this.asking) return;
    this.asking = true;
    await this.app.askHelp();
    setTimeout(() => { this.asking = false; }, 5000);
  }
}
