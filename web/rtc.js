// WebRTC connections to the SFU: one to send (we offer), one to receive (the server offers).
// No DOM here. Offers and answers go out only after ICE gathering completes (no trickle).

const MAX_VIDEO_BITRATE = 500_000; // the server forwards without transcoding, so cap at the source
const MAX_FRAMERATE = 24;
const ICE_GATHER_TIMEOUT_MS = 3000;

export function peerConfig(iceServers) {
  return { iceServers: iceServers ?? [], bundlePolicy: 'max-bundle', rtcpMuxPolicy: 'require' };
}

/** Resolve once gathering is complete, or after a timeout with whatever was gathered so far. */
export function iceGathered(pc, timeoutMs = ICE_GATHER_TIMEOUT_MS) {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
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

/** Put `mime` first (VP8, Opus): the forwarding server needs one codec on both legs. */
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

function description(pc) {
  return { sdp: pc.localDescription.sdp, type: pc.localDescription.type };
}

/** The sending connection. Its tracks follow a LocalMedia through replaceTrack, without renegotiating. */
export class Publisher extends EventTarget {
  constructor(iceServers, local) {
    super();
    this.local = local;
    this.pc = new RTCPeerConnection(peerConfig(iceServers));
    this.audio = this.pc.addTransceiver('audio', { direction: 'sendonly', streams: [local.stream] });
    this.video = this.pc.addTransceiver('video', {
      direction: 'sendonly',
      streams: [local.stream],
      sendEncodings: [{ maxBitrate: MAX_VIDEO_BITRATE, maxFramerate: MAX_FRAMERATE }],
    });
    preferCodec(this.audio, 'audio', 'audio/opus');
    preferCodec(this.video, 'video', 'video/vp8');
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
    return description(this.pc);
  }

  async accept(answer) {
    await this.pc.setRemoteDescription({ type: 'answer', sdp: answer.sdp });
  }

  /** Send whatever tracks the local media has now (null sends nothing). */
  async sync() {
    const pairs = [[this.audio, this.local.audioTrack], [this.video, this.local.videoTrack]];
    for (const [transceiver, track] of pairs) {
      if (transceiver.sender.track !== track) await transceiver.sender.replaceTrack(track).catch(() => {});
    }
  }

  close() {
    this.local.removeEventListener('change', this.onLocalChange);
    this.pc.close();
  }
}

/**
 * The receiving connection. Remote tracks are grouped by their msid stream id, which the session
 * state maps to participants (participants[].stream_ids). Fires 'streams' when the set changes.
 */
export class Subscriber extends EventTarget {
  constructor(iceServers) {
    super();
    this.streams = new Map();
    this.pc = new RTCPeerConnection(peerConfig(iceServers));
    this.pc.addEventListener('track', (event) => this.#onTrack(event));
    this.pc.addEventListener('connectionstatechange', () => {
      this.dispatchEvent(new CustomEvent('state', { detail: this.pc.connectionState }));
    });
  }

  async answer(offer) {
    await this.pc.setRemoteDescription({ type: 'offer', sdp: offer.sdp });
    await this.pc.setLocalDescription(await this.pc.createAnswer());
    await iceGathered(this.pc);
    this.#prune();
    return description(this.pc);
  }

  #onTrack(event) {
    const streams = event.streams.length ? event.streams : [new MediaStream([event.track])];
    for (const stream of streams) {
      if (!this.streams.has(stream.id)) {
        this.streams.set(stream.id, stream);
        stream.addEventListener('removetrack', () => this.#prune());
      }
    }
    event.track.addEventListener('ended', () => this.#prune());
    this.#changed();
  }

  /** Forget streams whose tracks the last negotiation took away. */
  #prune() {
    const live = new Set(
      this.pc.getTransceivers()
        .filter((t) => !t.stopped && t.currentDirection !== 'inactive' && t.currentDirection !== 'sendonly')
        .map((t) => t.receiver.track),
    );
    let changed = false;
    for (const [id, stream] of this.streams) {
      for (const track of stream.getTracks()) if (!live.has(track)) stream.removeTrack(track);
      if (stream.getTracks().length === 0) {
        this.streams.delete(id);
        changed = true;
      }
    }
    if (changed) this.#changed();
  }

  #changed() {
    this.dispatchEvent(new Event('streams'));
  }

  close() {
    this.pc.close();
    this.streams.clear();
    this.#changed();
  }
}
