// End-to-end encrypted media: this page's key pair, the session's media key, and the worker that
// encrypts and decrypts every frame (e2ee-worker.js). No DOM here.
//
// Keys: each page makes an ECDH P-256 key pair (the private half never leaves the page) and sends its
// public key with `e2ee.key` on every welcome. The server tells the facilitators every public key and
// which facilitator is the key holder (`e2ee.keys`). The holder makes a media key (16 random bytes,
// a new random 32-bit key id) whenever who is admitted, or anyone's public key, changes, and sends it
// wrapped to each admitted participant (`e2ee.grant`): AES-GCM under a key derived (ECDH + HKDF) from
// the holder's and the recipient's key pairs. A member removed, denied or sent to the waiting room
// gets no next key; a joiner gets only keys made after it was admitted. The server relays public
// keys and ciphertext and could hand out its own public key instead of someone's: the verification
// code, derived from the media key and the holder's public key as each page received it, differs
// then, and the facilitator reading it out hears so.
//
// When someone leaves the admitted group, every page stops sending (`hold`) until the next key: what
// it sends afterwards is never under a key the one who left holds.
//
// Clients that cannot encrypt: a page says it takes part in e2ee when it connects (`auth.e2ee`, see
// E2EE_AUTH) and sends `null` for its key when its browser cannot encrypt; a client that never said
// it takes part (an outside client) counts as one that cannot. In a `preferred` session either puts
// media in the clear: the holder grants "clear" (key id 0) while one is connected, and when every
// facilitator present cannot encrypt, so nobody can hold the key, the server says so (`e2ee.clear`).
// A key granted later takes the page from clear to encrypted. A `required` session never goes clear.

const FACILITATOR_ROLES = new Set(['facilitator', 'cofacilitator']);
const WRAP_SALT = new TextEncoder().encode('hearth e2ee wrap');
const CODE_LABEL = new TextEncoder().encode('hearth e2ee code');
// How long after a new key arrives this page starts sending under it (it opens frames at once): the
// holder's one grant reaches everyone within milliseconds, so by then every member can open them.
const SWITCH_DELAY_MS = 400;

/** @typedef {import('./wire').PublicKeyJwk} PublicKeyJwk */
/** @typedef {PublicKeyJwk | Record<string, string>} Jwk a public key: this page's own, or as the server relays one */
/** @typedef {{createEncodedStreams(): {readable: ReadableStream, writable: WritableStream}}} EncodedStreams older Chromium's */
/** @typedef {'off' | 'unsupported' | 'waiting' | 'clear' | 'encrypted'} Status */
/**
 * What the frame worker counted (e2ee-worker.js answers `stats`): per sender and receiver, its frames.
 * @typedef {{sendMode: 'hold' | 'encrypt' | 'clear', sendKeyId: number | null, keys: number[], transforms: {
 *   id: string, side: 'send' | 'receive', kind: string, encrypted: number, decrypted: number, failed: number,
 *   clear: number, held: number, keyId: number | null}[]}} WorkerStats
 */

/** The Socket.IO auth field that says this page takes part in e2ee (it sends `e2ee.key` on every welcome). */
export const E2EE_AUTH = { e2ee: true };

/** What this browser offers: 'script' (RTCRtpScriptTransform), 'streams' (createEncodedStreams) or null. */
export function transformSupport() {
  if (typeof Worker === 'undefined' || !globalThis.crypto?.subtle) return null;
  if ('RTCRtpScriptTransform' in globalThis) return 'script';
  if (globalThis.RTCRtpSender && 'createEncodedStreams' in RTCRtpSender.prototype) return 'streams';
  return null;
}

/** @param {ArrayBuffer | Uint8Array} bytes */
export function b64url(bytes) {
  let s = '';
  for (const b of new Uint8Array(bytes)) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** @param {string} text */
export function unb64url(text) {
  const s = atob(text.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (text.length % 4)) % 4));
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}

/**
 * The public half of an ECDH P-256 key, as the wire carries it.
 * @param {JsonWebKey | Jwk} jwk
 * @returns {PublicKeyJwk}
 */
function publicJwk(jwk) {
  return /** @type {PublicKeyJwk} */ ({ kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y });
}

/** @param {Jwk} jwk */
function importPublic(jwk) {
  return crypto.subtle.importKey('jwk', { ...publicJwk(jwk), ext: true }, { name: 'ECDH', namedCurve: 'P-256' }, true, []);
}

/**
 * The AES-GCM key that wraps media key `keyId` for participant `to` (the same on both ends).
 * @param {CryptoKey} privateKey
 * @param {Jwk} peerJwk
 * @param {number} keyId
 * @param {string} to
 */
