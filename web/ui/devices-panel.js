// "Devices" in the room: the same camera, microphone and speaker choices as before joining, in a
// small panel above the control bar. A choice swaps the track in place (LocalMedia.useDevice; the
// publisher follows with replaceTrack, so nobody renegotiates or rejoins), a camera or microphone
// that was off stays off, and the choice stays in this page's LocalMedia for a rejoin, as the
// pre-join choice does.

import { h } from './dom.js';
import { DevicePicker } from './device-picker.js';
import { setIconLabel } from './icons.js';

export class DevicesPanel {
  /**
   * @param {import('../devices.js').LocalMedia} local
   * @param {{fallbackFocus?: () => HTMLElement | null}} [options] where focus goes on closing when
   *   the "Devices" button itself is out of sight (on a phone it sits behind "More")
   */
  constructor(local, { fallbackFocus = () => null } = {}) {
    this.fallbackFocus = fallbackFocus;
    this.button = h('button', {
      type: 'button', 'data-testid': 'devices-button', 'aria-expanded': 'false', 'aria-controls': 'devices-panel',
      'on:click': () => this.toggle(),
    });
    setIconLabel(this.button, 'settings', 'Devices');
    /** @type {DevicePicker | null} */
    this.picker = null; // made on first opening: no device listing until the person asks
    this.local = local;
    this.fields = h('div', {});
    this.close = h('button', { type: 'button', 'data-testid': 'devices-close', 'on:click': () => this.toggle(false) }, 'Close');
    this.el = h('section', {
      className: 'devices-panel', id: 'devices-panel', 'data-testid': 'devices-panel',
      'aria-labelledby': 'devices-heading', hidden: true,
    },
    h('div', { className: 'devices-head' }, h('h3', { id: 'devices-heading' }, 'Devices'), this.close),
    this.fields);
    this.el.addEventListener('keydown', (e) => {
      if (e.key !== 'Escape') return;
      e.stopPropagation();
      this.toggle(false);
    });
  }

  isOpen() {
    return !this.el.hidden;
  }

  /**
   * Open (focus goes to the camera's select) or close (focus back to "Devices", or to `fallbackFocus`
   * when that button is hidden).
   * @param {boolean} [open]
   */
  toggle(open = !this.isOpen()) {
    if (open && !this.picker) {
      this.picker = new DevicePicker(this.local, { bare: true });
      this.fields.append(this.picker.el);
    }
    const hadFocus = this.el.contains(document.activeElement);
    this.el.hidden = !open;
    this.button.setAttribute('aria-expanded', String(open));
    if (open) {
      this.picker?.refresh();
      /** @type {HTMLElement | null} */ (this.el.querySelector('select'))?.focus();
    } else if (hadFocus) {
      (this.button.checkVisibility?.() ? this.button : this.fallbackFocus() ?? this.button).focus();
    }
  }

  destroy() {
    this.picker?.destroy();
  }
}
