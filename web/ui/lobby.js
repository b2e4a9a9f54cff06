// Waiting to be admitted: calm, clear, with the preview, the safety plan when the session asks for
// one, and any private note from a facilitator.

import { touches } from './changes.js';
import { h, setText } from './dom.js';
import { hourMinute, listNames, now } from './format.js';
import { NotesPanel } from './notes.js';
import { DevicePicker } from './device-picker.js';
import { DeviceToggles, SelfPreview } from './preview.js';
import { SafetyForm } from './safety-form.js';

/**
 * Who will let you in, whether they are here yet, and when the session starts (when scheduled).
 * @param {Partial<import('../wire').SessionStateOut> | null | undefined} session
 */
export function hostText(session) {
  const leads = session?.facilitators ?? [];
  const here = leads.filter((f) => f.connected);
  const names = listNames(leads.map((f) => f.name));
  const who = !leads.length ? 'Your facilitator has not arrived yet.'
    : `Your ${leads.length > 1 ? 'facilitators' : 'facilitator'} today: ${names}.${here.length ? '' : ' They will be here soon.'}`;
  const startsAt = session?.starts_at;
  if (startsAt == null) return who;
  const minutes = Math.round((startsAt - now()) / 60);
  const when = minutes > 1 ? ` (in ${minutes} minutes)` : minutes === 1 ? ' (in a minute)' : '';
  return `${who} The session ${minutes > 0 ? 'starts' : 'started'} at ${hourMinute(startsAt)}${when}.`;
}

export class LobbyView {
  /** @param {import('./state.js').AppState} app */
  constructor(app) {
    this.screen = 'lobby';
    this.app = app;
    this.preview = new SelfPreview(app.local);
    this.toggles = new DeviceToggles(app.local);
    this.devices = new DevicePicker(app.local);
    this.notes = new NotesPanel(app);
    this.safety = new SafetyForm(app);
    this.heading = h('h2', { tabIndex: -1 }, 'You are in the waiting room');
    this.waiting = h('span', { 'data-testid': 'lobby-status' });
    this.host = h('p', { className: 'host', 'data-testid': 'lobby-host' });
    this.el = h('section', { className: 'lobby card', 'data-testid': 'lobby-waiting', 'aria-labelledby': 'lobby-heading' },
      this.heading,
      h('p', { role: 'status', className: 'waiting' }, h('span', { className: 'pulse', 'aria-hidden': 'true' }), this.waiting),
      this.host,
      h('div', { className: 'join-grid' },
        h('div', {}, this.preview.el, this.toggles.el, this.devices.el),
        h('div', { className: 'lobby-side' }, this.safety.el, this.notes.el)));
    this.heading.id = 'lobby-heading';
    this.update();
  }

  focus() { this.heading.focus(); }

  tick() {
    setText(this.host, hostText(this.app.session)); // "starts in N minutes" counts down
  }

  /**
   * Update what shows something of what changed (all of it when unsure).
   * @param {import('./changes.js').Changes} [changes]
   */
  update(changes = null) {
    if (touches(changes, ['session', 'safety'])) this.#waiting();
    if (touches(changes, this.notes.follows)) this.notes.update();
  }

  /** Whether the person has anything to do while they wait, who will let them in, and their safety plan. */
  #waiting() {
    const { app } = this;
    const planMissing = Boolean(app.session?.requires_safety_plan) && !app.safety.sentAt && !app.you?.safety_shared;
    setText(this.waiting, app.sentBack
      ? 'A facilitator has moved you to the waiting room for a moment. You keep your place; they will let you back in.'
      : planMissing
        ? 'Waiting to be admitted. Please share your safety plan first; a facilitator can let you in once you have.'
        : 'Waiting to be admitted. A facilitator will let you in shortly; you do not need to do anything.');
    setText(this.host, hostText(app.session));
    this.safety.update();
  }

  destroy() {
    this.preview.destroy();
    this.toggles.destroy();
    this.devices.destroy();
  }
}
