// Before joining: the session's title, a camera and mic preview, and the group agreement.

import { h, setText } from './dom.js';
import { tabMemory } from './memory.js';
import { DevicePicker } from './device-picker.js';
import { MicMeter } from './mic-meter.js';
import { DeviceToggles, SelfPreview } from './preview.js';

const AGREEMENT = [
  'What is shared here stays here. I will not repeat anything that identifies another member.',
  'I will not record, photograph or screenshot the session.',
  'I am joining from a private place where no one else can see or hear the group.',
  'I will treat everyone with respect, use first names only, and let others finish speaking.',
  'I can pass, keep my camera or microphone off, and ask a facilitator for help at any time.',
];

export class JoinView {
  /**
   * @param {import('./state.js').AppState} app
   * @param {() => void} onJoined once the person has joined: the app picks the next screen
   */
  constructor(app, onJoined) {
    this.screen = 'join';
    this.app = app;
    this.onJoined = onJoined;
    this.preview = new SelfPreview(app.local, { large: true });
    this.toggles = new DeviceToggles(app.local);
    this.mic = new MicMeter(app.local);
    this.devices = new DevicePicker(app.local, { open: true });
    this.deviceError = h('p', { className: 'error', role: 'alert', 'data-testid': 'device-error', hidden: true });
    this.checkbox = h('input', { type: 'checkbox', id: 'agree', 'data-testid': 'agree-checkbox', 'on:change': () => this.update() });
    this.agreement = h('fieldset', { className: 'agreement', 'data-testid': 'agreement' },
      h('legend', {}, 'Our group agreement'),
      h('ul', {}, AGREEMENT.map((line) => h('li', {}, line))),
      h('div', { className: 'check' }, this.checkbox, h('label', { htmlFor: 'agree' }, 'I have read and I agree to these guidelines')));
    this.button = h('button', { type: 'button', className: 'primary', 'data-testid': 'join-button', 'on:click': () => this.join() }, 'Join');
    this.heading = h('h2', { tabIndex: -1 }, 'Before you join');
    this.intro = h('p', { className: 'muted' });
    this.el = h('section', { className: 'join card', 'aria-labelledby': 'join-heading', 'data-testid': 'join-screen' },
      this.heading, this.intro,
      h('div', { className: 'join-grid' },
        h('div', {}, this.preview.el, this.toggles.el, this.mic.el, this.deviceError, this.devices.el),
        h('div', {}, this.agreement, this.button)));
    this.heading.id = 'join-heading';
    this.onLocal = () => this.update();
    app.local.addEventListener('change', this.onLocal);
    app.local.open(tabMemory.devices ?? {}).catch(() => {});
    this.update();
  }

  focus() { this.heading.focus(); }

  update() {
    const { app } = this;
    const name = app.you?.name;
    setText(this.intro, name
      ? `You are joining as ${name}. Check how you look and sound; you can keep your camera or microphone off.`
      : 'Connecting to the session…');
    const needs = app.needsAgreement();
    this.agreement.hidden = !needs;
    this.button.disabled = !app.you || (needs && !this.checkbox.checked);
    setText(this.button, app.isFacilitator ? 'Open the facilitator console' : 'Join the group');
    this.deviceError.hidden = !app.local.error;
    setText(this.deviceError, app.local.error ?? '');
  }

  async join() {
    this.button.disabled = true;
    await this.app.join();
    this.onJoined();
  }

  destroy() {
    this.app.local.removeEventListener('change', this.onLocal);
    this.preview.destroy();
    this.toggles.destroy();
    this.mic.destroy();
    this.devices.destroy();
  }
}
