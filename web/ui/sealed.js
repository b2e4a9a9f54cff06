// Whether a tile's media is end-to-end encrypted, from what the encryption worker counted.
//
// The worker's counters only grow, so a tile must be judged by what changed since the last count:
// a session that went from encrypted to clear (a member who cannot encrypt arrived, `e2ee.clear`)
// would otherwise keep saying "Encrypted" under every tile while the status line says it is not.

/**
 * @typedef {import('../e2ee.js').WorkerStats['transforms'][number]} Counted one sender or receiver the
 *   worker transforms (e2ee-worker.js `stats`)
 * @typedef {'encrypted' | 'clear' | 'failing' | ''} Sealed
 */

/**
 * What a tile's frames were in the last interval: 'encrypted' (sent encrypted, or decrypted here),
 * 'clear', 'failing' (frames no key held here opens), or '' (none counted in the interval).
 * @param {Counted[]} counted the worker's counters now
 * @param {Counted[]} before the counters at the previous count (none: since the start)
 * @param {(c: Counted) => boolean} mine which transforms carry the tile's media
 * @param {boolean} self one's own tile: what this page sends
 * @returns {Sealed}
 */
export function sealedSince(counted, before, mine, self) {
  const earlier = new Map(before.map((c) => [c.id, c]));
  const ours = counted.filter(mine);
  /** @param {'encrypted' | 'decrypted' | 'clear' | 'failed'} field */
  const recent = (field) => ours.reduce((n, c) => n + c[field] - (earlier.get(c.id)?.[field] ?? 0), 0);
  if (recent(self ? 'encrypted' : 'decrypted') > 0) return 'encrypted';
  if (recent('clear') > 0) return 'clear';
  if (!self && recent('failed') > 0) return 'failing';
  return '';
}
