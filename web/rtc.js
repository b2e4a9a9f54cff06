// WebRTC connections to the SFU: one to send (we offer), one to receive (the server offers).
// No DOM here. Offers and answers go out only after ICE gathering completes (no trickle).

const MAX_VIDEO_BITRATE = 500_000; // the server forwards without transcoding, so cap at the source
const MAX_FRAMERATE = 24;
// Simulcast: the camera is sent twice, at half size and full size, each layer named by its RID,
// lowest first (the server reads the layers in this order). The server forwards each subscriber one
// layer: a small tile or a weak link gets the half-size one. Two layers, not three: at the 640x480
// the page captures, browsers send at most two (libwebrtc limits layers by resolution).
/** @type {readonly RTCRtpEncodingParameters[]} */
export const SIMULCAST_ENCODINGS = Object.freeze([
  Object.freeze({ rid: 'lo', scaleResolutionDownBy: 2, maxBitrate: 150_000, maxFramerate: MAX_FRAMERATE }),
  Object.freeze({ rid: 'hi', scaleResolutionDownBy: 1, maxBitrate: MAX_VIDEO_BITRATE, maxFramerate: MAX_FRAMERATE }),
]);
/** @type {readonly RTCRtpEncodingParameters[]} */
const SINGLE_ENCODING = Object.freeze([Object.freeze({ maxBitrate: MAX_VIDEO_BITRATE, maxFramerate: MAX_FRAMERATE })]);
const ICE_GATHER_TIMEOUT_MS = 3000;

/**
 * @param {RTCIceServer[] | null | undefined} iceServers
 * @param {object} [extra] options a page adds (e2ee's `encodedInsertableStreams`)
 * @returns {RTCConfiguration}
 */
export function peerConfig(iceServers, extra = {}) {
  return { iceServers: iceServers ?? [], bundlePolicy: 'max-bundle', rtcpMuxPolicy: 'require', ...extra };
}

/**
 * Resolve once gathering is complete, or after a timeout with whatever was gathered so far.
 * @param {RTCPeerConnection} pc
 * @param {number} [timeoutMs]
 */
export function iceGathered(pc, timeoutMs = ICE_GATHER_TIMEOUT_MS) {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise(/** @param {(value?: void) => void} resolve */ (resolve) => {
    const done = () => {
      if (pc.iceGatheringState !== 'complete') return;
      pc.removeEventListener('icegatheringstatechange', done);
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      pc.removeEventListener('icegatheringstatechange', done);
      resolve();
    }, timeoutMs);
    pc.addEventListener('icegatheringstatechange', done);
  });
}

/**
 * Put `mime` first (VP8, Opus): the forwarding server needs one codec on both legs.
 * @param {RTCRtpTransceiver} transceiver
 * @param {'audio' | 'video'} kind
 * @param {string} mime lower case, as `audio/opus`
 */
function preferCodec(transceiver, kind, mime) {
  const caps = globalThis.RTCRtpReceiver?.getCapabilities?.(kind);
  if (!caps || !transceiver.setCodecPreferences) return;
  const first = caps.codecs.filter((c) => c.mimeType.toLowerCase() === mime);
  const rest = caps.codecs.filter((c) => c.mimeType.toLowerCase() !== mime);
  try {
    transceiver.setCodecPreferences([...first, ...rest]);
  } catch {
    /* keep the browser's order */
  }
}

/**
 * The local description, once set, as the wire carries it.
 * @template {'offer' | 'answer'} T
 * @param {RTCPeerConnection} pc
 * @param {T} type what it is (the connection set it so)
 * @returns {{sdp: string, type: T}}
 */
function description(pc, type) {
  return { sdp: /** @type {RTCSessionDescription} */ (pc.localDescription).sdp, type };
}

/**
 * An SDP's ICE username fragment: a new one from the server means a new connection, not a renegotiation.
 * @param {string | null | undefined} sdp
 */
export function iceUfrag(sdp) {
  return sdp?.match(/\na=ice-ufrag:(\S+)/)?.[1] ?? null;
}

