"""Pins every aiortc/aioice internal that the ``server/media/seam/`` package touches.

If an aiortc or aioice upgrade moves one of these, the test named after that seam fails here, before
forwarding silently degrades (decoding on the server, no PLI relay, no SR, no loopback candidates).
"""

from __future__ import annotations

import asyncio
import inspect
import os
import socket
from importlib.metadata import version
from typing import Any

import aioice.ice
import aioice.stun
import aiortc.rtcrtpreceiver
import aiortc.rtcrtpsender
import aiortc.rtp
import pylibsrtp
import pytest
import uvloop
from aioice import Connection
from aiortc import RTCPeerConnection, RTCRtpReceiver, RTCRtpSender, RTCSessionDescription
from aiortc.rtcdtlstransport import RTCDtlsTransport
from aiortc.rtcicetransport import RTCIceTransport
from aiortc.rtcrtpparameters import RTCRtpReceiveParameters
from pylibsrtp import Policy, Session

from server.media import seam
from server.media.seam import compiled, ice, receive
from server.media.seam.transport import SRTCP_MAX
from server.media.simulcast import RID_URI
from tests.media.test_simulcast_sdp import CHROMIUM_OFFER


def test_aiortc_is_the_pinned_version() -> None:
    assert version("aiortc") == "1.16.0"


def test_seam_decoder_worker_is_a_module_global_with_the_expected_signature() -> None:
    worker = receive._original_decoder_worker
    assert list(inspect.signature(worker).parameters) == ["loop", "input_q", "output_q", "decode_error"]
    assert "target=decoder_worker" in inspect.getsource(RTCRtpReceiver.receive)


def test_seam_receiver_feeds_a_private_jitter_buffer_after_nack_and_rtx() -> None:
    source = inspect.getsource(RTCRtpReceiver._handle_rtp_packet)
    assert "self.__jitter_buffer.add(packet)" in source
    assert source.index("unwrap_rtx") < source.index("__nack_generator.add") < source.index("__jitter_buffer.add")
    assert "self.__decoder_queue.put" in source
    assert "if self.__remote_bitrate_estimator is not None:" in source  # None disables REMB estimation


async def test_seam_receiver_private_attributes_exist() -> None:
    pc = RTCPeerConnection()
    try:
        receiver = pc.addTransceiver("video").receiver
        assert hasattr(receiver, "_RTCRtpReceiver__jitter_buffer")
        assert hasattr(receiver, "_RTCRtpReceiver__decoder_queue")
        assert list(inspect.signature(receiver._send_rtcp_pli).parameters) == ["media_ssrc"]
        assert list(inspect.signature(receiver._send_rtcp).parameters) == ["packet"]
        assert hasattr(receiver, "_RTCRtpReceiver__remote_bitrate_estimator")
        assert hasattr(receiver, "_RTCRtpReceiver__rtcp_ssrc")
    finally:
        await pc.close()


async def test_seam_a_sendonly_receiver_keeps_no_bitrate_estimator_and_still_takes_a_packet() -> None:
    """The estimator is the one object aiortc's receive path checks for None before use."""
    pc = RTCPeerConnection()
    try:
        receiver: Any = pc.addTransceiver("video", direction="sendonly").receiver
        assert receiver._RTCRtpReceiver__remote_bitrate_estimator is not None  # built, though never used
        seam.drop_receiving_state(receiver)
        assert receiver._RTCRtpReceiver__remote_bitrate_estimator is None
        source = inspect.getsource(type(receiver)._handle_rtp_packet)
        assert "if self.__remote_bitrate_estimator is not None:" in source
    finally:
        await pc.close()


