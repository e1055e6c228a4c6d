"""The state of an aggregate view and how one member's change moves it: pure, no I/O.

Per aggregate key, a state document holds the root's fields and one tally per aggregate
source: ``{"n": members counted}``, plus ``"s"`` (an exact sum) or ``"top"`` (ranked entries
``{"p": path, "k": sort key, "f": fields}``). Per (key, member), a membership entry holds what
that member contributes now: ``c`` (counts and sums), ``k`` (sort keys) and ``f`` (listed
fields), by aggregate name. A change replaces the member's old entry by its new one::

    move(tallies, specs, "meetings/m1", old_entry, new_entry, refill)

Counts and sums move by the difference, so the result does not depend on the order changes
arrive in or on how many members there are. A ranked list moves in memory too, unless an
entry leaves it while more members exist than it shows: then ``refill`` (a bounded query of
the membership entries, ordered by that aggregate's sort key) supplies the next ones.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..aggregates import AggregateSpec, TopSpec, exact, stored_sum
from ..documents import Document

Entry = dict[str, Any]  # a membership entry's content: {"c": {...}, "k": {...}, "f": {...}}
Refill = Callable[[TopSpec, int], list[dict[str, Any]]]  # (spec, how many) -> ranked entries


def entry_of(specs: Sequence[AggregateSpec], member: Document, path: str) -> Entry | None:
    """What ``member`` (related to the key) contributes to each aggregate; None if nothing."""
    counts: dict[str, Any] = {}
    keys: dict[str, Any] = {}
    listed: dict[str, Any] = {}
    for spec in specs:
        contribution = spec.contribution(member)
        if contribution is None:
            continue
        if isinstance(spec, TopSpec):
            keys[spec.name] = [*contribution, path]
            listed[spec.name] = spec.entry_fields(member)
        else:
            counts[spec.name] = contribution
    if not counts and not keys:
        return None
    return {"c": counts, "k": keys, "f": listed}


def same_entry(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> bool:
    if old is None or new is None:
        return old is None and new is None
    return all(old.get(part, {}) == new.get(part, {}) for part in ("c", "k", "f"))


@dataclass
class Overlay:
    """Membership changes staged in this attempt, not yet visible to a refill query."""

    changed: dict[str, Entry | None] = field(default_factory=dict)  # path -> new entry


def move(
    tallies: dict[str, dict[str, Any]],
    specs: Sequence[AggregateSpec],
    path: str,
    old: Mapping[str, Any] | None,
    new: Mapping[str, Any] | None,
    refill: Refill,
) -> None:
    """Replace ``path``'s contribution ``old`` by ``new`` in every tally (in place)."""
    for spec in specs:
        tally = tallies.setdefault(spec.name, {"n": 0})
        if isinstance(spec, TopSpec):
            _move_ranked(tally, spec, path, old, new, refill)
        else:
            _move_counted(tally, spec, old, new)


def _part(entry: Mapping[str, Any] | None, part: str, name: str) -> Any:
    return None if entry is None else entry.get(part, {}).get(name)


def _move_counted(
    tally: dict[str, Any], spec: AggregateSpec, old: Mapping[str, Any] | None, new: Any
) -> None:
    before, after = _part(old, "c", spec.name), _part(new, "c", spec.name)
    tally["n"] = int(tally.get("n", 0)) + (after is not None) - (before is not None)
    if spec.kind in ("sum", "avg"):
        total = exact(tally.get("s", 0))
        total += exact(after or 0) - exact(before or 0)
        tally["s"] = stored_sum(total)


def _move_ranked(
    tally: dict[str, Any],
    spec: TopSpec,
    path: str,
    old: Mapping[str, Any] | None,
    new: Mapping[str, Any] | None,
    refill: Refill,
) -> None:
    """Keep ``top`` = the first min(limit, n) members by sort key."""
    before, after = _part(old, "k", spec.name), _part(new, "k", spec.name)
    count = int(tally.get("n", 0)) + (after is not None) - (before is not None)
    tally["n"] = count
    top = [entry for entry in tally.get("top", []) if entry["p"] != path]
    others = count - (after is not None)
    # ``top`` is now the first len(top) of the other members; all of them if len(top) == others.
    if after is not None:
        mine = {"p": path, "k": after, "f": _part(new, "f", spec.name)}
        if len(top) == others or (top and after < top[-1]["k"]):
            top = sorted([*top, mine], key=lambda entry: entry["k"])
    top = top[: spec.limit]
    if len(top) < min(spec.limit, count):
        top = refill(spec, spec.limit)
    tally["top"] = top


def merged_refill(
    stored: list[dict[str, Any]], overlay: Overlay, spec: TopSpec, limit: int
) -> list[dict[str, Any]]:
    """Stored membership entries (ranked by the query) with this attempt's changes laid over."""
    ranked = [entry for entry in stored if entry["p"] not in overlay.changed]
    for path, entry in overlay.changed.items():
        key = _part(entry, "k", spec.name)
        if key is not None:
            ranked.append({"p": path, "k": key, "f": _part(entry, "f", spec.name)})
    ranked.sort(key=lambda entry: entry["k"])
    return ranked[:limit]


def fresh_tallies(stored: Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    """A mutable copy of a state's tallies."""
    return copy.deepcopy(dict((stored or {}).get("t", {})))


def values(specs: Sequence[AggregateSpec], tallies: Mapping[str, Mapping[str, Any]]) -> dict:
    """What ``build()`` sees for each aggregate."""
    return {spec.name: spec.value(tallies.get(spec.name, {})) for spec in specs}
