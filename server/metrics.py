"""Prometheus metrics, one registry per app so tests can run several servers in one process."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.sessions = Gauge("hearth_sessions_live", "Group sessions held by this node", registry=r)
        self.participants = Gauge("hearth_participants_connected", "Connected participants", registry=r)
        self.events = Counter("hearth_events_total", "Client events handled", ["event"], registry=r)
        self.errors = Counter(
            "hearth_event_errors_total", "Client events refused, by code", ["event", "code"], registry=r
        )
        self.store_latency = Histogram(
            "hearth_store_seconds",
            "Store operation latency",
            ["op"],
            registry=r,
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
        )
        self.forwarded_packets = Gauge("hearth_forwarded_packets_total", "RTP packets forwarded", registry=r)
        self.forwarded_bytes = Gauge("hearth_forwarded_bytes_total", "RTP payload bytes forwarded", registry=r)
        self.dropped_packets = Gauge(
            "hearth_media_dropped_packets_total",
            "Datagrams refused at the media sockets: short, unknown kind, unknown source, refused by the parser",
            ["reason"],
            registry=r,
        )
        self.forward_latency = Histogram(
            "hearth_forward_latency_seconds",
            "Fan-out time: packet at the receiver tap to its last subscriber send (1 in 64 sampled)",
            registry=r,
            buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1),
        )

        # What a node holds right now: after every session has ended these return to an idle node's
        # figures, which the soak bench (bench/soak.py) checks for leaks.
        self.peer_connections = Gauge(
            "hearth_peer_connections", "WebRTC connections the media engine holds, not closed", registry=r
        )
        self.transport_sockets = Gauge("hearth_engineio_sockets", "Engine.IO connections open", registry=r)
        self.tasks = Gauge("hearth_asyncio_tasks", "asyncio tasks alive in the node's event loop", registry=r)

    def render(self) -> bytes:
        return bytes(generate_latest(self.registry))