async def test_seam_sender_rtcp_loop_is_looked_up_on_the_instance_and_signals_its_events() -> None:
    """``LeanSender`` parks ``_run_rtcp`` (``SubscriberRtcp`` reports for the whole connection)."""
    send = inspect.getsource(RTCRtpSender.send)
    assert "self.__rtcp_task = asyncio.ensure_future(self._run_rtcp())" in send
    assert "self.__transport._register_rtp_sender(self, parameters)" in send
    stop = inspect.getsource(RTCRtpSender.stop)
    assert "self.__rtcp_started.wait()" in stop and "self.__rtcp_exited.wait()" in stop
    pc = RTCPeerConnection()
    try:
        sender = pc.addTransceiver("audio").sender
        assert hasattr(sender, "_RTCRtpSender__rtcp_started") and hasattr(sender, "_RTCRtpSender__rtcp_exited")
        assert hasattr(sender, "_ssrc") and hasattr(sender, "_stream_id") and hasattr(sender, "_track_id")
        assert list(inspect.signature(sender._handle_rtcp_packet).parameters) == ["packet"]
        assert list(inspect.signature(sender._send_rtcp).parameters) == ["packets"]
        assert list(inspect.signature(sender.send).parameters) == ["parameters"]
    finally:
        await pc.close()


def test_seam_sender_rtcp_is_dispatched_per_instance() -> None:
    source = inspect.getsource(aiortc.rtcdtlstransport.RTCDtlsTransport._handle_rtcp_data)
    assert "await recipient._handle_rtcp_packet(packet)" in source


def test_seam_msid_is_written_from_sender_stream_and_track_ids() -> None:
    source = inspect.getsource(aiortc.rtcpeerconnection.create_media_description_for_transceiver)
    assert "transceiver.sender._stream_id" in source and "transceiver.sender._track_id" in source


def test_seam_transport_path_to_the_socket_exists() -> None:
    assert "_tx_srtp" in inspect.getsource(RTCDtlsTransport._send_rtp)
    assert "self._connection = gatherer._connection" in inspect.getsource(RTCIceTransport.__init__)
    assert "self._nominated.get(component)" in inspect.getsource(Connection.sendto)
    assert "active_pair.protocol.send_data(data, active_pair.remote_addr)" in inspect.getsource(Connection.sendto)
    assert "self.transport.sendto(data, addr)" in inspect.getsource(aioice.ice.StunProtocol.send_data)


async def test_seam_asyncio_datagram_transport_keeps_its_socket_as_sock() -> None:
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0))
    try:
        assert isinstance(transport._sock, socket.socket)  # type: ignore[attr-defined]
        assert not transport._sock.getblocking()  # type: ignore[attr-defined]
    finally:
        transport.close()


def test_seam_aioice_host_addresses_skip_loopback_unless_enabled() -> None:
    assert list(inspect.signature(ice._original_host_addresses).parameters) == ["use_ipv4", "use_ipv6"]
    assert "127.0.0.1" not in ice._original_host_addresses(use_ipv4=True, use_ipv6=False)
    assert "127.0.0.1" in ice._host_addresses_with_loopback(use_ipv4=True, use_ipv6=False)
    assert "get_host_addresses(" in inspect.getsource(Connection.gather_candidates)


def test_seam_sender_module_exports_what_the_lean_sender_relies_on() -> None:
    assert "_retransmit" in dir(aiortc.rtcrtpsender.RTCRtpSender)
    assert callable(aiortc.rtcrtpreceiver.decoder_worker)


def test_seam_compiled_path_gets_libsrtp_with_the_signatures_it_calls() -> None:
    """``_fastpath.c`` calls ``srtp_(un)protect(ctx, rtp, &length)`` through the addresses pylibsrtp's binding gives."""
    import pylibsrtp._binding as binding  # type: ignore[import-not-found]

    for name, address in (
        ("srtp_protect", compiled.SRTP_PROTECT_ADDRESS),
        ("srtp_unprotect", compiled.SRTP_UNPROTECT_ADDRESS),
    ):
        function = getattr(binding.lib, name)
        assert (
            str(binding.ffi.typeof(function)) == "<ctype 'srtp_err_status_t(*)(struct srtp_ctx_t_ *, void *, int *)'>"
        )
        assert int(binding.ffi.cast("uintptr_t", binding.ffi.addressof(binding.lib, name))) == address
    session = Session(Policy(key=os.urandom(30), ssrc_type=Policy.SSRC_ANY_OUTBOUND))
    assert str(binding.ffi.typeof(session._srtp[0])) == "<ctype 'struct srtp_ctx_t_ *'>"
    assert compiled.context_address(session) == int(binding.ffi.cast("uintptr_t", session._srtp[0]))


