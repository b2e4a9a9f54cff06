// Self view with camera and microphone toggles, shared by the join screen, the lobby and the room.

import { h, setText } from './dom.js';

export function toggleButton(label, testid, onClick) {
  return h('button', { type: 'button', className: 'toggle', 'data-testid': testid, 'aria-pressed': 'false', 'on:click': onClick }, label);
}

export function setToggle(button, on, onLabel, offLabel) {
  button.setAttribute('aria-pressed', String(on));
  button.classList.toggle('off', !on);
  setText(button, on ? onLabel : offLabel);
}

export class SelfPreview {
  constructor(local, { large = false } = {}) {
    this.local = local;
    this.video = h('video', { muted: true, autoplay: true, playsInline: true, className: 'mirror', 'data-testid': 'preview-video', 'aria-label': 'Your camera preview' });
    this.video.muted = true;
    this.placeholder = h('div', { className: 'avatar', 'aria-hidden': 'true' }, 'Camera off');
    this.el = h('div', { className: `preview${large ? ' large' : ''}` }, this.video, this.placeholder);
    this.onChange = () => this.update();
    local.addEventListener('change', this.onChange);
    this.update();
  }

  update() {
    if (this.video.srcObject !== this.local.stream) this.video.srcObject = this.local.stream;
    this.placeholder.hidden = this.local.video;
    this.video.play?.().catch(() => {});
  }

  destroy() {
    this.local.removeEventListener('change', this.onChange);
  }
}

/** Mic and camera buttons bound to a LocalMedia. `locked()` says when the mic may not be turned on. */
export class DeviceToggles {
  constructor(local, { locked = () => false } = {}) {
    this.local = local;
    this.locked = locked;
    this.mic = toggleButton('Microphone', 'mic-toggle', () => this.local.setAudio(!this.local.audio));
    this.cam = toggleButton('Camera', 'camera-toggle', () => this.local.setVideo(!this.local.video));
    this.el = h('div', { className: 'toggles', role: 'group', 'aria-label': 'Your camera and microphone' }, this.mic, this.cam);
    this.onChange = () => this.update();
    local.addEventListener('change', this.onChange);
    this.update();
  }

  update() {
    const locked = this.locked();
    setToggle(this.mic, this.local.audio, 'Microphone on', locked ? 'Muted by facilitator' : 'Microphone off');
    this.mic.disabled = locked && !this.local.audio;
    setToggle(this.cam, this.local.video, 'Camera on', 'Camera off');
  }

  destroy() {
    this.local.removeEventListener('change', this.onChange);
  }
}
