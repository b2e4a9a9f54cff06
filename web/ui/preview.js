// Self view with camera and microphone toggles, shared by the join screen, the lobby and the room.

import { h, setText } from './dom.js';
import { setIconLabel } from './icons.js';

export class SelfPreview {
  /**
   * @param {import('../devices.js').LocalMedia} local
   * @param {{large?: boolean}} [options] the join screen's larger preview
   */
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

/**
 * Mic and camera buttons bound to a LocalMedia. Each says what pressing it does ("Mute", "Start
 * video") beside an icon of how the device is now. `locked()` says when a facilitator has muted the
 * person: the mic button then says so, and `hint` (a visible line, not a tooltip) says what to expect.
 */
export class DeviceToggles {
  /**
   * @param {import('../devices.js').LocalMedia} local
   * @param {{locked?: () => boolean}} [options]
   */
  constructor(local, { locked = () => false } = {}) {
    this.local = local;
    this.locked = locked;
    this.hint = h('p', { className: 'hint', id: `device-hint-${++DeviceToggles.count}`, 'data-testid': 'device-hint', hidden: true });
    this.mic = h('button', { type: 'button', className: 'toggle', 'data-testid': 'mic-toggle', 'on:click': () => this.local.choose('audio', !this.local.audio) });
    this.cam = h('button', { type: 'button', className: 'toggle', 'data-testid': 'camera-toggle', 'on:click': () => this.local.choose('video', !this.local.video) });
    this.el = h('div', { className: 'toggles', role: 'group', 'aria-label': 'Your camera and microphone' }, this.mic, this.cam, this.hint);
    this.onChange = () => this.update();
    local.addEventListener('change', this.onChange);
    this.update();
  }

  update() {
    const locked = this.locked();
    const { audio, video } = this.local;
    setIconLabel(this.mic, audio ? 'mic' : 'mic-off', audio ? 'Mute' : locked ? 'Muted by facilitator' : 'Unmute');
    setIconLabel(this.cam, video ? 'camera' : 'camera-off', video ? 'Stop video' : 'Start video');
    /** @type {[HTMLButtonElement, boolean][]} */
    const toggles = [[this.mic, audio], [this.cam, video]];
    for (const [button, on] of toggles) {
      button.dataset.on = String(on);
      button.classList.toggle('off', !on);
    }
    this.mic.disabled = locked && !audio;
    this.hint.hidden = !this.mic.disabled;
    setText(this.hint, this.mic.disabled ? 'A facilitator muted your microphone. They will let you know when you can unmute.' : '');
    if (this.mic.disabled) this.mic.setAttribute('aria-describedby', this.hint.id);
    else this.mic.removeAttribute('aria-describedby');
  }

  destroy() {
    this.local.removeEventListener('change', this.onChange);
  }
}
DeviceToggles.count = 0;
