// Places: where this page's person is (the main room, a side room, a breakout group), who is there
// with them, and how to say it. The server forwards media only between people in the same place, so
// the page shows what it receives: the tiles of people here, and of others (in the main room) a
// marked tile without video. Pure: tests give it session states.
//
// Members' states say it from their place (`place: {kind, group}`, each participant's `presence`);
// the facilitators' state names every participant's `place` ("main", "side:<member id>",
// "group:<index>"), their own included.

import { clock, listNames, secondsUntil } from './format.js';

/** @typedef {Partial<import('../wire').SessionStateOut> | null | undefined} Session a session state, or none yet */
/** @typedef {string | null | undefined} Id a participant's id, or none yet */
/** @typedef {Pick<Partial<import('../wire').ParticipantOut>, 'presence' | 'place'>} Whereabouts */

export const MAIN = 'main';

/**
 * This person's place as a key: "main", "side:<member id>" or "group:<index>".
 * @param {Session} session
 * @param {Id} you
 * @returns {string}
 */
export function placeKey(session, you) {
  const place = session?.place;
  if (place) {
    if (place.kind === 'group') return `group:${place.group}`;
    return place.kind === 'side' ? `side:${you}` : MAIN;
  }
  return session?.participants?.find((p) => p.id === you)?.place ?? MAIN;
}

/**
 * The kind of a place key.
 * @param {string | null | undefined} key
 * @returns {'group' | 'side' | 'main'}
 */
export function kindOf(key) {
  return key?.startsWith('group:') ? 'group' : key?.startsWith('side:') ? 'side' : 'main';
}

/**
 * A group's index from its place key, or null for another place.
 * @param {string | null | undefined} key
 * @returns {number | null}
 */
export function groupOf(key) {
  return key && kindOf(key) === 'group' ? Number(key.slice('group:'.length)) : null;
}

/**
 * Whether `p` is in this person's place (an older server that names no places: everyone is).
 * @param {Session} session
 * @param {Id} you
 * @param {Whereabouts} p
 */
export function isHere(session, you, p) {
  if (p.presence) return p.presence === 'here';
  if (p.place === undefined || p.place === null) return true;
  return p.place === placeKey(session, you);
}

const LEADS = new Set(['facilitator', 'cofacilitator']);

/**
 * The others in this person's place, admitted: members first, then facilitators (a visitor), each in the session's order.
 * @param {Session} session
 * @param {Id} you
 */
export function companions(session, you) {
  const here = (session?.participants ?? []).filter((p) => p.id !== you && p.status === 'admitted' && isHere(session, you, p));
  return [...here.filter((p) => !LEADS.has(p.role)), ...here.filter((p) => LEADS.has(p.role))];
}

/**
 * Where someone not here is, in the words a tile or a row uses ("Stepped out", "In group 2").
 * @param {Whereabouts} p
 */
export function awayLabel(p) {
  if (p.presence === 'stepped_out') return 'Stepped out';
  if (p.presence === 'in_group') return 'In a breakout group';
  if (p.presence === 'elsewhere') return 'Not with you now';
  const kind = kindOf(p.place);
  if (kind === 'side') return 'In a side room';
  if (kind === 'group') return `In group ${(groupOf(p.place) ?? 0) + 1}`;
  return 'In the main room';
}

/**
 * "Dana", or "Dana (listening)": a facilitator visiting to listen is seen but not heard.
 * @param {{name: string, listen_only?: boolean}} p
 */
function named(p) {
  return p.listen_only ? `${p.name} (listening)` : p.name;
}

/**
 * The breakout's time left, as "3:20 left", or '' when none runs.
 * @param {Session} session
 */
export function breakoutLeft(session) {
  const left = secondsUntil(session?.breakout?.ends_at);
  return left == null ? '' : `${clock(left)} left`;
}

/**
 * One line on where this person is: null in the main room with no breakout running (the usual
 * case takes no room), else the place, who is there, and the time left.
 * @param {Session} session
 * @param {Id} you
 * @returns {string | null}
 */
export function describePlace(session, you) {
  const key = placeKey(session, you);
  const kind = kindOf(key);
  const others = companions(session, you);
  const left = breakoutLeft(session);
  if (kind === 'side') {
    const who = listNames(others.map(named)) || 'nobody yet';
    return `Side room with ${who}: nobody else sees or hears you`;
  }
  if (kind === 'group') {
    const who = listNames(others.map(named)) || 'nobody yet';
    return `Breakout group ${(groupOf(key) ?? 0) + 1} with ${who}${left ? ` · ${left}` : ''}`;
  }
  if (session?.breakout) return `Breakout groups are meeting${left ? ` · ${left}` : ''}`;
  return null;
}

/**
 * What a screen reader hears when this person's place changes, or someone arrives in or leaves a
 * side room or group they are in. `prev`, `next`: session states; `now`: the server's time.
 * @param {Partial<import('../wire').SessionStateOut>} prev
 * @param {Partial<import('../wire').SessionStateOut>} next
 * @param {{you: Id, now: number}} context
 * @returns {string[]}
 */
export function describePlaceChange(prev, next, { you, now }) {
  const before = placeKey(prev, you);
  const after = placeKey(next, you);
  const kind = kindOf(after);
  const others = companions(next, you);
  const who = listNames(others.map(named));
  if (before !== after) {
    if (kind === 'side') return [`You are in a side room with ${who || 'a facilitator'}. Nobody else sees or hears you`];
    if (kind === 'group') {
      const left = next.breakout?.ends_at != null ? Math.round((next.breakout.ends_at - now) / 60) : null;
      const time = left != null && left > 0 ? ` for ${left} minute${left === 1 ? '' : 's'}` : '';
      return [`You are in breakout group ${(groupOf(after) ?? 0) + 1}${who ? ` with ${who}` : ''}${time}`];
    }
    return [prev.breakout && !next.breakout ? 'The breakout has ended: you are back in the main room'
      : 'You are back in the main room'];
  }
  if (kind === 'main') return [];
  const was = new Map(companions(prev, you).map((p) => [p.id, p]));
  const still = new Set(others.map((p) => p.id));
  const out = [];
  for (const p of others) {
    if (!was.has(p.id)) out.push(p.listen_only ? `${p.name} is listening in` : `${p.name} joined you`);
    else if (was.get(p.id)?.listen_only && !p.listen_only) out.push(`${p.name} is speaking with you now`);
  }
  for (const p of was.values()) if (!still.has(p.id)) out.push(`${p.name} left`);
  return out;
}
