// "Is my microphone working?": a live level bar for the local mic, computed in the page only.

import { h } from './dom.js';

export class MicMeter {
  /** @param {import('../devices.js').LocalMedia} local */
  constructor(local) {
    this.local = local;
    this.meter = h('meter', { min: 0, max: 1, low: 0.05, high: 0.9, optimum: 0.5, value: 0, id: 'mic-level', 'data-testid': 'mic-level' });
    this.el = h('div', { className: 'mic-meter' }, h('label', { htmlFor: 'mic-level' }, 'Microphone level'), this.meter);
    /** @type {MediaStreamTrack | null} */
    this.track = null;
    /** @type {AudioContext | null} */
    this.context = null; // made once, on the first track
    /** @type {AnalyserNode | null} */
    this.analyser = null;
    /** @type {MediaStreamAudioSourceNode | null} */
    this.source = null;
    /** @type {Float32Array<ArrayBuffer> | null} */
    this.samples = null;
    /** @type {number | null} */
    this.frame = null;
    this.onChange = () => this.#follow();
    local.addEventListener('change', this.onChange);
    // Browsers start audio contexts suspended until the person interacts with the page.
    this.onGesture = () => this.context?.resume().catch(() => {});
    document.addEventListener('pointerdown', this.onGesture);
    document.addEventListener('keydown', this.onGesture);
    this.#follow();
  }

  #follow() {
    const track = this.local.audio ? this.local.audioTrack : null;
    if (track === this.track) return;
    this.source?.disconnect();
    this.source = null;
    this.track = track;
    this.meter.value = 0;
    if (!track || !globalThis.AudioContext) return;
    const context = (this.context ??= new AudioContext());
    const analyser = (this.analyser ??= Object.assign(context.createAnalyser(), { fftSize: 512 }));
    this.source = context.createMediaStreamSource(new MediaStream([track]));
    this.source.connect(analyser);
    this.samples ??= new Float32Array(analyser.fftSize);
    this.frame ??= requestAnimationFrame(() => this.#draw());
  }

  #draw() {
    this.frame = null;
    const { analyser, samples } = this;
    if (!this.source || !analyser || !samples) return;
    analyser.getFloatTimeDomainData(samples);
    let sum = 0;
    for (const x of samples) sum += x * x;
    const rms = Math.sqrt(sum / samples.length);
    this.meter.value = Math.min(1, rms * 4);
    this.frame = requestAnimationFrame(() => this.#draw());
  }

  destroy() {
    this.local.removeEventListener('change', this.onChange);
    document.removeEventListener('pointerdown', this.onGesture);
    document.removeEventListener('keydown', this.onGesture);
    if (this.frame) cancelAnimationFrame(this.frame);
    this.source?.disconnect();
    this.source = null;
    this.context?.close().catch(() => {});
  }
}
