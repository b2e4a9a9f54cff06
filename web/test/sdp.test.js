// Node's built-in test runner: `node --test web/test/` (also run by tests/web/test_js_units.py).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { iceUfrag, sendingMsids, withoutIdleMsids } from '../rtc.js';

const OFFER = [
  'v=0', 'a=msid-semantic:WMS *',
  'm=audio 9 UDP/TLS/RTP/SAVPF 111', 'a=mid:0', 'a=inactive', 'a=msid:alex alex-audio',
  'm=video 9 UDP/TLS/RTP/SAVPF 96', 'a=mid:1', 'a=inactive', 'a=msid:alex alex-video',
  'm=audio 9 UDP/TLS/RTP/SAVPF 111', 'a=mid:2', 'a=sendonly', 'a=msid:fac fac-audio',
  'm=video 9 UDP/TLS/RTP/SAVPF 96', 'a=mid:3', 'a=sendonly', 'a=msid:fac fac-video',
  'm=audio 9 UDP/TLS/RTP/SAVPF 111', 'a=mid:4', 'a=sendonly', 'a=msid:alex alex-audio',
  'm=video 0 UDP/TLS/RTP/SAVPF 96', 'a=mid:5', 'a=msid:gone gone-video', '',
].join('\r\n');

test('only m-lines that send are mapped to their stream', () => {
  assert.deepEqual([...sendingMsids(OFFER)], [['2', 'fac'], ['3', 'fac'], ['4', 'alex']]);
});

test('idle m-lines lose their msid so a reused stream id is not a duplicate', () => {
  const cleaned = withoutIdleMsids(OFFER);
  assert.equal(cleaned.match(/a=msid:alex alex-audio/g).length, 1);
  assert.ok(!cleaned.includes('gone-video'));
  assert.ok(cleaned.includes('a=msid:fac fac-video'));
  assert.ok(cleaned.includes('a=msid-semantic:WMS *'));
  assert.deepEqual(sendingMsids(cleaned), sendingMsids(OFFER));
});

test('an offer names its connection by its ICE ufrag', () => {
  assert.equal(iceUfrag('v=0\r\na=ice-ufrag:Ab3/+x\r\na=ice-pwd:secret\r\n'), 'Ab3/+x');
  assert.equal(iceUfrag('v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n'), null);
  assert.equal(iceUfrag(undefined), null);
});
