"""The server's answer asks publishers for Opus with in-band FEC and DTX (``server.media.opus``)."""

from __future__ import annotations

import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription

from server.media.opus import OPUS_PARAMETERS, with_opus_parameters

ANSWER = "\r\n".join(
    [
        "v=0",
        "m=audio 9 UDP/TLS/RTP/SAVPF 111 0",
        "a=rtpmap:111 opus/48000/2",
        "a=rtpmap:0 PCMU/8000",
        "m=video 9 UDP/TLS/RTP/SAVPF 96",
        "a=rtpmap:96 VP8/90000",
        "a=fmtp:96 max-fr=30",
        "",
    ]
)


def fmtp(sdp: str, payload_type: str) -> dict[str, str]:
    line = next(x for x in sdp.split("\r\n") if x.startswith(f"a=fmtp:{payload_type} "))
    return dict(item.partition("=")[::2] for item in line.split(" ", 1)[1].split(";"))


def test_an_opus_answer_without_fmtp_gets_one_right_after_its_rtpmap() -> None:
    out = with_opus_parameters(ANSWER).split("\r\n")
    assert out[out.index("a=rtpmap:111 opus/48000/2") + 1] == "a=fmtp:111 minptime=10;useinbandfec=1;usedtx=1"
    assert "a=fmtp:96 max-fr=30" in out and not any(x.startswith("a=fmtp:0 ") for x in out)


def test_an_existing_opus_fmtp_keeps_its_other_parameters_and_is_not_doubled() -> None:
    answer = ANSWER.replace("a=rtpmap:0 PCMU/8000", "a=fmtp:111 stereo=1;useinbandfec=0\r\na=rtpmap:0 PCMU/8000")
    out = with_opus_parameters(answer)
    assert out.count("a=fmtp:111 ") == 1
    assert fmtp(out, "111") == {"stereo": "1", **OPUS_PARAMETERS}


def test_sdp_without_opus_is_returned_as_it_was() -> None:
    video_only = "v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rtpmap:96 VP8/90000\r\n"
    assert with_opus_parameters(video_only) == video_only


@pytest.mark.media
async def test_aiortc_takes_the_completed_answer_as_a_browser_would() -> None:
    publisher, server = RTCPeerConnection(), RTCPeerConnection()
    try:
        publisher.addTransceiver("audio", direction="sendonly")
        await publisher.setLocalDescription(await publisher.createOffer())
        await server.setRemoteDescription(publisher.localDescription)
        await server.setLocalDescription(await server.createAnswer())
        answer = with_opus_parameters(server.localDescription.sdp)
        await publisher.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        assert publisher.signalingState == "stable"
        opus = next(line for line in answer.split("\r\n") if "opus/48000" in line)  # a=rtpmap:PT opus/...
        assert fmtp(answer, opus.split()[0].removeprefix("a=rtpmap:"))["useinbandfec"] == "1"
    finally:
        await publisher.close()
        await server.close()
