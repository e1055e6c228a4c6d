"""Write budgets, and the follow-up commits of a rebuild too large for one commit.

Firestore takes at most 500 writes and 10 MiB per commit; boiler stays well under both. A
rebuild over budget commits its record and a first chunk, then the rest chunk by chunk, each
follow-up guarded by the record's version (a newer rebuild takes over what is left)::

    chunk, rest = first_chunk(plan)                    # staged with the record
    for done in write_rest(builder, plan, rest, commit):
        if done is None: break                         # superseded: the newer rebuild owns it
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .aggregate import AggregateBuilder, WritePlan
    from .attempt import Attempt

WRITE_BUDGET = 450  # writes per commit (Firestore's limit: 500)
# Firestore caps a commit request at 10 MiB; one aggregate's fat views are split well below it.
BYTE_BUDGET = 4_000_000
# Room left beside a first chunk: the record, the ledger entry and an error document.
FIRST_CHUNK_RESERVE = 3


def over_budget(writes: int, size: int) -> bool:
    """Whether ``writes`` operations of ``size`` bytes in total need more than one commit."""
    return writes > WRITE_BUDGET or size > BYTE_BUDGET


def first_chunk(plan: WritePlan) -> tuple[list[str], list[str]]:
    """The operations committed with the record (never none), and the rest."""
    return plan.take(WRITE_BUDGET - FIRST_CHUNK_RESERVE, BYTE_BUDGET)


def write_rest(
    builder: AggregateBuilder,
    plan: WritePlan,
    rest: list[str],
    commit: Callable[[Callable[[Attempt], Any]], Any],
    before: Callable[[], None] | None = None,
    staged: Callable[[], None] | None = None,
) -> Iterator[tuple[int, int] | None]:
    """Commit ``rest`` chunk by chunk; yields each chunk's (views written, deleted), or
    ``None`` (and stops) when a newer rebuild replaced the record.

    ``commit(body)`` runs ``body`` on fresh attempts until one commits (the caller's retry
    policy); ``before`` and ``staged`` run in each attempt, before its read and before its
    commit (fault injection, races in tests).
    """
    while rest:
        chunk, remaining = plan.take(WRITE_BUDGET - 1, BYTE_BUDGET, rest)  # 1: the record

        def body(
            attempt: Attempt, chunk: list[str] = chunk, remaining: list[str] = remaining
        ) -> tuple[int, int] | None:
            if before is not None:
                before()
            done = builder.write_chunk(attempt, plan, chunk, remaining)
            if staged is not None:
                staged()
            return done

        done = commit(body)
        yield done
        if done is None:
            return
        rest = remaining
