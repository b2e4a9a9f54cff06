// The session's moment at a glance: phase and time left, who holds the floor, whose turn it is; away
// from the main room, where one is, with whom, and the time left (the floor is the main room's).

import { announce, h, setText } from './dom.js';
import { TURN_WARNING_SECONDS, turnWarning } from './announcements.js';
import { clock, FLOOR_MODES, phaseLeft, secondsUntil } from './format.js';
import { describePlace, kindOf, placeKey } from './places.js';

/**
 * While the connection is lost; a member who gave a number for a dropped call is reminded of it.
 * @param {Pick<import('./safety.js').SafetyPlanKeeper, 'sentAt' | 'fields'> | null | undefined} safety
 */
export function offlineText(safety) {
  const callback = safety?.sentAt ? safety.fields?.callback?.trim() : '';
  return 'Connection lost. Reconnecting… you keep your place in the group.'
    + (callback ? ` If it does not come back, a facilitator may call you on ${callback}.` : '');
}

export class StatusStrip {
  /** @param {import('./state.js').AppState} app */
  constructor(app) {
    this.app = app;
    // The phase's name, its place in the agenda, time left and rules; a phone shows name and time only.
    this.phaseParts = [h('span'), h('span', { className: 'count' }), h('span'), h('span', { className: 'mode' })];
    this.phase = h('p', { className: 'pill', 'data-testid': 'phase-status' }, this.phaseParts);
    this.floor = h('p', { className: 'pill', 'data-testid': 'floor-status' });
    this.goAround = h('p', { className: 'pill', 'data-testid': 'goaround-status' });
    this.strict = h('p', { className: 'pill notice', 'data-testid': 'strict-notice' });
    this.place = h('p', { className: 'pill place', 'data-testid': 'place-status', hidden: true });
    this.broadcast = h('p', { className: 'pill notice broadcast', 'data-testid': 'breakout-broadcast', hidden: true });
    this.hold = h('p', { className: 'pill notice', role: 'status', 'data-testid': 'hold-notice', hidden: true },
      'The facilitator lost their connection; the session is paused until they are back.');
    this.offline = h('p', { className: 'pill notice warn', 'data-testid': 'offline-notice', hidden: true },
      'Connection lost. Reconnecting… you keep your place in the group.');
    // This page's own link: weak, or in audio-only mode, with the way in or out of that mode.
    // A phone's screen has room for the short words only (the strip must not push the floor off the top).
    this.ownText = h('span', { className: 'long' });
    this.ownShort = h('span', { className: 'short' });
    this.ownButton = h('button', { type: 'button', 'data-testid': 'audio-only-switch', 'on:click': () => app.setAudioOnly(!app.audioOnly) });
    this.own = h('p', { className: 'pill notice warn own-quality', 'data-testid': 'own-quality', hidden: true }, this.ownText, this.ownShort, this.ownButton);
    // Whether media is end-to-end encrypted, and the code to compare (the facilitator reads it out);
    // a phone shows the short words beside its self view (why not, when it is only someone else's browser).
    this.e2eeText = h('span', { className: 'long' });
    this.e2eeShort = h('span', { className: 'short' });
    this.e2ee = h('p', { className: 'pill e2ee', 'data-testid': 'e2ee-status' }, this.e2eeText, this.e2eeShort);
    this.el = h('div', { className: 'status-strip', 'aria-label': 'Session status' },
      this.offline, this.hold, this.own, this.place, this.broadcast, this.phase, this.floor, this.goAround, this.strict,
      this.e2ee);
  }

