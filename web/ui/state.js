// What the page knows: the client's session state plus what only the page keeps. Fires 'change'
// whenever something worth re-rendering happens, with what changed (changes.js: the parts that did,
// or null for anything), 'error' and 'notice' for what the person should be told.
//
// AppState is what every screen and panel is handed; it follows the client's events and owns who is
// who, which screen fits, commands, joining and leaving. Its parts, each with its own rules:
// signals.js (notes, nods, help, messages to all groups), safety-watch.js (facilitators: plans and
// dropped connections), weak-link.js (audio only, video held back), e2ee-tiles.js (each tile's
// encryption); it hands on their state under the names the panels read.

import { detail } from '../events.js';
import { describeChange } from './announcements.js';
import { EVERYTHING, sameValue, sessionChanges } from './changes.js';
import { announce } from './dom.js';
import { E2eeTiles } from './e2ee-tiles.js';
import { now, syncClock } from './format.js';
import { isHere } from './places.js';
import { tabMemory } from './memory.js';
import { SafetyPlanKeeper } from './safety.js';
import { SafetyWatch } from './safety-watch.js';
import { Signals } from './signals.js';
import { WeakLink } from './weak-link.js';
import { QualityMonitor } from '../stats.js';

/** @type {Set<string | undefined>} */
export const FACILITATOR_ROLES = new Set(['facilitator', 'cofacilitator']);

/** @typedef {import('./changes.js').Part} Part */
/** @typedef {import('./signals.js').Note} Note */
/** @typedef {import('./signals.js').NodSeen} NodSeen */
/** @typedef {import('./signals.js').Broadcast} Broadcast */
/** @typedef {import('./safety-watch.js').SafetyPlan} SafetyPlan */
/** @typedef {import('./safety-watch.js').Drop} Drop */

/**
 * Page state kept beside the session that a change of a session part moves too (see 'state').
 * @type {Partial<Record<Part, Part[]>>}
 */
const FOLLOWERS = {
  participants: ['help', 'safety'], // help requests of those who left, dropped connections
  session: ['safety'], // an ended session forgets the plans
  places: ['broadcasts'], // the messages to all groups go with their breakout
};

export class AppState extends EventTarget {
  /**
   * @param {import('../protocol.js').HearthClient} client
   * @param {import('../devices.js').LocalMedia} local
   * @param {import('./participation.js').Participation} participation
   */
  constructor(client, local, participation) {
    super();
    this.client = client;
    this.local = local;
    this.participation = participation;
    this.joined = false;
    this.weakLink = new WeakLink(client, local, () => this.changed(['media']));
    /** @type {import('../protocol.js').Failure | null} */
    this.refusal = client.status === 'refused' ? client.error ?? null : null;
    this.removedBefore = tabMemory.removed; // this tab was removed: a refused link says so on reload
    /** @type {'removed' | 'ended' | 'left' | null} */
    this.gone = null;
    /** @type {{message?: string, devices: {audio: boolean, video: boolean}} | null} another tab or device of this person has the seat */
    this.replaced = null;
    /** @type {{reason?: string, at?: number} | null} what `removed` or `session.ended` said */
    this.endDetail = null;
    this.sentBack = false; // the lobby again after the room: a facilitator put them back (app.js)
    this.lobby = client.lobby ?? { waiting: [] };
    /** @type {import('../wire').SpeakingOut} */
    this.speaking = { levels: {}, active: null };
    this.signals = new Signals(this, FACILITATOR_ROLES);
    this.safetyWatch = new SafetyWatch(); // facilitators: the plans shared, the connections dropped
    this.safety = new SafetyPlanKeeper((event, payload) => client.send(event, payload)); // members: my plan
    this.safety.addEventListener('change', () => this.changed(['safety']));
    local.addEventListener('choice', (e) => { tabMemory.devices = detail(e); });
    // How well each person's media arrives here, and this page's own sending (see stats.js).
    // Only from people in one's own place: the server forwards nothing of the others, which is no freeze.
    this.quality = new QualityMonitor(client, (streamId) => this.participants.some((p) => p.video
      && p.stream_ids?.includes(streamId) && isHere(this.session, this.you?.id, p)));
    this.quality.addEventListener('change', () => this.changed(['quality']));
    // End-to-end encryption: its status and code, and what the worker counted (each tile says).
    this.e2eeTiles = new E2eeTiles(client, () => Boolean(this.gone), () => this.changed(['e2ee']));
    /** @type {import('../wire').SessionStateOut | null} the last state the live region spoke from */
    this.heard = null;
    /** @type {import('../wire').SessionStateOut | null} the session state the page last showed, to tell what the next one changes */
    this.shown = null;
    client.e2ee.addEventListener('change', () => this.changed(['e2ee']));
    client.e2ee.addEventListener('error', (e) => this.dispatchEvent(new CustomEvent('error', { detail: detail(e) })));
    this.#listen();
  }

