"""RTP header extension ids as an SDP offer maps them (``a=extmap:<id>[/<direction>] <uri>``, RFC 8285).

Pure text work, shared by what reads an offer's extensions: ``simulcast`` (the RTP stream id that names
each layer) and ``transport_cc`` (the transport-wide sequence number).
"""

from __future__ import annotations

from collections.abc import Iterable


def extension_ids(lines: Iterable[str], uri: str) -> list[int | None]:
    """The id of each ``a=extmap`` line mapping ``uri``, in order; None for one whose id is not a number."""
    found: list[int | None] = []
    for line in lines:
        if line.startswith("a=extmap:") and line.split()[-1] == uri:
            number = line[9:].split()[0].split("/")[0]
            found.append(int(number) if number.isdigit() else None)
    return found
