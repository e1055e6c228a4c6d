"""Creation order for commands: a late older command is superseded, never applied over a newer one.

A command declared with ``orders_on=("uid", "meeting_id")`` has one bookkeeping document per
(command type, target) in ``_boilerCommandOrder``: which command was applied last for that
target, and when it was created. Each attempt reads it at its snapshot and commits it with a
precondition, so commands for one target are serialised like any other read::

    order = CommandOrder.of(AttendanceRequest)
    ref = order.ref(client, params, command)       # _boilerCommandOrder/AttendanceRequest:<hash>
    newer = order.newer_than(snapshot_of_ref, command_snapshot)   # id of a newer applied one

Order is the command document's ``create_time`` (tie: its document id), i.e. the order the
clients made them, not the order the triggers happened to run.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from typing import Any

from google.cloud import firestore

from ..commands import Command
from . import bookkeeping


def instant(moment: Any) -> int:
    """Nanoseconds since the epoch of a Firestore timestamp, whichever Python form it came in.

    >>> instant(snapshot.create_time) < instant(other.create_time)

    datetime comparisons drop nanoseconds, the two DatetimeWithNanoseconds classes disagree
    on ``.nanosecond``, and projection queries return protobuf Timestamps.
    """
    if hasattr(moment, "ToNanoseconds"):
        return int(moment.ToNanoseconds())
    nanos = getattr(moment, "_nanosecond", 0) or moment.microsecond * 1000
    return calendar.timegm(moment.utctimetuple()) * 10**9 + int(nanos)


@dataclass(frozen=True)
class CommandOrder:
    """The ``orders_on`` of one command type, and its bookkeeping document."""

    command: str
    names: tuple[str, ...]
    wildcards: frozenset[str]

    @classmethod
    def of(cls, command: type[Command]) -> CommandOrder | None:
        """``None`` when the command declares no ``orders_on`` (delivery order then)."""
        spec = command.spec()
        if not spec.orders_on:
            return None
        return cls(spec.name, spec.orders_on, frozenset(spec.template.wildcards))

    def target(self, params: dict[str, str], command: Command) -> dict[str, str]:
        """``{name: value}`` of what this command changes (wildcards win over fields)."""
        return {
            name: params[name] if name in self.wildcards else str(getattr(command, name))
            for name in self.names
        }

    def ref(
        self, client: firestore.Client, params: dict[str, str], command: Command
    ) -> firestore.DocumentReference:
        return bookkeeping.order_ref(client, self.command, self.target(params, command))

    def newer_than(
        self, order: firestore.DocumentSnapshot, command: firestore.DocumentSnapshot
    ) -> str | None:
        """The id of an applied command created after ``command`` for the same target."""
        last = bookkeeping.last_applied(order)
        if last is None or command.create_time is None:
            return None
        created, command_id = last
        if (instant(created), command_id) > (instant(command.create_time), command.id):
            return command_id
        return None

    def entry(
        self, params: dict[str, str], command: Command, snapshot: firestore.DocumentSnapshot
    ) -> dict[str, Any]:
        """The bookkeeping document once ``command`` (stored as ``snapshot``) is applied."""
        return bookkeeping.order_entry(self.command, self.target(params, command), snapshot)
