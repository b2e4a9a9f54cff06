// What changed, by part of the page's state, so that each panel updates only when something it shows
// did (#17): a speaking level, a nod or a private note no longer re-renders the roster, the waiting
// room and the agenda. AppState's 'change' event carries a `Changes`; each panel says which parts it
// `follows`. Pure: no DOM, no clock.

/**
 * A part of what the page knows. The first five come from `session.state` (see SESSION_PARTS); the
 * others from the page's own events and state (AppState).
 * @typedef {'session' | 'participants' | 'floor' | 'agenda' | 'places'
 *   | 'lobby' | 'speaking' | 'notes' | 'nods' | 'help' | 'safety' | 'broadcasts' | 'media' | 'quality'
 *   | 'e2ee' | 'connection'} Part
 */
/**
 * The parts that changed; null when anything may have (a welcome, a new screen, a field this page
 * does not know): every panel updates then.
 * @typedef {ReadonlySet<Part> | null} Changes
 */

/** Everything may have changed: update every panel. */
export const EVERYTHING = null;

/** Fields of `session.state` that move with every state and show nothing by themselves. */
const UNSHOWN = new Set(['now', 'version']);

/**
 * Times left that the server counts at the moment it sends (`now`): they differ in every state. The
 * page counts them down itself from each `ends_at` on the server's clock (format.js, once a second),
 * so they are left out of the comparison.
 * @type {Record<string, readonly string[]>}
 */
const COUNTED_AT_SENDING = {
  phase: ['elapsed', 'remaining'],
  floor: ['remaining'],
  go_around: ['turn_remaining'],
  breakout: ['remaining'],
};

/**
 * Which part each field of `session.state` belongs to. Typed against the wire (`wire.d.ts`): a field
 * added to the protocol fails the type check until it is given a part here.
 * @type {{ readonly [K in Exclude<keyof import('../wire').SessionStateOut, 'now' | 'version'>]: Part }}
 */
export const SESSION_PARTS = {
  id: 'session',
  title: 'session',
  starts_at: 'session',
  facilitators: 'session',
  status: 'session',
  locked: 'session',
  on_hold: 'session',
  requires_agreement: 'session',
  requires_safety_plan: 'session',
  e2ee: 'session',
  phase: 'agenda',
  agenda: 'agenda',
  floor: 'floor',
  queue: 'floor',
  go_around: 'floor',
  participants: 'participants',
  breakout: 'places',
  place: 'places',
  side_rooms: 'places',
};

/**
 * Whether two values read from the wire (JSON: plain objects, arrays, strings, numbers, booleans,
 * null) hold the same thing. A key present in one and missing in the other is a difference.
 * @param {unknown} a
 * @param {unknown} b
 * @returns {boolean}
 */
export function sameValue(a, b) {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const left = /** @type {Record<string, unknown>} */ (a);
  const right = /** @type {Record<string, unknown>} */ (b);
  const keys = Object.keys(left);
  if (keys.length !== Object.keys(right).length) return false;
  return keys.every((key) => Object.hasOwn(right, key) && sameValue(left[key], right[key]));
}

/**
 * The parts that differ between the session state the page showed (`prev`) and the one that came
 * (`next`). Null (everything) for the first state, for a missing one, and when a field this page
 * does not know changed: when unsure, update everything.
 * @param {import('../wire').SessionStateOut | null | undefined} prev
 * @param {import('../wire').SessionStateOut | null | undefined} next
 * @returns {Changes}
 */
export function sessionChanges(prev, next) {
  if (!prev || !next) return EVERYTHING;
  const before = /** @type {Record<string, unknown>} */ (/** @type {unknown} */ (prev));
  const after = /** @type {Record<string, unknown>} */ (/** @type {unknown} */ (next));
  /** @type {Record<string, Part | undefined>} */
  const partOf = SESSION_PARTS;
  /** @type {Set<Part>} */
  const parts = new Set();
  for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) {
    if (UNSHOWN.has(key)) continue;
    const counted = COUNTED_AT_SENDING[key] ?? [];
    if (sameValue(withoutKeys(before[key], counted), withoutKeys(after[key], counted))) continue;
    const part = partOf[key];
    if (!part) return EVERYTHING;
    parts.add(part);
  }
  return parts;
}

/**
 * `value` without `keys` when it is an object; anything else as it is.
 * @param {unknown} value
 * @param {readonly string[]} keys
 * @returns {unknown}
 */
function withoutKeys(value, keys) {
  if (!keys.length || typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(Object.entries(value).filter(([key]) => !keys.includes(key)));
}

/**
 * Whether `changes` touch any of `parts` (always, when everything may have changed).
 * @param {Changes} changes
 * @param {readonly Part[]} parts
 * @returns {boolean}
 */
export function touches(changes, parts) {
  return changes === EVERYTHING || parts.some((part) => changes.has(part));
}
