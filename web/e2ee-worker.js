// End-to-end media encryption, one frame at a time, off the main thread.
//
// Every encoded frame this page sends is encrypted here before the browser packetizes it, and every
// frame it receives is decrypted here before the decoder sees it; the server forwards what it cannot
// decode. AES-128-GCM (WebCrypto) in an SFrame-like format (RFC 9605 is the reference):
//
//   frame on the wire = clear prefix || SFrame header || AES-GCM(payload after the prefix) || tag (16)
//   SFrame header     = config byte (X|K|Y|C, RFC 9605 section 4.3) || key id || counter
//   AAD               = clear prefix || SFrame header (the server can read the prefix, never change it)
//   key, salt         = HKDF-SHA256(media key, "SFrame 1.0 Secret key|salt " || KID (8 bytes) || suite)
//   nonce             = salt XOR counter (96 bits)
//
// Why a clear prefix, and exactly which bytes (the rest of the payload is ciphertext):
//   - VP8 keyframes: 10 bytes, the 3-byte frame tag (its bit 0, P, says "keyframe": the server's
//     forwarder reads it to start a subscriber on a keyframe, server/media/forwarder.py
//     `vp8_is_keyframe` and _fastpath.c `vp8_keyframe`) plus the 3-byte start code and the 4 bytes
//     of width and height, which the receiving browser's VP8 depacketizer reads before decoding.
//   - VP8 delta frames: 3 bytes, the frame tag alone (P bit, show_frame, first partition size).
//   - Opus: 1 byte, the TOC (mode, bandwidth, frame size): nothing of what is said.
//   The VP8 payload descriptor (RFC 7741) is not part of the frame handed to this transform: the
//   browser writes it into each RTP payload from the encoder's metadata, in the clear, as the
//   forwarder needs. Audio levels travel in an RTP header extension (RFC 6464), outside the frame,
//   so the server's speaking detection and strict floor keep working. Jitsi and LiveKit leave the
//   same 10/3/1 bytes in the clear.
//
// Nonces never repeat under a key although every sender shares it: each transform (one per sent
// track) draws a random 32-bit prefix for the high half of its 64-bit counter.

const SUITE = 0x0001; // AES_128_GCM_SHA256_128
const TAG_BYTES = 16;
const KEYS_KEPT = 4; // receivers keep a few past keys: frames in flight across a rekey still decrypt
// ...for this long after a newer key came, then forget them: by then every sender has switched, and
// frames under a key someone who left still holds are refused, not shown (a removed member and a
// server that colluded could otherwise inject pictures under the old key).
const RETIRE_MS = 3000;
const CLEAR_BYTES = { key: 10, delta: 3, audio: 1 };

/** @typedef {{key: CryptoKey, salt: Uint8Array<ArrayBuffer>}} KeyEntry one key id's AES key and nonce salt */
/** @typedef {{id: string, side: string, kind: string | undefined, encrypted: number, decrypted: number, failed: number, clear: number, held: number, keyId: number | null}} Counters */
/**
 * What the page asks of this worker (e2ee.js): `reply` numbers the answer to `stats` and `probe`.
 * @typedef {{type: 'stream', readable: ReadableStream, writable: WritableStream, options: TransformOptions}
 *   | {type: 'key', id: number, raw: Uint8Array<ArrayBuffer>, after: number}
 *   | {type: 'clear'} | {type: 'hold'} | {type: 'stats', reply: number}
 *   | {type: 'probe', reply: number, kind: string, frames: ArrayBuffer[], plaintext: boolean}} Message
 */
/** @typedef {{side: string, kind: string, id: string}} TransformOptions */
/** @typedef {{data: ArrayBuffer, type?: string}} Frame an encoded frame (video frames have a `type`, audio ones none) */

const encoder = new TextEncoder();
/** @type {Map<number, KeyEntry>} key id -> its key */
const keys = new Map();
/** @type {number[]} key ids, oldest first */
const order = [];
// 'hold': send nothing (no key yet, or someone left and the next key is on its way);
// 'encrypt': with sendKeyId; 'clear': the session's media goes unencrypted (preferred, a browser cannot).
/** @type {'hold' | 'encrypt' | 'clear'} */
let sendMode = 'hold';
/** @type {number | null} */
let sendKeyId = null;
let decision = 0; // counts the main thread's decisions: a delayed switch stands only if none came since
/** @type {Map<string, Counters>} transform id -> counters */
const stats = new Map();

