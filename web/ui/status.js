// The session's moment at a glance: phase and time left, who holds the floor, whose turn it is.

import { announce, h, setText } from './dom.js';
import { clock, FLOOR_MODES, phaseLeft, secondsUntil } from './format.js';

/** While the connection is lost; a member who gave a number for a dropped call is reminded of it. */
export function offlineText(safety) {
  const callback = safety?.sentAt ? safety.fields?.callback?.trim() : '';
  return 'Connection lost. Reconnecting… you keep your place in the group.'
    + (callback ? ` If it does not come back, a facilitator may call you on ${callback}.` : '');
}

export class StatusStrip {
  constructor(app) {
    this.app = app;
    this.phase = h('p', { className: 'pill', 'data-testid': 'phase-status' });
    this.floor = h('p', { className: 'pill', 'data-testid': 'floor-status' });
    this.goAround = h('p', { className: 'pill', 'data-testid': 'goaround-status' });
    this.strict = h('p', { className: 'pill notice', 'data-testid': 'strict-notice' });
    this.hold = h('p', { className: 'pill notice', role: 'status', 'data-testid': 'hold-notice', hidden: true },
      'The facilitator lost their connection; the session is paused until they are back.');
    this.offline = h('p', { className: 'pill notice warn', 'data-testid': 'offline-notice', hidden: true },
      'Connection lost. Reconnecting… you keep your place in the group.');
    this.el = h('div', { className: 'status-strip', 'aria-label': 'Session status' },
      this.offline, this.hold, this.phase, this.floor, this.goAround, this.strict);
  }

  update() {
    const { app } = this;
    const s = app.session;
    if (!s) return;
    const phase = s.phase ?? {};
    this.offline.hidden = app.client.status === 'connected';
    setText(this.offline, offlineText(app.safety));
    const left = phaseLeft(s);
    const total = s.agenda?.length ?? 0;
    setText(this.phase, `${phase.name ?? 'Session'}${total ? ` (${(phase.index ?? 0) + 1} of ${total})` : ''}`
      + `${left != null ? (left > 0 ? ` · ${clock(left)} left` : ' · time is up') : ''} · ${FLOOR_MODES[phase.floor_mode] ?? ''}`);
    this.phase.classList.toggle('warn', left != null && left < 60);

    const holder = s.floor?.holder;
    if (holder !== this.lastHolder && holder && holder === app.you?.id) announce('You have the floor');
    this.lastHolder = holder;
    const turnLeft = secondsUntil(s.floor?.ends_at);
    const who = holder === app.you?.id ? 'You have' : `${app.nameOf(holder)} has`;
    setText(this.floor, holder ? `${who} the floor${turnLeft != null ? ` · ${clock(turnLeft)} left` : ''}` : 'Nobody has the floor');
    this.floor.classList.toggle('mine', holder === app.you?.id);
    this.floor.dataset.holder = holder ?? '';

    const g = s.go_around;
    this.goAround.hidden = !g;
    if (g) {
      const current = g.order?.[g.position];
      const gLeft = secondsUntil(g.turn_ends_at);
      setText(this.goAround, `Go-around: ${current === app.you?.id ? 'your' : `${app.nameOf(current)}'s`} turn`
        + ` (${(g.position ?? 0) + 1} of ${g.order?.length ?? 0})${gLeft != null ? ` · ${clock(gLeft)} left` : ''}`);
    }
    this.hold.hidden = !s.on_hold;
    const strict = phase.floor_mode === 'strict' && !app.isFacilitator && holder !== app.you?.id;
    this.strict.hidden = !strict;
    setText(this.strict, 'One voice at a time: others hear you when you have the floor.');
  }
}