def test_the_compiled_path_takes_libsrtp_only_as_named_capsules_never_bare_numbers() -> None:
    """A wrong integer handed to C would be a jump or a context at a wrong address: a TypeError instead."""
    fastpath = compiled.BUILT
    assert fastpath is not None, "server/media/_fastpath.c is not built"
    session = Session(Policy(key=os.urandom(30), ssrc_type=Policy.SSRC_ANY_OUTBOUND))
    with pytest.raises(TypeError, match=r"hearth\.srtp_function"):
        fastpath.set_srtp(compiled.SRTP_PROTECT_ADDRESS, compiled.SRTP_UNPROTECT_ADDRESS)
    with pytest.raises(TypeError, match=r"hearth\.srtp_function"):  # a context is not a function
        fastpath.set_srtp(compiled.context_capsule(session), compiled.context_capsule(session))
    inlet = fastpath.Inlet()
    with pytest.raises(TypeError, match=r"hearth\.srtp_context"):
        inlet.set_session(session, compiled.context_address(session))
    inlet.set_session(session, compiled.context_capsule(session))
    outlet = fastpath.Outlet(True, 0, 0)
    with pytest.raises(TypeError, match=r"hearth\.srtp_context"):
        outlet.attach(session, 12345, 0, "127.0.0.1", 9, 1, 96, b"")


def test_seam_fast_protect_matches_pylibsrtp() -> None:
    key = os.urandom(30)
    policy = {"ssrc_type": Policy.SSRC_ANY_OUTBOUND, "srtp_profile": Policy.SRTP_PROFILE_AES128_CM_SHA1_80}
    reference, ours = Session(Policy(key=key, **policy)), Session(Policy(key=key, **policy))
    assert hasattr(ours, "_srtp") and hasattr(ours, "_cdata") and hasattr(ours, "_buffer")
    protect = seam.fast_srtp(ours)
    for seq in range(3):
        packet = bytes([0x80, 96, 0, seq]) + bytes(8) + os.urandom(900)
        assert protect(packet) == reference.protect(packet)


def test_seam_fast_unprotect_matches_pylibsrtp_and_refuses_replays() -> None:
    key = os.urandom(30)
    profile = Policy.SRTP_PROFILE_AES128_CM_SHA1_80
    sender = Session(Policy(key=key, ssrc_type=Policy.SSRC_ANY_OUTBOUND, srtp_profile=profile))
    receiver = Session(Policy(key=key, ssrc_type=Policy.SSRC_ANY_INBOUND, srtp_profile=profile))
    unprotect = seam.fast_srtp(receiver, unprotect=True)
    packet = bytes([0x80, 96, 0, 7]) + bytes(8) + os.urandom(900)
    protected = sender.protect(packet)
    assert unprotect(protected) == packet
    with pytest.raises(pylibsrtp.Error):
        unprotect(protected)


def test_seam_srtcp_protect_takes_packets_up_to_the_limit_reports_are_split_at() -> None:
    """``SubscriberRtcp`` splits a large room's reports at ``SRTCP_MAX`` (pylibsrtp's buffer less its trailer)."""
    profile = Policy.SRTP_PROFILE_AES128_CM_SHA1_80
    session = Session(Policy(key=os.urandom(30), ssrc_type=Policy.SSRC_ANY_OUTBOUND, srtp_profile=profile))
    session.protect_rtcp(bytes([0x80, 200]) + bytes(SRTCP_MAX - 2))
    with pytest.raises(ValueError):
        session.protect_rtcp(bytes([0x80, 200]) + bytes(SRTCP_MAX - 1))


# --- the lean receive path ----------------------------------------------------------------------


