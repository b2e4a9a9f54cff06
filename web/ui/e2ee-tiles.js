// Whether each tile's media is end-to-end encrypted, as this page's frame worker found it: once a
// second after joining, what the worker counted (e2ee.js `stats()`), and each tile's judgement from
// what changed since the count before (sealed.js). Split from state.js: the counting has its own
// timer and its own memory of past judgements, and nothing else of the page's state touches them.

import { sealedSince } from './sealed.js';

export class E2eeTiles {
  /**
   * @param {import('../protocol.js').HearthClient} client whose encryption worker and receiving connection are counted
   * @param {() => boolean} over whether the page is done with the session: the counting stops
   * @param {() => void} counted told after each count (the tiles may say something else now)
   */
  constructor(client, over, counted) {
    this.client = client;
    this.over = over;
    this.counted = counted;
    /** @type {import('../e2ee.js').WorkerStats | null} what the encryption worker counted (e2ee.js `stats()`) */
    this.stats = null;
    /** @type {import('./sealed.js').Counted[]} its counters at the count before */
    this.before = [];
    /** @type {Map<string, import('./sealed.js').Sealed>} each tile's last judgement (a paused video keeps it) */
    this.seen = new Map();
    /** @type {ReturnType<typeof setInterval> | undefined} */
    this.timer = undefined;
  }

  /** Once a second, what the encryption worker counted: each tile says whether its media is encrypted. */
  start() {
    if (!this.client.e2ee.active || this.timer) return;
    this.timer = setInterval(async () => {
      if (this.over()) return clearInterval(this.timer);
      const counted = await this.client.e2ee.stats();
      this.before = this.stats?.transforms ?? [];
      this.stats = counted;
      this.counted();
    }, 1000);
  }

  /**
   * Whether the media of a tile is end-to-end encrypted, as this page's worker found it:
   * 'encrypted' (frames decrypted, or sent encrypted), 'clear', 'failing' (frames that no key held
   * here opens), or '' (nothing counted yet, or the session does not encrypt).
   * @param {string | null | undefined} streamId the tile's received stream (none for one's own)
   * @param {boolean} self one's own tile: what this page sends
   * @returns {import('./sealed.js').Sealed}
   */
  of(streamId, self) {
    /** @type {import('./sealed.js').Counted[]} one entry per sender or receiver the worker transforms */
    const counted = this.stats?.transforms ?? [];
    /** @type {(c: import('./sealed.js').Counted) => boolean} */
    let mine;
    if (self) {
      mine = (c) => c.side === 'send';
    } else {
      const mids = [...(this.client.subscriber?.msids ?? new Map())].filter(([, id]) => id === streamId).map(([mid]) => `receive-${mid}`);
      mine = (c) => mids.includes(c.id);
    }
    const tile = self ? '' : `stream:${streamId}`;
    const now = sealedSince(counted, this.before, mine, self);
    if (now) this.seen.set(tile, now);
    return now || (this.seen.get(tile) ?? '');
  }
}
