"""Retrying one Firestore transaction on contention, with full-jitter backoff.

Same policy as the view pipeline (runtime/pipeline.py) so the two can share it::

    result = run_transaction(client, lambda tx: apply(tx), name="apply_attendance_request")
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable
from typing import TypeVar

from google.api_core import exceptions as gexc
from google.cloud import firestore

from ..errors import RetriesExhausted
from . import log

MAX_RETRIES = int(os.environ.get("BOILER_MAX_RETRIES", "8"))

RETRYABLE: tuple[type[Exception], ...] = (
    gexc.Aborted,
    gexc.DeadlineExceeded,
    gexc.ServiceUnavailable,
    gexc.InternalServerError,
    gexc.ResourceExhausted,
    gexc.TooManyRequests,
)

T = TypeVar("T")


def backoff(attempt: int) -> float:
    """Full jitter: spreads colliding writers apart instead of retrying them in lockstep."""
    return random.uniform(0, min(1.0, 0.02 * 2**attempt))


def retryable_cause(error: BaseException) -> BaseException | None:
    """The transient error behind ``error`` (the client wraps a failed commit in ValueError), if any."""
    cause = error.__cause__ if isinstance(error, ValueError) else error
    return cause if isinstance(cause, RETRYABLE) else None


def run_transaction(
    client: firestore.Client,
    body: Callable[[firestore.Transaction], T],
    name: str,
    max_retries: int | None = None,
) -> tuple[T, int]:
    """Run ``body`` in a fresh transaction until it commits; returns (result, attempts).

    Raises ``RetriesExhausted`` (from the last transient error) after ``max_retries`` attempts;
    any other error propagates at once.
    """
    limit = max_retries or MAX_RETRIES
    for attempt in range(1, limit + 1):
        transaction = client.transaction(max_attempts=1)
        try:
            return firestore.transactional(body)(transaction), attempt
        except (ValueError, *RETRYABLE) as error:
            cause = retryable_cause(error)
            if cause is None:
                raise
            if attempt == limit:
                raise RetriesExhausted(f"{name}: not committed after {attempt} attempts") from cause
            log.debug("boiler.retry", attempt=attempt, error=type(cause).__name__, function=name)
            time.sleep(backoff(attempt))
    raise RetriesExhausted(f"{name}: BOILER_MAX_RETRIES must be at least 1, is {limit}")
