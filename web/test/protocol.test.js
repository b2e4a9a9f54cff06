import assert from 'node:assert/strict';
import { register } from 'node:module';
import { test } from 'node:test';

// protocol.js imports the vendored Socket.IO client by the path the server serves it at; here that
// path resolves to a stand-in whose sockets the tests drive as a server would.
const standIn = `data:text/javascript,${encodeURIComponent('export const io = (...a) => globalThis.fakeIo(...a);')}`;
const hook = `export async function resolve(specifier, context, next) {
  return specifier === '/web/vendor/socket.io.esm.min.js' ? { url: ${JSON.stringify(standIn)}, shortCircuit: true }
    : next(specifier, context);
}`;
register(`data:text/javascript,${encodeURIComponent(hook)}`);

class FakeSocket {
  constructor(url) {
    this.url = url;
    this.handlers = new Map();
    this.io = { on() {} };
    this.connected = false;
  }

  on(name, fn) {
    this.handlers.set(name, fn);
  }

  fire(name, ...args) {
    if (name === 'connect') this.connected = true;
    if (name === 'disconnect') this.connected = false;
    this.handlers.get(name)?.(...args);
  }

  disconnect() {
    this.connected = false;
  }
}

let sockets = [];
globalThis.fakeIo = (url) => sockets.at(sockets.push(new FakeSocket(url)) - 1);
globalThis.location = new URL('https://clinic.test/s/s-1');
const { HearthClient } = await import('../protocol.js');

/** A connected client, and the connection statuses and `moved` events it reports from then on. */
function connectedClient() {
  sockets = [];
  const client = new HearthClient({ token: 't', url: 'https://clinic.test' });
  client.connect();
  sockets[0].fire('connect');
  const seen = { statuses: [], moved: [] };
  client.addEventListener('connection', (e) => seen.statuses.push(e.detail.status));
  client.addEventListener('moved', (e) => seen.moved.push(e.detail.url));
  return { client, seen };
}

test('a session handed over at runtime is followed to the node that holds it now', () => {
  const { client, seen } = connectedClient();
  sockets[0].fire('moved', { url: 'https://node-b.test' });
  sockets[0].fire('disconnect', 'io server disconnect');
  assert.equal(sockets.length, 2);
  assert.equal(sockets[1].url, 'https://node-b.test');
  assert.deepEqual(seen.moved, ['https://node-b.test']); // boot.js reopens the page there if CSP blocks it
  assert.ok(!seen.statuses.includes('closed'));
  sockets[1].fire('connect');
  assert.equal(client.status, 'connected');
});

test('a node that stops sends its clients back to their first address after a short delay', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const { client, seen } = connectedClient();
  sockets[0].fire('connect_error', { data: { code: 'moved', url: 'https://node-a.test' } });
  sockets[1].fire('connect');
  sockets[1].fire('moved', { url: '' });
  sockets[1].fire('disconnect', 'io server disconnect');
  assert.equal(client.status, 'reconnecting');
  assert.equal(sockets.length, 2, 'not at once: the stopping node still holds the session');
  t.mock.timers.tick(1000);
  assert.equal(sockets.length, 3);
  assert.equal(sockets[2].url, 'https://clinic.test'); // node A is going away; the balancer answers here
  assert.deepEqual(seen.moved, ['https://node-a.test']);
  assert.ok(!seen.statuses.includes('closed'));
});

test('a server disconnect without moved still ends the connection', () => {
  const { client } = connectedClient();
  sockets[0].fire('disconnect', 'io server disconnect');
  assert.equal(client.status, 'closed');
  assert.equal(sockets.length, 1);
});

test('a member removed is not brought back by a move', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const { client } = connectedClient();
  sockets[0].fire('removed', { reason: 'removed by a facilitator' });
  sockets[0].fire('moved', { url: '' });
  sockets[0].fire('disconnect', 'io server disconnect');
  t.mock.timers.tick(1000);
  assert.equal(client.status, 'removed');
  assert.equal(sockets.length, 1);
});

