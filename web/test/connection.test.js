import assert from 'node:assert/strict';
import { test } from 'node:test';

import { STATUSES, TRANSITIONS, canMove } from '../connection.js';

test('every state names only states, and every state but idle can be reached', () => {
  const reached = new Set(Object.values(TRANSITIONS).flat());
  for (const targets of Object.values(TRANSITIONS)) {
    for (const to of targets) assert.ok(STATUSES.includes(to), to);
  }
  assert.deepEqual(STATUSES.filter((s) => !reached.has(s)), ['idle']);
});

test("the session's own ends are final: only closing follows a removal or the end", () => {
  for (const final of ['removed', 'ended']) {
    assert.deepEqual(STATUSES.filter((to) => canMove(final, to)), ['closed']);
  }
});

test('nothing retries by itself once the connection is closed or replaced', () => {
  for (const from of ['closed', 'replaced']) {
    assert.ok(!canMove(from, 'reconnecting'), from);
    assert.ok(!canMove(from, 'connected'), from); // a connection goes through connecting first
    assert.ok(canMove(from, 'connecting'), from); // the page (or a move) may connect again
  }
});

test('a connection is announced once, and a live one may end every way the server can say', () => {
  assert.ok(!canMove('connected', 'connected'));
  for (const to of ['reconnecting', 'refused', 'closed', 'removed', 'ended', 'replaced', 'connecting']) {
    assert.ok(canMove('connected', to), to);
  }
  assert.ok(!canMove('idle', 'connected'));
});
