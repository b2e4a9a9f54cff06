// Connection quality from WebRTC statistics, without the DOM: for each person whose media this page
// receives, and for this page's own sending. A facilitator can then tell a quiet member (frames
// still coming) from a frozen one (none for a while), and a member on a weak link can be offered
// audio only. Figures are deltas between two getStats() samples a couple of seconds apart.

export const SAMPLE_MS = 2000;
export const WEAK_LOSS = 0.05; // 5 % of packets lost in a sample
export const WEAK_RTT_S = 0.4; // 400 ms round trip to the server
export const WEAK_FPS = 6; // video at fewer frames a second than this looks stuck
export const FROZEN_AFTER_S = 3; // no new video frame for this long, while the camera is said to be on

/**
 * 'good' | 'weak' | 'frozen' from one sample's figures. `stalledFor`: seconds since the last new
 * frame (null when no video is expected).
 */
export function classify({ loss = 0, rtt = null, fps = null, stalledFor = null }) {
  if (stalledFor != null && stalledFor >= FROZEN_AFTER_S) return 'frozen';
  if (loss >= WEAK_LOSS || (rtt != null && rtt >= WEAK_RTT_S) || (fps != null && fps < WEAK_FPS)) return 'weak';
  return 'good';
}

/** Packets lost as a share of packets expected between two samples (0 when nothing was expected). */
export function lossBetween(before, after) {
  const lost = Math.max(0, (after.packetsLost ?? 0) - (before?.packetsLost ?? 0));
  const received = Math.max(0, (after.packetsReceived ?? 0) - (before?.packetsReceived ?? 0));
  return lost + received > 0 ? lost / (lost + received) : 0;
}

/** The round trip of the connection's selected candidate pair, in seconds, or null. */
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
    this.previous = new Map(); // stats id -> {packetsLost, packetsReceived, framesDecoded, at}
    this.lastFrameAt = new Map(); // stream id -> seconds
  }

  read(report, streams, expectsVideo, now) {
    const byTrack = new Map();
    for (const [id, stream] of streams) for (const t of stream.getTracks()) byTrack.set(t.id, id);
    const rtt = roundTrip(report);
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
        entry.stalledFor = now - this.lastFrameAt.get(streamId);
      }
      out.set(streamId, entry);
    }
    for (const [id, entry] of out) out.set(id, { ...entry, quality: classify(entry) });
    return out;
  }
}

/** Quality of this page's own sending, from the server's receiver reports (remote-inbound-rtp). */
export function sendQuality(report) {
  let loss = 0;
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
  constructor(client, expectsVideo, { sampleMs = SAMPLE_MS } = {}) {
    super();
    this.client = client;
    this.expectsVideo = expectsVideo;
    this.sampleMs = sampleMs;
    this.remote = new Map();
    this.own = null;
    this.receive = new ReceiveQuality();
    this.timer = null;
  }

  start() {
    this.timer ??= setInterval(() => this.sample().catch(() => {}), this.sampleMs);
  }

  stop() {
    clearInterval(this.timer);
    this.timer = null;
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