  // The parts' state, under the names the panels read.
  get help() { return this.signals.help; }
  /** Open help requests, oldest first, with names ({from, at, name}). */
  get helps() { return this.signals.helps; }
  get notes() { return this.signals.notes; }
  get nods() { return this.signals.nods; }
  get broadcasts() { return this.signals.broadcasts; }
  get safetyPlans() { return this.safetyWatch.plans; }
  get drops() { return this.safetyWatch.drops; }
  get audioOnly() { return this.weakLink.audioOnly; }
  get videoPaused() { return this.weakLink.videoPaused; }
  get weakLinks() { return this.weakLink.weakLinks; }

  get you() { return this.client.you; }
  get session() { return this.client.session; }
  get isFacilitator() { return FACILITATOR_ROLES.has(this.you?.role); }
  get participants() { return this.session?.participants ?? []; }

  /**
   * Someone in the session or its waiting room, by id.
   * @param {string | null | undefined} id
   * @returns {import('../wire').ParticipantOut | (import('../wire').WaitingOut & Partial<import('../wire').ParticipantOut>) | null}
   */
  participant(id) {
    return this.participants.find((p) => p.id === id) ?? this.lobby.waiting.find((w) => w.id === id) ?? null;
  }

  /**
   * How this page names someone: 'You', their name, or 'Someone' (not known here).
   * @param {string | null | undefined} id
   * @returns {string}
   */
  nameOf(id) {
    if (id === this.you?.id) return 'You';
    const known = this.participant(id) ?? this.session?.facilitators?.find((f) => f.id === id)
      ?? this.notes.find((n) => n.from === id && n.name);
    return known?.name ?? 'Someone';
  }

  /** Which screen fits now: join, lobby, room, or one of the end screens. */
  screen() {
    if (this.gone) return this.gone;
    if (this.session?.status === 'ended') return 'ended';
    if (this.replaced) return 'replaced';
    if (this.refusal?.code === 'forbidden' || (this.refusal?.code === 'unauthorized' && this.removedBefore)) return 'removed';
    if (this.refusal) return this.refusal.code === 'unauthorized' ? 'invalid' : 'refused';
    if (this.client.e2ee.blocked) return 'e2ee'; // required, and this browser cannot: wait, and say why
    const status = this.you?.status;
    if (status === 'removed' || status === 'denied') return 'removed';
    if (!this.joined || !this.you) return 'join';
    return status === 'admitted' ? 'room' : 'lobby';
  }

  /** Whether the group agreement must be accepted before joining (shown unless the server says no). */
  needsAgreement() {
    return !this.isFacilitator && this.session?.requires_agreement !== false;
  }

  /**
   * Run a command; failures are shown to the person, never thrown at the caller. A command whose
   * answer was cut off because the session ended meanwhile ("End session" itself) is no failure.
   * @template {import('../wire').ClientEvent} K
   * @param {K} event
   * @param {import('../wire').ClientEvents[K]} [payload]
   * @returns {Promise<import('../wire').Ack | null>}
   */
  async run(event, payload) {
    try {
      return await this.client.send(event, payload);
    } catch (err) {
      if (this.gone || this.replaced) return null;
      const message = /** @type {Error} */ (err).message;
      this.dispatchEvent(new CustomEvent('error', { detail: message || 'That did not work.' }));
      return null;
    }
  }

  async join() {
    performance.mark('hearth:join'); // the join bench times click-to-frame from here
    if (this.needsAgreement()) await this.run('agree');
    this.joined = true;
    this.client.joinMedia(this.local);
    this.quality.start();
    this.e2eeTiles.start();
    tabMemory.joined = true;
    this.changed();
  }

