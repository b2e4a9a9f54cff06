// People waiting to be admitted: admit, deny, or write to them first.

import { h, reconcile, setText } from './dom.js';

export class LobbyPanel {
  constructor(app, notes) {
    this.app = app;
    this.notes = notes;
    this.heading = h('h3', {}, 'Waiting room');
    this.list = h('ul', { className: 'rows', 'data-testid': 'lobby-list' });
    this.empty = h('p', { className: 'muted' }, 'Nobody is waiting.');
    this.admitAll = h('button', { type: 'button', 'data-testid': 'admit-all', 'on:click': () => this.admitEveryone() }, 'Admit all');
    this.el = h('section', { className: 'panel', 'aria-label': 'Waiting room', 'data-testid': 'lobby-panel' },
      h('div', { className: 'panel-head' }, this.heading, this.admitAll), this.empty, this.list);
  }

  update() {
    const waiting = this.app.lobby.waiting ?? [];
    setText(this.heading, waiting.length ? `Waiting room (${waiting.length})` : 'Waiting room');
    this.empty.hidden = waiting.length > 0;
    this.admitAll.hidden = waiting.filter((w) => this.ready(w)).length < 2;
    reconcile(this.list, waiting, (w) => w.id, (w) => this.#row(w), (li, w) => {
      setText(li.querySelector('.who'), w.name);
      setText(li.querySelector('.agreed'), this.ready(w) ? 'Agreed to the guidelines' : 'Has not yet agreed to the guidelines');
      li.querySelector('.admit').disabled = !this.ready(w);
      li.dataset.name = w.name;
    });
  }

  ready(w) {
    return w.agreed !== false || this.app.session?.requires_agreement === false;
  }

  #row(w) {
    const run = (cmd) => this.app.run(cmd, { id: w.id });
    return h('li', { className: 'row', 'data-testid': 'lobby-entry' },
      h('span', { className: 'who' }), h('span', { className: 'agreed muted' }),
      h('span', { className: 'actions' },
        h('button', { type: 'button', className: 'admit primary', 'data-testid': 'admit-button', 'aria-label': `Admit ${w.name}`, 'on:click': () => run('admit') }, 'Admit'),
        h('button', { type: 'button', 'aria-label': `Message ${w.name}`, 'on:click': () => this.notes.compose(w.id) }, 'Message'),
        h('button', { type: 'button', 'data-testid': 'deny-button', 'aria-label': `Deny ${w.name}`, 'on:click': () => run('deny') }, 'Deny')));
  }

  admitEveryone() {
    this.app.run('admit.all');
  }
}
