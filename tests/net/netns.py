"""Work inside a network namespace from this process: a thread that has entered it.

A namespace is a property of each thread (setns(2) moves only the caller), and a socket or a TUN
device belongs to the namespace its creator was in, whatever thread uses it later. So a thread that
enters ``/var/run/netns/<name>`` can open the lab's TUN devices there and make HTTP requests to a
server that listens only inside it, while the rest of the process stays where it was. Python 3.11
has no ``os.setns``: libc's is called through ctypes.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import struct
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

NETNS_DIR = Path("/var/run/netns")
CLONE_NEWNET = 0x40000000
TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000

_libc = ctypes.CDLL(None, use_errno=True)


def enter(name: str) -> None:
    """Move the calling thread into namespace ``name``."""
    fd = os.open(NETNS_DIR / name, os.O_RDONLY)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns into {name}: {os.strerror(err)}")
    finally:
        os.close(fd)


class InNamespace:
    """One worker thread living in namespace ``name``; ``run(fn)`` calls ``fn`` there and returns its result."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._pool = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix=f"netns-{name}", initializer=enter, initargs=(name,)
        )

    def run(self, fn: Callable[[], T]) -> T:
        return self._pool.submit(fn).result()

    def close(self) -> None:
        self._pool.shutdown(wait=True)


def open_tun(namespace: str, device: str) -> int:
    """A non-blocking TUN device (IP packets, no extra header) created inside ``namespace``.

    It is not persistent: the kernel removes it when the last descriptor closes, so a forwarder that
    dies, however it dies, takes its devices with it.
    """
    where = InNamespace(namespace)
    try:
        return where.run(lambda: _tun(device))
    finally:
        where.close()


def _tun(device: str) -> int:
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    try:
        fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", device.encode(), IFF_TUN | IFF_NO_PI))
    except OSError:
        os.close(fd)
        raise
    return fd
