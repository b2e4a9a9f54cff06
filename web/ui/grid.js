// The video grid: one tile per admitted person, named from session.state's stream_ids. In speaker
// view the person speaking (the floor holder, else whoever spoke last) is shown large among the
// others; each tile says when that person's connection is weak or their video frozen; in audio-only
// mode no video is shown at all. The server forwards media only within a place (places.js): in the
// main room, someone in a side room or a breakout group keeps a marked tile without video; in a side
// room or a group, only the people there have a tile. The page tells the server how large it shows
// each person's video (`media.view`): a small or hidden tile is sent a publisher's low simulcast layer.

import { h, reconcile, setText } from './dom.js';
import { initials } from './format.js';
import { awayLabel, isHere, kindOf, placeKey } from './places.js';
import { FACILITATOR_ROLES } from './state.js';

/**
 * One tile: a participant (`p`: as the session lists them; oneself with this page's devices; or a
 * nameless stream nobody claims yet), what it shows, and whether they are in another place.
 * @typedef {{key: string, self?: boolean, p: Person, stream: MediaStream | null, away?: boolean}} Entry
 */
/**
 * Whom a tile shows, as far as this page knows them: a participant, oneself (maybe only `you`, before
 * the session lists them), or a stream's nameless stand-in (`id` null).
 * @typedef {Partial<Omit<import('../wire').ParticipantOut, 'id'>> & {id?: string | null}} Person
 */
/** @typedef {HTMLVideoElement & {hearthFrames?: number, hearthFirstFrameAt?: number}} CountedVideo a tile's video, counting frames */

const SPEAKING_LEVEL = 0.15;
const SPOTLIGHT_HOLD_MS = 3000; // without a floor holder, a new voice must last this long to take the spotlight

/** @type {Partial<Record<import('../stats.js').Quality, string>>} */
const QUALITY_WORDS = { weak: 'Weak connection', frozen: 'Video frozen' };
// The server holds this person's video back from this page's weak link (`video.paused`).
export const PAUSED_WORDS = 'Video paused to keep your audio clear';
const E2EE_WORDS = { encrypted: 'Encrypted', clear: 'Not encrypted', failing: 'Cannot decrypt' };
// A tile narrower than this (CSS px) shows the low simulcast layer (half of the 640x480 capture) as
// well as the full one: the server may send it that. Tile sizes are told at most once per VIEW_THROTTLE_MS.
const SMALL_TILE_PX = 400;
const VIEW_THROTTLE_MS = 300;

/**
 * What `media.view` says of one tile: `hidden` when it shows no video, else `small` or `large`.
 * @param {number} width the tile's width in CSS px
 * @param {boolean} showsVideo
 * @returns {'large' | 'small' | 'hidden'}
 */
export function tileSize(width, showsVideo) {
  if (!showsVideo || width <= 0) return 'hidden';
  return width < SMALL_TILE_PX ? 'small' : 'large';
}

/**
 * Count decoded frames per <video> (requestVideoFrameCallback): tests and the bench read it.
 * @param {CountedVideo} video
 */
function countFrames(video) {
  video.hearthFrames = 0;
  if (!video.requestVideoFrameCallback) return;
  const onFrame = () => {
    video.hearthFrames = (video.hearthFrames ?? 0) + 1;
    video.hearthFirstFrameAt ??= performance.now();
    video.requestVideoFrameCallback(onFrame);
  };
  video.requestVideoFrameCallback(onFrame);
}

/** @param {boolean} self one's own tile */
function createTile(self) {
  const video = h('video', { autoplay: true, playsInline: true, muted: self, className: self ? 'mirror' : '' });
  video.muted = self;
  countFrames(video);
  const avatar = h('div', { className: 'avatar', 'aria-hidden': 'true' });
  const name = h('span', { className: 'name' });
  const badges = h('span', { className: 'badges' });
  const quality = h('span', { className: 'quality', 'data-testid': 'tile-quality' });
  const e2ee = h('span', { className: 'e2ee', 'data-testid': 'tile-e2ee' });
  // A list item (the grid is a list of people): a <figure> may not take that role.
  return h('div', { className: 'tile', role: 'listitem', 'data-testid': self ? 'self-tile' : 'tile' },
    video, avatar, h('div', { className: 'caption' }, name, badges, quality, e2ee));
}

/**
 * @param {Person} p
 * @param {import('./state.js').AppState} app
 * @param {boolean} away
 */
