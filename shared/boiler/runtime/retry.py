"""Retrying one optimistic attempt on contention, with full-jitter backoff.

Same policy as the view pipeline (runtime/pipeline.py), so the two can share it::

    result, attempts = retrying(lambda number: once(Attempt(client, number)), name="apply_bump")
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

from google.api_core import exceptions as gexc
from google.cloud import firestore

from ..errors import RetriesExhausted
from . import log
from .attempt import Attempt
from .options import default_max_retries

# Transient server errors.
RETRYABLE: tuple[type[Exception], ...] = (
    gexc.Aborted,
    gexc.DeadlineExceeded,
    gexc.ServiceUnavailable,
    gexc.InternalServerError,
    gexc.ResourceExhausted,
    gexc.TooManyRequests,
)
# A guarded commit lost a race: the data changed since it was read; reread and try again.
LOST_RACE: tuple[type[Exception], ...] = (gexc.FailedPrecondition, gexc.AlreadyExists)

T = TypeVar("T")


def backoff(attempt: int, lost_race: bool = False) -> float:
    """Full jitter: spreads colliding writers apart instead of retrying them in lockstep.

    A first lost race retries at once: the winner has just committed, and the retry mostly
    finds its change covered by that commit (the view pipeline then stops) or wins the next.
    """
    if lost_race:
        return 0.0 if attempt == 1 else random.uniform(0, min(1.0, 0.01 * 2**attempt))
    return random.uniform(0, min(1.0, 0.02 * 2**attempt))


def retrying(
    body: Callable[[int], T],
    name: str,
    max_retries: int | None = None,
) -> tuple[T, int]:
    """Call ``body(attempt number)`` until it returns; returns (result, attempts).

    Retries on transient errors and lost races; raises ``RetriesExhausted`` (from the last
    one) after ``max_retries`` attempts (default: ``Options().max_retries``). Any other error
    propagates at once.
    """
    limit = max_retries or default_max_retries()
    for attempt in range(1, limit + 1):
        try:
            return body(attempt), attempt
        except (*RETRYABLE, *LOST_RACE) as cause:
            if attempt == limit:
                raise RetriesExhausted(f"{name}: not committed after {attempt} attempts") from cause
            log.debug("boiler.retry", attempt=attempt, error=type(cause).__name__, function=name)
            pause = backoff(attempt, lost_race=isinstance(cause, LOST_RACE))
            if pause:
                time.sleep(pause)
    raise RetriesExhausted(f"{name}: BOILER_MAX_RETRIES must be at least 1, is {limit}")


def committed(
    client: firestore.Client,
    body: Callable[[Attempt], T],
    name: str,
    max_retries: int | None = None,
) -> T:
    """Run ``body`` on a fresh ``Attempt`` and commit it, until the guarded commit wins."""

    def once(number: int) -> T:
        attempt = Attempt(client, number)
        result = body(attempt)
        attempt.commit()
        return result

    return retrying(once, name, max_retries)[0]
