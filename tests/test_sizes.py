"""Firestore document sizes (runtime/sizes.py): the fast JSON check never lets an oversized
record through, whatever its shape."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from boiler.runtime.sizes import DOCUMENT_BUDGET, document_size, surely_fits

PATH = "_boilerAggregates/MeetingSession/_boilerRecords/m1"


def test_document_size_follows_firestores_rules() -> None:
    # name: "users" 6 + "u1" 3 + 16; fields: "firstName" 10 + "Ann" 4; + 32
    assert document_size("users/u1", {"firstName": "Ann"}) == 25 + 14 + 32
    assert document_size("a/b", {"n": 1, "t": dt.datetime.now(dt.UTC), "f": None}) == (
        2 + 2 + 16 + (2 + 8) + (2 + 8) + (2 + 1) + 32
    )


def shapes(count: int) -> list[dict[str, Any]]:
    """Shapes where JSON is shortest next to what Firestore counts."""
    return [
        {"a": [0] * count},
        {f"k{i}": 0 for i in range(count)},
        {"a": [False] * count},
        {"a": [{"b": 0}] * (count // 2)},
        {"s": "x" * count * 2},
    ]


@pytest.mark.parametrize("count", [10, 1_000, 60_000, 120_000, 130_000, 300_000])
def test_the_fast_check_never_passes_a_record_over_the_budget(count: int) -> None:
    for fields in shapes(count):
        if surely_fits(fields):
            assert document_size(PATH, fields) <= DOCUMENT_BUDGET, list(fields)[:1]


def test_the_fast_check_passes_ordinary_records() -> None:
    record = {"key": "m1", "sources": {f"users/u{i}": {"firstName": "Ann"} for i in range(50)}}
    assert surely_fits(record)
