"""The compiled packet path (``server/media/_fastpath.c``), loaded once and given libsrtp.

The C module links against nothing: it calls libsrtp's ``srtp_protect`` and ``srtp_unprotect``
through the addresses pylibsrtp's cffi binding gives (the same libsrtp that pylibsrtp bundles, so
one copy and one initialisation in the process). That is a touch of pylibsrtp's internals, so it
lives in the seam; ``tests/media/test_seam.py`` pins the signatures. Addresses cross into C only as
named capsules (``hearth.srtp_function``, ``hearth.srtp_context``), made here and nowhere else: the C
refuses anything else with a TypeError, so a wrong integer can never become a jump or a context.

``fastpath`` is None when the module is not built (``pip install`` compiles it) or when
``HEARTH_COMPILED_FORWARDING=0`` asks for the Python path, which follows the same rules.
"""

from __future__ import annotations

import ctypes
import os
from typing import Any

import pylibsrtp._binding as _srtp  # type: ignore[import-not-found]

# Capsule names: the capsule keeps a pointer to these bytes, which live as long as the module.
SRTP_FUNCTION = b"hearth.srtp_function"
SRTP_CONTEXT = b"hearth.srtp_context"

_capsule_new = ctypes.pythonapi.PyCapsule_New
_capsule_new.restype = ctypes.py_object
_capsule_new.argtypes = (ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p)


def _capsule(address: int, name: bytes) -> Any:
    if not address:
        raise ValueError("no address to wrap")
    return _capsule_new(address, name, None)


def _address(name: str) -> int:
    return int(_srtp.ffi.cast("uintptr_t", _srtp.ffi.addressof(_srtp.lib, name)))


def context_address(session: Any) -> int:
    """The libsrtp context (``srtp_t``) of a pylibsrtp ``Session``, where pylibsrtp 1.0 keeps it."""
    return int(_srtp.ffi.cast("uintptr_t", session._srtp[0]))


def context_capsule(session: Any) -> Any:
    """The session's libsrtp context as the C module takes it (``Outlet.attach``, ``Inlet.set_session``)."""
    return _capsule(context_address(session), SRTP_CONTEXT)


SRTP_PROTECT_ADDRESS = _address("srtp_protect")
SRTP_UNPROTECT_ADDRESS = _address("srtp_unprotect")
try:
    from server.media import _fastpath  # typed by server/media/_fastpath.pyi
except ImportError:  # not built: the Python path does the same work, slower
    BUILT: Any = None
else:
    _fastpath.set_srtp(_capsule(SRTP_PROTECT_ADDRESS, SRTP_FUNCTION), _capsule(SRTP_UNPROTECT_ADDRESS, SRTP_FUNCTION))
    BUILT = _fastpath
fastpath: Any = BUILT if os.environ.get("HEARTH_COMPILED_FORWARDING", "1") != "0" else None