async function wrappingKey(privateKey, peerJwk, keyId, to) {
  const shared = await crypto.subtle.deriveBits({ name: 'ECDH', public: await importPublic(peerJwk) }, privateKey, 256);
  const base = await crypto.subtle.importKey('raw', shared, 'HKDF', false, ['deriveKey']);
  const info = new TextEncoder().encode(`${keyId}:${to}`);
  return crypto.subtle.deriveKey({ name: 'HKDF', hash: 'SHA-256', salt: WRAP_SALT, info }, base, { name: 'AES-GCM', length: 128 }, false, ['encrypt', 'decrypt']);
}

/**
 * The code members compare with what the facilitator reads out: 6 digits from SHA-256 over the key
 * id, the media key and the holder's public key (as this page received it).
 * @param {number} keyId
 * @param {Uint8Array<ArrayBuffer>} raw
 * @param {Jwk} holderJwk
 */
export async function verificationCode(keyId, raw, holderJwk) {
  const parts = [CODE_LABEL, new Uint8Array(new Uint32Array([keyId]).buffer), raw, unb64url(holderJwk.x), unb64url(holderJwk.y)];
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  const digest = new DataView(await crypto.subtle.digest('SHA-256', all));
  const n = (digest.getUint32(0) % 1_000_000).toString().padStart(6, '0');
  return `${n.slice(0, 3)} ${n.slice(3)}`;
}

function randomKeyId() {
  return crypto.getRandomValues(new Uint32Array(1))[0] || 1; // 0 means "in the clear"
}

/**
 * One page's end-to-end encryption. Fires 'change' when its status changes: `status` is 'off' (the
 * session does not encrypt), 'unsupported' (this browser cannot), 'waiting' (no key yet), 'clear'
 * (a preferred session with a browser that cannot encrypt), or 'encrypted'; `code` the verification code.
 */
export class MediaCrypto extends EventTarget {
  /** @param {import('./wire').Send} send */
  constructor(send) {
    super();
    this.send = send;
    this.support = transformSupport();
    /** @type {import('./wire').SessionStateOut['e2ee']} the session's e2ee setting */
    this.mode = 'preferred';
    /** @type {Status} */
    this.status = 'waiting';
    /** @type {string | null} the verification code */
    this.code = null;
    /** @type {number | null} */
    this.keyId = null;
    /** @type {Worker | null} */
    this.worker = null;
    /** @type {CryptoKeyPair | null} */
    this.pair = null;
    /** @type {PublicKeyJwk | null} */
    this.jwk = null;
    /** @type {import('./wire').YouOut | null} */
    this.you = null;
    /** @type {Map<number, (value: unknown) => void>} the worker's answers awaited, by reply number */
    this.replies = new Map();
    this.nextReply = 1;
    // The key holder's side.
    /** @type {string | null} */
    this.holder = null;
    /** @type {import('./wire').E2eeKeysOut['keys']} participant id -> public JWK | null, from e2ee.keys */
    this.keys = {};
    /** @type {string[]} ids admitted, from session.state */
    this.admitted = [];
    /** @type {string | null} signature of what the current key was made for */
    this.granted = null;
    /** @type {{keyId: number, raw: Uint8Array<ArrayBuffer> | null} | null} the key the holder made last (raw null: "clear"), sent again to a reconnected member */
    this.current = null;
    this.rekeying = Promise.resolve();
  }

  /** Whether media transforms are needed at all (the session encrypts, or may, and this browser can). */
  get active() {
    return this.mode !== 'off' && this.support !== null;
  }

  /** Under `required`, a browser that cannot encrypt must not join the media at all. */
  get blocked() {
    return this.mode === 'required' && this.support === null;
  }

