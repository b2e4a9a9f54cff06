// The wire: Socket.IO signaling, the session as the server tells it, and the page's events. Knows
// nothing of the page. Its parts: requests.js (commands and their acks, HearthError),
// reconnection.js (following `moved`, coming back home), media-link.js (the two WebRTC connections).
//
// Events (CustomEvent, payload in `detail`): welcome, state, lobby, speaking, nod, note, help,
// help.acknowledged, breakout.broadcast (a facilitator's message to every breakout group),
// breakout.warning (a minute left in the breakout),
// safety.shared (a member's emergency plan, to facilitators), safety.asked (to a member), removed,
// ended, connection ({status, error?}), streams (remote MediaStreams changed), media ({error}),
// moved ({url}: the session lives on another node; this client connects there next), replaced
// ({message}: this participant connected again elsewhere, which has the seat now), video.paused
// ({paused, audio_only}: whose video the server holds back from this page's weak link, to keep its
// audio clear), link.weak ({participant_id, paused, audio_only}: to facilitators, a member's link).
//
// A node tells a connection `replaced` when the same participant connects again (a second tab, or
// another device) and that newer connection takes the seat. The replaced client never reconnects by
// itself: two tabs would take the seat from each other forever. `connect()` takes it back on purpose.

import { io } from '/web/vendor/socket.io.esm.min.js';
import { canMove } from './connection.js';
import { E2EE_AUTH, MediaCrypto } from './e2ee.js';
import { mark } from './marks.js';
import { MediaLink } from './media-link.js';
import { Reconnection } from './reconnection.js';
import { request } from './requests.js';

export { HearthError } from './requests.js'; // what `send` rejects with, kept where the page imports it from

/** @typedef {import('./wire').ClientEvents} ClientEvents */
/** @typedef {import('./wire').ClientEvent} ClientEvent */
/** @typedef {import('./wire').Ack} Ack */
/** @typedef {import('./wire').ServerEvents} ServerEvents */
/** @typedef {{code: string, message?: string}} Failure a refusal's or a lost connection's code and words */
/**
 * What the client tells the page, by event name (each a CustomEvent, payload in `detail`).
 * @typedef {{
 *   welcome: ServerEvents['welcome'], state: ServerEvents['session.state'], lobby: ServerEvents['lobby'],
 *   speaking: ServerEvents['speaking'], nod: ServerEvents['nod'], note: ServerEvents['note'],
 *   help: ServerEvents['help'], 'help.acknowledged': ServerEvents['help.acknowledged'],
 *   'safety.shared': ServerEvents['safety.shared'], 'safety.asked': ServerEvents['safety.asked'],
 *   'breakout.broadcast': ServerEvents['breakout.broadcast'], 'breakout.warning': ServerEvents['breakout.warning'],
 *   'video.paused': ServerEvents['video.paused'], 'link.weak': ServerEvents['link.weak'],
 *   removed: Partial<ServerEvents['removed']>, ended: Partial<ServerEvents['session.ended']>,
 *   replaced: Partial<ServerEvents['replaced']>, moved: {url: string},
 *   connection: {status: string, error?: Failure | null}, streams: Map<string, MediaStream>, media: {error: unknown},
 * }} HearthEvents
 */
/**
 * The socket, typed by the wire's generated event maps (`web/wire.d.ts`).
 * @typedef {import('/web/vendor/socket.io.esm.min.js').Socket<import('./wire').ServerListeners, import('./wire').ClientEmitters>} WireSocket
 */

