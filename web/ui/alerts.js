// What a facilitator must not miss, pinned to the top of the console while it scrolls: a member
// asking for help, a member whose connection dropped (after a blip's worth of time), unread private
// messages. Each stays until a facilitator acts on it ("I am on it" tells the member, for help).
// New alerts are said once in the live region; their times ("12 s ago") change quietly.

import { announce, h, reconcile, setText, within } from './dom.js';
import { ago, now } from './format.js';
import { droppedText } from './safety.js';

const DROP_ALERT_SECONDS = 10; // a blip shorter than this only flags the Safety plans row

/**
 * One pinned alert: a member asking for help, a member's dropped connection, or the unread private
 * messages (`from`: the latest one's sender).
 * @typedef {{key: string, kind: 'help', from: string, at: number}
 *   | ({key: string, kind: 'drop', from: string} & import('./state.js').Drop)
 *   | {key: string, kind: 'note', count: number, from: string | undefined}} Alert
 */

export class AlertsPanel {
  /**
   * @param {import('./state.js').AppState} app
   * @param {import('./notes.js').NotesPanel} notes where "Write to" and "Message" open a message
   */
  constructor(app, notes) {
    this.app = app;
    this.notes = notes;
    /** @type {readonly import('./changes.js').Part[]} what this panel shows: it updates when one of them changed */
    this.follows = ['help', 'safety', 'notes', 'participants', 'lobby', 'session'];
    this.showsDrop = false; // a dropped member's alert is showing (the tab title says so too)
    this.said = new Set(); // alerts already announced
    this.list = h('ul', { className: 'alerts', 'data-testid': 'alerts' });
    this.el = h('section', { className: 'pinned-alerts', 'aria-label': 'Needs your attention', 'data-testid': 'pinned-alerts' }, this.list);
  }

  /** @returns {Alert[]} */
  items() {
    const { app } = this;
    const unread = app.notes.filter((n) => n.unread);
    const drops = [...app.drops].filter(([, d]) => !d.dismissed && (d.gone || now() - d.at >= DROP_ALERT_SECONDS));
    return [
      ...app.helps.map((x) => ({ key: `help-${x.from}`, kind: /** @type {const} */ ('help'), ...x })),
      ...drops.map(([from, d]) => ({ key: `drop-${from}`, kind: /** @type {const} */ ('drop'), from, ...d })),
      ...(unread.length ? [{ key: 'notes', kind: /** @type {const} */ ('note'), count: unread.length, from: unread.at(-1)?.from }] : []),
    ];
  }

  update() {
    const { app } = this;
    const items = this.items();
    this.showsDrop = items.some((i) => i.kind === 'drop');
    reconcile(this.list, items, (i) => i.key, (i) => this.#create(i), (li, i) => setText(within(li, 'strong'), this.#text(i)));
    for (const i of items) {
      if (i.kind === 'drop' && !this.said.has(i.key)) announce(`${app.nameOf(i.from)}'s connection dropped`);
      this.said.add(i.key);
    }
    for (const key of this.said) if (!items.some((i) => i.key === key)) this.said.delete(key);
    this.el.hidden = items.length === 0;
  }

  tick() {
    if (this.app.drops.size || this.app.helps.length) this.update(); // "12 s ago"; a drop becomes an alert after a blip
  }

  /** @param {Alert} i */
  #text(i) {
    const { app } = this;
    if (i.kind === 'help') return `${app.nameOf(i.from)} is asking for help (${ago(i.at)})`;
    if (i.kind === 'drop') return `${app.nameOf(i.from)}: ${droppedText(i.at, app.safetyPlans.get(i.from), i, Boolean(app.session?.requires_safety_plan))}`;
    return `${i.count} new private message${i.count > 1 ? 's' : ''}, latest from ${app.nameOf(i.from)}`;
  }

  /** @param {Alert} i */
  #create(i) {
    const text = h('strong');
    const name = this.app.nameOf(i.from);
    if (i.kind === 'drop') {
      return h('li', { className: 'alert help', 'data-testid': 'drop-alert', 'data-from': i.from }, text,
        h('button', { type: 'button', 'data-testid': 'drop-dismiss', 'aria-label': `I am on it: ${name}'s dropped connection`, 'on:click': () => this.app.dismissDrop(i.from) }, 'I am on it'));
    }
    if (i.kind === 'help') {
      return h('li', { className: 'alert help', 'data-testid': 'help-alert', 'data-from': i.from }, text,
        h('button', { type: 'button', 'data-testid': 'help-write', 'on:click': () => this.notes.compose(i.from) }, `Write to ${name}`),
        h('button', { type: 'button', 'data-testid': 'help-dismiss', 'aria-label': `I am on it: tell ${name}`, 'on:click': () => this.app.acknowledgeHelp(i.from) }, 'I am on it'));
    }
    return h('li', { className: 'alert note', 'data-testid': 'note-alert' }, text,
      h('button', { type: 'button', 'on:click': () => { this.notes.compose(i.from ?? ''); this.app.markNotesRead(); } }, 'Read and reply'));
  }
}
