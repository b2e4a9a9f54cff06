// What this tab remembers across a reload (sessionStorage: this tab only, gone with it). Nothing a
// person says or shows: only that they had joined, their camera and microphone choices, and that a
// facilitator removed them (so a reload says so, instead of "this link no longer works").

const key = (what) => `hearth.${what}.${location.pathname}`;

function read(what) {
  try {
    return JSON.parse(sessionStorage.getItem(key(what)) ?? 'null');
  } catch {
    return null;
  }
}

function write(what, value) {
  if (value == null) sessionStorage.removeItem(key(what));
  else sessionStorage.setItem(key(what), JSON.stringify(value));
}

export const tabMemory = {
  /** This tab had joined: a reload goes straight back in. */
  get joined() { return read('rejoin') != null; },
  set joined(on) { write('rejoin', on ? true : null); },
  /** {audio, video} as the person last set them: a camera turned off stays off after a reload or a rejoin. */
  get devices() {
    const d = read('devices');
    return d && typeof d.audio === 'boolean' && typeof d.video === 'boolean' ? d : null;
  },
  set devices(d) { write('devices', d ? { audio: Boolean(d.audio), video: Boolean(d.video) } : null); },
  /** A facilitator removed this person; the server refuses the link from then on. */
  get removed() { return read('removed'); },
  set removed(detail) { write('removed', detail ? { reason: String(detail.reason ?? 'removed') } : null); },
};