  #e2ee() {
    const { status, code } = this.app.client.e2ee;
    const lead = this.app.isFacilitator;
    /** @type {Record<string, string>} */
    const words = {
      off: 'Not end-to-end encrypted',
      unsupported: 'Not end-to-end encrypted: this browser cannot',
      waiting: 'Waiting for the encryption key…',
      clear: 'Not end-to-end encrypted: a browser or app in the session cannot',
      encrypted: `End-to-end encrypted · code ${code}${lead ? ' (read it out: members see the same)' : ''}`,
    };
    /** @type {Record<string, string>} the phone's words, where they differ */
    const short = {
      clear: 'Not end-to-end encrypted',
      encrypted: `End-to-end encrypted · code ${code}`,
    };
    setText(this.e2eeText, words[status] ?? '');
    setText(this.e2eeShort, short[status] ?? words[status] ?? '');
    this.e2ee.dataset.status = status;
    this.e2ee.dataset.code = code ?? '';
  }

  #own() {
    const { app } = this;
    const weak = app.quality.own?.quality === 'weak';
    const starved = app.videoPaused.audioOnly; // the server found this link cannot carry any video now
    this.own.hidden = !weak && !app.audioOnly && !starved;
    this.own.dataset.quality = app.quality.own?.quality ?? '';
    this.own.dataset.serverAudioOnly = String(starved);
    setText(this.ownText, app.audioOnly ? 'Audio only: no video is sent or shown. '
      : starved ? 'Your connection cannot carry video now: audio only, to keep your audio clear. '
        : 'Your connection is weak. ');
    setText(this.ownShort, app.audioOnly ? 'Audio only.' : starved ? 'Weak link: audio only.' : 'Weak link.');
    setText(this.ownButton, app.audioOnly ? 'Turn video back on' : 'Switch to audio only');
  }

  /**
   * Where one is, when that is not simply the main room, and the newest message to the groups; true in the main room.
   * @param {import('../wire').SessionStateOut} s
   */
  #place(s) {
    const { app } = this;
    const key = placeKey(s, app.you?.id);
    const line = describePlace(s, app.you?.id);
    this.place.hidden = !line;
    this.place.dataset.place = key;
    setText(this.place, line ?? '');
    this.place.classList.toggle('warn', Boolean(s.breakout?.warned) && kindOf(key) === 'group');
    const last = app.broadcasts.at(-1);
    this.broadcast.hidden = !last;
    setText(this.broadcast, last ? `To all groups from ${last.from === app.you?.id ? 'you' : last.name}: ${last.text}` : '');
    return kindOf(key) === 'main';
  }

  update() {
    const { app } = this;
    const s = app.session;
    if (!s) return;
    const phase = s.phase ?? {};
    this.offline.hidden = app.client.status === 'connected';
    this.#own();
    this.#e2ee();
    setText(this.offline, offlineText(app.safety));
    const left = phaseLeft(s);
    const total = s.agenda?.length ?? 0;
    const [name, count, time, mode] = this.phaseParts;
    setText(name, phase.name ?? 'Session');
    setText(count, total ? ` (${(phase.index ?? 0) + 1} of ${total})` : '');
    setText(time, left != null ? (left > 0 ? ` · ${clock(left)} left` : ' · time is up') : '');
    setText(mode, ` · ${FLOOR_MODES[phase.floor_mode] ?? ''}`);
    this.phase.classList.toggle('warn', left != null && left < 60);

    const inMain = this.#place(s);
    const holder = s.floor?.holder;
    const turnLeft = secondsUntil(s.floor?.ends_at);
    const mine = holder === app.you?.id;
    const length = s.floor?.ends_at != null ? s.floor.ends_at - s.floor.since : null;
    if (mine && turnWarning(turnLeft, this.warnedFor === s.floor?.since, length)) announce('One minute left in your turn');
    if (mine && turnLeft != null && turnLeft <= TURN_WARNING_SECONDS) this.warnedFor = s.floor?.since;
    const who = holder === app.you?.id ? 'You have' : `${app.nameOf(holder)} has`;
    setText(this.floor, holder ? `${who} the floor${turnLeft != null ? ` · ${clock(turnLeft)} left` : ''}` : 'Nobody has the floor');
    this.floor.classList.toggle('mine', holder === app.you?.id);
    this.floor.dataset.holder = holder ?? '';

    const g = s.go_around;
    this.goAround.hidden = !g || !inMain;
    this.floor.hidden = !inMain;
    this.floor.classList.toggle('redundant', g ? g.order?.[g.position] === holder : false); // the turn says it
    if (g) {
      const current = g.order?.[g.position];
      const gLeft = secondsUntil(g.turn_ends_at);
      setText(this.goAround, `Go-around: ${current === app.you?.id ? 'your' : `${app.nameOf(current)}'s`} turn`
        + ` (${(g.position ?? 0) + 1} of ${g.order?.length ?? 0})${gLeft != null ? ` · ${clock(gLeft)} left` : ''}`);
    }
    this.hold.hidden = !s.on_hold;
    const strict = inMain && phase.floor_mode === 'strict' && !app.isFacilitator && holder !== app.you?.id;
    this.strict.hidden = !strict;
    setText(this.strict, 'One voice at a time: others hear you when you have the floor.');
  }
}
