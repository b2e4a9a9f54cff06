// Waiting to be admitted: calm, clear, with the preview and any private note from a facilitator.

import { h } from './dom.js';
import { NotesPanel } from './notes.js';
import { DeviceToggles, SelfPreview } from './preview.js';

export class LobbyView {
  constructor(app) {
    this.screen = 'lobby';
    this.app = app;
    this.preview = new SelfPreview(app.local);
    this.toggles = new DeviceToggles(app.local);
    this.notes = new NotesPanel(app);
    this.heading = h('h2', { tabIndex: -1 }, 'You are in the waiting room');
    this.el = h('section', { className: 'lobby card', 'data-testid': 'lobby-waiting', 'aria-labelledby': 'lobby-heading' },
      this.heading,
      h('p', { role: 'status', className: 'waiting' }, h('span', { className: 'pulse', 'aria-hidden': 'true' }),
        app.sentBack
          ? 'A facilitator has moved you to the waiting room for a moment. You keep your place; they will let you back in.'
          : 'Waiting to be admitted. A facilitator will let you in shortly; you do not need to do anything.'),
      h('div', { className: 'join-grid' }, h('div', {}, this.preview.el, this.toggles.el), this.notes.el));
    this.heading.id = 'lobby-heading';
  }

  focus() { this.heading.focus(); }
  update() { this.notes.update(); }

  destroy() {
    this.preview.destroy();
    this.toggles.destroy();
  }
}
