// What the page knows: the client's session state plus what only the page keeps (notes, help
// signals, nods, speaking shares, safety plans). Fires 'change' whenever something worth
// re-rendering happens, with what changed (changes.js: the parts that did, or null for anything),
// 'error' and 'notice' for what the person should be told.

import { detail } from '../events.js';
import { describeChange } from './announcements.js';
import { EVERYTHING, sameValue, sessionChanges } from './changes.js';
import { announce } from './dom.js';
import { now, syncClock } from './format.js';
import { isHere } from './places.js';
import { HelpRequests } from './help.js';
import { tabMemory } from './memory.js';
import { SafetyPlanKeeper } from './safety.js';
import { sealedSince } from './sealed.js';
import { QualityMonitor } from '../stats.js';

/** @type {Set<string | undefined>} */
export const FACILITATOR_ROLES = new Set(['facilitator', 'cofacilitator']);

/** @typedef {import('./changes.js').Part} Part */
/**
 * A private message as this page keeps it (`at`: this page's clock, ms); `sender`: its sender's
 * name as shown, from the note itself.
 * @typedef {{from: string | undefined, to: string | undefined, text: string, at: number, mine: boolean,
 *   unread?: boolean, name?: string, sender?: string}} Note
 */
/** @typedef {{from: string, at: number}} NodSeen someone relates (`at`: this page's clock, ms) */
/** @typedef {import('../wire').BreakoutBroadcastOut} Broadcast */
/** @typedef {{from: string, name: string, location: string, contact: string, callback: string, at: number, count: number}} SafetyPlan */
/** @typedef {{at: number, gone: boolean, dismissed: boolean}} Drop a member's dropped connection (`at`: the server's time) */

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
    this.audioOnly = false; // a weak link: no video sent or shown, and the server asked to send none
    // What the server holds back from this page's link to keep its audio clear (`video.paused`): whose
    // video, and whether the link carries no video at all now. It comes back by itself.
    this.videoPaused = { paused: new Set(), audioOnly: false };
    /** @type {Map<string, {paused: number, audio_only: boolean}>} facilitators: member id -> what `link.weak` said */
    this.weakLinks = new Map();
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
    this.help = new HelpRequests(); // facilitators: open requests; members: mine and its answer
    /** @type {Note[]} */
    this.notes = [];
    /** @type {NodSeen[]} */
    this.nods = [];
    /** @type {Broadcast[]} the facilitators' messages to every breakout group, while it runs */
    this.broadcasts = [];
    /** @type {Map<string, SafetyPlan>} facilitators: member id -> the newest plan */
    this.safetyPlans = new Map();
    /** @type {Map<string, Drop>} facilitators: member id -> their drop, while the connection is not back */
    this.drops = new Map();
    this.safety = new SafetyPlanKeeper((event, payload) => client.send(event, payload)); // members: my plan
    this.safety.addEventListener('change', () => this.changed(['safety']));
    local.addEventListener('choice', (e) => { tabMemory.devices = detail(e); });
    // How well each person's media arrives here, and this page's own sending (see stats.js).
    // Only from people in one's own place: the server forwards nothing of the others, which is no freeze.
    this.quality = new QualityMonitor(client, (streamId) => this.participants.some((p) => p.video
      && p.stream_ids?.includes(streamId) && isHere(this.session, this.you?.id, p)));
    this.quality.addEventListener('change', () => this.changed(['quality']));
    // End-to-end encryption: its status and code, and what the worker counted (each tile says).
    /** @type {import('../e2ee.js').WorkerStats | null} what the encryption worker counted (e2ee.js `stats()`) */
    this.e2eeStats = null;
    /** @type {import('./sealed.js').Counted[]} its counters at the count before */
    this.e2eeBefore = [];
    /** @type {Map<string, import('./sealed.js').Sealed>} each tile's last judgement (a paused video keeps it) */
    this.e2eeSeen = new Map();
    /** @type {ReturnType<typeof setInterval> | undefined} */
    this.e2eeTimer = undefined;
    /** @type {import('../wire').SessionStateOut | null} the last state the live region spoke from */
    this.heard = null;
    /** @type {boolean | undefined} the camera was on when audio only began */
    this.cameraBefore = undefined;
    /** @type {import('../wire').SessionStateOut | null} the session state the page last showed, to tell what the next one changes */
    this.shown = null;
    client.e2ee.addEventListener('change', () => this.changed(['e2ee']));
    client.e2ee.addEventListener('error', (e) => this.dispatchEvent(new CustomEvent('error', { detail: detail(e) })));
    this.#listen();
  }

  /** Open help requests, oldest first, with names ({from, at, name}). */
  get helps() {
    return this.help.list().map((h) => ({ ...h, name: this.nameOf(h.from) }));
  }

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
    this.#countFrames();
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

  /** Once a second, what the encryption worker counted: each tile says whether its media is encrypted. */
  #countFrames() {
    if (!this.client.e2ee.active || this.e2eeTimer) return;
    this.e2eeTimer = setInterval(async () => {
      if (this.gone) return clearInterval(this.e2eeTimer);
      const counted = await this.client.e2ee.stats();
      this.e2eeBefore = this.e2eeStats?.transforms ?? [];
      this.e2eeStats = counted;
      this.changed(['e2ee']);
    }, 1000);
  }

  /**
   * Whether the media of a tile is end-to-end encrypted, as this page's worker found it:
   * 'encrypted' (frames decrypted, or sent encrypted), 'clear', 'failing' (frames that no key held
   * here opens), or '' (nothing counted yet, or the session does not encrypt).
   * @param {string | null | undefined} streamId the tile's received stream (none for one's own)
   * @param {boolean} self one's own tile: what this page sends
   * @returns {'encrypted' | 'clear' | 'failing' | ''}
   */
  e2eeOf(streamId, self) {
    /** @type {import('./sealed.js').Counted[]} one entry per sender or receiver the worker transforms */
    const counted = this.e2eeStats?.transforms ?? [];
    /** @type {(c: import('./sealed.js').Counted) => boolean} */
    let mine;
    if (self) {
      mine = (c) => c.side === 'send';
    } else {
      const mids = [...(this.client.subscriber?.msids ?? new Map())].filter(([, id]) => id === streamId).map(([mid]) => `receive-${mid}`);
      mine = (c) => mids.includes(c.id);
    }
    const tile = self ? '' : `stream:${streamId}`;
    const now = sealedSince(counted, this.e2eeBefore, mine, self);
    if (now) this.e2eeSeen.set(tile, now);
    return now || (this.e2eeSeen.get(tile) ?? '');
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
      if (!s?.breakout) this.broadcasts = [];
      if (s?.status === 'ended') this.#forgetSafety();
      else this.#trackDrops();
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
    on('help', ['help'], (d) => this.#onHelp(d));
    on('help.acknowledged', ['help'], (d) => this.#onHelpAcknowledged(d));
    on('note', ['notes'], (d) => this.#onNote(d));
    on('nod', ['nods'], (d) => this.#onNod(d));
    on('safety.shared', ['safety'], (d) => this.#onSafetyShared(d));
    on('breakout.broadcast', ['broadcasts'], (d) => this.#onBroadcast(d));
    on('video.paused', ['media'], (d) => {
      this.videoPaused = { paused: new Set(d?.paused ?? []), audioOnly: Boolean(d?.audio_only) };
    });
    on('link.weak', ['media'], (d) => {
      if (!d?.participant_id) return;
      if (d.paused > 0 || d.audio_only) this.weakLinks.set(d.participant_id, { paused: d.paused, audio_only: d.audio_only });
      else this.weakLinks.delete(d.participant_id);
    });
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

  /**
   * A member's connection dropped (admitted, not connected): noted when first seen, kept when the
   * seat's grace period runs out without them (they are the one to call), cleared when they are back.
   * A member who leaves on purpose was connected when they left, so is never noted.
   */
  #trackDrops() {
    if (!this.isFacilitator) return;
    for (const p of this.participants) {
      if (FACILITATOR_ROLES.has(p.role)) continue;
      const drop = this.drops.get(p.id);
      if (p.status === 'admitted' && p.connected === false) {
        // The server's time of the drop when it says (a reloaded console), else when this page saw it.
        const at = p.disconnected_at ?? now();
        if (!drop) this.drops.set(p.id, { at, gone: false, dismissed: false });
      } else if (drop && p.status === 'left') {
        drop.gone = true;
      } else if (drop) {
        this.drops.delete(p.id);
      }
    }
  }

  /** Plans live as long as the session does for this page, in memory only. */
  #forgetSafety() {
    this.safetyPlans.clear();
    this.drops.clear();
    if (this.safety.fields || this.safety.sentAt) this.safety.forget();
  }

  /** @param {string} text */
  #notice(text) {
    this.dispatchEvent(new CustomEvent('notice', { detail: text }));
  }

  /** @param {import('../wire').HelpOut} detail */
  #onHelp(detail) {
    this.help.requested(detail);
    announce(`${this.nameOf(detail.from)} is asking for help`);
  }

  /** @param {import('../wire').HelpAcknowledgedOut} detail */
  #onHelpAcknowledged(detail) {
    this.help.acknowledged(detail, this.you?.id);
    if (detail.id === this.you?.id) announce(`${detail.name} has seen your request for help and will reach out to you.`);
  }

  /**
   * The sender's name comes with the note: a waiting member sees no roster to look it up in.
   * @param {import('../wire').NoteOut} note
   */
  #onNote({ from, text, name, role }) {
    const sender = name ? `${name}${FACILITATOR_ROLES.has(role) ? ' (facilitator)' : ''}` : this.nameOf(from);
    this.notes = [...this.notes, { from, to: this.you?.id, text, at: Date.now(), mine: false, unread: true, name, sender }];
    announce(`Private message from ${sender}: ${text}`);
  }

  /**
   * A facilitator's message to every breakout group: shown while the breakout runs, and said.
   * @param {Broadcast} broadcast
   */
  #onBroadcast({ from, name, text, at }) {
    this.broadcasts = [...this.broadcasts, { from, name, text, at }].slice(-3);
    announce(`Message to all groups from ${from === this.you?.id ? 'you' : name}: ${text}`);
  }

  /** @param {import('../wire').NodOut} nod */
  #onNod({ from }) {
    const at = Date.now();
    this.nods = [...this.nods.filter((n) => at - n.at < 8000), { from, at }];
    announce(`${this.nameOf(from)} relates`);
  }

  /**
   * Newest plan per member; its text is never announced, only that it came.
   * @param {import('../wire').SafetySharedOut} plan
   */
  #onSafetyShared({ from, location, contact, callback = '', at }) {
    const name = this.nameOf(from);
    const count = (this.safetyPlans.get(from)?.count ?? 0) + 1;
    this.safetyPlans.set(from, { from, name, location, contact, callback, at, count });
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
  async sendNote(to, text) {
    const ok = await this.run('note', { to, text });
    if (ok) this.notes = [...this.notes, { from: this.you?.id, to, text, at: Date.now(), mine: true }];
    this.changed(['notes']);
    return Boolean(ok);
  }

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
    const drop = this.drops.get(id);
    if (drop) drop.dismissed = true;
    this.changed(['safety']);
  }

  /** "I am on it": the member is told, and every console's alert goes (help.acknowledged). */
  /** @param {string} from */
  async acknowledgeHelp(from) {
    if (await this.run('help.ack', { id: from })) this.help.acknowledged({ id: from }, this.you?.id);
    this.changed(['help']);
  }

  /**
   * Audio only, for a weak link: the camera goes off (it comes back on when the mode ends, if it
   * was on), no video is shown, and the server is asked to stop sending video here.
   */
  /** @param {boolean} on */
  async setAudioOnly(on) {
    if (on === this.audioOnly) return;
    this.audioOnly = on;
    if (on) {
      this.cameraBefore = this.local.video;
      await this.local.setVideo(false);
    } else if (this.cameraBefore) {
      await this.local.setVideo(true);
    }
    this.client.send('media.receive', { video: !on }).catch(() => {}); // a server without it still shows no video
    announce(on ? 'Audio only: no video is sent or shown' : 'Video is back on');
    this.changed(['media']);
  }

  /** "I need help": sent privately to the facilitators; true when the server took it. */
  async askHelp() {
    const ok = Boolean(await this.run('help'));
    if (ok) this.help.asked(now());
    this.changed(['help']);
    return ok;
  }

  markNotesRead() {
    if (!this.notes.some((n) => n.unread)) return;
    this.notes = this.notes.map((n) => ({ ...n, unread: false }));
    this.changed(['notes']);
  }
}
