// What the page knows: the client's session state plus what only the page keeps (notes, help
// signals, nods, speaking shares, safety plans). Fires 'change' whenever something worth
// re-rendering happens, 'error' and 'notice' for what the person should be told.

import { detail } from '../events.js';
import { describeChange } from './announcements.js';
import { announce } from './dom.js';
import { now, syncClock } from './format.js';
import { isHere } from './places.js';
import { HelpRequests } from './help.js';
import { tabMemory } from './memory.js';
import { SafetyPlanKeeper } from './safety.js';
import { QualityMonitor } from '../stats.js';

/** @type {Set<string | undefined>} */
export const FACILITATOR_ROLES = new Set(['facilitator', 'cofacilitator']);

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
    this.weakLinks = new Map(); // facilitators: member id -> {paused, audio_only}, from `link.weak`
    this.refusal = client.status === 'refused' ? client.error : null;
    this.removedBefore = tabMemory.removed; // this tab was removed: a refused link says so on reload
    this.gone = null; // 'removed' | 'ended' | 'left'
    this.replaced = null; // {message, devices}: another tab or device of this person has the seat
    this.endDetail = null;
    this.sentBack = false; // the lobby again after the room: a facilitator put them back (app.js)
    this.lobby = client.lobby ?? { waiting: [] };
    /** @type {import('../wire').SpeakingOut} */
    this.speaking = { levels: {}, active: null };
    this.help = new HelpRequests(); // facilitators: open requests; members: mine and its answer
    this.notes = []; // {from, to, text, at, mine, name}
    this.nods = []; // {from, at}
    this.broadcasts = []; // {from, name, text, at}: the facilitators' messages to every breakout group, while it runs
    this.safetyPlans = new Map(); // facilitators: member id -> {from, name, location, contact, callback, at, count}
    this.drops = new Map(); // facilitators: member id -> {at, gone, dismissed} while a dropped connection is not back
    this.safety = new SafetyPlanKeeper((event, payload) => client.send(event, payload)); // members: my plan
    this.safety.addEventListener('change', () => this.changed());
    local.addEventListener('choice', (e) => { tabMemory.devices = detail(e); });
    // How well each person's media arrives here, and this page's own sending (see stats.js).
    // Only from people in one's own place: the server forwards nothing of the others, which is no freeze.
    this.quality = new QualityMonitor(client, (streamId) => this.participants.some((p) => p.video
      && p.stream_ids?.includes(streamId) && isHere(this.session, this.you?.id, p)));
    this.quality.addEventListener('change', () => this.changed());
    // End-to-end encryption: its status and code, and what the worker counted (each tile says).
    this.e2eeStats = null;
    client.e2ee.addEventListener('change', () => this.changed());
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
   * @param {string} id
   * @returns {import('../wire').ParticipantOut | (import('../wire').WaitingOut & Partial<import('../wire').ParticipantOut>) | null}
   */
  participant(id) {
    return this.participants.find((p) => p.id === id) ?? this.lobby.waiting.find((w) => w.id === id) ?? null;
  }

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

  changed() {
    this.dispatchEvent(new Event('change'));
  }

  /** Once a second, what the encryption worker counted: each tile says whether its media is encrypted. */
  #countFrames() {
    if (!this.client.e2ee.active || this.e2eeTimer) return;
    this.e2eeTimer = setInterval(async () => {
      if (this.gone) return clearInterval(this.e2eeTimer);
      this.e2eeStats = await this.client.e2ee.stats();
      this.changed();
    }, 1000);
  }

  /**
   * Whether the media of a tile is end-to-end encrypted, as this page's worker found it:
   * 'encrypted' (frames decrypted, or sent encrypted), 'clear', 'failing' (frames that no key held
   * here opens), or '' (nothing counted yet, or the session does not encrypt).
   */
  e2eeOf(streamId, self) {
    const counted = this.e2eeStats?.transforms ?? [];
    let mine;
    if (self) {
      mine = counted.filter((c) => c.side === 'send');
    } else {
      const mids = [...(this.client.subscriber?.msids ?? new Map())].filter(([, id]) => id === streamId).map(([mid]) => `receive-${mid}`);
      mine = counted.filter((c) => mids.includes(c.id));
    }
    const sum = (field) => mine.reduce((n, c) => n + c[field], 0);
    if (sum(self ? 'encrypted' : 'decrypted') > 0) return 'encrypted';
    if (sum('clear') > 0) return 'clear';
    if (!self && sum('failed') > 0) return 'failing';
    return '';
  }

  #listen() {
    const c = this.client;
    /**
     * @template {keyof import('../protocol.js').HearthEvents} K
     * @param {K} name
     * @param {(detail: import('../protocol.js').HearthEvents[K]) => void} fn
     */
    const on = (name, fn) => c.addEventListener(name, (e) => { fn(detail(e)); this.changed(); });
    on('welcome', () => { this.refusal = null; });
    on('state', (s) => {
      syncClock(s?.now);
      this.#announceChanges(s);
      if (!s?.breakout) this.broadcasts = [];
      if (s?.status === 'ended') this.#forgetSafety();
      else this.#trackDrops();
      if (this.isFacilitator) this.help.follow(this.participants);
    });
    on('streams', () => {});
    on('lobby', (lobby) => {
      this.lobby = lobby ?? { waiting: [] };
      this.help.follow(this.lobby.waiting ?? []);
    });
    on('speaking', (s) => {
      this.speaking = s;
      this.participation.onSpeaking(s);
    });
    on('connection', (d) => {
      if (d.status === 'refused') this.refusal = d.error;
    });
    on('replaced', (d) => this.#onReplaced(d));
    on('removed', (d) => this.#end('removed', d));
    on('ended', (d) => this.#end('ended', d));
    on('help', (d) => this.#onHelp(d));
    on('help.acknowledged', (d) => this.#onHelpAcknowledged(d));
    on('note', (d) => this.#onNote(d));
    on('nod', (d) => this.#onNod(d));
    on('safety.shared', (d) => this.#onSafetyShared(d));
    on('breakout.broadcast', (d) => this.#onBroadcast(d));
    on('video.paused', (d) => {
      this.videoPaused = { paused: new Set(d?.paused ?? []), audioOnly: Boolean(d?.audio_only) };
    });
    on('link.weak', (d) => {
      if (!d?.participant_id) return;
      if (d.paused > 0 || d.audio_only) this.weakLinks.set(d.participant_id, { paused: d.paused, audio_only: d.audio_only });
      else this.weakLinks.delete(d.participant_id);
    });
    on('breakout.warning', () => announce('One minute left in the breakout; then everyone returns to the main room'));
    c.addEventListener('safety.asked', () => this.#onSafetyAsked());
  }

  /** Floor, phase, go-around and turn-time changes, said in the live region (members in the room, and facilitators). */
  #announceChanges(next) {
    const inRoom = this.you?.status === 'admitted' && this.joined;
    if (inRoom && this.heard) {
      for (const text of describeChange(this.heard, next, { you: this.you.id, nameOf: (id) => this.nameOf(id), now: now() })) {
        announce(text);
      }
    }
    this.heard = inRoom ? next : null;
  }

  /** How `p`'s media arrives here: 'good' | 'weak' | 'frozen', or null before there is a sample. */
  qualityOf(p) {
    for (const id of p?.stream_ids ?? []) {
      const q = this.quality.remote.get(id);
      if (q) return q.quality;
    }
    return null;
  }

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

  #notice(text) {
    this.dispatchEvent(new CustomEvent('notice', { detail: text }));
  }

  #onHelp(detail) {
    this.help.requested(detail);
    announce(`${this.nameOf(detail.from)} is asking for help`);
  }

  #onHelpAcknowledged(detail) {
    this.help.acknowledged(detail, this.you?.id);
    if (detail.id === this.you?.id) announce(`${detail.name} has seen your request for help and will reach out to you.`);
  }

  /** The sender's name comes with the note: a waiting member sees no roster to look it up in. */
  #onNote({ from, text, name, role }) {
    const sender = name ? `${name}${FACILITATOR_ROLES.has(role) ? ' (facilitator)' : ''}` : this.nameOf(from);
    this.notes = [...this.notes, { from, to: this.you?.id, text, at: Date.now(), mine: false, unread: true, name, sender }];
    announce(`Private message from ${sender}: ${text}`);
  }

  /** A facilitator's message to every breakout group: shown while the breakout runs, and said. */
  #onBroadcast({ from, name, text, at }) {
    this.broadcasts = [...this.broadcasts, { from, name, text, at }].slice(-3);
    announce(`Message to all groups from ${from === this.you?.id ? 'you' : name}: ${text}`);
  }

  #onNod({ from }) {
    const at = Date.now();
    this.nods = [...this.nods.filter((n) => at - n.at < 8000), { from, at }];
    announce(`${this.nameOf(from)} relates`);
  }

  /** Newest plan per member; its text is never announced, only that it came. */
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

  async sendNote(to, text) {
    const ok = await this.run('note', { to, text });
    if (ok) this.notes = [...this.notes, { from: this.you?.id, to, text, at: Date.now(), mine: true }];
    this.changed();
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
  dismissDrop(id) {
    const drop = this.drops.get(id);
    if (drop) drop.dismissed = true;
    this.changed();
  }

  /** "I am on it": the member is told, and every console's alert goes (help.acknowledged). */
  async acknowledgeHelp(from) {
    if (await this.run('help.ack', { id: from })) this.help.acknowledged({ id: from }, this.you?.id);
    this.changed();
  }

  /**
   * Audio only, for a weak link: the camera goes off (it comes back on when the mode ends, if it
   * was on), no video is shown, and the server is asked to stop sending video here.
   */
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
    this.changed();
  }

  /** "I need help": sent privately to the facilitators; true when the server took it. */
  async askHelp() {
    const ok = Boolean(await this.run('help'));
    if (ok) this.help.asked(now());
    this.changed();
    return ok;
  }

  markNotesRead() {
    if (!this.notes.some((n) => n.unread)) return;
    this.notes = this.notes.map((n) => ({ ...n, unread: false }));
    this.changed();
  }
}
