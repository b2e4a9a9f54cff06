// People waiting to be admitted: admit, deny, or write to them first. Admit waits for what the
// session requires (the agreement, a safety plan), and says so.

import { h, reconcile, setText, within } from './dom.js';
import { admissionMissing, hasAgreed } from './safety.js';
import { safetyBadge, setSafetyBadge } from './safety-panel.js';

export class LobbyPanel {
  /**
   * @param {import('./state.js').AppState} app
   * @param {import('./notes.js').NotesPanel} notes where "Write to" and "Message" open a message
   */
  constructor(app, notes) {
    this.app = app;
    this.notes = notes;
    /** @type {readonly import('./changes.js').Part[]} what this panel shows: it updates when one of them changed */
    this.follows = ['lobby', 'session'];
    this.heading = h('h3', {}, 'Waiting room');
    this.list = h('ul', { className: 'rows', 'data-testid': 'lobby-list' });
    this.empty = h('p', { className: 'muted' }, 'Nobody is waiting.');
    this.admitAll = h('button', { type: 'button', 'data-testid': 'admit-all', 'on:click': () => this.admitEveryone() }, 'Admit all');
    this.el = h('section', { className: 'panel compact', 'aria-label': 'Waiting room', 'data-testid': 'lobby-panel' },
      h('div', { className: 'panel-head' }, this.heading, this.empty, this.admitAll), this.list);
  }

  update() {
    const waiting = this.app.lobby.waiting ?? [];
    setText(this.heading, waiting.length ? `Waiting room (${waiting.length})` : 'Waiting room');
    this.empty.hidden = waiting.length > 0;
    this.admitAll.hidden = waiting.filter((w) => this.ready(w)).length < 2;
    const plans = Boolean(this.app.session?.requires_safety_plan);
    reconcile(this.list, waiting, (w) => w.id, (w) => this.#row(w), (li, w) => {
      setText(within(li, '.who'), w.name);
      setText(within(li, '.agreed'), hasAgreed(this.app.session, w) ? 'Agreed to the guidelines' : 'Has not yet agreed to the guidelines');
      const badge = within(li, '[data-testid="safety-badge"]');
      badge.hidden = !plans && !w.safety_shared;
      setSafetyBadge(badge, Boolean(w.safety_shared));
      const missing = admissionMissing(this.app.session, w);
      /** @type {HTMLButtonElement} */ (within(li, '.admit')).disabled = missing.length > 0;
      const why = within(li, '.why');
      why.hidden = missing.length === 0;
      setText(why, missing.length ? `You can admit ${w.name} once they have ${missing.join(' and ')}.` : '');
      li.dataset.name = w.name;
    });
  }

  /**
   * Whether `w` may be let in now (agreed and shared a plan, as the session asks).
   * @param {import('../wire').WaitingOut} w
   */
  ready(w) {
    return admissionMissing(this.app.session, w).length === 0;
  }

  /** @param {import('../wire').WaitingOut} w */
  #row(w) {
    /** @param {'admit' | 'deny'} cmd */
    const run = (cmd) => this.app.run(cmd, { id: w.id });
    const why = `admit-why-${w.id}`;
    return h('li', { className: 'row', 'data-testid': 'lobby-entry' },
      h('span', { className: 'who' }), h('span', { className: 'agreed muted' }), safetyBadge(),
      h('span', { className: 'why muted', id: why, 'data-testid': 'admit-why' }),
      h('span', { className: 'actions' },
        h('button', { type: 'button', className: 'admit primary', 'data-testid': 'admit-button', 'aria-label': `Admit ${w.name}`, 'aria-describedby': why, 'on:click': () => run('admit') }, 'Admit'),
        h('button', { type: 'button', 'aria-label': `Message ${w.name}`, 'on:click': () => this.notes.compose(w.id) }, 'Message'),
        h('button', { type: 'button', 'data-testid': 'deny-button', 'aria-label': `Deny ${w.name}`, 'on:click': () => run('deny') }, 'Deny')));
  }

  admitEveryone() {
    this.app.run('admit.all');
  }
}
