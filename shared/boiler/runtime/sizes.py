"""Firestore's storage size of a document, to stay under its 1 MiB limit before a commit fails.

The rules are Firestore's published ones (strings: UTF-8 bytes + 1; numbers, timestamps: 8;
booleans, null: 1; maps: each key's size plus its value's; a document: its name plus 32)::

    document_size("users/u1", {"firstName": "Ann"})   # name 25 + fields 14 + 32 = 71
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

MAX_DOCUMENT_BYTES = 1_048_576
# What boiler allows itself per document, leaving room for the estimate's rounding.
DOCUMENT_BUDGET = 1_000_000


def value_size(value: Any) -> int:
    """Bytes Firestore counts for one field value."""
    if value is None or isinstance(value, bool):
        return 1
    if isinstance(value, int | float | dt.datetime):
        return 8
    if isinstance(value, str):
        return len(value.encode()) + 1
    if isinstance(value, bytes):
        return len(value)
    if isinstance(value, Mapping):
        return sum(len(str(key).encode()) + 1 + value_size(item) for key, item in value.items())
    if isinstance(value, list | tuple):
        return sum(value_size(item) for item in value)
    return 16  # geo points, references, sentinels: small and fixed


def surely_fits(fields: Mapping[str, Any]) -> bool:
    """A fast check (C-speed JSON) that ``fields`` is far under the budget, so the exact size
    need not be counted: Firestore counts at most 4 bytes per JSON character (a number ``0,``
    is 2 characters and 8 bytes), plus each document's name, a few hundred bytes."""
    text = json.dumps(fields, separators=(",", ":"), default=str)
    return 4 * len(text) + 4096 <= DOCUMENT_BUDGET


def document_size(path: str, fields: Mapping[str, Any]) -> int:
    """Bytes of a whole document: its name (each segment + 1, plus 16) and its fields, plus 32."""
    name = sum(len(segment.encode()) + 1 for segment in path.split("/")) + 16
    return name + value_size(fields) + 32
