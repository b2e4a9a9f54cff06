// The video grid: one tile per admitted person, named from session.state's stream_ids.

import { h, reconcile, setText } from './dom.js';
import { initials } from './format.js';
import { FACILITATOR_ROLES } from './state.js';

const SPEAKING_LEVEL = 0.15;

/** Count decoded frames per <video> (requestVideoFrameCallback): tests and the bench read it. */
function countFrames(video) {
  video.hearthFrames = 0;
  if (!video.requestVideoFrameCallback) return;
  const onFrame = () => {
    video.hearthFrames += 1;
    video.hearthFirstFrameAt ??= performance.now();
    video.requestVideoFrameCallback(onFrame);
  };
  video.requestVideoFrameCallback(onFrame);
}

function createTile(self) {
  const video = h('video', { autoplay: true, playsInline: true, muted: self, className: self ? 'mirror' : '' });
  video.muted = self;
  countFrames(video);
  const avatar = h('div', { className: 'avatar', 'aria-hidden': 'true' });
  const name = h('span', { className: 'name' });
  const badges = h('span', { className: 'badges' });
  return h('figure', { className: 'tile', 'data-testid': self ? 'self-tile' : 'tile' },
    video, avatar, h('figcaption', {}, name, badges));
}

function badgesFor(p, app) {
  const s = app.session;
  const out = [];
  if (s?.floor?.holder === p.id) out.push('Has the floor');
  if (p.hand_raised) out.push('Hand raised');
  if (p.forced_mute) out.push('Muted by facilitator');
  else if (p.audio === false) out.push('Mic off');
  else if (p.audible === false) out.push('Not heard now'); // strict floor: the server holds their audio
  if (FACILITATOR_ROLES.has(p.role)) out.push('Facilitator');
  if (p.connected === false) out.push('Reconnecting…');
  return out;
}

/**
 * Where a tile shows: whoever has the floor first, then oneself, then raised hands in queue order,
 * then everyone else. CSS `order`, not moving the <video> in the page, which would pause it.
 */
export function tileOrder(session, p, self) {
  if (p.id && session?.floor?.holder === p.id) return 0;
  if (self) return 1;
  const place = (session?.queue ?? []).indexOf(p.id);
  return place >= 0 ? 2 + place : 100;
}

export class Grid {
  constructor(app) {
    this.app = app;
    this.el = h('div', { className: 'grid', 'data-testid': 'video-grid', role: 'list', 'aria-label': 'People in the session' });
  }

  /** Who gets a tile, self first; streams nobody claims yet get a nameless tile. */
  entries() {
    const { app } = this;
    const streams = app.client.streams;
    const people = app.participants.filter((p) => p.status === 'admitted' && p.id !== app.you?.id);
    const claimed = new Set(people.flatMap((p) => p.stream_ids ?? []));
    const me = app.participants.find((p) => p.id === app.you?.id) ?? app.you ?? {};
    return [
      { key: 'self', self: true, p: { ...me, audio: app.local.audio, video: app.local.video }, stream: app.local.stream },
      ...people.map((p) => ({ key: p.id, p, stream: (p.stream_ids ?? []).map((id) => streams.get(id)).find(Boolean) ?? null })),
      ...[...streams.keys()].filter((id) => !claimed.has(id))
        .map((id) => ({ key: `stream:${id}`, p: { id: null, name: 'Joining…' }, stream: streams.get(id) })),
    ];
  }

  update() {
    const entries = this.entries();
    this.el.dataset.count = String(entries.length);
    this.el.classList.toggle('many', entries.length > 5); // a phone fits three small tiles a row then
    reconcile(this.el, entries, (e) => e.key, (e) => createTile(Boolean(e.self)), (tile, e) => this.#updateTile(tile, e));
  }

  #updateTile(tile, { self, p, stream }) {
    const { app } = this;
    const [video, avatar, caption] = tile.children;
    const tracks = stream ? stream.getTracks().map((t) => t.id).join(',') : '';
    if (video.srcObject !== stream || video.dataset.tracks !== tracks) {
      video.srcObject = stream;
      video.dataset.tracks = tracks;
      if (stream) video.play().catch(() => {});
    }
    const level = app.speaking.levels?.[self ? app.you?.id : p.id] ?? 0;
    const speaking = Boolean(p.id) && (app.speaking.active === p.id || level >= SPEAKING_LEVEL);
    const showVideo = Boolean(stream) && p.video !== false && stream.getVideoTracks().length > 0;
    tile.setAttribute('role', 'listitem');
    tile.dataset.name = p.name ?? '';
    tile.dataset.participantId = p.id ?? '';
    tile.dataset.speaking = String(speaking);
    tile.classList.toggle('speaking', speaking);
    tile.classList.toggle('floor', app.session?.floor?.holder === p.id && Boolean(p.id));
    tile.classList.toggle('no-video', !showVideo);
    tile.style.order = String(tileOrder(app.session, p, self));
    setText(avatar, initials(p.name));
    const label = self ? `${p.name ?? 'You'} (you)` : p.name ?? '';
    setText(caption.children[0], label);
    setText(caption.children[1], [speaking ? 'Speaking' : null, ...badgesFor(p, app)].filter(Boolean).join(' · '));
    tile.setAttribute('aria-label', [label, speaking ? 'speaking' : null, ...badgesFor(p, app)].filter(Boolean).join(', '));
  }
}
