// The facilitator's console, in the order a facilitator needs it (and the keyboard reaches it):
// pinned alerts; then who is waiting, the floor, and the people (raised hands first, each with "Take
// aside"); then the room's video; then messages, safety plans, the agenda, side rooms and breakouts
// (beside the agenda: a breakout belongs to a phase), and the session's own controls.

import { AgendaPanel } from './agenda-panel.js';
import { AlertsPanel } from './alerts.js';
import { confirmAction } from './confirm.js';
import { touches } from './changes.js';
import { h, setText } from './dom.js';
import { FloorPanel } from './floor-panel.js';
import { LobbyPanel } from './lobby-panel.js';
import { PlacesPanel } from './places-panel.js';
import { Roster } from './roster.js';
import { SafetyPanel } from './safety-panel.js';

class SessionControls {
  /** @param {import('./state.js').AppState} app */
  constructor(app) {
    this.app = app;
    /** @type {readonly import('./changes.js').Part[]} what this panel shows: it updates when one of them changed */
    this.follows = ['session'];
    this.lock = h('button', { type: 'button', 'data-testid': 'lock-button', 'aria-pressed': 'false', 'on:click': () => this.toggleLock() }, 'Lock session');
    this.end = h('button', { type: 'button', className: 'danger', 'data-testid': 'end-button', 'on:click': () => this.endSession() }, 'End session for everyone');
    this.el = h('div', { className: 'row session-controls' }, this.lock, this.end);
  }

  update() {
    const locked = Boolean(this.app.session?.locked);
    this.lock.setAttribute('aria-pressed', String(locked));
    setText(this.lock, locked ? 'Locked: unlock' : 'Lock session');
  }

  toggleLock() {
    this.app.run(this.app.session?.locked ? 'unlock' : 'lock');
  }

  async endSession() {
    if (await confirmAction('End the session for everyone now?', 'End session')) this.app.run('end');
  }
}

export class ConsolePanels {
  /**
   * @param {import('./state.js').AppState} app
   * @param {import('./notes.js').NotesPanel} notes the private messages, shared with the room
   */
  constructor(app, notes) {
    this.app = app;
    this.alerts = new AlertsPanel(app, notes);
    const now = [new LobbyPanel(app, notes), new FloorPanel(app), new Roster(app, notes)];
    const later = [new SafetyPanel(app), new AgendaPanel(app), new PlacesPanel(app), new SessionControls(app)];
    /** @type {{follows: readonly import('./changes.js').Part[], update: () => void, tick?: () => void}[]} */
    this.parts = [this.alerts, ...now, notes, ...later];
    this.alertsEl = this.alerts.el;
    /** Decisions first: waiting room, floor, people; then private messages. */
    this.sideEl = h('div', { className: 'console-side' }, now.map((p) => p.el), notes.el);
    /** Under the room's video: what is looked up rather than acted on. */
    this.laterEl = h('div', { className: 'console-later' }, later.map((p) => p.el));
  }

  /**
   * Update the panels that show something of what changed.
   * @param {import('./changes.js').Changes} [changes]
   */
  update(changes = null) {
    for (const part of this.parts) if (touches(changes, part.follows)) part.update();
  }

  tick() {
    for (const part of this.parts) part.tick?.();
  }

  /** A help request or a dropped member waits for a facilitator (the tab title says so too). */
  needsAttention() {
    return this.app.helps.length > 0 || this.alerts.showsDrop;
  }
}
