// The talking stick: who holds the floor, who is next, and the go-around. The raised hands
// themselves are the top of the roster, in queue order, each one click from the floor.

import { h, setText } from './dom.js';
import { clock, secondsUntil } from './format.js';

export class FloorPanel {
  /** @param {import('./state.js').AppState} app */
  constructor(app) {
    this.app = app;
    /** @type {readonly import('./changes.js').Part[]} what this panel shows: it updates when one of them changed */
    this.follows = ['floor', 'participants', 'session'];
    this.holder = h('p', { 'data-testid': 'console-floor' });
    this.release = h('button', { type: 'button', 'data-testid': 'floor-release', 'on:click': () => app.run('floor.release') }, 'End turn');
    this.next = h('button', { type: 'button', className: 'primary', 'data-testid': 'floor-next', 'on:click': () => app.run('floor.next') }, 'Next in queue');
    this.nextUp = h('p', { className: 'muted', 'data-testid': 'queue-next' });
    this.turnSeconds = h('input', { type: 'number', id: 'turn-seconds', min: 15, max: 900, step: 15, value: 120, 'data-testid': 'turn-seconds' });
    this.goStart = h('button', { type: 'button', 'data-testid': 'goaround-start', 'on:click': () => this.startGoAround() }, 'Start go-around');
    this.goStop = h('button', { type: 'button', 'data-testid': 'goaround-stop', 'on:click': () => app.run('goaround.stop') }, 'Stop go-around');
    this.goState = h('p', { className: 'muted', 'data-testid': 'console-goaround' });
    this.el = h('section', { className: 'panel compact', 'aria-label': 'Floor and queue', 'data-testid': 'floor-panel' },
      h('h3', {}, 'Floor'), this.holder, this.nextUp, h('div', { className: 'row' }, this.release, this.next),
      h('h4', {}, 'Go-around'), this.goState,
      h('div', { className: 'row' }, h('label', { htmlFor: 'turn-seconds' }, 'Seconds each'), this.turnSeconds, this.goStart, this.goStop));
  }

  update() {
    const { app } = this;
    const s = app.session ?? /** @type {Partial<import('../wire').SessionStateOut>} */ ({});
    const holder = s.floor?.holder;
    this.tick();
    this.holder.dataset.holder = holder ?? '';
    this.release.disabled = !holder;
    const queue = s.queue ?? [];
    this.next.disabled = queue.length === 0;
    setText(this.nextUp, queue.length
      ? `Next in line: ${queue.slice(0, 3).map((id) => app.nameOf(id)).join(', ')}${queue.length > 3 ? ` and ${queue.length - 3} more` : ''}`
      : 'No hands raised.');
    const g = s.go_around;
    this.goStart.hidden = Boolean(g);
    this.goStop.hidden = !g;
  }

  tick() {
    const { app } = this;
    const s = app.session ?? /** @type {Partial<import('../wire').SessionStateOut>} */ ({});
    const holder = s.floor?.holder;
    const left = secondsUntil(s.floor?.ends_at);
    setText(this.holder, holder
      ? `${app.nameOf(holder)} has the floor${left != null ? ` · ${clock(left)} left` : ''}`
      : 'Nobody has the floor.');
    const g = s.go_around;
    const gLeft = secondsUntil(g?.turn_ends_at);
    setText(this.goState, g
      ? `${app.nameOf(g.order?.[g.position])}'s turn, ${(g.position ?? 0) + 1} of ${g.order?.length ?? 0}`
        + `${gLeft != null ? ` · ${clock(gLeft)} left` : ''}`
      : 'Each member in turn; anyone may pass.');
  }

  startGoAround() {
    const seconds = Number(this.turnSeconds.value);
    this.app.run('goaround.start', Number.isFinite(seconds) && seconds > 0 ? { turn_seconds: seconds } : {});
  }
}
