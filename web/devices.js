// The local camera and microphone. No DOM: the page shows `stream`; the wire sends its tracks.

export const VIDEO_CONSTRAINTS = {
  width: { ideal: 640, max: 640 },
  height: { ideal: 480, max: 480 },
  frameRate: { ideal: 24, max: 30 },
};
export const AUDIO_CONSTRAINTS = { echoCancellation: true, noiseSuppression: true, autoGainControl: true };

/** @typedef {'audio' | 'video'} Kind */

/**
 * Owns one MediaStream whose tracks come and go as the person turns devices on and off.
 * Turning the camera off stops it (the light goes out); the microphone is only disabled, so
 * unmuting is instant. Fires 'change' whenever a track is added, removed or toggled, and 'choice'
 * ({audio, video}) when the person turned one on or off themselves (not a refusal, nor a
 * facilitator's mute, nor leaving), so the page can keep that choice for next time.
 */
export class LocalMedia extends EventTarget {
  constructor() {
    super();
    this.stream = new MediaStream();
    this.audio = false;
    this.video = false;
    /** @type {string | null} why a device could not be used, in words for the person */
    this.error = null;
    /** @type {Record<Kind, string | null>} chosen in the device picker; null: the browser's default */
    this.deviceIds = { audio: null, video: null };
    /** @type {Promise<void> | null} asking for the devices, once until `stop()` */
    this.opening = null;
    this.speaker = ''; // audio output device id for remote voices and the speaker test ('' = default)
  }

  /**
   * Use another camera or microphone; one that is on now switches at once (the sender follows).
   * @param {Kind} kind
   * @param {string} deviceId '' or null: the browser's default
   */
  async useDevice(kind, deviceId) {
    this.deviceIds[kind] = deviceId || null;
    const track = kind === 'video' ? this.videoTrack : this.audioTrack;
    if (!track || track.getSettings?.().deviceId === deviceId) return this.#changed();
    const enabled = track.enabled;
    const next = await this.#acquire(kind);
    if (!next) return this.#changed();
    this.stream.removeTrack(track);
    track.stop();
    next.enabled = enabled;
    this.stream.addTrack(next);
    this.#changed();
  }

  /** @param {string} deviceId '' or null: the default speaker */
  setSpeaker(deviceId) {
    this.speaker = deviceId || '';
    this.#changed();
  }

  get audioTrack() { return this.stream.getAudioTracks()[0] ?? null; }
  get videoTrack() { return this.stream.getVideoTracks()[0] ?? null; }

  /**
   * Ask for both devices once; a refusal leaves that device off and records why.
   * @param {{audio?: boolean, video?: boolean}} [wanted]
   */
  open({ audio = true, video = true } = {}) {
    this.opening ??= (async () => {
      if (audio) await this.setAudio(true);
      if (video) await this.setVideo(true);
    })();
    return this.opening;
  }

  /**
   * The person's own toggle of `kind`.
   * @param {Kind} kind
   * @param {boolean} on
   */
  async choose(kind, on) {
    await (kind === 'audio' ? this.setAudio(on) : this.setVideo(on));
    this.dispatchEvent(new CustomEvent('choice', { detail: { audio: this.audio, video: this.video } }));
  }

  /** @param {boolean} on */
  async setVideo(on) {
    if (on && !this.videoTrack) {
      const track = await this.#acquire('video');
      if (!track) return this.#changed();
      this.stream.addTrack(track);
    } else if (!on && this.videoTrack) {
      const track = this.videoTrack;
      this.stream.removeTrack(track);
      track.stop();
    }
    this.video = Boolean(on && this.videoTrack);
    this.#changed();
  }

  /** @param {boolean} on */
  async setAudio(on) {
    if (on && !this.audioTrack) {
      const track = await this.#acquire('audio');
      if (!track) return this.#changed();
      this.stream.addTrack(track);
    }
    if (this.audioTrack) this.audioTrack.enabled = Boolean(on);
    this.audio = Boolean(on && this.audioTrack);
    this.#changed();
  }

  /** Release both devices (the camera light goes out); `open()` may ask for them again later. */
  stop() {
    this.opening = null;
    for (const track of this.stream.getTracks()) {
      track.stop();
      this.stream.removeTrack(track);
    }
    this.audio = this.video = false;
    this.#changed();
  }

  /**
   * @param {Kind} kind
   * @returns {Promise<MediaStreamTrack | null>}
   */
  async #acquire(kind) {
    if (!navigator.mediaDevices?.getUserMedia) {
      this.error = 'This browser cannot use a camera or microphone here (it needs a secure https page).';
      return null;
    }
    try {
      const chosen = this.deviceIds[kind] ? { deviceId: { exact: this.deviceIds[kind] } } : {};
      const constraints = kind === 'video' ? { video: { ...VIDEO_CONSTRAINTS, ...chosen } } : { audio: { ...AUDIO_CONSTRAINTS, ...chosen } };
      const stream = await navigator.mediaDevices.getUserMedia(constraints);
      this.error = null;
      return stream.getTracks()[0];
    } catch (err) {
      this.error = `Your ${kind === 'video' ? 'camera' : 'microphone'} is not available (${/** @type {DOMException} */ (err).name}).`;
      return null;
    }
  }

  #changed() {
    this.dispatchEvent(new Event('change'));
  }
}
