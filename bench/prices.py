"""Firestore's list prices as price units: what a document read, write and delete cost.

Standard edition, per 100,000 documents: reads $0.06, writes $0.18, deletes $0.02
(https://cloud.google.com/firestore/pricing, https://firebase.google.com/docs/firestore/pricing;
regional locations charge less, in the same proportions). TTL deletes are billed as deletes.
One price unit is one document read::

    units(reads=3, writes=7, deletes=1)   # 3 + 21 + 1/3 = 24.33...
"""

from __future__ import annotations

# US cents per 100,000 documents (integers, so that the ratios below are exact).
CENTS_PER_100K = {"read": 6, "write": 18, "delete": 2}
READ = 1.0
WRITE = CENTS_PER_100K["write"] / CENTS_PER_100K["read"]  # 3
DELETE = CENTS_PER_100K["delete"] / CENTS_PER_100K["read"]  # 1/3


def units(reads: float, writes: float, deletes: float) -> float:
    """The price of ``reads`` reads, ``writes`` writes and ``deletes`` deletes, in reads."""
    return READ * reads + WRITE * writes + DELETE * deletes


def describe() -> str:
    """The prices as the report states them."""
    usd = {kind: f"${cents / 100:.2f}" for kind, cents in CENTS_PER_100K.items()}
    return (
        f"price units: read = {READ:g}, write = {WRITE:g}, delete = 1/{1 / DELETE:g} "
        f"(Firestore Standard edition list prices per 100,000 documents: reads {usd['read']}, "
        f"writes {usd['write']}, deletes {usd['delete']})"
    )