function badgesFor(p, app, away) {
  const s = app.session;
  const out = away ? [awayLabel(p)] : [];
  if (s?.floor?.holder === p.id) out.push('Has the floor');
  if (p.listen_only && !away) out.push('Listening');
  if (p.hand_raised) out.push('Hand raised');
  if (p.forced_mute) out.push('Muted by facilitator');
  else if (p.audio === false) out.push('Mic off');
  else if (p.audible === false && !away) out.push('Not heard now'); // strict floor: the server holds their audio
  if (FACILITATOR_ROLES.has(p.role)) out.push('Facilitator');
  if (p.connected === false) out.push('Reconnecting…');
  return out;
}

/**
 * Where a tile shows: whoever has the floor first, then oneself, then raised hands in queue order,
 * then everyone else. CSS `order`, not moving the <video> in the page, which would pause it.
 * @param {Partial<import('../wire').SessionStateOut> | null | undefined} session
 * @param {Person} p
 * @param {boolean} self
 */
export function tileOrder(session, p, self) {
  if (p.id && session?.floor?.holder === p.id) return 0;
  if (self) return 1;
  const place = (session?.queue ?? []).indexOf(p.id ?? '');
  return place >= 0 ? 2 + place : 100;
}

export class Grid {
  /** @param {import('./state.js').AppState} app */
  constructor(app) {
    this.app = app;
    this.speakerView = true; // the speaker large; the person may switch to same-size tiles
    /** @type {{id: string, since: number} | null} */
    this.spotlight = null;
    /** @type {{id: string, since: number} | null} a new voice, until it has lasted SPOTLIGHT_HOLD_MS */
    this.candidate = null;
    this.el = h('div', { className: 'grid speaker', 'data-testid': 'video-grid', role: 'list', 'aria-label': 'People in the session' });
    /** @type {string} the last `media.view` sizes sent, as JSON: sent again only when they change */
    this.view = '';
    /** @type {ReturnType<typeof setTimeout> | null} */
    this.viewTimer = null;
    // The grid resizes with the window; tiles change size inside it only through update().
    globalThis.ResizeObserver && new ResizeObserver(() => this.#viewChanged()).observe(this.el);
    // A welcome is a new connection (a reconnect, another node): its media side knows no sizes yet.
    app.client?.addEventListener('welcome', () => { this.view = ''; });
  }

  /**
   * Tile sizes may have changed: tell the server a moment later (at most once per VIEW_THROTTLE_MS,
   * and only a change). Not a trailing debounce: the grid updates at the speaking levels' 5 Hz.
   */
  #viewChanged() {
    if (this.viewTimer) return;
    this.viewTimer = setTimeout(() => {
      this.viewTimer = null;
      this.#sendView();
    }, VIEW_THROTTLE_MS);
  }

