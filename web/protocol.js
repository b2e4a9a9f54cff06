// The wire: Socket.IO signaling and the two WebRTC connections. Knows nothing of the page.
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
// A node tells its clients `moved` before it drops them: refusing a connection (another node holds
// the session), handing a session over at runtime (url of the new holder), or stopping (url "":
// whichever node serves this address next takes the session). None of these ends the session.
//
// A node tells a connection `replaced` when the same participant connects again (a second tab, or
// another device) and that newer connection takes the seat. The replaced client never reconnects by
// itself: two tabs would take the seat from each other forever. `connect()` takes it back on purpose.

import { io } from '/web/vendor/socket.io.esm.min.js';
import { canMove } from './connection.js';
import { E2EE_AUTH, MediaCrypto } from './e2ee.js';
import { detail } from './events.js';
import { Publisher, Subscriber } from './rtc.js';

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

const ACK_TIMEOUT_MS = 10_000;
const MAX_MOVES = 3; // consecutive moves without a connection: two nodes pointing at each other
const RETURN_DELAY_MS = 500; // after a node stops: time for it to release its leases to the others
// Failed attempts to reach a node we were sent to before we go back to our first address: a node
// that died (kill -9, a crashed host) never answers again, and whichever node answers at home (a
// balancer's address, or the node the link was made on) takes the session once its lease runs out.
const AWAY_ATTEMPTS = 2;

/**
 * Performance marks (hearth:welcome, hearth:offer, ...) so join time can be measured and explained.
 * @param {string} name
 */
function mark(name) {
  performance.mark(`hearth:${name}`);
}

/** An `{ok:false}` ack, or a timeout, as an Error with the protocol's `code`. */
export class HearthError extends Error {
  /**
   * @param {string} code the protocol's error code (`ErrorCode`), or 'timeout'
   * @param {string} [message]
   */
  constructor(code, message) {
    super(message || code);
    this.code = code;
  }
}

export class HearthClient extends EventTarget {
  /** @param {{token: string, url?: string}} options */
  constructor({ token, url = location.origin }) {
    super();
    this.token = token;
    this.home = url; // where to come back to when the node we were sent to stops
    this.url = url;
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
    /** @type {import('./devices.js').LocalMedia | null} once the person has chosen to join */
    this.local = null;
    /** @type {Publisher | null} */
    this.publisher = null;
    /** @type {Subscriber | null} */
    this.subscriber = null;
    this.revision = -1;
    /** @type {Promise<unknown>} the offers being answered, one at a time */
    this.offers = Promise.resolve();
    this.mediaEpoch = 0; // grows whenever media starts over: offers queued before then are dropped
    /** @type {Promise<void> | null} */
    this.publishing = null;
    /** @type {ReturnType<typeof setTimeout> | null} */
    this.backoff = null;
    this.moves = 0;
    /** @type {string | null} the url of a runtime `moved`, until the server drops the socket */
    this.moving = null;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.returning = undefined; // a timer: back to the home node after the node we were sent to stopped
    this.awayFailures = 0; // failed attempts at a node other than home since the last connection
    this.e2ee = new MediaCrypto((event, payload) => this.send(event, payload)); // end-to-end media keys
  }

  /** Remote streams by msid stream id. */
  get streams() {
    return this.subscriber?.streams ?? new Map();
  }

