// The client's two WebRTC connections: the publisher (we offer, once admitted and the person chose
// to join; a failed publish is tried again after a pause) and the subscriber (the server offers,
// answered one at a time, in order), and the simulcast layers the server asks the publisher to send
// (`video.layers`). Split from protocol.js, which owns the socket: it hands this the server's offers
// and asks, and says when media starts over (a welcome, a removal, another tab). No DOM.

import { detail } from './events.js';
import { mark } from './marks.js';
import { Publisher, Subscriber } from './rtc.js';

/** @typedef {import('./protocol.js').HearthEvents} HearthEvents */
/** @typedef {import('./wire').Ack} Ack */

const RETRY_MS = 2000; // after a failed publish, before the next try

/**
 * What only the client may do: tell the page (`media`, `streams`), and reconnect its socket.
 * @typedef {{
 *   emit: <K extends keyof HearthEvents>(name: K, detail: HearthEvents[K]) => void,
 *   rejoin: () => void,
 * }} ClientHooks
 */

export class MediaLink {
  /**
   * @param {import('./protocol.js').HearthClient} client whose socket, welcome (`you`, `iceServers`), `e2ee` and `send` the media uses
   * @param {ClientHooks} hooks
   */
  constructor(client, hooks) {
    this.client = client;
    this.hooks = hooks;
    /** @type {import('./devices.js').LocalMedia | null} once the person has chosen to join */
    this.local = null;
    /** @type {Publisher | null} */
    this.publisher = null;
    /** @type {Subscriber | null} */
    this.subscriber = null;
    this.revision = -1;
    /** @type {Promise<unknown>} the offers being answered, one at a time */
    this.offers = Promise.resolve();
    this.epoch = 0; // grows whenever media starts over: offers queued before then are dropped
    /** @type {Promise<void> | null} */
    this.publishing = null;
    /** @type {ReturnType<typeof setTimeout> | null} */
    this.backoff = null;
  }

  /** Remote streams by msid stream id. */
  get streams() {
    return this.subscriber?.streams ?? new Map();
  }

  /**
   * Start sending `local` as soon as this participant is admitted.
   * @param {import('./devices.js').LocalMedia} local
   */
  join(local) {
    this.local = local;
    local.addEventListener('change', () => this.reportState());
    this.maybePublish();
  }

  /**
   * The server lost our publishing connection without closing it (its media worker died): its view
   * lists no stream of ours although it took our offer. The connection may look alive here for
   * up to 30 s (until ICE consent runs out), so publish afresh now. States sent before the publish
   * was acknowledged do not count: the server marks us publishing before it answers.
   * @param {import('./wire').SessionStateOut} state
   */
  lost(state) {
    const me = state.participants?.find((p) => p.id === this.client.you?.id);
    return Boolean(me && this.publisher?.accepted && me.stream_ids?.length === 0);
  }

  #admitted() {
    return this.client.you?.status === 'admitted' && this.client.socket?.connected;
  }

  async maybePublish() {
    if (!this.local || !this.#admitted() || this.publisher || this.publishing || this.backoff) return;
    if (this.client.e2ee.blocked) return; // a required session, and this browser cannot encrypt: the page says so
    const publishing = this.#publish().finally(() => {
      if (this.publishing !== publishing) return; // media started over meanwhile: a newer one is in charge
      this.publishing = null;
      this.maybePublish();
    });
    this.publishing = publishing;
  }

  async #publish() {
    this.reportState(); // at once: the others see "mic off" until the server hears otherwise
    const local = /** @type {import('./devices.js').LocalMedia} */ (this.local); // maybePublish checked
    const publisher = new Publisher(this.client.iceServers, local, this.client.e2ee);
    this.publisher = publisher;
    publisher.addEventListener('state', (e) => {
      if (detail(e) === 'failed' && this.publisher === publisher) this.republish();
    });
    try {
      const offer = await publisher.offer();
      if (this.publisher !== publisher) return; // media started over (a welcome) while the offer was made
      mark('publish');
      const ack = await this.client.send('rtc.publish', offer);
      mark('published');
      if (this.publisher !== publisher) return;
      await publisher.accept(/** @type {Ack & {sdp: string}} */ (ack)); // rtc.publish's ack carries the answer
      await this.reportState();
    } catch (err) {
      if (this.publisher === publisher) {
        publisher.close();
        this.publisher = null;
        this.hooks.emit('media', { error: err });
        this.backoff = setTimeout(() => {
          this.backoff = null;
          this.maybePublish();
        }, RETRY_MS);
      }
    }
  }

  republish() {
    this.publisher?.close();
    this.publisher = null;
    this.maybePublish();
  }

  /**
   * The server's ask (`video.layers`): the simulcast layers this publication is to send for now. A
   * failure (a connection closing under it) is this publication's alone: the next one sends every layer.
   * @param {import('./wire').VideoLayersOut} layers
   */
  onLayers(layers) {
    this.publisher?.sendLayers(layers.rids).catch((err) => this.hooks.emit('media', { error: err }));
  }

  /** @param {import('./wire').RtcOfferOut} offer */
  onOffer(offer) {
    // Answer offers one at a time, in order; a stale revision is dropped, and so is an offer still
    // queued when media started over (a welcome on another node: its revisions start afresh, and
    // answering the dead node's offer would set the revision above every offer of the new one).
    const epoch = this.epoch;
    this.offers = this.offers
      .then(() => (epoch === this.epoch ? this.#answer(offer) : undefined))
      .catch((err) => this.hooks.emit('media', { error: err }));
  }

  /** @param {import('./wire').RtcOfferOut} offer */
  async #answer(offer) {
    if (offer.revision != null && offer.revision <= this.revision) return;
    if (this.client.e2ee.blocked) return; // nothing it receives could be decrypted
    if (!this.subscriber) {
      const subscriber = new Subscriber(this.client.iceServers, this.client.e2ee);
      subscriber.addEventListener('streams', () => this.hooks.emit('streams', this.streams));
      // Only the server offers it: when it fails, the client reconnects (its fresh welcome starts both over).
      subscriber.addEventListener('state', (e) => {
        if (detail(e) === 'failed' && this.subscriber === subscriber) this.hooks.rejoin();
      });
      this.subscriber = subscriber;
    }
    mark('offer');
    const subscriber = this.subscriber;
    const answer = await subscriber.answer(offer);
    if (subscriber !== this.subscriber) return; // a reconnection started over meanwhile
    mark('answer');
    this.revision = offer.revision ?? this.revision;
    await this.client.send('rtc.answer', { ...answer, revision: offer.revision });
  }

  async reportState() {
    if (!this.local || !this.#admitted()) return;
    await this.client.send('media.state', { audio: this.local.audio, video: this.local.video }).catch(() => {});
  }

  /** Media starts over: both connections closed, nothing queued for them goes on. */
  close() {
    this.publisher?.close();
    this.publisher = null;
    // A publish still waiting on the old connection's answer (up to the ack timeout, requests.js, on
    // a node that died) must not hold back the publish to the new one; nor must a retry timed for the old one.
    this.publishing = null;
    clearTimeout(this.backoff ?? undefined);
    this.backoff = null;
    this.subscriber?.close();
    this.subscriber = null;
    this.revision = -1;
    this.epoch += 1;
  }
}