test('moves that never reach a connection stop after three', () => {
  const { client } = connectedClient();
  for (const node of ['a', 'b', 'a', 'b']) {
    sockets.at(-1).fire('connect_error', { data: { code: 'moved', url: `https://node-${node}.test`, message: 'elsewhere' } });
  }
  assert.equal(sockets.length, 4);
  assert.equal(client.status, 'refused');
  assert.equal(client.error.code, 'moved');
});

test('a stopping node that refuses a connection sends the client back to try again shortly', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const { client, seen } = connectedClient();
  sockets[0].fire('disconnect', 'transport close');
  sockets[0].fire('connect_error', { data: { code: 'moved', url: '', message: 'this node is stopping' } });
  assert.equal(client.status, 'reconnecting');
  t.mock.timers.tick(1000);
  assert.equal(sockets.length, 2);
  assert.equal(sockets[1].url, 'https://clinic.test');
  assert.ok(!seen.statuses.includes('refused'));
});

test('a connection replaced by another tab stands down and never reconnects by itself', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const { client, seen } = connectedClient();
  const replaced = [];
  client.addEventListener('replaced', (e) => replaced.push(e.detail.message));
  sockets[0].fire('replaced', { message: 'You joined from another tab or device.' });
  sockets[0].fire('disconnect', 'io server disconnect');
  t.mock.timers.tick(10_000);
  assert.equal(client.status, 'replaced');
  assert.equal(sockets.length, 1);
  assert.deepEqual(replaced, ['You joined from another tab or device.']);
  assert.ok(!seen.statuses.includes('reconnecting'));
  client.connect(); // "Use this tab instead"
  sockets[1].fire('connect');
  assert.equal(client.status, 'connected');
});

test('every change of the connection is one that connection.js allows', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const { canMove } = await import('../connection.js');
  const { client } = connectedClient();
  let from = client.status;
  const moves = [];
  client.addEventListener('connection', (e) => {
    moves.push([from, e.detail.status]);
    from = e.detail.status;
  });
  sockets[0].fire('disconnect', 'transport close');
  sockets[0].fire('connect');
  sockets[0].fire('moved', { url: 'https://node-b.test' });
  sockets[0].fire('disconnect', 'io server disconnect');
  sockets[1].fire('connect');
  sockets[1].fire('session.ended', { at: 1 });
  assert.ok(moves.length >= 5, JSON.stringify(moves));
  for (const [a, b] of moves) assert.ok(canMove(a, b), `${a} -> ${b}`);
  assert.equal(client.status, 'ended');
});

test('a socket given up stays given up: its late disconnect starts no reconnection', () => {
  const { client, seen } = connectedClient();
  client.close();
  sockets[0].fire('disconnect', 'io client disconnect'); // socket.io says so as the socket closes
  assert.equal(client.status, 'closed');
  assert.deepEqual(seen.statuses, ['closed']);
  const removed = connectedClient();
  sockets[0].fire('removed', { reason: 'removed' });
  sockets[0].fire('disconnect', 'transport close');
  sockets[0].fire('connect_error', { message: 'xhr poll error' });
  assert.equal(removed.client.status, 'removed');
  assert.deepEqual(removed.seen.statuses, ['removed']);
});

test('a publishing connection the server lost without closing it is published afresh', () => {
  const { client } = connectedClient();
  client.you = { id: 'm-1', role: 'member', status: 'admitted' };
  let closed = 0;
  const accepted = { accepted: true, close: () => { closed += 1; } };
  const member = (streams) => ({ version: 2, participants: [{ id: 'm-1', status: 'admitted', stream_ids: streams }] });
  client.media.publisher = accepted;
  sockets[0].fire('session.state', member(['st-m-1']));
  assert.equal(client.media.publisher, accepted); // listed: nothing lost
  client.media.publisher = { accepted: false, close: () => { closed += 1; } };
  sockets[0].fire('session.state', member([])); // not yet acknowledged: the server has not marked it yet
  assert.equal(closed, 0);
  client.media.publisher = accepted;
  sockets[0].fire('session.state', member([])); // media worker gone: the server lists no stream of ours
  assert.equal(closed, 1);
  assert.equal(client.media.publisher, null); // and a new one starts as soon as there is local media
});

