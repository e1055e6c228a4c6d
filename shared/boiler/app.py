"""An application: the set of declarations boiler compiles into functions, rules and indexes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from .documents import DomainModel
from .views import ViewModel


@dataclass(frozen=True)
class App:
    """Registers an application's declarations; nothing happens until it is compiled.

    >>> app = App("meeting_room", domain=[User, Location, Meeting, Ticket], views=[MeetingSession])
    """

    name: str
    domain: Sequence[type[DomainModel]] = ()
    views: Sequence[type[ViewModel]] = ()
    commands: Sequence[type] = field(default=())
