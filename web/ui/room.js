// The room: status, video grid, own devices; members get their controls, facilitators the console.

import { touches } from './changes.js';
import { h, reconcile, setText } from './dom.js';
import { setIconLabel } from './icons.js';
import { confirmAction } from './confirm.js';
import { ConsolePanels } from './console.js';
import { ControlBar } from './control-bar.js';
import { Grid } from './grid.js';
import { MemberControls } from './member-controls.js';
import { NotesPanel } from './notes.js';
import { DevicesPanel } from './devices-panel.js';
import { DeviceToggles } from './preview.js';
import { SafetyForm } from './safety-form.js';
import { StatusStrip } from './status.js';
import { toast } from './toast.js';

/**
 * What each part of the room shows (changes.js): it updates when one of them changed.
 * @type {Record<'status' | 'grid' | 'controls', readonly import('./changes.js').Part[]>}
 */
const ROOM_FOLLOWS = {
  status: ['session', 'participants', 'floor', 'agenda', 'places', 'broadcasts', 'connection', 'quality', 'media', 'e2ee', 'safety'],
  grid: ['participants', 'floor', 'places', 'speaking', 'media', 'quality', 'e2ee'],
  controls: ['participants', 'floor', 'places', 'help'],
};

export class RoomView {
  /** @param {import('./state.js').AppState} app */
  constructor(app) {
    this.screen = 'room';
    this.app = app;
    this.status = new StatusStrip(app);
    this.grid = new Grid(app);
    this.toggles = new DeviceToggles(app.local, { locked: () => this.me()?.forced_mute === true });
    this.notes = new NotesPanel(app);
    this.side = app.isFacilitator ? new ConsolePanels(app, this.notes) : null;
    this.controls = app.isFacilitator ? null : new MemberControls(app);
    this.safety = app.isFacilitator ? null : new SafetyForm(app, { inRoom: true });
    this.nods = h('ul', { className: 'nods', 'data-testid': 'nods', 'aria-label': 'People who relate' });
    this.heading = h('h2', { className: 'visually-hidden', tabIndex: -1 }, app.isFacilitator ? 'Facilitator console' : 'Group room');
    this.wasForced = false;
    this.leave = h('button', { type: 'button', className: 'leave', 'data-testid': 'leave-button', 'on:click': () => this.confirmLeave() });
    setIconLabel(this.leave, 'leave', 'Leave');
    this.messages = app.isFacilitator ? null
      : h('button', { type: 'button', className: 'phone-only', 'data-testid': 'messages-button', 'on:click': () => this.notes.compose(this.notes.to.value) });
    if (this.messages) setIconLabel(this.messages, 'chat', 'Messages');
    this.audioOnly = h('button', { type: 'button', 'data-testid': 'audio-only-toggle', 'aria-pressed': 'false', 'on:click': () => app.setAudioOnly(!app.audioOnly) });
    this.layout = h('button', { type: 'button', 'data-testid': 'speaker-view-toggle', 'aria-pressed': 'true', 'on:click': () => this.#switchLayout() });
    this.devices = new DevicesPanel(app.local, { fallbackFocus: () => this.bar.moreButton });
    this.bar = new ControlBar({
      primary: [this.toggles.el, this.controls?.el],
      more: [this.safety?.opener, this.messages, this.layout, this.audioOnly, this.devices.button, this.leave],
      notes: this.controls?.notes,
      panels: [this.devices.el],
    });
    const stage = h('div', { className: 'stage' }, this.status.el, this.nods, this.grid.el, this.bar.el);
    if (this.side) {
      // The console: alerts pinned; the decisions (waiting room, floor, people) first in the keyboard's
      // order and on the right; the room's video and the reference panels on the left.
      this.el = h('section', { className: 'room console', 'data-testid': 'console' }, this.heading, this.side.alertsEl,
        h('aside', { className: 'side', 'aria-label': 'Waiting room, floor and people' }, this.side.sideEl),
        h('div', { className: 'console-main' }, stage, this.side.laterEl));
    } else {
      const aside = h('aside', { className: 'side', 'aria-label': 'Private messages and safety plan' }, this.safety?.el, this.notes.el);
      this.el = h('section', { className: 'room', 'data-testid': 'room' }, this.heading, stage, aside);
    }
    this.update();
  }

  async confirmLeave() {
    const question = this.app.isFacilitator
      ? 'Leave the console? The session is paused for members until a facilitator is back.'
      : 'Leave the group now? You can come back with your link.';
    if (await confirmAction(question, 'Leave')) this.app.leave();
  }

  me() {
    return this.app.participants.find((p) => p.id === this.app.you?.id);
  }

  focus() { this.heading.focus(); }

  needsAttention() {
    return this.side?.needsAttention() ?? false;
  }

  /**
   * Update the parts of the room that show something of what changed (all of them when unsure).
   * The status line and the grid also follow the clock (tick).
   * @param {import('./changes.js').Changes} [changes]
   */
  update(changes = null) {
    const { app } = this;
    if (touches(changes, ['participants'])) {
      this.#forcedMute();
      this.toggles.update(); // a facilitator's mute locks the microphone button
    }
    if (touches(changes, ROOM_FOLLOWS.status)) this.status.update();
    if (touches(changes, ROOM_FOLLOWS.grid)) this.grid.update();
    if (this.controls && touches(changes, ROOM_FOLLOWS.controls)) this.controls.update();
    if (this.safety && touches(changes, ['safety', 'session'])) this.safety.update();
    this.side?.update(changes);
    if (!this.side && touches(changes, this.notes.follows)) this.notes.update();
    if (touches(changes, ['notes'])) this.#unread();
    if (touches(changes, ['nods', 'participants'])) this.#nods();
    if (touches(changes, ['media'])) {
      this.audioOnly.setAttribute('aria-pressed', String(app.audioOnly));
      setIconLabel(this.audioOnly, 'mic', 'Audio only');
    }
    if (changes === null) this.#layoutButton();
  }

  /** Speaker large, or all tiles the same size: this page's own choice, said by its button at once. */
  #switchLayout() {
    this.grid.setSpeakerView(!this.grid.speakerView);
    this.#layoutButton();
  }

  #layoutButton() {
    this.layout.setAttribute('aria-pressed', String(this.grid.speakerView));
    setIconLabel(this.layout, 'camera', 'Speaker large');
  }

