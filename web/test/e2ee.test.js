import assert from 'node:assert/strict';
import { test } from 'node:test';
import { b64url, unb64url, verificationCode } from '../e2ee.js';
import { addTestKey, clearBytes, decodeHeader, encodeHeader, openFrame, sealFrame } from '../e2ee-worker.js';

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
  await addTestKey(77, raw);
  const entry = { key: null, salt: null };
  // Seal through the worker's own key table: open with the same table.
  const keyframe = new Uint8Array(200).map((_, i) => (i * 7) & 0xff);
  keyframe[0] = 0x10;
  const pick = () => undefined;
  assert.equal(await openFrame(keyframe, 'video', pick), null, 'a plain frame does not open');
  const table = new Map();
  await addTestKey(78, raw);
  const sealed = await sealFrame(keyframe, 'video', 77, 99n, await (async () => {
    const { key, salt } = await derive(raw, 77);
    table.set(77, { key, salt });
    return table.get(77);
  })());
  assert.deepEqual([...sealed.subarray(0, 10)], [...keyframe.subarray(0, 10)]);
  assert.notDeepEqual([...sealed.subarray(20, 60)], [...keyframe.subarray(13, 53)]);
  const opened = await openFrame(sealed, 'video', (kid) => table.get(Number(kid)));
  assert.deepEqual([...opened.data], [...keyframe]);
  assert.equal(opened.kid, 77);
  const other = await derive(crypto.getRandomValues(new Uint8Array(16)), 77);
  assert.equal(await openFrame(sealed, 'video', () => other), null);
  const tampered = sealed.slice();
  tampered[5] ^= 1; // a clear byte: authenticated, so the frame no longer opens
  assert.equal(await openFrame(tampered, 'video', (kid) => table.get(Number(kid))), null);
  void entry;
});

/** The same derivation as the worker's, through its seal/open pair (RFC 9605 key schedule). */
async function derive(raw, kid) {
  const enc = new TextEncoder();
  const base = await crypto.subtle.importKey('raw', raw, 'HKDF', false, ['deriveBits']);
  const label = (what) => {
    const text = enc.encode(`SFrame 1.0 Secret ${what} `);
    const info = new Uint8Array(text.length + 10);
    info.set(text);
    new DataView(info.buffer).setBigUint64(text.length, BigInt(kid));
    new DataView(info.buffer).setUint16(text.length + 8, 1);
    return info;
  };
  const bits = (what, n) => crypto.subtle.deriveBits({ name: 'HKDF', hash: 'SHA-256', salt: new Uint8Array(0), info: label(what) }, base, n);
  const key = await crypto.subtle.importKey('raw', await bits('key', 128), 'AES-GCM', false, ['encrypt', 'decrypt']);
  return { key, salt: new Uint8Array(await bits('salt', 96)) };
}

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