/** A stand-in RTCPeerConnection whose remote description waits until the test lets it through. */
class HeldPeerConnection {
  static hold = null;
  constructor() {
    this.remoteDescription = null;
    this.localDescription = null;
    this.iceGatheringState = 'complete';
  }
  addEventListener() {}
  async setRemoteDescription(description) {
    await HeldPeerConnection.hold;
    this.remoteDescription = description;
  }
  getTransceivers() { return []; }
  async createAnswer() { return { type: 'answer', sdp: 'v=0\r\n' }; }
  async setLocalDescription(description) { this.localDescription = description; }
  close() {}
}

test('an offer still queued when media starts over on another node is never answered', async () => {
  globalThis.RTCPeerConnection = HeldPeerConnection;
  const { client } = connectedClient();
  const answers = [];
  const acked = () => ({ emitWithAck: async (event, payload) => answers.push([event, payload.revision]) && { ok: true } });
  sockets[0].timeout = acked;
  const welcome = { you: { id: 'm-1', role: 'member', status: 'admitted' }, session: { version: 1, participants: [] } };
  sockets[0].fire('welcome', welcome);
  let release;
  HeldPeerConnection.hold = new Promise((resolve) => { release = resolve; });
  const offer = (revision) => ({ type: 'offer', sdp: 'v=0\r\na=ice-ufrag:old\r\n', revision });
  sockets[0].fire('rtc.offer', offer(7)); // being answered when the node dies ...
  sockets[0].fire('rtc.offer', offer(8)); // ... and one queued behind it
  // The node dies; home sends the client to another node, whose welcome starts media over.
  client.connect();
  const fresh = sockets.at(-1);
  fresh.timeout = acked;
  fresh.fire('connect');
  fresh.fire('welcome', welcome);
  release();
  fresh.fire('rtc.offer', { type: 'offer', sdp: 'v=0\r\na=ice-ufrag:new\r\n', revision: 1 });
  await client.media.offers;
  assert.deepEqual(answers, [['rtc.answer', 1]]); // the new node's offer only
  assert.equal(client.media.revision, 1);
});

/** A stand-in RTCPeerConnection that can send: enough of one for a Publisher to make its offer. */
class SendingPeerConnection {
  constructor() {
    this.localDescription = null;
    this.iceGatheringState = 'complete';
  }
  addEventListener() {}
  addTransceiver() {
    return { sender: { track: null, transport: null, replaceTrack: async () => {} } };
  }
  async createOffer() { return { type: 'offer', sdp: 'v=0\r\n' }; }
  async setLocalDescription(description) { this.localDescription = description; }
  async setRemoteDescription() {}
  close() {}
}

test('a publish still waiting on a dead node does not hold back the publish to the next one', async () => {
  globalThis.RTCPeerConnection = SendingPeerConnection;
  const { client } = connectedClient();
  const published = [];
  // The first node takes the offer and dies before answering (the ack never comes).
  sockets[0].timeout = () => ({ emitWithAck: (event) => (event === 'rtc.publish' ? new Promise(() => {}) : Promise.resolve({ ok: true })) });
  const welcome = { you: { id: 'm-1', role: 'member', status: 'admitted' }, session: { version: 1, participants: [] } };
  client.joinMedia(Object.assign(new EventTarget(), { audio: true, video: true, audioTrack: null, videoTrack: null, stream: {} }));
  sockets[0].fire('welcome', welcome);
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.ok(client.media.publishing, 'publishing to the first node');
  client.connect(); // the page goes elsewhere; that node's welcome starts media over
  const fresh = sockets.at(-1);
  fresh.timeout = () => ({ emitWithAck: async (event) => { published.push(event); return { ok: true, sdp: 'v=0\r\n' }; } });
  fresh.fire('connect');
  fresh.fire('welcome', welcome);
  await client.media.publishing;
  assert.ok(published.includes('rtc.publish'), 'published to the new node at once, not after the old ack timed out');
  assert.ok(client.publisher?.accepted);
});