/** The sending connection. Its tracks follow a LocalMedia through replaceTrack, without renegotiating. */
export class Publisher extends EventTarget {
  /**
   * `crypto`: a MediaCrypto (e2ee.js), which puts its worker between each sender and the network.
   * @param {RTCIceServer[]} iceServers
   * @param {import('./devices.js').LocalMedia} local
   * @param {import('./e2ee.js').MediaCrypto | null} [crypto]
   * @param {{simulcast?: boolean}} [options] By default the camera goes out as SIMULCAST_ENCODINGS (a
   *   server that does not accept the layers gets one stream anyway); `simulcast: false` sends one
   *   stream. The server moves each subscriber between layers at a keyframe and continues the VP8
   *   picture ids across (server/media/vp8.py), so a receiving page does not freeze at a switch.
   */
  constructor(iceServers, local, crypto = null, { simulcast = true } = {}) {
    super();
    this.local = local;
    this.pc = new RTCPeerConnection(peerConfig(iceServers, crypto?.peerOptions()));
    this.audio = this.pc.addTransceiver('audio', { direction: 'sendonly', streams: [local.stream] });
    this.video = this.pc.addTransceiver('video', {
      direction: 'sendonly',
      streams: [local.stream],
      sendEncodings: (simulcast ? SIMULCAST_ENCODINGS : SINGLE_ENCODING).map((encoding) => ({ ...encoding })),
    });
    preferCodec(this.audio, 'audio', 'audio/opus');
    preferCodec(this.video, 'video', 'video/vp8');
    crypto?.attach(this.audio.sender, 'send', 'audio', 'send-audio');
    crypto?.attach(this.video.sender, 'send', 'video', 'send-video');
    this.onLocalChange = () => this.sync();
    local.addEventListener('change', this.onLocalChange);
    this.pc.addEventListener('connectionstatechange', () => {
      this.dispatchEvent(new CustomEvent('state', { detail: this.pc.connectionState }));
    });
  }

  async offer() {
    await this.sync();
    await this.pc.setLocalDescription(await this.pc.createOffer());
    await iceGathered(this.pc);
    return description(this.pc, 'offer');
  }

  /** @param {{sdp: string}} answer the server's, from the `rtc.publish` acknowledgement */
  async accept(answer) {
    await this.pc.setRemoteDescription({ type: 'answer', sdp: answer.sdp });
    this.accepted = true; // the server has it: from now on its view lists our streams
    // The server closes our connection (DTLS close_notify) when it tears it down: a member sent back
    // to the waiting room, a connection it found dead. The connection state may stay "connected"
    // until ICE consent times out (30 s), so say "failed" now: the client publishes afresh when it may.
    const dtls = this.video.sender.transport ?? this.audio.sender.transport;
    dtls?.addEventListener('statechange', () => {
      if (!this.closed && (dtls.state === 'closed' || dtls.state === 'failed')) {
        this.dispatchEvent(new CustomEvent('state', { detail: 'failed' }));
      }
    });
  }

  /**
   * Encode only these simulcast layers (RIDs) for now: the server asks (`video.layers`) when nobody
   * receives or could use the others, and asks them back when someone could. Layers not named stop
   * costing this device's CPU and uplink; the lowest is always asked for. A single stream is left as is.
   * @param {string[]} rids
   */
  async sendLayers(rids) {
    const sender = this.video.sender;
    const params = sender.getParameters();
    const encodings = params.encodings ?? [];
    if (encodings.length < 2 || this.closed) return;
    let changed = false;
    for (const encoding of encodings) {
      const active = encoding.rid === undefined || rids.includes(encoding.rid);
      if (encoding.active !== active) {
        encoding.active = active;
        changed = true;
      }
    }
    if (changed) await sender.setParameters(params);
  }

  /** Send whatever tracks the local media has now (null sends nothing). */
  async sync() {
    /** @type {[RTCRtpTransceiver, MediaStreamTrack | null][]} */
    const pairs = [[this.audio, this.local.audioTrack], [this.video, this.local.videoTrack]];
    for (const [transceiver, track] of pairs) {
      if (transceiver.sender.track !== track) await transceiver.sender.replaceTrack(track).catch(() => {});
    }
  }

  close() {
    this.closed = true;
    this.local.removeEventListener('change', this.onLocalChange);
    this.pc.close();
  }
}

/**
 * Which msid stream id each m-line (by mid) carries, for the m-lines that send to us. Read from the
 * SDP because a renegotiation may move a reused m-line to a new stream id without a `track` event.
 * @param {string} sdp
 * @returns {Map<string, string>} mid -> msid stream id
 */
export function sendingMsids(sdp) {
  const byMid = new Map();
  for (const section of sdp.split(/\r?\nm=/).slice(1)) {
    const port = section.match(/^\w+ (\d+)/)?.[1];
    const mid = section.match(/\na=mid:(\S+)/)?.[1];
    const msid = section.match(/\na=msid:(\S+)/)?.[1];
    const inactive = /\na=(inactive|recvonly)\b/.test(section);
    if (mid && msid && msid !== '-' && port !== '0' && !inactive) byMid.set(mid, msid);
  }
  return byMid;
}