def test_seam_ice_socket_callback_hands_non_stun_datagrams_to_the_connection() -> None:
    """The lean path wraps ``StunProtocol.datagram_received``; what it passes on must reach the queue."""
    source = inspect.getsource(aioice.ice.StunProtocol.datagram_received)
    assert "self.receiver.data_received(data, self.local_candidate.component)" in source
    assert "self._queue.put_nowait((data, component))" in inspect.getsource(Connection.data_received)


class _Endpoint(asyncio.DatagramProtocol):
    """A protocol with an instance ``__dict__``, like aioice's ``StunProtocol``."""


STUN_SHAPED = bytes([0, 1, 0, 0, 0x21, 0x12, 0xA4, 0x42]) + bytes(12)  # a binding request: any address may send it


async def _instance_callback_receives(compiled_hook: bool = False) -> list[bytes]:
    loop = asyncio.get_running_loop()
    got: list[bytes] = []
    transport, protocol = await loop.create_datagram_endpoint(_Endpoint, local_addr=("127.0.0.1", 0))
    sender, _ = await loop.create_datagram_endpoint(_Endpoint, local_addr=("127.0.0.1", 0))
    try:
        callback: Any = lambda data, addr: got.append(data)  # noqa: E731
        if compiled_hook:  # what LeanReceiver installs: a C callable that hands non-RTP to the original
            callback = compiled.BUILT.hook(compiled.BUILT.Inlet(), callback)
        protocol.datagram_received = callback  # type: ignore[method-assign]
        sock = transport.get_extra_info("socket")  # LeanSender.link gives the outlet a dup of its descriptor
        assert sock.fileno() >= 0 and sock.getsockname() == transport.get_extra_info("sockname")
        sender.sendto(STUN_SHAPED, transport.get_extra_info("sockname"))  # the guard lets STUN through
        for _ in range(100):
            if got:
                break
            await asyncio.sleep(0.01)
    finally:
        sender.close()
        transport.close()
    return got


@pytest.mark.parametrize("loop_factory", [asyncio.new_event_loop, uvloop.new_event_loop], ids=["asyncio", "uvloop"])
def test_seam_datagram_callback_is_looked_up_on_the_protocol_instance(loop_factory: Any) -> None:
    """Both loops call ``protocol.datagram_received`` per datagram, so the lean path's instance attribute wins."""
    loop = loop_factory()
    try:
        assert loop.run_until_complete(_instance_callback_receives()) == [STUN_SHAPED]
        assert loop.run_until_complete(_instance_callback_receives(compiled_hook=True)) == [STUN_SHAPED]
    finally:
        loop.close()


def test_seam_dtls_transport_unprotects_rtp_with_its_rx_session_and_routes_by_packet() -> None:
    source = inspect.getsource(RTCDtlsTransport._recv_next)
    assert "first_byte > 127 and first_byte < 192 and self._rx_srtp" in source
    assert "self._rx_srtp.unprotect(data)" in source and "is_rtcp(data)" in source
    assert "self._rtp_router.route_rtp(packet)" in inspect.getsource(RTCDtlsTransport._handle_rtp_data)
    assert "self.__ids.audio_level = ext.id" in inspect.getsource(aiortc.rtp.HeaderExtensionsMap.configure)
    assert hasattr(aiortc.rtp.HeaderExtensionsMap(), "_HeaderExtensionsMap__ids")


def test_seam_receiver_statistics_are_the_fields_the_lean_path_updates() -> None:
    """``InboundTrack.on_srtp`` writes these ``StreamStatistics`` fields; aiortc's RR loop reads them."""
    add = inspect.getsource(aiortc.rtcrtpreceiver.StreamStatistics.add)
    for name in ("packets_received", "max_seq", "cycles", "_clockrate", "_jitter_q4", "_last_arrival"):
        assert f"self.{name}" in add, name
    assert "self._last_timestamp = packet.timestamp" in add
    stats = aiortc.rtcrtpreceiver.StreamStatistics(90000)
    assert stats.max_seq is None and stats.packets_received == 0 and stats.cycles == 0
    rtcp = inspect.getsource(RTCRtpReceiver._run_rtcp)
    assert "for ssrc, stream in self.__remote_streams.items():" in rtcp
    handle = inspect.getsource(RTCRtpReceiver._handle_rtp_packet)
    assert "self.__remote_streams[packet.ssrc].add(packet)" in handle
    assert "if self.__nack_generator is not None and self.__nack_generator.add(packet):" in handle
    assert aiortc.rtp.RTP_HISTORY_SIZE == seam.NACK_WINDOW


