// What a page receives, measured from inside it, the same way for a Hearth page and the direct
// peer-to-peer page. Injected before the page's own scripts (Playwright's add_init_script); the page
// says which connections to read by defining `window.netlabPeers()` -> {receiving, sending, publisher,
// nameOf} (publisher: the client's Publisher, whose camera the lab turns off and on),
// where nameOf(trackId) names the person a received track comes from.
//
// - `netlab.snapshot()`: the latest inbound-rtp / outbound-rtp counters of every stream this page
//   ever had (a connection replaced mid-window keeps its last figures), plus the selected route.
// - `netlab.frames(trackId, sinceWallMs)`: each video frame shown since then, from
//   requestVideoFrameCallback: [wall ms shown, wall ms its last packet arrived, RTP timestamp].
(() => {
  const INBOUND = ['packetsReceived', 'packetsLost', 'bytesReceived', 'nackCount', 'pliCount', 'firCount',
    'framesDecoded', 'framesDropped', 'framesReceived', 'keyFramesDecoded', 'freezeCount', 'totalFreezesDuration',
    'pauseCount', 'totalPauseDuration', 'totalSamplesReceived', 'concealedSamples', 'silentConcealedSamples',
    'concealmentEvents', 'insertedSamplesForDeceleration', 'removedSamplesForAcceleration',
    'retransmittedPacketsReceived', 'retransmittedBytesReceived', 'fecPacketsReceived', 'fecPacketsDiscarded',
    'jitterBufferDelay', 'jitterBufferEmittedCount', 'framesPerSecond', 'frameWidth', 'frameHeight'];
  const OUTBOUND = ['packetsSent', 'bytesSent', 'retransmittedPacketsSent', 'retransmittedBytesSent', 'nackCount',
    'pliCount', 'firCount', 'framesEncoded', 'keyFramesEncoded', 'framesSent', 'targetBitrate', 'frameWidth',
    'frameHeight', 'framesPerSecond', 'qualityLimitationReason'];
  const serials = new WeakMap();
  let nextSerial = 1;
  const streams = new Map(); // `${serial}:${type}:${ssrc}` -> row
  const routes = new Map(); // serial -> selected candidate pair, described
  const frames = new Map(); // track id -> [[shown, received, rtpTimestamp], ...]
  const watched = new WeakSet();
  const shownIn = new Map(); // track id -> the video element whose frames are counted
  const wall = (t) => performance.timeOrigin + t;

  function serialOf(pc) {
    if (!serials.has(pc)) serials.set(pc, nextSerial++);
    return serials.get(pc);
  }

  function pick(stats, keys) {
    const out = {};
    for (const k of keys) if (stats[k] !== undefined) out[k] = stats[k];
    return out;
  }

  function watchVideos() {
    for (const video of document.querySelectorAll('video')) {
      if (watched.has(video) || !video.requestVideoFrameCallback) continue;
      watched.add(video);
      const onFrame = (now, meta) => {
        const track = video.srcObject?.getVideoTracks?.()[0];
        // A page may show one track in two elements (a tile and a spotlight): count the first one only.
        if (track && (shownIn.get(track.id) ?? video) === video) {
          shownIn.set(track.id, video);
          if (!frames.has(track.id)) frames.set(track.id, []);
          const shown = wall(meta.presentationTime ?? now);
          const received = meta.receiveTime !== undefined ? wall(meta.receiveTime) : null;
          frames.get(track.id).push([shown, received, meta.rtpTimestamp ?? null]);
        }
        video.requestVideoFrameCallback(onFrame);
      };
      video.requestVideoFrameCallback(onFrame);
    }
  }

  async function readPeer(pc, direction, nameOf) {
    if (!pc || pc.connectionState === 'closed') return;
    const serial = serialOf(pc);
    const report = await pc.getStats();
    const at = Date.now();
    report.forEach((s) => {
      if (s.type !== 'inbound-rtp' && s.type !== 'outbound-rtp') return;
      const key = `${serial}:${s.type}:${s.ssrc}`;
      const old = streams.get(key);
      const name = s.trackIdentifier ? nameOf(s.trackIdentifier) : null;
      streams.set(key, {
        key, serial, direction, type: s.type, kind: s.kind, ssrc: s.ssrc, mid: s.mid ?? null,
        track: s.trackIdentifier ?? null, name: name ?? old?.name ?? null, at,
        ...pick(s, s.type === 'inbound-rtp' ? INBOUND : OUTBOUND),
      });
    });
    report.forEach((s) => {
      if (s.type !== 'transport' || !s.selectedCandidatePairId) return;
      const pair = report.get(s.selectedCandidatePairId);
      const local = pair && report.get(pair.localCandidateId);
      const remote = pair && report.get(pair.remoteCandidateId);
      if (!local || !remote) return;
      routes.set(serial, {
        serial, direction,
        local: { type: local.candidateType, address: local.address, port: local.port, protocol: local.protocol,
          relayProtocol: local.relayProtocol ?? null, url: local.url ?? null },
        remote: { type: remote.candidateType, address: remote.address, port: remote.port, protocol: remote.protocol },
      });
    });
  }

  async function poll() {
    watchVideos();
    const peers = globalThis.netlabPeers?.();
    if (!peers) return;
    const nameOf = (id) => { try { return peers.nameOf(id); } catch { return null; } };
    const reads = [
      ...peers.receiving.map((pc) => readPeer(pc, 'receiving', nameOf)),
      ...peers.sending.map((pc) => readPeer(pc, 'sending', nameOf)),
    ];
    await Promise.all(reads.map((r) => r.catch(() => {})));
  }

  globalThis.netlab = {
    async snapshot() {
      await poll();
      return { at: Date.now(), streams: [...streams.values()], routes: [...routes.values()] };
    },
    frames(trackId, since = 0) {
      return (frames.get(trackId) ?? []).filter(([shown]) => shown >= since);
    },
    tracks() {
      return [...frames.keys()];
    },
  };
  setInterval(() => { poll().catch(() => {}); }, 1000);
})();