  /**
   * Tell the views what changed: `parts` (changes.js), or everything when not given.
   * @param {Iterable<import('./changes.js').Part> | null} [parts]
   */
  changed(parts = EVERYTHING) {
    /** @type {import('./changes.js').Changes} */
    const changes = parts === EVERYTHING ? EVERYTHING : new Set(parts);
    this.dispatchEvent(new CustomEvent('change', { detail: changes }));
  }

  /**
   * Whether the media of a tile is end-to-end encrypted, as this page's worker found it (e2ee-tiles.js).
   * @param {string | null | undefined} streamId the tile's received stream (none for one's own)
   * @param {boolean} self one's own tile: what this page sends
   * @returns {'encrypted' | 'clear' | 'failing' | ''}
   */
  e2eeOf(streamId, self) {
    return this.e2eeTiles.of(streamId, self);
  }

  #listen() {
    const c = this.client;
    /**
     * Follow one of the client's events; `parts` says what it changes (changes.js), or computes it
     * from the event (null: anything may have changed).
     * @template {keyof import('../protocol.js').HearthEvents} K
     * @param {K} name
     * @param {Part[] | null} parts
     * @param {(detail: import('../protocol.js').HearthEvents[K]) => (Iterable<Part> | null | void)} fn
     */
    const on = (name, parts, fn) => c.addEventListener(name, (e) => {
      const found = fn(detail(e));
      this.changed(found || (found === null ? EVERYTHING : parts));
    });
    on('welcome', EVERYTHING, () => { this.refusal = null; this.shown = null; });
    on('state', EVERYTHING, (s) => {
      const changes = sessionChanges(this.shown, s);
      this.shown = s;
      syncClock(s?.now);
      this.#announceChanges(s);
      if (!s?.breakout) this.signals.broadcasts = [];
      if (s?.status === 'ended') this.#forgetSafety();
      else if (this.isFacilitator) this.safetyWatch.track(this.participants, FACILITATOR_ROLES);
      if (this.isFacilitator) this.help.follow(this.participants);
      // What the page keeps beside the session follows it: help and dropped connections the
      // participants, plans the session's end, the messages to all groups the breakout.
      return changes && [...changes, ...[...changes].flatMap((part) => FOLLOWERS[part] ?? [])];
    });
    on('streams', ['media'], () => {});
    on('lobby', EVERYTHING, (lobby) => {
      const next = lobby ?? { waiting: [] };
      const same = sameValue(this.lobby, next);
      this.lobby = next;
      this.help.follow(this.lobby.waiting ?? []);
      return same ? [] : ['lobby', 'help'];
    });
    on('speaking', ['speaking'], (s) => {
      this.speaking = s;
      this.participation.onSpeaking(s);
    });
    on('connection', ['connection'], (d) => {
      if (d.status === 'refused') this.refusal = d.error ?? null;
    });
    on('replaced', EVERYTHING, (d) => this.#onReplaced(d));
    on('removed', EVERYTHING, (d) => this.#end('removed', d));
    on('ended', EVERYTHING, (d) => this.#end('ended', d));
    on('help', ['help'], (d) => this.signals.onHelp(d));
    on('help.acknowledged', ['help'], (d) => this.signals.onHelpAcknowledged(d));
    on('note', ['notes'], (d) => this.signals.onNote(d));
    on('nod', ['nods'], (d) => this.signals.onNod(d));
    on('safety.shared', ['safety'], (d) => this.#onSafetyShared(d));
    on('breakout.broadcast', ['broadcasts'], (d) => this.signals.onBroadcast(d));
    on('video.paused', ['media'], (d) => this.weakLink.onVideoPaused(d));
    on('link.weak', ['media'], (d) => this.weakLink.onLinkWeak(d));
    on('breakout.warning', [], () => announce('One minute left in the breakout; then everyone returns to the main room'));
    c.addEventListener('safety.asked', () => this.#onSafetyAsked());
  }

  /**
   * Floor, phase, go-around and turn-time changes, said in the live region (members in the room, and facilitators).
   * @param {import('../wire').SessionStateOut | null} next
   */
  #announceChanges(next) {
    const inRoom = this.you?.status === 'admitted' && this.joined;
    if (inRoom && this.heard) {
      for (const text of describeChange(this.heard, next, { you: this.you?.id, nameOf: (id) => this.nameOf(id), now: now() })) {
        announce(text);
      }
    }
    this.heard = inRoom ? next : null;
  }

  /**
   * How `p`'s media arrives here: 'good' | 'weak' | 'frozen', or null before there is a sample.
   * @param {{stream_ids?: string[] | null} | null | undefined} p
   */
  qualityOf(p) {
    for (const id of p?.stream_ids ?? []) {
      const q = this.quality.remote.get(id);
      if (q) return q.quality;
    }
    return null;
  }

  /**
   * @param {'removed' | 'ended'} kind
   * @param {{reason?: string, at?: number}} detail what the server said
   */
  #end(kind, detail) {
    this.quality.stop();
    this.gone = kind;
    this.endDetail = detail;
    tabMemory.joined = false;
    if (kind === 'removed') tabMemory.removed = detail;
    this.#forgetSafety();
  }

  /** The other tab or device has the seat: let go of the camera and microphone it may need. */
  /** @param {{message?: string}} replaced */
  #onReplaced({ message }) {
    this.replaced = { message, devices: { audio: this.local.audio, video: this.local.video } };
    this.local.stop();
  }

  /** "Use this tab instead": connect again (the other tab is told `replaced` in turn), same devices. */
  takeBack() {
    const { devices } = this.replaced ?? {};
    this.replaced = null;
    this.client.connect();
    this.local.open(devices ?? {}).catch(() => {});
    this.changed();
  }

  /** Plans live as long as the session does for this page, in memory only. */
  #forgetSafety() {
    this.safetyWatch.clear();
    if (this.safety.fields || this.safety.sentAt) this.safety.forget();
  }