async def test_seam_receiver_private_attributes_for_the_lean_path_exist() -> None:
    pc = RTCPeerConnection()
    try:
        receiver = pc.addTransceiver("video").receiver
        for name in ("remote_streams", "nack_generator", "kind", "rtcp_ssrc", "lsr", "lsr_time"):
            assert hasattr(receiver, f"_RTCRtpReceiver__{name}"), name
        for name in ("rtcp_started", "rtcp_exited"):
            assert hasattr(receiver, f"_RTCRtpReceiver__{name}"), name
        assert receiver._RTCRtpReceiver__kind == "video"
        dtls = receiver.transport
        for name in ("_rx_srtp", "_tx_srtp", "_rtp_header_extensions_map"):
            assert hasattr(dtls, name), name
    finally:
        await pc.close()


async def test_seam_ice_sockets_are_reachable_to_enlarge_their_buffers() -> None:
    pc = RTCPeerConnection()
    try:
        pc.addTransceiver("audio")
        await pc.setLocalDescription(await pc.createOffer())
        protocols = pc.getTransceivers()[0].receiver.transport.transport._connection._protocols
        assert protocols, "aioice keeps its StunProtocols in Connection._protocols"
        seam.enlarge_receive_buffers(pc, 1 << 20)
        sock = protocols[0].transport.get_extra_info("socket")
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) >= 1 << 20
    finally:
        await pc.close()


def test_seam_receiver_rtcp_loop_is_looked_up_on_the_instance_and_reports_what_we_send() -> None:
    """``LeanReceiver.tap`` parks ``_run_rtcp``; ``send_reports`` sends the RR it would have sent."""
    assert "self.__rtcp_task = asyncio.ensure_future(self._run_rtcp())" in inspect.getsource(RTCRtpReceiver.receive)
    stop = inspect.getsource(RTCRtpReceiver.stop)
    assert "await self.__rtcp_started.wait()" in stop and "await self.__rtcp_exited.wait()" in stop
    rtcp = inspect.getsource(RTCRtpReceiver._run_rtcp)
    for field in ("fraction_lost=stream.fraction_lost", "packets_lost=stream.packets_lost"):
        assert field in rtcp, field
    assert "highest_sequence=stream.max_seq" in rtcp and "jitter=stream.jitter" in rtcp
    assert "lsr = self.__lsr[ssrc]" in rtcp and "delay = time.time() - self.__lsr_time[ssrc]" in rtcp
    assert "RtcpRrPacket(ssrc=self.__rtcp_ssrc, reports=reports)" in rtcp


def test_seam_consent_replaces_aioices_checks_and_uses_what_they_use() -> None:
    """``ice._query_consent`` stands in for ``Connection.query_consent`` (started by ``connect``),
    builds its requests and sends them as aioice's did, with retransmissions at aioice's RTO; what
    it replaces sent each check once (``retransmissions=0``) and closed after six unanswered."""
    original = inspect.getsource(ice._original_query_consent)
    assert "retransmissions=0" in original and "failures >= CONSENT_FAILURES" in original
    for used in ("self._nominated.values()", "self.build_request(pair, nominate=False)", "pair.protocol.request("):
        assert used in original, used
    assert "self._query_consent_task = asyncio.create_task(self.query_consent())" in inspect.getsource(
        aioice.ice.Connection.connect
    )
    assert list(inspect.signature(aioice.ice.StunProtocol.request).parameters) == [
        "self",
        "request",
        "addr",
        "integrity_key",
        "retransmissions",
    ]
    assert aioice.stun.RETRY_RTO == 0.5  # the check's waits: 0.5, 1 and 2 s (ice.CONSENT_RETRANSMISSIONS)
    assert ice.CONSENT_INTERVAL * 0.8 > aioice.stun.RETRY_RTO * (2 ** (ice.CONSENT_RETRANSMISSIONS + 1) - 1)
    seam.install_consent_freshness()
    assert aioice.ice.Connection.query_consent is ice._query_consent


