// Formatting of times and names for display.

export const now = () => Date.now() / 1000;

/** "1:05" for 65 seconds; never negative. */
export function clock(seconds) {
  const s = Math.max(0, Math.round(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

export function secondsUntil(at) {
  return at == null ? null : Math.max(0, at - now());
}

/** Time left in the current phase, or null when the phase has no time limit. */
export function phaseLeft(session) {
  const p = session?.phase;
  if (p?.ends_at != null) return secondsUntil(p.ends_at);
  if (!p?.started_at || !p.minutes) return null;
  return secondsUntil(p.started_at + p.minutes * 60);
}

/** "18:02:07": the local time of day of an epoch time in seconds (the server's `at`). */
export function timeOfDay(at) {
  const d = new Date(at * 1000);
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
}

export function initials(name = '?') {
  return name.split(/\s+/).filter(Boolean).slice(0, 2).map((w) => w[0].toUpperCase()).join('') || '?';
}

export function ordinal(n) {
  const s = ['th', 'st', 'nd', 'rd'];
  const v = n % 100;
  return n + (s[(v - 20) % 10] || s[v] || s[0]);
}

export const FLOOR_MODES = {
  open: 'Open conversation',
  hands: 'Raise hands',
  strict: 'One voice at a time',
};
