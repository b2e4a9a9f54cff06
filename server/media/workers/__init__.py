"""Media workers: the media engine in N processes beside the node, driven over local sockets.

``proxy.MediaWorkers`` is the node's ``signaling.ports.MediaGateway`` when ``--media-workers`` is above
0: it pins each session to one worker (the least loaded when the session first needs media), sends
each gateway call as a typed message (``wire``) over a unix socket pair, and hands the events the
worker sends back (offers, speaking levels, lost connections, spoken seconds) to ``MediaEvents``.
``worker`` is the process: one ``MediaEngine`` and the other end of the socket.

Why: a node is otherwise one event loop, so every packet of every room shares a core with signaling
and Redis I/O, and a stall in one (a GC pause, a slow offer) stalls all. Packets never cross the
socket; only gateway calls and events do.
"""