  #sendView() {
    /** @type {Record<string, 'large' | 'small' | 'hidden'>} */
    const sizes = {};
    for (const tile of /** @type {HTMLElement[]} */ ([...this.el.children])) {
      const id = tile.dataset.participantId;
      if (!id || tile.dataset.testid === 'self-tile') continue;
      sizes[id] = tileSize(tile.getBoundingClientRect().width, !tile.classList.contains('no-video'));
    }
    const view = JSON.stringify(sizes);
    if (view === this.view || !this.app.client?.send) return;
    this.view = view;
    this.app.client.send('media.view', { sizes }).catch(() => {
      this.view = ''; // not delivered (reconnecting): tell it again at the next change
    });
  }

  /** Who is shown large: the floor holder (not oneself), else the last other person who spoke for a moment. */
  #spotlit() {
    const { app } = this;
    const you = app.you?.id;
    const holder = app.session?.floor?.holder;
    const holderHere = app.participants.some((p) => p.id === holder && isHere(app.session, you, p));
    if (holder && holder !== you && holderHere) {
      this.spotlight = { id: holder, since: 0 };
      return holder;
    }
    const active = app.speaking.active;
    const now = performance.now();
    if (active && active !== you && active !== this.spotlight?.id) {
      if (!this.candidate || this.candidate.id !== active) this.candidate = { id: active, since: now };
      else if (now - this.candidate.since >= SPOTLIGHT_HOLD_MS) this.spotlight = { id: active, since: now };
    }
    const present = app.participants.some((p) => p.id === this.spotlight?.id && p.status === 'admitted'
      && isHere(app.session, you, p));
    return present ? this.spotlight?.id ?? null : null;
  }

  /** @param {boolean} on */
  setSpeakerView(on) {
    this.speakerView = on;
    this.update();
  }

  /**
   * Who gets a tile, self first; streams nobody claims yet get a nameless tile. Away from the main
   * room only the people here do; in it, those away keep a marked tile (`away`).
   * @returns {Entry[]}
   */
  entries() {
    const { app } = this;
    const streams = app.client.streams;
    const you = app.you?.id;
    const inMain = kindOf(placeKey(app.session, you)) === 'main';
    const people = app.participants.filter((p) => p.status === 'admitted' && p.id !== you
      && (inMain || isHere(app.session, you, p)));
    const claimed = new Set(app.participants.flatMap((p) => p.stream_ids ?? [])); // those away too: no "Joining…" tile
    const me = app.participants.find((p) => p.id === app.you?.id) ?? app.you ?? {};
    return [
      { key: 'self', self: true, p: { ...me, audio: app.local.audio, video: app.local.video }, stream: app.local.stream },
      ...people.map((p) => ({
        key: p.id, p, away: !isHere(app.session, you, p),
        stream: (p.stream_ids ?? []).map((id) => streams.get(id)).find(Boolean) ?? null,
      })),
      ...[...streams.keys()].filter((id) => !claimed.has(id))
        .map((id) => ({ key: `stream:${id}`, p: { id: null, name: 'Joining…' }, stream: streams.get(id) ?? null })),
    ];
  }

  update() {
    const entries = this.entries();
    this.el.dataset.count = String(entries.length);
    this.el.classList.toggle('many', entries.length > 5); // a phone fits three small tiles a row then
    this.el.classList.toggle('speaker', this.speakerView);
    this.el.classList.toggle('audio-only', this.app.audioOnly);
    this.spotlit = this.speakerView ? this.#spotlit() : null;
    this.el.dataset.spotlight = this.spotlit ?? '';
    reconcile(this.el, entries, (e) => e.key, (e) => createTile(Boolean(e.self)), (tile, e) => this.#updateTile(tile, e));
    this.#viewChanged(); // tiles came, went, grew (the speaker) or stopped showing video
  }

  /**
   * @param {HTMLElement} tile
   * @param {Entry} entry
   */
  #updateTile(tile, { self = false, p, stream, away = false }) {
    const { app } = this;
    const [video, avatar, caption] = /** @type {[HTMLVideoElement, HTMLElement, HTMLElement]} */ (/** @type {unknown} */ ([...tile.children]));
    const tracks = stream ? stream.getTracks().map((t) => t.id).join(',') : '';
    const speaker = app.local.speaker ?? '';
    if (!self && video.setSinkId && (video.sinkId ?? '') !== speaker) video.setSinkId(speaker).catch(() => {});
    if (video.srcObject !== stream || video.dataset.tracks !== tracks) {
      video.srcObject = stream;
      video.dataset.tracks = tracks;
      if (stream) video.play().catch(() => {});
    }
    const level = app.speaking.levels?.[(self ? app.you?.id : p.id) ?? ''] ?? 0;
    const speaking = !away && Boolean(p.id) && (app.speaking.active === p.id || level >= SPEAKING_LEVEL);
    const paused = !self && !away && Boolean(p.id) && app.videoPaused.paused.has(p.id) && p.video !== false && !app.audioOnly;
    const showVideo = !away && !paused && stream != null && p.video !== false && stream.getVideoTracks().length > 0 && !app.audioOnly;
    tile.dataset.name = p.name ?? '';
    tile.dataset.participantId = p.id ?? '';
    tile.dataset.speaking = String(speaking);
    tile.dataset.away = String(away); // in another place: nothing of them reaches this page
    tile.classList.toggle('away', away);
    tile.classList.toggle('speaking', speaking);
    tile.classList.toggle('floor', app.session?.floor?.holder === p.id && Boolean(p.id));
    tile.classList.toggle('no-video', !showVideo);
    const spotlit = Boolean(p.id) && p.id === this.spotlit;
    tile.classList.toggle('spotlight', spotlit);
    tile.style.order = String(spotlit ? -1 : away ? 200 : tileOrder(app.session, p, self));
    const quality = self ? app.quality.own?.quality ?? null : app.qualityOf(p);
    const words = p.connected === false || away ? '' : paused ? PAUSED_WORDS : (quality && QUALITY_WORDS[quality]) ?? '';
    tile.dataset.quality = quality ?? '';
    tile.dataset.paused = String(paused);
    setText(caption.children[2], words);
    // Whether what this tile shows came end-to-end encrypted, as this page's own worker found it.
    const sealed = app.e2eeOf(stream && !self ? [...app.client.streams].find(([, s]) => s === stream)?.[0] : null, self);
    tile.dataset.e2ee = sealed;
    setText(caption.children[3], (sealed && E2EE_WORDS[sealed]) ?? '');
    setText(avatar, initials(p.name));
    const label = self ? `${p.name ?? 'You'} (you)` : p.name ?? '';
    setText(caption.children[0], label);
    const badges = badgesFor(p, app, away);
    setText(caption.children[1], [speaking ? 'Speaking' : null, ...badges].filter(Boolean).join(' · '));
    tile.setAttribute('aria-label', [label, speaking ? 'speaking' : null, ...badges, words].filter(Boolean).join(', '));
  }
}