/**
 * Drop a=msid from m-lines that send nothing (inactive, or port 0). A server that retires a
 * participant's m-lines and adds fresh ones for the same stream would otherwise repeat an msid,
 * which Chrome refuses ("Duplicate a=msid lines detected"); an idle m-line needs no msid.
 * @param {string} sdp
 */
export function withoutIdleMsids(sdp) {
  const [head, ...sections] = sdp.split(/\r\nm=/);
  const cleaned = sections.map((section) => {
    const idle = /^\w+ 0 /.test(section) || /\r\na=(inactive|recvonly)\r\n/.test(`${section}\r\n`);
    return idle ? section.replace(/\r\na=msid:[^\r\n]*/g, '') : section;
  });
  return [head, ...cleaned].join('\r\nm=');
}

/**
 * The receiving connection. Remote tracks are grouped by their msid stream id, which the session
 * state maps to participants (participants[].stream_ids). Fires 'streams' when the set changes.
 *
 * The server replaces its side when it dies (closed, ICE failed) or when it starts this participant
 * over (let in again from the waiting room): its offer then carries a new ICE ufrag, and is answered
 * on a new RTCPeerConnection. Streams keep their identity across, so the page's tiles stay.
 */
export class Subscriber extends EventTarget {
  /**
   * @param {RTCIceServer[]} iceServers
   * @param {import('./e2ee.js').MediaCrypto | null} [crypto]
   */
  constructor(iceServers, crypto = null) {
    super();
    this.iceServers = iceServers;
    this.crypto = crypto;
    /** @type {Map<string, MediaStream>} msid stream id -> its tracks */
    this.streams = new Map();
    /** @type {Map<string, string>} mid -> msid stream id, as the last offer said */
    this.msids = new Map();
    this.pc = this.#connection();
  }

  #connection() {
    const pc = new RTCPeerConnection(peerConfig(this.iceServers, this.crypto?.peerOptions()));
    pc.addEventListener('connectionstatechange', () => {
      if (pc === this.pc) this.dispatchEvent(new CustomEvent('state', { detail: pc.connectionState }));
    });
    return pc;
  }

  /** @param {import('./wire').RtcOfferOut} offer */
  async answer(offer) {
    const current = iceUfrag(this.pc.remoteDescription?.sdp);
    if (current && current !== iceUfrag(offer.sdp)) {
      this.pc.close();
      this.pc = this.#connection();
    }
    await this.pc.setRemoteDescription({ type: 'offer', sdp: withoutIdleMsids(offer.sdp) });
    for (const t of this.pc.getTransceivers()) {
      // Before the answer: no frame reaches a decoder without passing the worker.
      if (t.mid != null) this.crypto?.attach(t.receiver, 'receive', t.receiver.track.kind, `receive-${t.mid}`);
    }
    await this.pc.setLocalDescription(await this.pc.createAnswer());
    await iceGathered(this.pc);
    this.msids = sendingMsids(offer.sdp);
    this.#regroup(this.msids);
    return description(this.pc, 'answer');
  }

  /**
   * Rebuild the stream map from the transceivers; a stream keeps its identity while its id lives.
   * @param {Map<string, string>} msids mid -> msid stream id
   */
  #regroup(msids) {
    /** @type {Map<string, MediaStreamTrack[]>} */
    const groups = new Map();
    for (const t of this.pc.getTransceivers()) {
      const id = t.mid != null && t.currentDirection !== 'stopped' ? msids.get(t.mid) : undefined;
      if (id) groups.set(id, [...(groups.get(id) ?? []), t.receiver.track]);
    }
    let changed = groups.size !== this.streams.size;
    /** @type {Map<string, MediaStream>} */
    const next = new Map();
    for (const [id, tracks] of groups) {
      const stream = this.streams.get(id) ?? new MediaStream();
      const had = stream.getTracks();
      for (const track of had) if (!tracks.includes(track)) stream.removeTrack(track);
      for (const track of tracks) if (!had.includes(track)) stream.addTrack(track);
      changed ||= !this.streams.has(id) || had.length !== tracks.length || tracks.some((t) => !had.includes(t));
      next.set(id, stream);
    }
    this.streams = next;
    if (changed) this.dispatchEvent(new Event('streams'));
  }

  close() {
    this.pc.close();
    this.streams = new Map();
    this.dispatchEvent(new Event('streams'));
  }
}
