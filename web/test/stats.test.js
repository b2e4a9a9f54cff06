import assert from 'node:assert/strict';
import { test } from 'node:test';
import { classify, lossBetween, ReceiveQuality, sendQuality } from '../stats.js';

test('quality from one sample: frozen beats weak beats good', () => {
  const cases = [
    [{ loss: 0, rtt: 0.05, fps: 24, stalledFor: 0 }, 'good'],
    [{ loss: 0.08, rtt: 0.05 }, 'weak'],
    [{ loss: 0, rtt: 0.6 }, 'weak'],
    [{ loss: 0, rtt: 0.05, fps: 2, stalledFor: 1 }, 'weak'],
    [{ loss: 0, rtt: 0.05, fps: 0, stalledFor: 4 }, 'frozen'],
    [{ loss: 0.2, rtt: 0.9, fps: 0, stalledFor: 10 }, 'frozen'],
    [{}, 'good'], // a quiet member: audio only, nothing lost
  ];
  for (const [figures, want] of cases) assert.equal(classify(figures), want, JSON.stringify(figures));
});

test('loss is counted between samples', () => {
  assert.equal(lossBetween({ packetsLost: 10, packetsReceived: 1000 }, { packetsLost: 20, packetsReceived: 1090 }), 0.1);
  assert.equal(lossBetween(null, { packetsLost: 0, packetsReceived: 0 }), 0);
});

/** A stats report as RTCPeerConnection.getStats() gives it: a Map of id -> stats. */
const report = (...stats) => new Map(stats.map((s) => [s.id, s]));
const pair = { id: 'cp', type: 'candidate-pair', nominated: true, state: 'succeeded', currentRoundTripTime: 0.02 };
const streams = new Map([['hearth-ann', { getTracks: () => [{ id: 'tv' }, { id: 'ta' }] }]]);
const video = (framesDecoded) => ({ id: 'v', type: 'inbound-rtp', kind: 'video', trackIdentifier: 'tv', packetsLost: 0, packetsReceived: framesDecoded * 3, framesDecoded });

test('a stream whose frames stop while its camera is on turns frozen; a quiet one stays good', () => {
  const q = new ReceiveQuality();
  const on = () => true;
  assert.equal(q.read(report(pair, video(0)), streams, on, 0).get('hearth-ann').quality, 'good');
  assert.equal(q.read(report(pair, video(48)), streams, on, 2).get('hearth-ann').quality, 'good');
  assert.equal(q.read(report(pair, video(48)), streams, on, 4).get('hearth-ann').quality, 'weak'); // 0 fps, 2 s
  assert.equal(q.read(report(pair, video(48)), streams, on, 6).get('hearth-ann').quality, 'frozen');
  const off = new ReceiveQuality(); // camera off: no frames are expected
  off.read(report(pair, video(0)), streams, () => false, 0);
  assert.equal(off.read(report(pair, video(0)), streams, () => false, 6).get('hearth-ann').quality, 'good');
});

test('own sending quality comes from the server\'s receiver reports', () => {
  const own = sendQuality(report(pair, { id: 'r', type: 'remote-inbound-rtp', fractionLost: 0.12, roundTripTime: 0.05 }));
  assert.deepEqual(own, { loss: 0.12, rtt: 0.05, quality: 'weak' });
  assert.equal(sendQuality(report(pair)).quality, 'good');
});