def test_seam_guard_learns_proven_addresses_from_aioice_instance_methods() -> None:
    """``guard.validated_sources`` wraps these on the connection: pair states change only through
    ``check_state``, and a peer's check reaches ``check_incoming`` only once it is authenticated."""
    connection_source = inspect.getsource(aioice.ice.Connection)
    assert "self.check_state(pair, CandidatePair.State.SUCCEEDED)" in connection_source
    assert connection_source.count("pair.state = CandidatePair.State.SUCCEEDED") == 0
    received = inspect.getsource(aioice.ice.Connection.request_received)
    assert received.index("check_message_integrity") < received.index("self.check_incoming(message, addr, protocol)")
    assert "self.check_incoming(*early_check)" in connection_source
    assert list(inspect.signature(aioice.ice.Connection.check_incoming).parameters) == [
        "self",
        "message",
        "addr",
        "protocol",
    ]
    assert hasattr(Connection(ice_controlling=True), "_check_list")
    assert "(self.remote_candidate._network_host, self.remote_candidate.port)" in inspect.getsource(
        aioice.ice.CandidatePair
    )


async def test_seam_guard_knows_the_peer_once_ice_connects() -> None:
    """Two real connections on loopback: each side's guard has proven the other's address."""
    seam.enable_loopback_candidates()
    offerer, answerer = RTCPeerConnection(), RTCPeerConnection()
    try:
        offerer.addTransceiver("audio")
        await offerer.setLocalDescription(await offerer.createOffer())
        await answerer.setRemoteDescription(offerer.localDescription)
        await answerer.setLocalDescription(await answerer.createAnswer())
        proven = [seam.validated_sources(pc.getTransceivers()[0].receiver.transport) for pc in (offerer, answerer)]
        await offerer.setRemoteDescription(answerer.localDescription)
        for _ in range(500):
            if all(pc.connectionState == "connected" for pc in (offerer, answerer)):
                break
            await asyncio.sleep(0.01)
        for pc, addresses in zip((offerer, answerer), proven, strict=True):
            route = pc.getTransceivers()[0].receiver.transport.transport._connection._nominated[1]
            assert route.remote_addr in addresses
    finally:
        await offerer.close()
        await answerer.close()


def test_seam_sdp_parser_is_aiortcs_own() -> None:
    assert "sdp.SessionDescription.parse(sessionDescription.sdp)" in inspect.getsource(
        RTCPeerConnection.setRemoteDescription
    )
    assert seam.sdp_refusal("v=0\r\nm=audio\r\n") is not None


async def test_seam_rid_extension_kept_in_the_transceivers_extensions_reaches_the_answer_and_the_parser() -> None:
    pc = RTCPeerConnection()
    try:
        pc.addTransceiver("audio", direction="recvonly")
        pc.addTransceiver("video", direction="recvonly")
        await pc.setRemoteDescription(RTCSessionDescription(sdp=CHROMIUM_OFFER, type="offer"))
        video = pc.getTransceivers()[1]
        assert all(ext.uri != RID_URI for ext in video._headerExtensions)  # aiortc leaves it out ...
        seam.accept_rid_extension(video, 10)
        await pc.setLocalDescription(await pc.createAnswer())
        assert f"a=extmap:10 {RID_URI}" in pc.localDescription.sdp  # ... and answers it once kept
        parser = aiortc.rtp.HeaderExtensionsMap()
        parser.configure(RTCRtpReceiveParameters(headerExtensions=video._headerExtensions))
        packet = aiortc.rtp.RtpPacket(payload_type=96, sequence_number=1, timestamp=2, ssrc=3, payload=b"\x10")
        packet.extensions.rtp_stream_id = "hi"
        assert aiortc.rtp.RtpPacket.parse(packet.serialize(parser), parser).extensions.rtp_stream_id == "hi"
    finally:
        await pc.close()
