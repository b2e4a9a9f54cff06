// What this tab remembers across a reload (sessionStorage: this tab only, gone with it). Nothing a
// person says or shows: only that they had joined, their camera and microphone choices, and that a
// facilitator removed them (so a reload says so, instead of "this link no longer works").

/** @param {string} what */
const key = (what) => `hearth.${what}.${location.pathname}`;

/**
 * @param {string} what
 * @returns {any} what was written, as JSON read it back
 */
function read(what) {
  try {
    return JSON.parse(sessionStorage.getItem(key(what)) ?? 'null');
  } catch {
    return null;
  }
}

/**
 * @param {string} what
 * @param {unknown} value null or undefined: forget it
 */
function write(what, value) {
  if (value == null) sessionStorage.removeItem(key(what));
  else sessionStorage.setItem(key(what), JSON.stringify(value));
}

export const tabMemory = {
  /** This tab had joined: a reload goes straight back in. */
  get joined() { return read('rejoin') != null; },
  set joined(/** @type {boolean} */ on) { write('rejoin', on ? true : null); },
  /**
   * {audio, video} as the person last set them: a camera turned off stays off after a reload or a rejoin.
   * @returns {{audio: boolean, video: boolean} | null}
   */
  get devices() {
    const d = read('devices');
    return d && typeof d.audio === 'boolean' && typeof d.video === 'boolean' ? d : null;
  },
  set devices(/** @type {{audio?: boolean, video?: boolean} | null} */ d) { write('devices', d ? { audio: Boolean(d.audio), video: Boolean(d.video) } : null); },
  /**
   * A facilitator removed this person; the server refuses the link from then on.
   * @returns {{reason: string} | null}
   */
  get removed() { return read('removed'); },
  set removed(/** @type {{reason?: string} | null | undefined} */ detail) { write('removed', detail ? { reason: String(detail.reason ?? 'removed') } : null); },
};