export class HearthClient extends EventTarget {
  /** @param {{token: string, url?: string}} options */
  constructor({ token, url = location.origin }) {
    super();
    this.token = token;
    /** @type {WireSocket | null} */
    this.socket = null;
    /** @type {import('./wire').YouOut | null} */
    this.you = null;
    /** @type {import('./wire').SessionStateOut | null} */
    this.session = null;
    /** @type {import('./wire').LobbyOut | null} */
    this.lobby = null;
    /** @type {RTCIceServer[]} */
    this.iceServers = [];
    /** @type {import('./connection.js').Status} */
    this.status = 'idle'; // changed only by #setStatus, as connection.js allows
    // Which node to connect to next, and when to try again after a node let go of us.
    this.reconnection = new Reconnection(this, url, {
      setStatus: (status, error) => this.#setStatus(status, error),
      moved: (to) => this.#emit('moved', { url: to }),
    });
    this.media = new MediaLink(this, { emit: (name, payload) => this.#emit(name, payload), rejoin: () => this.#rejoin() });
    this.e2ee = new MediaCrypto((event, payload) => this.send(event, payload)); // end-to-end media keys
  }

  /** Remote streams by msid stream id. */
  get streams() {
    return this.media.streams;
  }

  /** The sending connection, once there is one (stats.js, tests). */
  get publisher() {
    return this.media.publisher;
  }

  /** The receiving connection, once the server has offered it (stats.js, the e2ee tiles, tests). */
  get subscriber() {
    return this.media.subscriber;
  }

  connect() {
    mark('connecting');
    this.reconnection.starting();
    this.socket?.disconnect();
    // A node's URL may carry a path prefix; Socket.IO would read it as a namespace, so split it off.
    const base = new URL(this.reconnection.url, location.href);
    /** @type {WireSocket} */
    const socket = io(base.origin, {
      path: `${base.pathname.replace(/\/$/, '')}/socket.io/`,
      auth: { token: this.token, ...E2EE_AUTH },
      transports: ['websocket', 'polling'],
      reconnectionDelay: 500,
      reconnectionDelayMax: 2000,
    });
    this.socket = socket;
    this.#setStatus('connecting');
    socket.on('connect', () => {
      this.reconnection.connected();
      mark('connect');
      this.#setStatus('connected');
    });
    socket.on('disconnect', (reason) => this.reconnection.onDisconnect(reason));
    socket.on('connect_error', (err) => this.reconnection.onConnectError(err));
    socket.on('moved', (m) => this.reconnection.announced(m?.url ?? ''));
    socket.io.on('reconnect_attempt', () => this.#setStatus('reconnecting'));
    socket.on('error', (e) => this.#setStatus('refused', { code: e?.code ?? 'internal', message: e?.message }));
    socket.on('welcome', (w) => this.#onWelcome(w));
    socket.on('session.state', (s) => this.#onState(s));
    socket.on('rtc.offer', (o) => {
      if (socket === this.socket) this.media.onOffer(o); // never an offer of a connection given up
    });
    socket.on('video.layers', (l) => {
      if (socket === this.socket) this.media.onLayers(l);
    });
    socket.on('removed', (r) => this.#onGone('removed', r));
    socket.on('session.ended', (e) => this.#onGone('ended', e));
    socket.on('replaced', (r) => this.#onReplaced(r));
    socket.on('e2ee.keys', (keys) => this.e2ee.onKeys(keys));
    socket.on('e2ee.grant', (grant) => this.e2ee.onGrant(grant));
    socket.on('e2ee.clear', () => this.e2ee.onClear());
    socket.on('lobby', (lobby) => {
      this.lobby = lobby;
      this.#emit('lobby', lobby);
    });
    /** @type {(keyof ServerEvents & keyof HearthEvents)[]} passed to the page as they come */
    const passed = ['speaking', 'nod', 'note', 'help', 'help.acknowledged', 'safety.shared', 'safety.asked',
      'breakout.broadcast', 'breakout.warning', 'video.paused', 'link.weak'];
    for (const name of passed) {
      socket.on(name, (/** @type {ServerEvents[typeof name]} */ payload) => this.#emit(name, payload));
    }
  }

  /**
   * Send a command; resolves with the ack's result, rejects with HearthError (requests.js).
   * @template {ClientEvent} K
   * @param {K} event
   * @param {ClientEvents[K]} [payload] none for events that carry nothing
   * @returns {Promise<Ack>}
   */
  send(event, payload) {
    return request(this.socket, event, payload);
  }

  /**
   * Start sending `local` as soon as this participant is admitted.
   * @param {import('./devices.js').LocalMedia} local
   */
  joinMedia(local) {
    this.media.join(local);
  }

  close() {
    this.reconnection.cancel();
    this.media.close();
    // Closed first: the socket's own `disconnect` (sent as it closes) then finds nothing to retry.
    this.#setStatus('closed');
    this.socket?.disconnect();
  }

  /**
   * @template {keyof HearthEvents} K
   * @param {K} name
   * @param {HearthEvents[K]} detail
   */
  #emit(name, detail) {
    this.dispatchEvent(new CustomEvent(name, { detail }));
  }

  /**
   * Move the connection to `status` if connection.js allows it from where it is; otherwise nothing
   * changes (a late event of a socket this client has given up). Returns whether it moved.
   * @param {import('./connection.js').Status} status
   * @param {Failure} [error]
   */
  #setStatus(status, error) {
    if (!canMove(this.status, status)) return false;
    this.status = status;
    this.error = error ?? null;
    this.#emit('connection', { status, error });
    return true;
  }

  /** @param {import('./wire').WelcomeOut} welcome */
  #onWelcome(welcome) {
    // A (re)connection: the server has fresh connections in mind, so start media over.
    mark('welcome');
    this.media.close();
    this.you = welcome.you;
    // The server hands on its configured ICE servers as they are: RTCIceServer dictionaries.
    this.iceServers = /** @type {RTCIceServer[]} */ (/** @type {unknown} */ (welcome.ice_servers ?? []));
    this.session = welcome.session;
    this.e2ee.welcome(welcome);
    this.e2ee.onState(this.session);
    this.#emit('welcome', welcome);
    this.#emit('state', this.session);
    this.media.maybePublish();
  }

  /** @param {import('./wire').SessionStateOut} state */
  #onState(state) {
    if (this.session && state.version != null && state.version < this.session.version) return;
    this.session = state;
    if (this.you) this.you = { ...this.you, status: this.#myStatus(state) };
    this.e2ee.onState(state);
    this.#emit('state', state);
    if (this.media.lost(state)) this.media.republish();
    this.media.maybePublish();
  }

  /**
   * My status as this state shows it. A member's view lists the member while admitted; a member
   * missing from it is waiting (not yet admitted, or sent back to the waiting room).
   * @param {import('./wire').SessionStateOut} state
   */
  #myStatus(state) {
    const you = this.you;
    if (!you) return 'waiting'; // called once welcomed only
    const me = state.participants?.find((p) => p.id === you.id);
    if (me) return me.status;
    const leads = you.role === 'facilitator' || you.role === 'cofacilitator';
    return leads || you.status === 'removed' ? you.status : 'waiting';
  }

  /**
   * @param {'removed' | 'ended'} kind
   * @param {Partial<import('./wire').RemovedOut & import('./wire').EndedOut> | undefined} detail
   */
  #onGone(kind, detail) {
    this.media.close();
    this.#setStatus(kind);
    this.media.local?.stop();
    this.#emit(kind, detail ?? {});
    this.socket?.disconnect();
  }

  /**
   * Another connection of ours has the seat now: stand down, media closed, until `connect()` again.
   * @param {import('./wire').ReplacedOut | undefined} detail
   */
  #onReplaced(detail) {
    this.media.close();
    this.#setStatus('replaced', { code: 'replaced', message: detail?.message });
    this.socket?.disconnect(); // before the server's disconnect: nothing may retry
    this.#emit('replaced', detail ?? {});
  }

  /**
   * Only the server offers the receiving connection, so when it fails (the network changed under
   * it) we reconnect the socket: the fresh welcome starts both connections over, seat kept.
   */
  #rejoin() {
    if (!this.socket?.connected) return; // socket.io is already reconnecting
    this.socket.disconnect();
    this.#setStatus('reconnecting');
    this.socket.connect();
  }
}
