import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SESSION_PARTS, sameValue, sessionChanges, touches } from '../ui/changes.js';

/** A session state as the server sends it to a facilitator, with `change` applied on top. */
function state(change = {}) {
  return {
    id: 's-1', title: 'Tuesday group', version: 7, now: 1000, starts_at: null,
    facilitators: [{ id: 'f', name: 'Dana', role: 'facilitator', connected: true }],
    status: 'live', locked: false, on_hold: false, requires_agreement: true, requires_safety_plan: false, e2ee: 'off',
    phase: { index: 0, name: 'Check-in', started_at: 900, minutes: 15, floor_mode: 'open', ends_at: 1800, elapsed: 100, remaining: 800, overtime: false },
    agenda: [{ name: 'Check-in', minutes: 15, floor_mode: 'open' }, { name: 'Check-out', minutes: 10, floor_mode: 'open' }],
    floor: { holder: 'a', since: 950, ends_at: 1070, remaining: 70 },
    queue: ['b'],
    go_around: null,
    participants: [
      { id: 'f', name: 'Dana', role: 'facilitator', status: 'admitted', connected: true, hand_raised: false, audio: true, video: true, forced_mute: false, audible: true, stream_ids: ['x'] },
      { id: 'a', name: 'Alex', role: 'member', status: 'admitted', connected: true, hand_raised: false, audio: true, video: true, forced_mute: false, audible: true, stream_ids: ['y'] },
      { id: 'b', name: 'Sam', role: 'member', status: 'admitted', connected: true, hand_raised: true, audio: true, video: false, forced_mute: false, audible: true, stream_ids: [] },
    ],
    breakout: null,
    side_rooms: [],
    ...change,
  };
}

const parts = (changes) => (changes === null ? null : [...changes].sort());

test('the first state, or none, changes everything', () => {
  assert.equal(sessionChanges(null, state()), null);
  assert.equal(sessionChanges(undefined, state()), null);
  assert.equal(sessionChanges(state(), null), null);
});

test('a state that only moved the clock and the version changes nothing', () => {
  assert.deepEqual(parts(sessionChanges(state(), state({ version: 8, now: 1010 }))), []);
});

test('times left counted at sending are not a change: the page counts them down itself', () => {
  const later = state({
    now: 1030,
    phase: { ...state().phase, elapsed: 130, remaining: 770 },
    floor: { ...state().floor, remaining: 40 },
    go_around: null,
  });
  assert.deepEqual(parts(sessionChanges(state(), later)), []);
  const turns = { order: ['a', 'b'], position: 0, turn_ends_at: 1100, turn_remaining: 100 };
  const breakout = { count: 2, ends_at: 1300, remaining: 300, warned: false };
  assert.deepEqual(parts(sessionChanges(state({ go_around: turns, breakout }),
    state({ go_around: { ...turns, turn_remaining: 90 }, breakout: { ...breakout, remaining: 290 } }))), []);
  // The phase running over its time is a change: it is said and shown.
  assert.deepEqual(parts(sessionChanges(state(), state({ phase: { ...state().phase, overtime: true } }))), ['agenda']);
});

test('a member muting their microphone changes the participants only', () => {
  const before = state();
  const after = state({ participants: before.participants.map((p) => (p.id === 'a' ? { ...p, audio: false } : p)) });
  assert.deepEqual(parts(sessionChanges(before, after)), ['participants']);
});

test('the floor passing on changes the floor part, whether the holder, the queue or the go-around moved', () => {
  assert.deepEqual(parts(sessionChanges(state(), state({ floor: { holder: 'b', since: 1000, ends_at: null, remaining: null }, queue: [] }))), ['floor']);
  assert.deepEqual(parts(sessionChanges(state(), state({ go_around: { order: ['a'], position: 0, turn_ends_at: null, turn_remaining: null } }))), ['floor']);
});

test('each field of the session belongs to the part that shows it', () => {
  assert.deepEqual(parts(sessionChanges(state(), state({ locked: true }))), ['session']);
  assert.deepEqual(parts(sessionChanges(state(), state({ requires_safety_plan: true }))), ['session']);
  assert.deepEqual(parts(sessionChanges(state(), state({ agenda: [] }))), ['agenda']);
  assert.deepEqual(parts(sessionChanges(state(), state({ side_rooms: [{ member: 'a', lead: 'f', since: 1, back_to: 'main' }] }))), ['places']);
  assert.deepEqual(parts(sessionChanges(state(), state({ place: { kind: 'group', group: 0 } }))), ['places']);
});

test('several changes at once are each named once', () => {
  const before = state();
  const after = state({
    queue: [],
    locked: true,
    on_hold: true,
    participants: before.participants.map((p) => ({ ...p, hand_raised: false })),
  });
  assert.deepEqual(parts(sessionChanges(before, after)), ['floor', 'participants', 'session']);
});

test('a field this page does not know changes everything: when unsure, update all', () => {
  assert.equal(sessionChanges(state(), state({ weather: 'sunny' })), null);
});

test('every field of the session state has a part', () => {
  assert.deepEqual(Object.keys(SESSION_PARTS).sort(), Object.keys(state()).filter((k) => !['now', 'version'].includes(k)).concat('place').sort());
});

test('values from the wire are compared by what they hold', () => {
  assert.equal(sameValue({ a: [1, { b: null }] }, { a: [1, { b: null }] }), true);
  assert.equal(sameValue({ a: [1, 2] }, { a: [2, 1] }), false);
  assert.equal(sameValue({ a: 1 }, { a: 1, b: undefined }), false);
  assert.equal(sameValue([], {}), false);
  assert.equal(sameValue(null, {}), false);
  assert.equal(sameValue('1', 1), false);
});

test('a panel updates when a part it follows changed, or when anything may have', () => {
  assert.equal(touches(null, ['lobby']), true);
  assert.equal(touches(new Set(['nods']), ['lobby', 'session']), false);
  assert.equal(touches(new Set(['nods', 'session']), ['lobby', 'session']), true);
  assert.equal(touches(new Set(), ['lobby']), false);
});
