// Connection quality from WebRTC statistics, without the DOM: for each person whose media this page
// receives, and for this page's own sending. A facilitator can then tell a quiet member (frames
// still coming) from a frozen one (none for a while), and a member on a weak link can be offered
// audio only. Figures are deltas between two getStats() samples a couple of seconds apart.

export const SAMPLE_MS = 2000;
export const WEAK_LOSS = 0.05; // 5 % of packets lost in a sample
export const WEAK_RTT_S = 0.4; // 400 ms round trip to the server
export const WEAK_FPS = 6; // video at fewer frames a second than this looks stuck
export const FROZEN_AFTER_S = 3; // no new video frame for this long, while the camera is said to be on

/** @typedef {'good' | 'weak' | 'frozen'} Quality */
/** @typedef {{loss: number, rtt: number | null, fps: number | null, stalledFor: number | null}} Figures one sample's */
/** @typedef {{packetsLost?: number, packetsReceived?: number}} Counts */

/**
 * 'good' | 'weak' | 'frozen' from one sample's figures. `stalledFor`: seconds since the last new
 * frame (null when no video is expected).
 * @param {Partial<Figures>} figures
 * @returns {Quality}
 */
export function classify({ loss = 0, rtt = null, fps = null, stalledFor = null }) {
  if (stalledFor != null && stalledFor >= FROZEN_AFTER_S) return 'frozen';
  if (loss >= WEAK_LOSS || (rtt != null && rtt >= WEAK_RTT_S) || (fps != null && fps < WEAK_FPS)) return 'weak';
  return 'good';
}

/**
 * Packets lost as a share of packets expected between two samples (0 when nothing was expected).
 * @param {Counts | undefined} before
 * @param {Counts} after
 */
export function lossBetween(before, after) {
  const lost = Math.max(0, (after.packetsLost ?? 0) - (before?.packetsLost ?? 0));
  const received = Math.max(0, (after.packetsReceived ?? 0) - (before?.packetsReceived ?? 0));
  return lost + received > 0 ? lost / (lost + received) : 0;
}

/**
 * The round trip of the connection's selected candidate pair, in seconds, or null.
 * @param {RTCStatsReport} report
 * @returns {number | null}
 */
function roundTrip(report) {
  for (const s of report.values()) {
    if (s.type === 'candidate-pair' && (s.nominated || s.selected) && s.state === 'succeeded' && s.currentRoundTripTime != null) {
      return s.currentRoundTripTime;
    }
  }
  return null;
}

/**
 * Quality of what one RTCPeerConnection receives, per msid stream: `streams` maps a stream id to
 * its MediaStream (whose tracks' ids are the stats' `trackIdentifier`); `expectsVideo(streamId)` says
 * whether its sender says their camera is on.
 */
export class ReceiveQuality {
  constructor() {
    /** @type {Map<string, Counts & {framesDecoded?: number, at: number}>} stats id -> the last sample's counts */
    this.previous = new Map();
    /** @type {Map<string, number>} stream id -> seconds */
    this.lastFrameAt = new Map();
  }

  /**
   * @param {RTCStatsReport} report
   * @param {Map<string, MediaStream>} streams
   * @param {(streamId: string) => boolean} expectsVideo
   * @param {number} now seconds
   * @returns {Map<string, Figures & {quality: Quality}>}
   */
  read(report, streams, expectsVideo, now) {
    /** @type {Map<string, string>} track id -> stream id */
    const byTrack = new Map();
    for (const [id, stream] of streams) for (const t of stream.getTracks()) byTrack.set(t.id, id);
    const rtt = roundTrip(report);
    /** @type {Map<string, Figures>} */
    const out = new Map();
    for (const s of report.values()) {
      if (s.type !== 'inbound-rtp') continue;
      const streamId = byTrack.get(s.trackIdentifier);
      if (!streamId) continue;
      const before = this.previous.get(s.id);
      this.previous.set(s.id, { packetsLost: s.packetsLost, packetsReceived: s.packetsReceived, framesDecoded: s.framesDecoded, at: now });
      const entry = out.get(streamId) ?? { loss: 0, rtt, fps: null, stalledFor: null };
      entry.loss = Math.max(entry.loss, lossBetween(before, s));
      if (s.kind === 'video' && expectsVideo(streamId)) {
        const frames = (s.framesDecoded ?? 0) - (before?.framesDecoded ?? 0);
        if (frames > 0 || !this.lastFrameAt.has(streamId)) this.lastFrameAt.set(streamId, now);
        entry.fps = before ? frames / Math.max(0.001, now - before.at) : null;
        entry.stalledFor = now - (this.lastFrameAt.get(streamId) ?? now);
      }
      out.set(streamId, entry);
    }
    return new Map([...out].map(([id, entry]) => [id, { ...entry, quality: classify(entry) }]));
  }
}

/**
 * Quality of this page's own sending, from the server's receiver reports (remote-inbound-rtp).
 * @param {RTCStatsReport} report
 */
export function sendQuality(report) {
  let loss = 0;
  /** @type {number | null} */
  let rtt = null;
  for (const s of report.values()) {
    if (s.type !== 'remote-inbound-rtp') continue;
    loss = Math.max(loss, s.fractionLost ?? 0);
    if (s.roundTripTime != null) rtt = Math.max(rtt ?? 0, s.roundTripTime);
  }
  rtt ??= roundTrip(report);
  return { loss, rtt, quality: classify({ loss, rtt }) };
}

/**
 * Samples a HearthClient's two connections every SAMPLE_MS; `remote` (stream id -> {quality, loss,
 * rtt, fps, stalledFor}) and `own` ({quality, loss, rtt}) hold the latest. Fires 'change' only when
 * a quality changed, so the page is not redrawn every sample.
 */
export class QualityMonitor extends EventTarget {
  /**
   * @param {{subscriber: {pc: RTCPeerConnection, streams: Map<string, MediaStream>} | null, publisher: {pc: RTCPeerConnection} | null}} client
   * @param {(streamId: string) => boolean} expectsVideo
   * @param {{sampleMs?: number}} [options]
   */
  constructor(client, expectsVideo, { sampleMs = SAMPLE_MS } = {}) {
    super();
    this.client = client;
    this.expectsVideo = expectsVideo;
    this.sampleMs = sampleMs;
    /** @type {Map<string, Figures & {quality: Quality}>} */
    this.remote = new Map();
    /** @type {ReturnType<typeof sendQuality> | null} */
    this.own = null;
    this.receive = new ReceiveQuality();
    /** @type {ReturnType<typeof setInterval> | undefined} */
    this.timer = undefined;
    /** @type {string | undefined} the last sample's qualities, to fire 'change' only when one moved */
    this.summary = undefined;
  }

  start() {
    this.timer ??= setInterval(() => this.sample().catch(() => {}), this.sampleMs);
  }

  stop() {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  async sample() {
    const now = performance.now() / 1000;
    const { subscriber, publisher } = this.client;
    this.remote = subscriber ? this.receive.read(await subscriber.pc.getStats(), subscriber.streams, this.expectsVideo, now) : new Map();
    this.own = publisher ? sendQuality(await publisher.pc.getStats()) : null;
    const summary = JSON.stringify([[...this.remote].map(([id, q]) => [id, q.quality]), this.own?.quality]);
    if (summary === this.summary) return;
    this.summary = summary;
    this.dispatchEvent(new Event('change'));
  }
}
