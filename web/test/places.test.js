import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeChange } from '../ui/announcements.js';
import { awayLabel, companions, describePlace, describePlaceChange, isHere, placeKey } from '../ui/places.js';

const person = (id, name, extra = {}) => ({ id, name, status: 'admitted', role: 'member', ...extra });
const base = { status: 'live', phase: { index: 0, name: 'check-in', floor_mode: 'open', overtime: false }, floor: null, queue: [], go_around: null };

// A member's view: the place and each participant's presence as seen from it.
const member = (place, people, extra = {}) => ({ ...base, place, participants: people, ...extra });
// The facilitators' view: every participant's place.
const leads = (people, extra = {}) => ({ ...base, participants: people, ...extra });

test('a member in a pair sees their partner here and the others away', () => {
  const s = member({ kind: 'group', group: 1 }, [
    person('ann', 'Ann', { presence: 'here' }), person('bob', 'Bob', { presence: 'here' }),
    person('cat', 'Cat', { presence: 'elsewhere' }),
  ], { breakout: { count: 2, ends_at: 1e12 } });
  assert.equal(placeKey(s, 'ann'), 'group:1');
  assert.deepEqual(companions(s, 'ann').map((p) => p.name), ['Bob']);
  assert.equal(isHere(s, 'ann', s.participants[2]), false);
  assert.match(describePlace(s, 'ann'), /^Breakout group 2 with Bob · \d+:\d\d left$/);
});

test('a facilitator\'s place comes from their own entry', () => {
  const s = leads([person('dana', 'Dana', { role: 'facilitator', place: 'side:ann' }), person('ann', 'Ann', { place: 'side:ann' }),
    person('bob', 'Bob', { place: 'main' })]);
  assert.equal(placeKey(s, 'dana'), 'side:ann');
  assert.deepEqual(companions(s, 'dana').map((p) => p.name), ['Ann']);
  assert.equal(describePlace(s, 'dana'), 'Side room with Ann: nobody else sees or hears you');
  assert.equal(awayLabel(s.participants[2]), 'In the main room');
  assert.equal(awayLabel(person('x', 'X', { place: 'group:0' })), 'In group 1');
});

test('the main room says nothing of places until someone is away', () => {
  const s = member({ kind: 'main', group: null }, [person('ann', 'Ann', { presence: 'here' }), person('bob', 'Bob', { presence: 'stepped_out' })]);
  assert.equal(describePlace(s, 'ann'), null);
  assert.equal(awayLabel(s.participants[1]), 'Stepped out');
});

test('moves between places are said once, in a sentence', () => {
  const inMain = member({ kind: 'main', group: null }, [person('ann', 'Ann', { presence: 'here' }), person('bob', 'Bob', { presence: 'here' })]);
  const paired = member({ kind: 'group', group: 0 }, [person('ann', 'Ann', { presence: 'here' }), person('bob', 'Bob', { presence: 'here' })],
    { breakout: { count: 1, ends_at: 1000 + 300 } });
  const visited = member({ kind: 'group', group: 0 }, [...paired.participants, person('dana', 'Dana', { role: 'facilitator', presence: 'here', listen_only: true })],
    { breakout: paired.breakout });
  const ctx = { you: 'ann', nameOf: (id) => id, now: 1000 };
  assert.deepEqual(describePlaceChange(inMain, paired, ctx), ['You are in breakout group 1 with Bob for 5 minutes']);
  assert.deepEqual(describePlaceChange(paired, visited, ctx), ['Dana is listening in']);
  assert.deepEqual(describePlaceChange(visited, paired, ctx), ['Dana left']);
  assert.deepEqual(describePlaceChange(paired, inMain, ctx), ['The breakout has ended: you are back in the main room']);
  const aside = member({ kind: 'side', group: null }, [person('ann', 'Ann', { presence: 'here' }), person('dana', 'Dana', { role: 'cofacilitator', presence: 'here' })]);
  assert.deepEqual(describePlaceChange(inMain, aside, ctx), ['You are in a side room with Dana. Nobody else sees or hears you']);
});

test('away from the main room its floor is not announced', () => {
  const paired = member({ kind: 'group', group: 0 }, [person('ann', 'Ann', { presence: 'here' })], { breakout: { count: 1, ends_at: 2000 } });
  const floorMoved = { ...paired, floor: { holder: 'bob', ends_at: null } };
  assert.deepEqual(describeChange(paired, floorMoved, { you: 'ann', nameOf: () => 'Bob', now: 1000 }), []);
});
