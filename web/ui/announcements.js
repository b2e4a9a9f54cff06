// What a screen reader hears when the room changes: who has the floor, the phase and its rules, the
// go-around, a turn's time, and where one is (a side room, a breakout group: see places.js). One short sentence per change, only for what changed (polite, never a
// running commentary); the person's own turn first and in the second person. Pure: tests give it
// two states and read what it would say.

import { describePlaceChange, kindOf, placeKey } from './places.js';

/** @typedef {Partial<import('../wire').SessionStateOut>} Session */
/** @typedef {{you: string | null | undefined, nameOf: (id: string) => string}} Listener who hears it, and how others are named */

/** @type {Readonly<Record<string, string>>} */
const MODE_RULES = {
  open: 'Open conversation: anyone may speak',
  hands: 'Raise your hand to speak',
  strict: 'One voice at a time: only the person with the floor is heard',
  pairs: 'Practice in pairs: the facilitator sends everyone into pairs for a few minutes',
};

export const TURN_WARNING_SECONDS = 60;

/**
 * The sentences for the change from `prev` to `next` (session states), for the person `you`.
 * `nameOf(id)` names a participant; `now` is the server's time (seconds). A first state says nothing:
 * joining is not a change.
 * @param {Session | null | undefined} prev
 * @param {Session | null | undefined} next
 * @param {Listener & {now: number}} context
 * @returns {string[]}
 */
export function describeChange(prev, next, { you, nameOf, now }) {
  if (!prev || !next || next.status === 'ended') return [];
  const out = describePlaceChange(prev, next, { you, now });
  const inMain = kindOf(placeKey(next, you)) === 'main';
  const phaseChanged = prev.phase?.index !== next.phase?.index;
  if (phaseChanged) out.push(`Now: ${next.phase?.name}. ${MODE_RULES[next.phase?.floor_mode ?? ''] ?? ''}`.trim());
  else if (prev.phase?.floor_mode !== next.phase?.floor_mode) out.push(MODE_RULES[next.phase?.floor_mode ?? '']);
  if (!prev.phase?.overtime && next.phase?.overtime && !phaseChanged) out.push(`Time is up for ${next.phase.name}`);
  if (!inMain) return out; // the floor, the queue and the go-around are the main room's
  const turns = goAround(prev.go_around, next.go_around, { you, nameOf });
  const said = turns.length ? turns : floor(prev.floor, next.floor, { you, nameOf });
  const last = prev.floor;
  const ended = last?.holder && last.holder !== next.floor?.holder && last.ends_at != null && now >= last.ends_at - 1;
  if (last && ended) out.push(`Time is up for ${last.holder === you ? 'your' : `${nameOf(last.holder)}'s`} turn`);
  return [...out, ...said];
}

/**
 * @param {import('../wire').GoAroundOut | null | undefined} prev
 * @param {import('../wire').GoAroundOut | null | undefined} next
 * @param {Listener} listener
 * @returns {string[]}
 */
function goAround(prev, next, { you, nameOf }) {
  /** @param {import('../wire').GoAroundOut} g */
  const whose = (g) => g.order?.[g.position];
  /** @param {import('../wire').GoAroundOut} g */
  const turn = (g) => (whose(g) === you ? 'your turn' : `${nameOf(whose(g))}'s turn`);
  if (!prev && next) return [`Go-around started: ${turn(next)} first`];
  if (prev && !next) return ['The go-around is over'];
  if (prev && next && whose(prev) !== whose(next)) {
    const count = `${(next.position ?? 0) + 1} of ${next.order?.length ?? 0}`;
    return [whose(next) === you ? `Go-around: it is your turn (${count})` : `Go-around: ${turn(next)} (${count})`];
  }
  return [];
}

/**
 * @param {import('../wire').FloorOut | null | undefined} prev
 * @param {import('../wire').FloorOut | null | undefined} next
 * @param {Listener} listener
 * @returns {string[]}
 */
function floor(prev, next, { you, nameOf }) {
  const before = prev?.holder ?? null;
  const after = next?.holder ?? null;
  if (before === after) return [];
  if (after === you) return ['You have the floor'];
  if (after) return [`${nameOf(after)} has the floor`];
  return [before === you ? 'Your turn has ended' : 'Nobody has the floor now'];
}

/**
 * Said once while your own turn runs out: a minute left. `left` and `length`: seconds (null: no
 * limit). A turn not much longer than the warning gets none: it would come as the turn begins.
 * @param {number | null} left
 * @param {boolean} warned
 * @param {number | null} length
 */
export function turnWarning(left, warned, length) {
  return left != null && length != null && length > 2 * TURN_WARNING_SECONDS && left <= TURN_WARNING_SECONDS && left > 0 && !warned;
}
