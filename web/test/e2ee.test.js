import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MediaCrypto, b64url, unb64url, verificationCode } from '../e2ee.js';
import { clearBytes, decodeHeader, deriveKey, encodeHeader, openFrame, sealFrame } from '../e2ee-worker.js';

test('the SFrame header encodes small and large key ids and counters as RFC 9605 section 4.3 says', () => {
  assert.deepEqual([...encodeHeader(3, 5)], [0x35]); // both fit in the config byte
  assert.deepEqual([...encodeHeader(0x1234, 7)], [0x97, 0x12, 0x34]); // X=1, K=1 (two bytes), C=7
  const big = (0xdeadbeefn << 32n) | 42n;
  const header = encodeHeader(0xffffffff, big);
  assert.equal(header.length, 1 + 4 + 8);
  const back = decodeHeader(header, 0);
  assert.equal(back.kid, 0xffffffffn);
  assert.equal(back.ctr, big);
  assert.equal(back.length, header.length);
});

test('VP8 keyframes keep 10 bytes clear, delta frames 3, Opus 1', () => {
  assert.equal(clearBytes('video', new Uint8Array([0x10, 0, 0])), 10); // P bit 0: keyframe
  assert.equal(clearBytes('video', new Uint8Array([0x11, 0, 0])), 3);
  assert.equal(clearBytes('audio', new Uint8Array([0x78])), 1);
});

test('a sealed frame opens with its key, keeps its clear prefix, and fails with any other', async () => {
  const raw = crypto.getRandomValues(new Uint8Array(16));
  const mine = await deriveKey(raw, 77);
  const keyframe = new Uint8Array(200).map((_, i) => (i * 7) & 0xff);
  keyframe[0] = 0x10; // P bit 0: a keyframe, 10 bytes clear
  assert.equal(await openFrame(keyframe, 'video', () => mine), null, 'a plain frame does not open');
  const sealed = await sealFrame(keyframe, 'video', 77, 99n, mine);
  assert.equal(sealed.length, 200 + 1 + 1 + 1 + 16); // config byte, KID (1 byte), CTR (1 byte), tag
  assert.deepEqual([...sealed.subarray(0, 10)], [...keyframe.subarray(0, 10)]);
  assert.notDeepEqual([...sealed.subarray(13, 60)], [...keyframe.subarray(10, 57)]);
  const opened = await openFrame(sealed, 'video', (kid) => (kid === 77n ? mine : undefined));
  assert.deepEqual([...opened.data], [...keyframe]);
  assert.equal(opened.kid, 77);
  const stranger = await deriveKey(crypto.getRandomValues(new Uint8Array(16)), 77);
  assert.equal(await openFrame(sealed, 'video', () => stranger), null);
  assert.equal(await openFrame(sealed, 'video', () => undefined), null, 'an unknown key id');
  const tampered = sealed.slice();
  tampered[5] ^= 1; // a clear byte: authenticated, so the frame no longer opens
  assert.equal(await openFrame(tampered, 'video', () => mine), null);
});

test('an Opus frame keeps its TOC byte clear, even a frame of nothing else (DTX)', async () => {
  const key = await deriveKey(new Uint8Array(16).fill(9), 3);
  const toc = new Uint8Array([0x78]);
  const sealed = await sealFrame(toc, 'audio', 3, 1n, key);
  assert.equal(sealed[0], 0x78);
  assert.deepEqual([...(await openFrame(sealed, 'audio', () => key)).data], [0x78]);
});

test('the verification code is six digits, the same for the same key and holder, different otherwise', async () => {
  const raw = new Uint8Array(16).fill(1);
  const holder = { x: b64url(new Uint8Array(32).fill(2)), y: b64url(new Uint8Array(32).fill(3)) };
  const other = { ...holder, x: b64url(new Uint8Array(32).fill(4)) };
  const code = await verificationCode(5, raw, holder);
  assert.match(code, /^\d{3} \d{3}$/);
  assert.equal(await verificationCode(5, raw, holder), code);
  assert.notEqual(await verificationCode(5, raw, other), code);
  assert.deepEqual([...unb64url(b64url(raw))], [...raw]);
});

/** Stands in for the frame worker: records what the page tells it (node has no Worker). */
class FakeWorker {
  constructor() {
    this.posted = [];
  }

  postMessage(message) {
    this.posted.push(message);
  }
}

/** A page whose browser can encrypt, welcomed into a session of `mode`; `sent` records what it sends. */
async function welcomedPage(id, role, mode) {
  globalThis.Worker = FakeWorker;
  const sent = [];
  const page = new MediaCrypto(async (event, payload) => {
    sent.push([event, payload]);
  });
  page.support = 'script';
  await page.welcome({ you: { id, role }, session: { e2ee: mode } });
  return { page, sent };
}

test('a preferred page told nobody can hold the key goes clear, and a key granted later takes it to encrypted', async () => {
  const { page: member, sent } = await welcomedPage('m-1', 'member', 'preferred');
  assert.equal(member.status, 'waiting');
  assert.deepEqual(sent, [['e2ee.key', { jwk: member.jwk }]]);
  member.onClear();
  assert.equal(member.status, 'clear');
  assert.deepEqual(member.worker.posted.at(-1), { type: 'clear' });

  // A facilitator whose browser encrypts arrives, holds the key and grants it.
  const { page: holder, sent: granted } = await welcomedPage('f-1', 'facilitator', 'preferred');
  holder.onState({ participants: [{ id: 'f-1', status: 'admitted' }, { id: 'm-1', status: 'admitted' }] });
  holder.onKeys({ holder: 'f-1', keys: { 'f-1': holder.jwk, 'm-1': member.jwk }, from: null });
  await holder.rekeying;
  const [event, grant] = granted.at(-1);
  assert.equal(event, 'e2ee.grant');
  assert.notEqual(grant.key_id, 0);
  await member.onGrant({ from_key: holder.jwk, key_id: grant.key_id, wrapped: grant.grants[0].wrapped });
  assert.equal(member.status, 'encrypted');
  assert.equal(member.code, holder.code);
  const key = member.worker.posted.at(-1);
  assert.equal(key.type, 'key');
  assert.ok(key.after > 0, 'sends in the clear a moment longer, until the others have the key too');
});

test('a required page never goes clear, whoever says so', async () => {
  const { page } = await welcomedPage('m-1', 'member', 'required');
  page.onClear();
  await page.onGrant({ from_key: page.jwk, key_id: 0, wrapped: null });
  assert.equal(page.status, 'waiting');
  assert.ok(!page.worker.posted.some((m) => m.type === 'clear'));
});
