"""The weak networks of issue #16, one source for the tests and bench/net_bench.py.

Who is where: a Hearth room of three (Lee facilitates, Alex holds the floor, Sam is the member on a
weak connection), and beside it a direct pair standing in for Alex and Sam. Every member is in a
home namespace of their own; the server's namespace is a clean data-centre link. A condition on
"everyone" applies to both directions of every member's link (so a stream crosses two lossy links,
the sender's uplink and the receiver's downlink, in a Hearth room as in the direct pair); one on
"weak" applies only to Sam's, both directions.
"""

from __future__ import annotations

from dataclasses import dataclass

from tests.net.links import CLEAN, Conditions

SERVER = "server"
FACILITATOR, FLOOR_HOLDER, WEAK_MEMBER = "lee", "alex", "sam"
HEARTH_ROLES = (FACILITATOR, FLOOR_HOLDER, WEAK_MEMBER)
P2P_ROLES = {FLOOR_HOLDER: "p2p-alex", WEAK_MEMBER: "p2p-sam"}  # the direct pair, beside the room
NAMES = {FACILITATOR: "Lee", FLOOR_HOLDER: "Alex", WEAK_MEMBER: "Sam"}

OUTAGE_SECONDS = 3.0
CAP_KBPS = 400.0
JITTER = Conditions(delay_ms=30, jitter_ms=20)  # 10..50 ms a packet, so packets overtake each other


@dataclass(frozen=True)
class Condition:
    name: str
    everyone: Conditions = CLEAN
    weak: Conditions | None = None  # Sam's links instead of everyone's
    outage: float = 0.0  # Sam's links cut for this long, once

    def links(self, role: str) -> Conditions:
        """The conditions of ``role``'s links (a Hearth role or its direct-pair stand-in)."""
        stands_for = next((hearth for hearth, p2p in P2P_ROLES.items() if p2p == role), role)
        if stands_for == WEAK_MEMBER and self.weak is not None:
            return self.weak
        return self.everyone


CLEAN_NETWORK = Condition("clean")
LOSS_2 = Condition("2% loss", everyone=Conditions(loss=0.02))
LOSS_10 = Condition("10% loss", everyone=Conditions(loss=0.10))
JITTERY = Condition("30+-20 ms jitter", everyone=JITTER)
CAPPED = Condition(f"Sam at {CAP_KBPS:.0f} kbit/s", weak=Conditions(rate_kbps=CAP_KBPS))
OUTAGE = Condition(f"{OUTAGE_SECONDS:.0f} s outage", outage=OUTAGE_SECONDS)

CONDITIONS = (CLEAN_NETWORK, LOSS_2, LOSS_10, JITTERY, CAPPED, OUTAGE)