  /** @param {string} text */
  #notice(text) {
    this.dispatchEvent(new CustomEvent('notice', { detail: text }));
  }

  /**
   * Newest plan per member; its text is never announced, only that it came.
   * @param {import('../wire').SafetySharedOut} plan
   */
  #onSafetyShared(plan) {
    const name = this.nameOf(plan.from);
    this.safetyWatch.shared(plan, name);
    announce(`${name} shared their safety plan`);
  }

  /** A facilitator asked for my plan: sent again from memory, or the form is shown. */
  async #onSafetyAsked() {
    const outcome = await this.safety.onAsked();
    if (outcome === 'resent') this.#notice('A facilitator asked for your safety plan again; it was sent to them.');
    else if (outcome === 'form') this.#notice('A facilitator asks where you are and whom to call in an emergency. Please fill in your safety plan.');
    else this.#notice('A facilitator asked for your safety plan again, but it could not be sent. Please try again.');
  }

  /**
   * A private message; true when the server took it.
   * @param {string} to
   * @param {string} text
   */
  sendNote(to, text) { return this.signals.sendNote(to, text); }

  markNotesRead() { this.signals.markNotesRead(); }

  /** "I am on it": the member is told, and every console's alert goes (help.acknowledged). */
  /** @param {string} from */
  acknowledgeHelp(from) { return this.signals.acknowledgeHelp(from); }

  /** "I need help": sent privately to the facilitators; true when the server took it. */
  askHelp() { return this.signals.askHelp(); }

  /** Leave on one's own: close the connections and the devices; the seat waits out the grace period. */
  leave() {
    this.quality.stop();
    this.gone = 'left'; // first: nothing that follows is taken for the person's own choice of devices
    tabMemory.joined = false; // coming back starts at the preview, with the same devices
    this.#forgetSafety();
    this.client.close();
    this.local.stop();
    this.changed();
  }

  /** "I am on it" for a dropped connection: the alert goes; the Safety plans row keeps its flag. */
  /** @param {string} id */
  dismissDrop(id) {
    this.safetyWatch.dismiss(id);
    this.changed(['safety']);
  }

  /**
   * Audio only, for a weak link (weak-link.js): the camera goes off, no video is shown or sent here.
   * @param {boolean} on
   */
  setAudioOnly(on) { return this.weakLink.setAudioOnly(on); }
}
