"""Simulcast in the SDP (``server.media.simulcast``): the layers a browser offers, and the answer that
accepts them, which aiortc's SDP layer must still parse."""

from __future__ import annotations

from aiortc.sdp import SessionDescription

from server.media.simulcast import RID_URI, accept_layers, offered_layers

# What Chromium offers for web/rtc.js's Publisher (abridged: ICE and DTLS lines kept, codecs cut to VP8).
CHROMIUM_OFFER = "\r\n".join(
    [
        "v=0",
        "o=- 4611731400430051336 2 IN IP4 127.0.0.1",
        "s=-",
        "t=0 0",
        "a=group:BUNDLE 0 1",
        "a=msid-semantic: WMS stream",
        "m=audio 9 UDP/TLS/RTP/SAVPF 111",
        "c=IN IP4 0.0.0.0",
        "a=rtcp:9 IN IP4 0.0.0.0",
        "a=ice-ufrag:abcd",
        "a=ice-pwd:abcdefghijklmnopqrstuvwx",
        "a=fingerprint:sha-256 " + ":".join(["AB"] * 32),
        "a=setup:actpass",
        "a=mid:0",
        "a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level",
        "a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid",
        "a=sendonly",
        "a=msid:stream audio-track",
        "a=rtcp-mux",
        "a=rtpmap:111 opus/48000/2",
        "a=ssrc:1001 cname:x",
        "m=video 9 UDP/TLS/RTP/SAVPF 96",
        "c=IN IP4 0.0.0.0",
        "a=rtcp:9 IN IP4 0.0.0.0",
        "a=ice-ufrag:abcd",
        "a=ice-pwd:abcdefghijklmnopqrstuvwx",
        "a=fingerprint:sha-256 " + ":".join(["AB"] * 32),
        "a=setup:actpass",
        "a=mid:1",
        "a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid",
        "a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time",
        f"a=extmap:10 {RID_URI}",
        "a=extmap:11 urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id",
        "a=sendonly",
        "a=msid:stream video-track",
        "a=rtcp-mux",
        "a=rtcp-rsize",
        "a=rtpmap:96 VP8/90000",
        "a=rtcp-fb:96 nack",
        "a=rtcp-fb:96 nack pli",
        "a=rtcp-fb:96 goog-remb",
        "a=rid:lo send",
        "a=rid:hi send",
        "a=simulcast:send lo;hi",
        "",
    ]
)


def test_the_layers_of_a_simulcast_offer_are_read_lowest_first_with_their_header_extension() -> None:
    layers = offered_layers(CHROMIUM_OFFER)
    assert list(layers) == ["1"]
    assert layers["1"].rids == ("lo", "hi") and layers["1"].extension_id == 10


def test_an_offer_without_simulcast_or_without_the_rid_extension_has_no_layers() -> None:
    single = "\r\n".join(line for line in CHROMIUM_OFFER.split("\r\n") if not line.startswith(("a=rid", "a=simul")))
    assert offered_layers(single) == {}
    unnamed = CHROMIUM_OFFER.replace(f"a=extmap:10 {RID_URI}\r\n", "")
    assert offered_layers(unnamed) == {}  # its layers' SSRCs could not be told apart


def test_paused_alternative_undeclared_and_surplus_rids() -> None:
    offer = CHROMIUM_OFFER.replace("a=simulcast:send lo;hi", "a=simulcast:send ~lo;hi,x;nope;lo")
    assert offered_layers(offer)["1"].rids == ("lo", "hi")
    many = CHROMIUM_OFFER.replace("a=rid:lo send", "a=rid:a send\r\na=rid:b send\r\na=rid:c send\r\na=rid:lo send")
    many = many.replace("a=simulcast:send lo;hi", "a=simulcast:send a;b;c;lo;hi")
    assert offered_layers(many)["1"].rids == ("a", "b", "c")  # at most MAX_LAYERS are accepted
    receiving = CHROMIUM_OFFER.replace("a=rid:lo send", "a=rid:lo recv")
    assert offered_layers(receiving) == {}  # one declared layer is not simulcast


def test_the_answer_accepts_the_layers_in_the_video_section_and_still_parses() -> None:
    answer = CHROMIUM_OFFER.replace("a=sendonly", "a=recvonly").replace("a=setup:actpass", "a=setup:active")
    answer = "\r\n".join(line for line in answer.split("\r\n") if not line.startswith(("a=rid", "a=simul")))
    accepted = accept_layers(answer, offered_layers(CHROMIUM_OFFER))
    audio, video = accepted.split("\r\nm=")[1:]
    assert "a=rid" not in audio and "a=simulcast" not in audio
    assert video.endswith("a=rid:lo recv\r\na=rid:hi recv\r\na=simulcast:recv lo;hi\r\n")
    assert accepted.count("\r\n\r\n") == 0
    parsed = SessionDescription.parse(accepted)
    assert [m.kind for m in parsed.media] == ["audio", "video"]
    assert accept_layers(answer, {}) == answer