/**
 * @param {string} id
 * @param {string} side 'send' or 'receive'
 * @param {string | undefined} kind
 */
function counters(id, side, kind) {
  let c = stats.get(id);
  if (!c) {
    c = { id, side, kind, encrypted: 0, decrypted: 0, failed: 0, clear: 0, held: 0, keyId: null };
    stats.set(id, c);
  }
  return c;
}

/**
 * How many leading bytes stay in the clear (see above).
 * @param {string} kind 'audio' or 'video'
 * @param {Uint8Array} data
 */
export function clearBytes(kind, data) {
  if (kind === 'audio') return CLEAR_BYTES.audio;
  return (data[0] & 0x01) === 0 ? CLEAR_BYTES.key : CLEAR_BYTES.delta; // VP8 P bit: 0 on keyframes
}

/** @param {number | bigint} value */
function minimalBytes(value) {
  const out = [];
  let v = BigInt(value);
  do {
    out.unshift(Number(v & 0xffn));
    v >>= 8n;
  } while (v > 0n);
  return out;
}

/**
 * RFC 9605 section 4.3: a value under 8 sits in the config byte, a longer one follows it.
 * @param {number | bigint} kid
 * @param {number | bigint} ctr
 */
export function encodeHeader(kid, ctr) {
  const bytes = [0];
  let config = 0;
  for (const [value, shift] of /** @type {[number | bigint, number][]} */ ([[kid, 4], [ctr, 0]])) {
    if (BigInt(value) < 8n) {
      config |= Number(value) << shift;
    } else {
      const b = minimalBytes(value);
      config |= (0x08 | (b.length - 1)) << shift;
      bytes.push(...b);
    }
  }
  bytes[0] = config;
  return new Uint8Array(bytes);
}

/**
 * @param {Uint8Array} data
 * @param {number} offset where the header starts
 */
export function decodeHeader(data, offset) {
  if (offset >= data.length) return null;
  const config = data[offset];
  let at = offset + 1;
  const values = [];
  for (const nibble of [config >> 4, config & 0x0f]) {
    if ((nibble & 0x08) === 0) {
      values.push(BigInt(nibble & 0x07));
      continue;
    }
    const len = (nibble & 0x07) + 1;
    if (at + len > data.length) return null;
    let v = 0n;
    for (let i = 0; i < len; i++) v = (v << 8n) | BigInt(data[at + i]);
    values.push(v);
    at += len;
  }
  return { kid: values[0], ctr: values[1], length: at - offset };
}

/**
 * @param {Uint8Array} salt
 * @param {bigint} ctr
 */
