// Formatting of times and names for display.
//
// Times from the server (`ends_at`, `since`, `disconnected_at`) are on the server's clock. Each
// session.state says what that clock read (`now`); the page keeps the difference to its own clock,
// so a phone whose clock is minutes off still counts a turn down right.

let serverOffset = 0; // the server's clock minus this page's, in seconds

/**
 * Follow the server's clock from a state's `now` (older servers send none: the local clock stays).
 * @param {unknown} serverNow
 * @param {number} [localNow]
 */
export function syncClock(serverNow, localNow = Date.now() / 1000) {
  if (typeof serverNow === 'number') serverOffset = serverNow - localNow;
}

/** The server's time now, in seconds since the epoch. */
export const now = () => Date.now() / 1000 + serverOffset;

/**
 * "1:05" for 65 seconds; never negative.
 * @param {number} seconds
 */
export function clock(seconds) {
  const s = Math.max(0, Math.round(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

/**
 * Seconds from the server's now to `at` (never negative), or null when there is no `at`.
 * @param {number | null | undefined} at
 * @returns {number | null}
 */
export function secondsUntil(at) {
  return at == null ? null : Math.max(0, at - now());
}

/**
 * "just now", "12 s ago", "3 min ago": how long since a server time, for alerts that must be read at a glance.
 * @param {number} at
 */
export function ago(at) {
  const s = Math.max(0, Math.round(now() - at));
  if (s < 5) return 'just now';
  if (s < 60) return `${s} s ago`;
  return `${Math.floor(s / 60)} min ago`;
}

/**
 * Time left in the current phase, or null when the phase has no time limit.
 * @param {Partial<import('../wire').SessionStateOut> | null | undefined} session
 * @returns {number | null}
 */
export function phaseLeft(session) {
  const p = session?.phase;
  if (p?.ends_at != null) return secondsUntil(p.ends_at);
  if (!p?.started_at || !p.minutes) return null;
  return secondsUntil(p.started_at + p.minutes * 60);
}

/**
 * "18:02:07": the local time of day of an epoch time in seconds (the server's `at`).
 * @param {number} at
 */
export function timeOfDay(at) {
  const d = new Date(at * 1000);
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
}

/**
 * "18:30": the local hour and minute of an epoch time in seconds.
 * @param {number} at
 */
export function hourMinute(at) {
  return timeOfDay(at).slice(0, 5);
}

/**
 * "Dana", "Dana and Lee", "Dana, Lee and Sam".
 * @param {readonly string[]} names
 */
export function listNames(names) {
  return names.length < 2 ? (names[0] ?? '') : `${names.slice(0, -1).join(', ')} and ${names.at(-1)}`;
}

/**
 * "DL" for "Dana Lee": a tile's stand-in while there is no video.
 * @param {string} [name]
 */
export function initials(name = '?') {
  return name.split(/\s+/).filter(Boolean).slice(0, 2).map((w) => w[0].toUpperCase()).join('') || '?';
}

/**
 * "1st", "2nd", "11th", "23rd".
 * @param {number} n
 */
export function ordinal(n) {
  const s = ['th', 'st', 'nd', 'rd'];
  const v = n % 100;
  return n + (s[(v - 20) % 10] || s[v] || s[0]);
}

/**
 * Each floor mode's words, by the mode's name on the wire.
 * @type {Readonly<Record<string, string>>}
 */
export const FLOOR_MODES = {
  open: 'Open conversation',
  hands: 'Raise hands',
  strict: 'One voice at a time',
  pairs: 'Practice in pairs',
};
