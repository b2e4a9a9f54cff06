import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sealedSince } from '../ui/sealed.js';

const count = (id, side, fields) => ({ id, side, encrypted: 0, decrypted: 0, clear: 0, failed: 0, ...fields });
const receiving = (c) => c.id === 'receive-1';

test('a tile says what its frames were since the last count, not since the start', () => {
  const first = [count('receive-1', 'receive', { decrypted: 40 })];
  assert.equal(sealedSince(first, [], receiving, false), 'encrypted');
  const later = [count('receive-1', 'receive', { decrypted: 40, clear: 25 })]; // the session went clear
  assert.equal(sealedSince(later, first, receiving, false), 'clear');
});

test('one\'s own tile follows what is sent; frames no key opens are failing', () => {
  const sent = [count('send-video', 'send', { encrypted: 30 }), count('receive-1', 'receive', { failed: 5 })];
  assert.equal(sealedSince(sent, [], (c) => c.side === 'send', true), 'encrypted');
  assert.equal(sealedSince(sent, [], receiving, false), 'failing');
});

test('nothing counted in the interval says nothing', () => {
  const same = [count('receive-1', 'receive', { decrypted: 40 })];
  assert.equal(sealedSince(same, same, receiving, false), '');
});