function nonce(salt, ctr) {
  const out = new Uint8Array(salt);
  let v = ctr;
  for (let i = 11; i >= 4 && v > 0n; i--) {
    out[i] ^= Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

/**
 * RFC 9605 section 4.4's key schedule: this key id's AES key and nonce salt from the media key.
 * @param {Uint8Array<ArrayBuffer>} raw
 * @param {number | bigint} kid
 * @returns {Promise<KeyEntry>}
 */
export async function deriveKey(raw, kid) {
  const base = await crypto.subtle.importKey('raw', raw, 'HKDF', false, ['deriveBits']);
  const label = (/** @type {string} */ what) => {
    const text = encoder.encode(`SFrame 1.0 Secret ${what} `);
    const info = new Uint8Array(text.length + 10);
    info.set(text);
    new DataView(info.buffer).setBigUint64(text.length, BigInt(kid));
    new DataView(info.buffer).setUint16(text.length + 8, SUITE);
    return info;
  };
  const params = (/** @type {string} */ what) => ({ name: 'HKDF', hash: 'SHA-256', salt: new Uint8Array(0), info: label(what) });
  const keyBits = await crypto.subtle.deriveBits(params('key'), base, 128);
  const saltBits = await crypto.subtle.deriveBits(params('salt'), base, 96);
  const key = await crypto.subtle.importKey('raw', keyBits, 'AES-GCM', false, ['encrypt', 'decrypt']);
  return { key, salt: new Uint8Array(saltBits) };
}

/**
 * @param {number} id
 * @param {Uint8Array<ArrayBuffer>} raw
 */
async function addKey(id, raw) {
  if (keys.has(id)) return;
  keys.set(id, await deriveKey(raw, id));
  order.push(id);
  while (order.length > KEYS_KEPT) keys.delete(/** @type {number} */ (order.shift()));
  setTimeout(() => {
    if (order.at(-1) !== id) return; // a newer key came meanwhile: its own timer retires these
    for (const old of order.splice(0, order.length - 1)) keys.delete(old);
  }, RETIRE_MS);
}

function randomPrefix() {
  return BigInt(crypto.getRandomValues(new Uint32Array(1))[0]) << 32n;
}

/**
 * Encrypt one frame's bytes with key `kid`; returns the SFrame-like frame.
 * @param {Uint8Array<ArrayBuffer>} data
 * @param {string} kind
 * @param {number | bigint} kid
 * @param {bigint} ctr
 * @param {KeyEntry} entry
 */
export async function sealFrame(data, kind, kid, ctr, entry) {
  const n = Math.min(clearBytes(kind, data), data.length);
  const header = encodeHeader(kid, ctr);
  const aad = new Uint8Array(n + header.length);
  aad.set(data.subarray(0, n));
  aad.set(header, n);
  const sealed = new Uint8Array(
    await crypto.subtle.encrypt({ name: 'AES-GCM', iv: nonce(entry.salt, ctr), additionalData: aad }, entry.key, data.subarray(n)),
  );
  const out = new Uint8Array(aad.length + sealed.length);
  out.set(aad);
  out.set(sealed, aad.length);
  return out;
}

/**
 * Decrypt one frame; null when no key held here opens it (unknown key id, or authentication fails).
 * @param {Uint8Array<ArrayBuffer>} data
 * @param {string} kind
 * @param {(kid: bigint) => KeyEntry | undefined} [pick] the key for the frame's key id
 */
export async function openFrame(data, kind, pick = (kid) => keys.get(Number(kid))) {
  const n = clearBytes(kind, data);
  const header = decodeHeader(data, n);
  if (!header || n + header.length + TAG_BYTES > data.length) return null;
  const entry = pick(header.kid);
  if (!entry) return null;
  const at = n + header.length;
  try {
    const plain = await crypto.subtle.decrypt(
      { name: 'AES-GCM', iv: nonce(entry.salt, header.ctr), additionalData: data.subarray(0, at) },
      entry.key,
      data.subarray(at),
    );
    const out = new Uint8Array(n + plain.byteLength);
    out.set(data.subarray(0, n));
    out.set(new Uint8Array(plain), n);
    return { data: out, kid: Number(header.kid) };
  } catch {
    return null;
  }
}

/**
 * @param {Frame} frame
 * @param {string | undefined} declared the transform's, when it was told
 */
function kindOf(frame, declared) {
  return declared ?? (frame.type === undefined || frame.type === '' ? 'audio' : 'video');
}

/**
 * `transformer` (RTCRtpScriptTransform only) can ask the encoder for a keyframe: after frames were
 * held back, the receivers' decoders lack the frames the next ones refer to, so the first frame sent
 * again should be one that needs none (createEncodedStreams has no such call: the receivers ask for
 * one, through the server, a moment later).
 * @param {string} id
 * @param {string | undefined} kind
 * @param {RTCRtpScriptTransformer | null} transformer
 * @returns {TransformerTransformCallback<Frame, Frame>}
 */
function sender(id, kind, transformer) {
  const c = counters(id, 'send', kind);
  const prefix = randomPrefix();
  let count = 0n;
  let dropped = false;
  return async (frame, controller) => {
    if (sendMode === 'clear') {
      c.clear += 1;
      controller.enqueue(frame);
      return;
    }
    const keyId = sendKeyId;
    const entry = sendMode === 'encrypt' && keyId !== null ? keys.get(keyId) : null;
    if (!entry || keyId === null) {
      c.held += 1; // never in the clear when encryption is expected: the frame is dropped
      dropped = true;
      return;
    }
    if (dropped && kind === 'video') {
      dropped = false;
      transformer?.generateKeyFrame?.().catch(() => {});
    }
    const data = new Uint8Array(frame.data);
    count += 1n;
    frame.data = (await sealFrame(data, kindOf(frame, kind), keyId, prefix | count, entry)).buffer;
    c.encrypted += 1;
    c.keyId = sendKeyId;
    controller.enqueue(frame);
  };
}

/**
 * @param {string} id
 * @param {string | undefined} kind
 * @returns {TransformerTransformCallback<Frame, Frame>}
 */
function receiver(id, kind) {
  const c = counters(id, 'receive', kind);
  return async (frame, controller) => {
    const data = new Uint8Array(frame.data);
    if (data.length === 0) return;
    const opened = await openFrame(data, kindOf(frame, kind));
    if (opened) {
      frame.data = opened.data.buffer;
      c.decrypted += 1;
      c.keyId = opened.kid;
      controller.enqueue(frame);
    } else if (sendMode === 'clear') {
      c.clear += 1;
      controller.enqueue(frame);
    } else {
      c.failed += 1; // not for us (no key, a key we were never given): the decoder never sees it
    }
  };
}

/**
 * @param {ReadableStream} readable
 * @param {WritableStream} writable
 * @param {TransformOptions} options
 * @param {RTCRtpScriptTransformer | null} [transformer] RTCRtpScriptTransform's (it can ask for a keyframe)
 */
function pipe(readable, writable, { side, kind, id }, transformer = null) {
  const transform = side === 'send' ? sender(id, kind, transformer) : receiver(id, kind);
  readable.pipeThrough(new TransformStream({ transform })).pipeTo(writable).catch(() => {});
}

const inWorker = typeof WorkerGlobalScope !== 'undefined'; // node imports this file for its unit tests

// RTCRtpScriptTransform (Chromium 141+, Firefox, Safari): the browser hands the streams here.
if (inWorker) self.onrtctransform = (event) => {
  const t = event.transformer;
  pipe(t.readable, t.writable, t.options, t);
};

/** @param {{kind: string, frames: ArrayBuffer[], plaintext: boolean}} asked */
async function probe({ kind, frames, plaintext }) {
  const results = [];
  for (const buffer of frames) {
    // Every key held here is tried, whatever key id the frame names: a removed member who kept
    // every key it was given still opens nothing sent under a key it was not given.
    const data = new Uint8Array(buffer);
    let opened = null;
    for (const entry of keys.values()) {
      opened = await openFrame(data, kind, () => entry);
      if (opened) break;
    }
    results.push(opened ? { ok: true, kid: opened.kid, data: plaintext ? opened.data.buffer : null } : { ok: false });
  }
  return results;
}

if (inWorker) self.onmessage = async (/** @type {MessageEvent<Message>} */ { data: m }) => {
  if (m.type === 'key' || m.type === 'clear' || m.type === 'hold') decision += 1;
  const mine = decision;
  if (m.type === 'stream') {
    pipe(m.readable, m.writable, m.options); // createEncodedStreams (older Chromium)
  } else if (m.type === 'key') {
    // A new key opens frames at once; this page sends under it `after` ms later, when the others
    // have it too (one grant reaches everyone within milliseconds): no frame goes to someone who
    // cannot open it yet, so no picture freezes at a rekey, nor at the first key after the clear
    // (meanwhile it sends in the clear as before). Held (someone left), it sends at once.
    await addKey(m.id, m.raw);
    const use = () => {
      if (mine === decision && keys.has(m.id)) {
        sendKeyId = m.id;
        sendMode = 'encrypt';
      }
    };
    if ((sendMode === 'encrypt' || sendMode === 'clear') && m.after > 0) setTimeout(use, m.after);
    else use();
  } else if (m.type === 'clear') {
    sendMode = 'clear';
    sendKeyId = null;
  } else if (m.type === 'hold') {
    sendMode = 'hold';
  } else if (m.type === 'stats') {
    self.postMessage({ reply: m.reply, value: { sendMode, sendKeyId, keys: [...order], transforms: [...stats.values()].map((c) => ({ ...c })) } });
  } else if (m.type === 'probe') {
    self.postMessage({ reply: m.reply, value: await probe(m) });
  }
};
