// The facilitator's console: what needs attention first (help, messages, people waiting),
// then the session's structure (agenda, floor), the people in it and their safety plans.

import { h, reconcile, setText } from './dom.js';
import { now } from './format.js';
import { droppedText } from './safety.js';
import { AgendaPanel } from './agenda-panel.js';
import { confirmAction } from './confirm.js';
import { FloorPanel } from './floor-panel.js';
import { LobbyPanel } from './lobby-panel.js';
import { MembersPanel } from './members-panel.js';
import { SafetyPanel } from './safety-panel.js';

const DROP_ALERT_SECONDS = 10; // a blip shorter than this only flags the Safety plans row

class AlertsPanel {
  constructor(app, notes) {
    this.app = app;
    this.notes = notes;
    this.showsDrop = false; // a dropped member's alert is showing (the tab title says so too)
    this.list = h('ul', { className: 'alerts', 'data-testid': 'alerts' });
    this.el = h('section', { 'aria-label': 'Needs your attention', role: 'alert' }, this.list);
  }

  update() {
    const { app } = this;
    const unread = app.notes.filter((n) => n.unread);
    const drops = [...app.drops].filter(([, d]) => !d.dismissed && (d.gone || now() - d.at >= DROP_ALERT_SECONDS));
    this.showsDrop = drops.length > 0;
    const items = [
      ...app.helps.map((x) => ({ key: `help-${x.from}`, kind: 'help', ...x })),
      ...drops.map(([from, d]) => ({ key: `drop-${from}`, kind: 'drop', from, ...d })),
      ...(unread.length ? [{ key: 'notes', kind: 'note', count: unread.length, from: unread.at(-1).from }] : []),
    ];
    reconcile(this.list, items, (i) => i.key, (i) => this.#create(i), (li, i) => {
      const text = i.kind === 'help'
        ? `${app.nameOf(i.from)} is asking for help`
        : i.kind === 'drop'
          ? `${app.nameOf(i.from)}: ${droppedText(i.at, app.safetyPlans.get(i.from), i)}`
          : `${i.count} new private message${i.count > 1 ? 's' : ''}, latest from ${app.nameOf(i.from)}`;
      setText(li.firstChild, text);
    });
    this.el.hidden = items.length === 0;
  }

  tick() {
    if (this.app.drops.size) this.update(); // a drop becomes an alert once it has lasted DROP_ALERT_SECONDS
  }

  #create(i) {
    const text = h('strong');
    if (i.kind === 'drop') {
      return h('li', { className: 'alert help', 'data-testid': 'drop-alert', 'data-from': i.from }, text,
        h('button', { type: 'button', 'data-testid': 'drop-dismiss', 'on:click': () => this.app.dismissDrop(i.from) }, 'I am on it'));
    }
    if (i.kind === 'help') {
      return h('li', { className: 'alert help', 'data-testid': 'help-alert', 'data-from': i.from }, text,
        h('button', { type: 'button', 'on:click': () => this.notes.compose(i.from) }, 'Write to them'),
        h('button', { type: 'button', 'data-testid': 'help-dismiss', 'on:click': () => this.app.acknowledgeHelp(i.from) }, 'I am on it'));
    }
    return h('li', { className: 'alert note', 'data-testid': 'note-alert' }, text,
      h('button', { type: 'button', 'on:click': () => { this.notes.compose(i.from); this.app.markNotesRead(); } }, 'Read and reply'));
  }
}

class SessionControls {
  constructor(app) {
    this.app = app;
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
  constructor(app, notes) {
    this.app = app;
    this.alerts = new AlertsPanel(app, notes);
    const main = [new MembersPanel(app, notes), new SafetyPanel(app), new AgendaPanel(app)];
    const side = [new LobbyPanel(app, notes), new FloorPanel(app), notes, new SessionControls(app)];
    this.parts = [this.alerts, ...main, ...side];
    this.alertsEl = this.alerts.el;
    this.mainEl = h('div', { className: 'console-main' }, main.map((p) => p.el));
    this.el = h('div', { className: 'console-panels' }, side.map((p) => p.el));
  }

  update() {
    for (const part of this.parts) part.update();
  }

  tick() {
    for (const part of this.parts) part.tick?.();
  }

  /** A help request or a dropped member waits for a facilitator (the tab title says so too). */
  needsAttention() {
    return this.app.helps.length > 0 || this.alerts.showsDrop;
  }
}
