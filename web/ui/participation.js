// Each participant's share of speaking time, accumulated from `speaking` events on this page only.

const MAX_GAP_S = 1; // events come up to 5 times a second; a longer gap means we missed some

export class Participation {
  constructor() {
    /** @type {Map<string, number>} participant id -> seconds spoken */
    this.seconds = new Map();
    /** @type {number | null} */
    this.lastAt = null;
    /** @type {string | null} */
    this.lastActive = null;
  }

  /**
   * The interval since the previous event is credited to whoever was active during it.
   * @param {{active?: string | null}} speaking
   * @param {number} [at] seconds
   */
  onSpeaking({ active }, at = performance.now() / 1000) {
    if (this.lastAt !== null && this.lastActive) {
      const dt = Math.min(at - this.lastAt, MAX_GAP_S);
      this.seconds.set(this.lastActive, (this.seconds.get(this.lastActive) ?? 0) + dt);
    }
    this.lastAt = at;
    this.lastActive = active ?? null;
  }

  total() {
    let sum = 0;
    for (const s of this.seconds.values()) sum += s;
    return sum;
  }

  /** @param {string} id */
  secondsOf(id) {
    return this.seconds.get(id) ?? 0;
  }

  /**
   * 0..1, or 0 before anyone has spoken.
   * @param {string} id
   */
  share(id) {
    const total = this.total();
    return total > 0 ? this.secondsOf(id) / total : 0;
  }
}
