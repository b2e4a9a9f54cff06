"""Opus as Hearth asks browsers to send it: in-band FEC and DTX, declared in the server's answer.

A browser's Opus encoder adds in-band forward error correction (a low-rate copy of the previous
frame inside each packet) only when the other end says its decoder can use it (``useinbandfec=1`` in
the answer), and goes quiet between words (DTX: a packet every 400 ms instead of every 20 ms) only
when asked (``usedtx=1``). The forwarder does not decode, so both are a promise made on behalf of the
subscribers' decoders, which are browsers' and use both. aiortc answers Opus without any ``fmtp``
line, so the answer it wrote is completed here, as text, before it goes to the publisher.

FEC is what lets a subscriber conceal a lost audio packet without a retransmission (audio is never
worth a round trip); DTX halves the packets of a group in which one person speaks at a time. How much
FEC the encoder spends follows the fraction lost in the receiver reports it gets: ours carry the worst
of its uplink's and its listeners' downlinks' (``forwarder.Source.downstream_loss``).
"""

from __future__ import annotations

import re

# What the answer says of each Opus payload type; RFC 7587 section 7 names the parameters.
OPUS_PARAMETERS = {"minptime": "10", "useinbandfec": "1", "usedtx": "1"}

_RTPMAP = re.compile(r"^a=rtpmap:(\d+) opus/48000(?:/2)?$", re.IGNORECASE)
_FMTP = re.compile(r"^a=fmtp:(\d+) (.*)$")


def with_opus_parameters(sdp: str) -> str:
    """``sdp`` with every Opus payload type's ``fmtp`` carrying ``OPUS_PARAMETERS`` (added when
    missing, merged into an existing line, other parameters kept)."""
    lines = sdp.split("\r\n")
    opus = {m.group(1) for line in lines if (m := _RTPMAP.match(line))}
    if not opus:
        return sdp
    out: list[str] = []
    has_fmtp: set[str] = set()
    for line in lines:
        fmtp = _FMTP.match(line)
        if fmtp and fmtp.group(1) in opus:
            has_fmtp.add(fmtp.group(1))
            out.append(f"a=fmtp:{fmtp.group(1)} {_merged(fmtp.group(2))}")
        else:
            out.append(line)
    missing = opus - has_fmtp
    if missing:
        completed: list[str] = []
        for line in out:
            completed.append(line)
            rtpmap = _RTPMAP.match(line)
            if rtpmap and rtpmap.group(1) in missing:
                completed.append(f"a=fmtp:{rtpmap.group(1)} {_merged('')}")
        out = completed
    return "\r\n".join(out)


def _merged(existing: str) -> str:
    params: dict[str, str] = {}
    for item in existing.split(";"):
        key, _, value = item.strip().partition("=")
        if key:
            params[key] = value
    params.update(OPUS_PARAMETERS)
    return ";".join(f"{k}={v}" if v else k for k, v in params.items())