  /** A message waits unread: "More" says so on a phone, where the messages are further down. */
  #unread() {
    const unread = this.app.notes.filter((n) => n.unread).length;
    this.bar.flag(unread > 0, `${unread} new message${unread > 1 ? 's' : ''}`);
    if (this.messages) setIconLabel(this.messages, 'chat', unread ? `Messages (${unread} new)` : 'Messages');
  }

  tick() {
    this.status.update();
    this.grid.update(); // connection quality and who is spotlit move on their own
    this.side?.tick();
    this.#nods();
  }

  /** Follow a facilitator's mute locally too, so what the person sees matches what others hear. */
  #forcedMute() {
    const forced = this.me()?.forced_mute === true;
    if (forced && !this.wasForced) {
      this.app.local.setAudio(false);
      toast('A facilitator muted your microphone.', { kind: 'info' });
    } else if (!forced && this.wasForced) {
      toast('You may unmute your microphone again when you are ready.', { kind: 'info' });
    }
    this.wasForced = forced;
  }

  #nods() {
    const now = Date.now();
    const recent = this.app.nods.filter((n) => now - n.at < 6000);
    reconcile(this.nods, recent, (n) => `${n.from}-${n.at}`, () => h('li', { 'data-testid': 'nod-received' }), (li, n) => {
      setText(li, `${this.app.nameOf(n.from)} relates`);
    });
  }

  destroy() {
    this.toggles.destroy();
    this.devices.destroy();
  }
}
