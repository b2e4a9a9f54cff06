// Private notes between a facilitator and one member. Never stored: they live in this page only.

import { h, reconcile, setText } from './dom.js';
import { FACILITATOR_ROLES } from './state.js';

export class NotesPanel {
  /** @param {import('./state.js').AppState} app */
  constructor(app) {
    this.app = app;
    /** @type {readonly import('./changes.js').Part[]} what this panel shows: it updates when one of them changed */
    this.follows = ['notes', 'participants', 'lobby'];
    this.list = h('ol', { className: 'notes-list', 'data-testid': 'notes-list', 'aria-live': 'polite' });
    this.empty = h('p', { className: 'muted' });
    this.to = h('select', { id: 'note-to', 'data-testid': 'note-to' });
    this.toLabel = h('label', { htmlFor: 'note-to' }, 'To');
    this.text = h('textarea', { id: 'note-text', rows: 2, maxLength: 2000, 'data-testid': 'note-text' });
    this.send = h('button', { type: 'submit', 'data-testid': 'note-send' }, 'Send privately');
    this.form = h('form', { className: 'note-form', 'on:submit': (/** @type {SubmitEvent} */ e) => this.submit(e) },
      h('div', { className: 'field' }, this.toLabel, this.to),
      h('label', { htmlFor: 'note-text' }, 'Message'), this.text, this.send);
    this.heading = h('h3', {}, 'Private messages');
    this.el = h('section', { className: 'panel notes', 'data-testid': 'notes-panel', 'aria-label': 'Private messages' },
      this.heading, this.empty, this.list, this.form);
    this.el.addEventListener('focusin', () => app.markNotesRead());
    this.update();
  }

  recipients() {
    const { app } = this;
    if (app.isFacilitator) {
      const people = [...app.lobby.waiting, ...app.participants.filter((p) => p.status === 'admitted')];
      return people.filter((p) => p.id !== app.you?.id && !('role' in p && FACILITATOR_ROLES.has(p.role)));
    }
    const facilitators = app.participants.filter((p) => FACILITATOR_ROLES.has(p.role) && p.status !== 'removed');
    if (facilitators.length) return facilitators.sort((a, b) => Number(b.connected) - Number(a.connected));
    const last = [...app.notes].reverse().find((n) => !n.mine);
    return last?.from ? [{ id: last.from, name: 'Facilitator' }] : [];
  }

  /**
   * Preselect a recipient and put the cursor in the message box (from a member's row).
   * @param {string} id
   */
  compose(id) {
    this.update();
    this.to.value = id;
    this.text.focus();
  }

  update() {
    const { app } = this;
    const people = this.recipients();
    reconcile(this.to, people, (p) => p.id, () => h('option'), (opt, p) => {
      opt.value = p.id;
      setText(opt, p.name);
    });
    const row = /** @type {HTMLElement} */ (this.toLabel.parentElement);
    row.hidden = !app.isFacilitator && people.length <= 1;
    this.form.hidden = people.length === 0;
    setText(this.heading, app.isFacilitator ? 'Private messages' : 'Private messages with a facilitator');
    setText(this.empty, app.notes.length ? '' : (app.isFacilitator
      ? 'Only you and the member see these. Nothing is kept after the session.'
      : people.length ? 'Only you and the facilitator see these. Nothing is kept.' : 'A facilitator can write to you here.'));
    reconcile(this.list, app.notes, (n) => `${n.at}-${n.from}-${n.text.length}`, () => h('li', { 'data-testid': 'note' }), (li, n) => {
      li.classList.toggle('mine', n.mine);
      li.classList.toggle('unread', Boolean(n.unread));
      setText(li, n.mine ? `To ${app.nameOf(n.to)}: ${n.text}` : `From ${n.sender ?? app.nameOf(n.from)}: ${n.text}`);
    });
  }

  /** @param {SubmitEvent} event */
  async submit(event) {
    event.preventDefault();
    const text = this.text.value.trim();
    if (!text || !this.to.value) return;
    this.send.disabled = true;
    if (await this.app.sendNote(this.to.value, text)) this.text.value = '';
    this.send.disabled = false;
  }
}
