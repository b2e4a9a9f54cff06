// Which camera, microphone and speaker: chosen before joining (and while waiting), with a test
// sound for the speaker, as people know from other video tools. The choices live in this page's
// LocalMedia; device ids never leave the page.

import { h, reconcile, setText } from './dom.js';

/** @type {{kind: MediaDeviceKind, key: import('../devices.js').Kind, label: string, testid: string}[]} */
const KINDS = [
  { kind: 'videoinput', key: 'video', label: 'Camera', testid: 'camera-select' },
  { kind: 'audioinput', key: 'audio', label: 'Microphone', testid: 'mic-select' },
];
const TEST_TONE_S = 1.2;

/** Whether this browser can send sound to a chosen output (Chrome and Firefox can; Safari cannot). */
const canChooseSpeaker = () => typeof HTMLMediaElement !== 'undefined' && 'setSinkId' in HTMLMediaElement.prototype;

export class DevicePicker {
  /**
   * `open`: shown unfolded (before joining); folded elsewhere. `bare`: the fields alone, without the
   * fold, for the room's "Devices" panel (which has its own heading and its own way to close).
   * @param {import('../devices.js').LocalMedia} local
   * @param {{open?: boolean, bare?: boolean}} [options]
   */
  constructor(local, { open = false, bare = false } = {}) {
    this.local = local;
    this.selects = KINDS.map(({ key, label, testid }) => {
      const select = h('select', { id: testid, 'data-testid': testid, 'on:change': (/** @type {Event} */ e) => local.useDevice(key, /** @type {HTMLSelectElement} */ (e.target).value) });
      return { key, select, field: h('div', { className: 'field' }, h('label', { htmlFor: testid }, label), select) };
    });
    this.speaker = h('select', { id: 'speaker-select', 'data-testid': 'speaker-select', 'on:change': (/** @type {Event} */ e) => local.setSpeaker(/** @type {HTMLSelectElement} */ (e.target).value) });
    this.test = h('button', { type: 'button', 'data-testid': 'speaker-test', 'on:click': () => this.playTone() }, 'Play a test sound');
    this.heard = h('p', { className: 'hint', role: 'status', 'data-testid': 'speaker-test-status' });
    this.speakerField = h('div', { className: 'field' }, h('label', { htmlFor: 'speaker-select' }, 'Speaker'),
      h('div', { className: 'row' }, this.speaker, this.test));
    const fields = h('div', { className: 'device-fields' }, this.selects.map((s) => s.field), this.speakerField, this.heard);
    /** @type {HTMLElement} */
    this.el = bare ? fields : h('details', { className: 'device-picker', 'data-testid': 'device-picker', open },
      h('summary', {}, 'Choose camera, microphone and speaker'), fields);
    this.onDevices = () => this.refresh();
    navigator.mediaDevices?.addEventListener?.('devicechange', this.onDevices);
    this.onLocal = () => this.refresh();
    local.addEventListener('change', this.onLocal);
    this.refresh();
  }

  async refresh() {
    const devices = (await navigator.mediaDevices?.enumerateDevices?.().catch(() => [])) ?? [];
    for (const [i, { kind }] of KINDS.entries()) {
      const { key, select } = this.selects[i];
      const list = devices.filter((d) => d.kind === kind);
      fill(select, list, KINDS[i].label);
      const current = (key === 'video' ? this.local.videoTrack : this.local.audioTrack)?.getSettings?.().deviceId;
      const want = this.local.deviceIds[key] ?? current;
      if (want && document.activeElement !== select) select.value = want;
    }
    const outputs = devices.filter((d) => d.kind === 'audiooutput');
    this.speakerField.hidden = !canChooseSpeaker();
    fill(this.speaker, outputs.length ? outputs : [{ deviceId: '', label: 'This device\'s speaker' }], 'Speaker');
    if (document.activeElement !== this.speaker) {
      this.speaker.value = this.local.speaker;
      if (this.speaker.selectedIndex < 0) this.speaker.selectedIndex = 0; // no output is called '' here: show the first
    }
  }

  /**
   * A short tone through the chosen speaker: "can you hear it?" before the group can. While it
   * plays, the button waits with aria-disabled, not `disabled`: a disabled button drops keyboard
   * focus to the page's body, where Escape no longer closes the room's "Devices" panel and Tab
   * starts over from the top.
   */
  async playTone() {
    if (this.test.getAttribute('aria-disabled') === 'true') return; // one tone at a time
    this.test.setAttribute('aria-disabled', 'true');
    const context = new AudioContext();
    const tone = context.createOscillator();
    const gain = context.createGain();
    const out = context.createMediaStreamDestination();
    tone.frequency.value = 523;
    gain.gain.value = 0.15;
    tone.connect(gain).connect(out);
    const audio = new Audio();
    audio.srcObject = out.stream;
    if (this.local.speaker && audio.setSinkId) await audio.setSinkId(this.local.speaker).catch(() => {});
    setText(this.heard, 'Playing a test sound…');
    tone.start();
    await audio.play().catch(() => {});
    tone.stop(context.currentTime + TEST_TONE_S);
    tone.onended = () => {
      audio.srcObject = null;
      context.close().catch(() => {});
      this.test.removeAttribute('aria-disabled');
      setText(this.heard, 'Did you hear a tone? If not, choose another speaker or turn the volume up.');
    };
  }

  destroy() {
    navigator.mediaDevices?.removeEventListener?.('devicechange', this.onDevices);
    this.local.removeEventListener('change', this.onLocal);
  }
}

/**
 * The <select>'s options: one per device, named by the browser or else numbered.
 * @param {HTMLSelectElement} select
 * @param {{deviceId: string, label: string}[]} devices
 * @param {string} label what each device is ("Camera")
 */
function fill(select, devices, label) {
  reconcile(select, devices, (d) => d.deviceId || 'default', () => h('option'), (opt, d) => {
    opt.value = d.deviceId;
    setText(opt, d.label || `${label} ${devices.indexOf(d) + 1}`);
  });
}
