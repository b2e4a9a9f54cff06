"""Pins every aiortc/aioice internal that ``server/media/seam.py`` touches.

If an aiortc or aioice upgrade moves one of these, the test named after that seam fails here, before
forwarding silently degrades (decoding on the server, no PLI relay, no SR, no loopback candidates).
"""

from __future__ import annotations

import asyncio
import inspect
import socket
from importlib.metadata import version

import aioice.ice
import aiortc.rtcrtpreceiver
import aiortc.rtcrtpsender
from aioice import Connection
from aiortc import RTCPeerConnection, RTCRtpReceiver, RTCRtpSender
from aiortc.rtcdtlstransport import RTCDtlsTransport
from aiortc.rtcicetransport import RTCIceTransport

from server.media import seam


def test_aiortc_is_the_pinned_version() -> None:
    assert version("aiortc") == "1.16.0"


def test_seam_decoder_worker_is_a_module_global_with_the_expected_signature() -> None:
    worker = seam._original_decoder_worker
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


async def test_seam_sender_counters_feed_its_rtcp_sender_reports() -> None:
    source = inspect.getsource(RTCRtpSender._run_rtcp)
    for name in ("__ntp_timestamp", "__rtp_timestamp", "__packet_count", "__octet_count"):
        assert f"self.{name}" in source, name
    pc = RTCPeerConnection()
    try:
        sender = pc.addTransceiver("audio").sender
        for name in ("packet_count", "octet_count", "rtp_timestamp", "ntp_timestamp"):
            assert hasattr(sender, f"_RTCRtpSender__{name}"), name
        for name in ("_ssrc", "_stream_id", "_track_id"):
            assert hasattr(sender, name), name
        assert list(inspect.signature(sender._handle_rtcp_packet).parameters) == ["packet"]
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
    assert list(inspect.signature(seam._original_host_addresses).parameters) == ["use_ipv4", "use_ipv6"]
    assert "127.0.0.1" not in seam._original_host_addresses(use_ipv4=True, use_ipv6=False)
    assert "127.0.0.1" in seam._host_addresses_with_loopback(use_ipv4=True, use_ipv6=False)
    assert "get_host_addresses(" in inspect.getsource(Connection.gather_candidates)


def test_seam_sender_module_exports_what_the_lean_sender_relies_on() -> None:
    assert "_retransmit" in dir(aiortc.rtcrtpsender.RTCRtpSender)
    assert callable(aiortc.rtcrtpreceiver.decoder_worker)


def test_seam_fast_protect_matches_pylibsrtp() -> None:
    import os

    from pylibsrtp import Policy, Session

    key = os.urandom(30)
    policy = {"ssrc_type": Policy.SSRC_ANY_OUTBOUND, "srtp_profile": Policy.SRTP_PROFILE_AES128_CM_SHA1_80}
    reference, ours = Session(Policy(key=key, **policy)), Session(Policy(key=key, **policy))
    assert hasattr(ours, "_srtp") and hasattr(ours, "_cdata") and hasattr(ours, "_buffer")
    protect = seam.fast_protect(ours)
    for seq in range(3):
        packet = bytes([0x80, 96, 0, seq]) + bytes(8) + os.urandom(900)
        assert protect(packet) == reference.protect(packet)


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