  /** The frame worker, started on first use. */
  #startWorker() {
    if (this.worker) return this.worker;
    const worker = new Worker(new URL('./e2ee-worker.js', import.meta.url), { type: 'module', name: 'hearth-e2ee' });
    worker.onmessage = ({ data }) => {
      const resolve = this.replies.get(data.reply);
      this.replies.delete(data.reply);
      resolve?.(data.value);
    };
    this.worker = worker;
    return worker;
  }

  /**
   * @param {{type: string} & Record<string, unknown>} message
   * @param {Transferable[]} [transfer]
   * @returns {Promise<unknown>} the worker's answer
   */
  #ask(message, transfer = []) {
    const worker = this.#startWorker();
    const reply = this.nextReply++;
    return new Promise((resolve) => {
      this.replies.set(reply, resolve);
      worker.postMessage({ ...message, reply }, transfer);
    });
  }

  /**
   * @param {Status} status
   * @param {string | null} [code]
   */
  #set(status, code = this.code) {
    if (status === this.status && code === this.code) return;
    this.status = status;
    this.code = code;
    this.dispatchEvent(new Event('change'));
  }

  /**
   * A welcome: the session's setting, who we are; our public key (or that we cannot) goes out.
   * @param {import('./wire').WelcomeOut} welcome
   */
  async welcome(welcome) {
    this.you = welcome.you;
    this.mode = welcome.session?.e2ee ?? 'off';
    if (this.mode === 'off') return this.#set('off', null);
    if (!this.support) {
      this.#set('unsupported', null);
      await this.send('e2ee.key', { jwk: null }).catch(() => {});
      return;
    }
    this.#startWorker();
    if (!this.pair) {
      this.pair = await crypto.subtle.generateKey({ name: 'ECDH', namedCurve: 'P-256' }, false, ['deriveBits']);
      this.jwk = publicJwk(await crypto.subtle.exportKey('jwk', this.pair.publicKey));
    }
    if (this.status !== 'encrypted' && this.status !== 'clear') this.#set('waiting');
    await this.send('e2ee.key', { jwk: this.jwk }).catch(() => {});
  }

  /** Peer connection options this page needs: createEncodedStreams works only when asked for up front. */
  peerOptions() {
    return this.active && this.support === 'streams' ? { encodedInsertableStreams: true } : {};
  }

  /**
   * Put the worker between a sender or receiver and the network. `id` names it in the stats.
   * @param {(RTCRtpSender | RTCRtpReceiver) & {hearthE2ee?: boolean}} senderOrReceiver
   * @param {'send' | 'receive'} side
   * @param {string} kind its track's: 'audio' or 'video'
   * @param {string} id
   */
  attach(senderOrReceiver, side, kind, id) {
    if (!this.active || senderOrReceiver.hearthE2ee) return;
    senderOrReceiver.hearthE2ee = true;
    const worker = this.#startWorker();
    const options = { side, kind, id };
    if (this.support === 'script') {
      senderOrReceiver.transform = new RTCRtpScriptTransform(worker, options);
    } else {
      const { readable, writable } = /** @type {typeof senderOrReceiver & EncodedStreams} */ (senderOrReceiver).createEncodedStreams();
      worker.postMessage({ type: 'stream', readable, writable, options }, [readable, writable]);
    }
  }

  /**
   * A state change: a departure holds sending until the next key; the holder rekeys.
   * @param {import('./wire').SessionStateOut | null} state
   */
  onState(state) {
    if (!this.active) return;
    const admitted = (state?.participants ?? []).filter((p) => p.status === 'admitted').map((p) => p.id);
    const gone = this.admitted.some((id) => !admitted.includes(id));
    this.admitted = admitted;
    if (gone && this.status === 'encrypted') this.#startWorker().postMessage({ type: 'hold' });
    this.#maybeRekey();
  }

  /**
   * Facilitators: every public key, and who holds the media key; `from`: whose key came (again).
   * @param {import('./wire').E2eeKeysOut} keys
   */
  onKeys({ holder, keys, from }) {
    this.holder = holder;
    this.keys = keys ?? {};
    this.#maybeRekey(from);
  }

  /**
   * A media key for us (or "in the clear").
   * @param {import('./wire').E2eeGrantOut} grant
   */
  async onGrant({ from_key: fromKey, key_id: keyId, wrapped }) {
    if (!this.active || !this.pair) return;
    if (keyId === 0) return this.#goClear();
    try {
      if (!this.you || wrapped === null) throw new Error('nothing to open'); // only "clear" (key id 0) carries no key
      const wrapKey = await wrappingKey(this.pair.privateKey, fromKey, keyId, this.you.id);
      const bytes = unb64url(wrapped);
      const raw = new Uint8Array(
        await crypto.subtle.decrypt({ name: 'AES-GCM', iv: bytes.slice(0, 12), additionalData: new TextEncoder().encode(String(keyId)) }, wrapKey, bytes.slice(12)),
      );
      await this.#install(keyId, raw, fromKey);
    } catch {
      this.dispatchEvent(new CustomEvent('error', { detail: 'A media key could not be opened.' }));
    }
  }

  /**
   * The server: no facilitator present can hold the key (each cannot encrypt), so this `preferred`
   * session goes in the clear until a facilitator who can arrives and grants a key.
   */
  onClear() {
    if (!this.active) return;
    this.#goClear();
  }

  #goClear() {
    if (this.mode !== 'preferred') return; // nobody, the server least, may take a required session clear
    this.#startWorker().postMessage({ type: 'clear' });
    this.keyId = 0;
    this.#set('clear', null);
  }

  /**
   * @param {number} keyId
   * @param {Uint8Array<ArrayBuffer>} raw
   * @param {Jwk} holderJwk
   */
  async #install(keyId, raw, holderJwk) {
    this.keyId = keyId;
    this.#startWorker().postMessage({ type: 'key', id: keyId, raw, after: SWITCH_DELAY_MS });
    this.#set('encrypted', await verificationCode(keyId, raw, holderJwk));
  }

  /** @param {string | null} [from] */
  #maybeRekey(from = null) {
    if (!this.active || !this.pair || this.holder !== this.you?.id || !FACILITATOR_ROLES.has(this.you?.role)) return;
    this.rekeying = this.rekeying.then(() => this.#rekey(from)).catch(() => {
      this.granted = null; // try again at the next change
    });
  }

  /**
   * Wrap media key `raw` (id `keyId`) for each of `to`.
   * @param {string[]} to
   * @param {number} keyId
   * @param {Uint8Array<ArrayBuffer>} raw
   */
  async #wrapFor(to, keyId, raw) {
    /** @type {import('./wire').WrappedKey[]} */
    const grants = [];
    const pair = this.pair;
    if (!pair) return grants; // only the holder wraps, and a holder has its key pair
    for (const id of to) {
      if (id === this.you?.id || !this.keys[id]) continue;
      const wrapKey = await wrappingKey(pair.privateKey, this.keys[id], keyId, id);
      const iv = crypto.getRandomValues(new Uint8Array(12));
      const sealed = new Uint8Array(
        await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: new TextEncoder().encode(String(keyId)) }, wrapKey, raw),
      );
      const wrapped = new Uint8Array(12 + sealed.length);
      wrapped.set(iv);
      wrapped.set(sealed, 12);
      grants.push({ to: id, wrapped: b64url(wrapped) });
    }
    return grants;
  }

  /**
   * The holder: a new key whenever who is admitted, or their public keys, changed; otherwise the
   * current key again to `from`, whose key came again (a reconnection: a grant may have been missed).
   * @param {string | null} from
   */
  async #rekey(from) {
    if (this.holder !== this.you?.id) return;
    const present = this.admitted.filter((id) => id in this.keys);
    if (!present.includes(this.you.id)) return;
    const clear = this.mode === 'preferred' && present.some((id) => this.keys[id] === null);
    // Everyone admitted, keyed or not: any departure makes a new key (the others hold until it comes).
    const signature = JSON.stringify([clear, ...[...this.admitted].sort().map((id) => [id, this.keys[id]?.x ?? null])]);
    if (signature === this.granted) {
      if (from && from !== this.you.id && present.includes(from) && this.current) {
        const { keyId, raw } = this.current;
        const again = keyId === 0 ? [{ to: from, wrapped: null }] : await this.#wrapFor([from], keyId, /** @type {Uint8Array<ArrayBuffer>} */ (raw)); // only "clear" has none
        if (again.length) await this.send('e2ee.grant', { key_id: keyId, grants: again });
      }
      return;
    }
    this.granted = signature;
    if (clear) {
      this.current = { keyId: 0, raw: null };
      await this.send('e2ee.grant', { key_id: 0, grants: present.map((to) => ({ to, wrapped: null })) });
      return;
    }
    const keyId = randomKeyId();
    const raw = crypto.getRandomValues(new Uint8Array(16));
    this.current = { keyId, raw };
    const grants = await this.#wrapFor(present, keyId, raw);
    await this.#install(keyId, raw, /** @type {PublicKeyJwk} */ (this.jwk)); // a holder has its key pair; opens frames now, sends under it a moment later
    if (grants.length) await this.send('e2ee.grant', { key_id: keyId, grants });
  }

  /**
   * What the worker counted: frames encrypted, decrypted, failed, per sender and receiver.
   * @returns {Promise<WorkerStats | null>}
   */
  stats() {
    return this.worker ? /** @type {Promise<WorkerStats>} */ (this.#ask({ type: 'stats' })) : Promise.resolve(null);
  }

  /**
   * Test and audit aid: try every key this page holds on `frames` (ArrayBuffers of one kind).
   * @param {string} kind 'audio' or 'video'
   * @param {ArrayBuffer[]} frames
   * @param {boolean} [plaintext] answer with the opened bytes too
   */
  probe(kind, frames, plaintext = false) {
    return this.#ask({ type: 'probe', kind, frames, plaintext });
  }
}
