import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeChange, turnWarning } from '../ui/announcements.js';

const names = { ann: 'Ann', bob: 'Bob', cat: 'Cat' };
const ctx = (extra = {}) => ({ you: 'ann', nameOf: (id) => names[id] ?? 'Someone', now: 1000, ...extra });
const phase = (index, floor_mode, extra = {}) => ({ index, name: ['check-in', 'focused conversation', 'skill-building'][index], floor_mode, overtime: false, ...extra });
const base = { status: 'live', phase: phase(0, 'open'), floor: null, queue: [], go_around: null };
const state = (change) => ({ ...base, ...change });

test('each kind of change is said once, in a sentence', () => {
  const cases = [
    ['someone else gets the floor', {}, { floor: { holder: 'bob', ends_at: null } }, ['Bob has the floor']],
    ['I get the floor', {}, { floor: { holder: 'ann', ends_at: null } }, ['You have the floor']],
    ['the floor moves on', { floor: { holder: 'bob' } }, { floor: { holder: 'cat' } }, ['Cat has the floor']],
    ['someone loses the floor', { floor: { holder: 'bob' } }, { floor: null }, ['Nobody has the floor now']],
    ['my turn ends', { floor: { holder: 'ann' } }, { floor: null }, ['Your turn has ended']],
    ['a timed turn runs out', { floor: { holder: 'bob', ends_at: 1000 } }, { floor: null },
      ["Time is up for Bob's turn", 'Nobody has the floor now']],
    ['the phase changes', {}, { phase: phase(1, 'hands') }, ['Now: focused conversation. Raise your hand to speak']],
    ['the phase turns strict', {}, { phase: phase(0, 'strict') }, ['One voice at a time: only the person with the floor is heard']],
    ['the phase runs over', {}, { phase: phase(0, 'open', { overtime: true }) }, ['Time is up for check-in']],
    ['a go-around starts', {}, { go_around: { order: ['bob', 'ann'], position: 0 }, floor: { holder: 'bob' } },
      ["Go-around started: Bob's turn first"]],
    ['a go-around reaches me', { go_around: { order: ['bob', 'ann'], position: 0 }, floor: { holder: 'bob' } },
      { go_around: { order: ['bob', 'ann'], position: 1 }, floor: { holder: 'ann' } }, ['Go-around: it is your turn (2 of 2)']],
    ['a go-around turn times out', { go_around: { order: ['bob', 'cat'], position: 0 }, floor: { holder: 'bob', ends_at: 999 } },
      { go_around: { order: ['bob', 'cat'], position: 1 }, floor: { holder: 'cat' } },
      ["Time is up for Bob's turn", "Go-around: Cat's turn (2 of 2)"]],
    ['a go-around ends', { go_around: { order: ['bob'], position: 0 }, floor: { holder: 'bob' } }, { go_around: null, floor: null },
      ['The go-around is over']],
    ['nothing I hear about changes', { queue: ['bob'] }, { queue: ['bob', 'cat'] }, []],
  ];
  for (const [name, before, after, said] of cases) {
    assert.deepEqual(describeChange(state(before), state(after), ctx()), said, name);
  }
});

test('joining and the end are not announced as changes', () => {
  assert.deepEqual(describeChange(null, state({ floor: { holder: 'bob' } }), ctx()), []);
  assert.deepEqual(describeChange(state({}), state({ status: 'ended', floor: { holder: 'bob' } }), ctx()), []);
});

test('a minute left in my turn is said once', () => {
  assert.equal(turnWarning(59, false, 300), true);
  assert.equal(turnWarning(59, true, 300), false);
  assert.equal(turnWarning(61, false, 300), false);
  assert.equal(turnWarning(null, false, null), false);
  assert.equal(turnWarning(14, false, 15), false); // a 15 s turn: no warning as it begins
});
