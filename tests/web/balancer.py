"""A failover TCP balancer in front of Hearth nodes, as a deployment's load balancer would stand.

Each connection goes to the first node, in the order given, that accepts it; bytes are copied both
ways untouched (HTTP, WebSocket). When a node stops listening, new connections reach the next one.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Sequence


class Balancer:
    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)  # so that close() is noticed
        self.base = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.backends: Sequence[tuple[str, int]] = ()  # set once the nodes, which must know base, run
        self.closed = False
        threading.Thread(target=self._accept, name="balancer", daemon=True).start()

    def close(self) -> None:
        self.closed = True
        self.listener.close()

    def _accept(self) -> None:
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        upstream = self._connect()
        if upstream is None:
            client.close()
            return
        threading.Thread(target=_copy, args=(upstream, client), daemon=True).start()
        _copy(client, upstream)

    def _connect(self) -> socket.socket | None:
        for address in self.backends:
            with contextlib.suppress(OSError):
                upstream = socket.create_connection(address, timeout=1)
                upstream.settimeout(None)
                return upstream
        return None


def _copy(source: socket.socket, target: socket.socket) -> None:
    """Copy until either side closes, then close both (which also ends the copy the other way)."""
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            target.sendall(data)
    for s in (source, target):
        with contextlib.suppress(OSError):
            s.shutdown(socket.SHUT_RDWR)
        s.close()