  connect() {
    mark('connecting');
    clearTimeout(this.returning);
    this.moving = null;
    this.socket?.disconnect();
    // A node's URL may carry a path prefix; Socket.IO would read it as a namespace, so split it off.
    const base = new URL(this.url, location.href);
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
      this.moves = 0;
      this.awayFailures = 0;
      mark('connect');
      this.#setStatus('connected');
    });
    socket.on('disconnect', (reason) => this.#onDisconnect(reason));
    socket.on('connect_error', (err) => this.#onConnectError(err));
    socket.on('moved', (m) => { this.moving = m?.url ?? ''; });
    socket.io.on('reconnect_attempt', () => this.#setStatus('reconnecting'));
    socket.on('error', (e) => this.#setStatus('refused', { code: e?.code ?? 'internal', message: e?.message }));
    socket.on('welcome', (w) => this.#onWelcome(w));
    socket.on('session.state', (s) => this.#onState(s));
    socket.on('rtc.offer', (o) => {
      if (socket === this.socket) this.#onOffer(o); // never an offer of a connection given up
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
   * Send a command; resolves with the ack's result, rejects with HearthError.
   * @template {ClientEvent} K
   * @param {K} event
   * @param {ClientEvents[K]} [payload] none for events that carry nothing
   * @returns {Promise<Ack>}
   */
  async send(event, payload) {
    /** @type {Ack} */
    let ack;
    try {
      if (!this.socket) throw new Error('not connected'); // answered as a timeout, as a lost socket is
      // The payload's type is checked at `send`; socket.io-client's own types cannot follow a generic event.
      const timed = /** @type {any} */ (this.socket.timeout(ACK_TIMEOUT_MS));
      ack = await timed.emitWithAck(event, payload ?? {});
    } catch {
      throw new HearthError('timeout', 'The server did not answer. Check your connection.');
    }
    if (!ack?.ok) throw new HearthError(ack?.error?.code ?? 'internal', ack?.error?.message);
    return ack;
  }

  /**
   * Start sending `local` as soon as this participant is admitted.
   * @param {import('./devices.js').LocalMedia} local
   */
  joinMedia(local) {
    this.local = local;
    local.addEventListener('change', () => this.#reportMediaState());
    this.#maybePublish();
  }

  close() {
    clearTimeout(this.returning);
    this.#closeMedia();
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
    this.#closeMedia();
    this.you = welcome.you;
    // The server hands on its configured ICE servers as they are: RTCIceServer dictionaries.
    this.iceServers = /** @type {RTCIceServer[]} */ (/** @type {unknown} */ (welcome.ice_servers ?? []));
    this.session = welcome.session;
    this.e2ee.welcome(welcome);
    this.e2ee.onState(this.session);
    this.#emit('welcome', welcome);
    this.#emit('state', this.session);
    this.#maybePublish();
  }

  /** @param {import('./wire').SessionStateOut} state */
  #onState(state) {
    if (this.session && state.version != null && state.version < this.session.version) return;
    this.session = state;
    if (this.you) this.you = { ...this.you, status: this.#myStatus(state) };
    this.e2ee.onState(state);
    this.#emit('state', state);
    if (this.#publishingLost(state)) this.#republish();
    this.#maybePublish();
  }

  /**
   * The server lost our publishing connection without closing it (its media worker died): its view
   * lists no stream of ours although it took our offer. The connection may look alive here for
   * up to 30 s (until ICE consent runs out), so publish afresh now. States sent before the publish
   * was acknowledged do not count: the server marks us publishing before it answers.
   * @param {import('./wire').SessionStateOut} state
   */
  #publishingLost(state) {
    const me = state.participants?.find((p) => p.id === this.you?.id);
    return Boolean(me && this.publisher?.accepted && me.stream_ids?.length === 0);
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
   * A server-side disconnect is deliberate: after `moved`, go where it said (or come back once the
   * stopping node has let go of the session); otherwise it ends this connection for good (say,
   * another tab took the seat). Anything else, socket.io retries by itself.
   * @param {string} reason Socket.IO's
   */
  #onDisconnect(reason) {
    const moving = this.moving;
    this.moving = null;
    if (this.status === 'removed' || this.status === 'ended' || this.status === 'replaced') return;
    const deliberate = reason === 'io server disconnect';
    if (moving) this.#follow(moving, 'The session moved too many times.');
    else if (moving === '' && deliberate) this.#comeBack();
    else this.#setStatus(deliberate ? 'closed' : 'reconnecting');
  }

  /** @param {Error & {data?: {code?: string, message?: string, url?: string}}} err a refusal carries the server's `data` */
  #onConnectError(err) {
    const data = err?.data ?? {};
    if (data.code === 'moved' && data.url) {
      this.#follow(data.url, data.message);
    } else if (data.code === 'moved') {
      this.#comeBack(); // a stopping node refused us and nobody holds the session yet: try again shortly
    } else if (data.code) {
      this.#setStatus('refused', { code: data.code, message: data.message });
    } else if (this.url !== this.home && ++this.awayFailures >= AWAY_ATTEMPTS) {
      this.awayFailures = 0;
      this.#comeBack(); // the node we were sent to is gone: home sends us to whoever holds the session
    } else {
      this.#setStatus('reconnecting', { code: 'network', message: err?.message });
    }
  }

  /**
   * Connect to the node that holds the session now, unless moves go round without ever connecting.
   * @param {string} url
   * @param {string} [message] what to say if it gives up
   */
  #follow(url, message) {
    if (++this.moves > MAX_MOVES) {
      this.#setStatus('refused', { code: 'moved', message });
      return;
    }
    this.url = url;
    this.#emit('moved', { url }); // before connecting: boot.js reopens the page there if CSP blocks it
    this.connect();
  }

  /**
   * Our node stopped. Whichever node answers at our first address (a load balancer's, or this node
   * restarted) takes the session once the stopping node has released it: wait a moment, with jitter
   * so a whole group does not arrive at once; socket.io then retries with backoff until one answers.
   */
  #comeBack() {
    this.#setStatus('reconnecting');
    this.url = this.home;
    this.returning = setTimeout(() => this.connect(), RETURN_DELAY_MS * (1 + Math.random()));
  }

  /**
   * @param {'removed' | 'ended'} kind
   * @param {Partial<import('./wire').RemovedOut & import('./wire').EndedOut> | undefined} detail
   */
  #onGone(kind, detail) {
    this.#closeMedia();
    this.#setStatus(kind);
    this.local?.stop();
    this.#emit(kind, detail ?? {});
    this.socket?.disconnect();
  }

  /**
   * Another connection of ours has the seat now: stand down, media closed, until `connect()` again.
   * @param {import('./wire').ReplacedOut | undefined} detail
   */
  #onReplaced(detail) {
    this.#closeMedia();
    this.#setStatus('replaced', { code: 'replaced', message: detail?.message });
    this.socket?.disconnect(); // before the server's disconnect: nothing may retry
    this.#emit('replaced', detail ?? {});
  }

  #admitted() {
    return this.you?.status === 'admitted' && this.socket?.connected;
  }

  async #maybePublish() {
    if (!this.local || !this.#admitted() || this.publisher || this.publishing || this.backoff) return;
    if (this.e2ee.blocked) return; // a required session, and this browser cannot encrypt: the page says so
    const publishing = this.#publish().finally(() => {
      if (this.publishing !== publishing) return; // media started over meanwhile: a newer one is in charge
      this.publishing = null;
      this.#maybePublish();
    });
    this.publishing = publishing;
  }

  async #publish() {
    this.#reportMediaState(); // at once: the others see "mic off" until the server hears otherwise
    const local = /** @type {import('./devices.js').LocalMedia} */ (this.local); // #maybePublish checked
    const publisher = new Publisher(this.iceServers, local, this.e2ee);
    this.publisher = publisher;
    publisher.addEventListener('state', (e) => {
      if (detail(e) === 'failed' && this.publisher === publisher) this.#republish();
    });
    try {
      const offer = await publisher.offer();
      if (this.publisher !== publisher) return; // media started over (a welcome) while the offer was made
      mark('publish');
      const ack = await this.send('rtc.publish', offer);
      mark('published');
      if (this.publisher !== publisher) return;
      await publisher.accept(/** @type {Ack & {sdp: string}} */ (ack)); // rtc.publish's ack carries the answer
      await this.#reportMediaState();
    } catch (err) {
      if (this.publisher === publisher) {
        publisher.close();
        this.publisher = null;
        this.#emit('media', { error: err });
        this.backoff = setTimeout(() => {
          this.backoff = null;
          this.#maybePublish();
        }, 2000);
      }
    }
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

  #republish() {
    this.publisher?.close();
    this.publisher = null;
    this.#maybePublish();
  }

  /** @param {import('./wire').RtcOfferOut} offer */
  #onOffer(offer) {
    // Answer offers one at a time, in order; a stale revision is dropped, and so is an offer still
    // queued when media started over (a welcome on another node: its revisions start afresh, and
    // answering the dead node's offer would set the revision above every offer of the new one).
    const epoch = this.mediaEpoch;
    this.offers = this.offers
      .then(() => (epoch === this.mediaEpoch ? this.#answer(offer) : undefined))
      .catch((err) => this.#emit('media', { error: err }));
  }

  /** @param {import('./wire').RtcOfferOut} offer */
  async #answer(offer) {
    if (offer.revision != null && offer.revision <= this.revision) return;
    if (this.e2ee.blocked) return; // nothing it receives could be decrypted
    if (!this.subscriber) {
      const subscriber = new Subscriber(this.iceServers, this.e2ee);
      subscriber.addEventListener('streams', () => this.#emit('streams', this.streams));
      subscriber.addEventListener('state', (e) => {
        if (detail(e) === 'failed' && this.subscriber === subscriber) this.#rejoin();
      });
      this.subscriber = subscriber;
    }
    mark('offer');
    const subscriber = this.subscriber;
    const answer = await subscriber.answer(offer);
    if (subscriber !== this.subscriber) return; // a reconnection started over meanwhile
    mark('answer');
    this.revision = offer.revision ?? this.revision;
    await this.send('rtc.answer', { ...answer, revision: offer.revision });
  }

  async #reportMediaState() {
    if (!this.local || !this.#admitted()) return;
    await this.send('media.state', { audio: this.local.audio, video: this.local.video }).catch(() => {});
  }

  #closeMedia() {
    this.publisher?.close();
    this.publisher = null;
    // A publish still waiting on the old connection's answer (up to ACK_TIMEOUT_MS on a node that
    // died) must not hold back the publish to the new one; nor must a retry timed for the old one.
    this.publishing = null;
    clearTimeout(this.backoff ?? undefined);
    this.backoff = null;
    this.subscriber?.close();
    this.subscriber = null;
    this.revision = -1;
    this.mediaEpoch += 1;
  }
}
